"""A named group of running averages (torchreid 1.x's ``MetricMeter``), e.g. the loss parts of a batch."""
from collections import OrderedDict

import torch

from .avgmeter import AverageMeter


class MetricMeter(object):
    """``update({'loss_x': 1.2, 'acc': 50.})`` feeds one :class:`AverageMeter` per name (tensors via ``.item()``);
    ``str(meter)`` gives ``'loss_x 1.2000 (1.2000)<delimiter>acc 50.0000 (50.0000)'`` (latest (average))."""

    def __init__(self, delimiter='\t'):
        self.meters = OrderedDict()
        self.delimiter = delimiter

    def update(self, input_dict):
        if input_dict is None:
            return
        if not isinstance(input_dict, dict):
            raise TypeError('Input to MetricMeter.update() must be a dictionary, got {}'.format(
                type(input_dict).__name__))
        for name, value in input_dict.items():
            if isinstance(value, torch.Tensor):
                value = value.item()
            self.meters.setdefault(name, AverageMeter()).update(value)

    def __str__(self):
        return self.delimiter.join('{} {:.4f} ({:.4f})'.format(name, meter.val, meter.avg)
                                   for name, meter in self.meters.items())
