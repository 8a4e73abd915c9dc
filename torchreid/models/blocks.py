"""Pieces shared by the seed's custom architectures: the conv-BN-activation block, the loss-dependent output
rule every re-id model follows, and the notice for models that have no ImageNet weights."""
import warnings

import torch.nn as nn

SUPPORTED_LOSSES = (frozenset({'xent'}), frozenset({'xent', 'htri'}))


class ConvBlock(nn.Module):
    """Conv2d -> BatchNorm2d -> activation (``activation=None`` keeps it linear).

    The children are named ``conv`` and ``bn`` so the state_dict keys are the seed's (``<block>.conv.weight``).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, groups=1, bias=True,
                 activation=nn.ReLU, bn_eps=1e-5):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                              groups=groups, bias=bias)
        self.bn = nn.BatchNorm2d(out_channels, eps=bn_eps)
        self.act = activation(inplace=True) if activation is not None else nn.Identity()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


# torchreid 1.x names the loss by a string
LOSS_NAMES_1X = {'softmax': frozenset({'xent'}), 'triplet': frozenset({'xent', 'htri'})}


def check_loss(loss):
    """Return ``loss`` as a frozenset, or raise KeyError('Unsupported loss: ...') for anything but
    {'xent'} and {'xent', 'htri'} or their torchreid 1.x names 'softmax' and 'triplet'."""
    if isinstance(loss, str):
        if loss not in LOSS_NAMES_1X:
            raise KeyError("Unsupported loss: '{}' (use 'softmax' or 'triplet' as torchreid 1.x, or the sets "
                           "{{'xent'}} or {{'xent', 'htri'}})".format(loss))
        return LOSS_NAMES_1X[loss]
    loss_set = frozenset(loss)
    if loss_set not in SUPPORTED_LOSSES:
        raise KeyError("Unsupported loss: {} (use {{'xent'}} or {{'xent', 'htri'}})".format(set(loss)))
    return loss_set


def train_output(loss, logits, features):
    """What a model returns in train mode: ``logits`` for {'xent'}, ``(logits, features)`` for {'xent', 'htri'}."""
    if loss == {'xent'}:
        return logits
    return logits, features


def warn_no_imagenet_weights(model_name):
    """Tell the user (once per call site) that ``pretrained=True`` cannot load anything for this model."""
    warnings.warn('{} has no ImageNet weights (the seed trained it from scratch); pretrained=True builds a randomly '
                  'initialised model. Pass pretrained=False to silence this warning.'.format(model_name),
                  stacklevel=3)
