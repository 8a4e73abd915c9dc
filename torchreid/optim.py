"""Optimizers and learning-rate schedules.

    >>> optimizer = build_optimizer('adam', model.parameters(), lr=3e-4, weight_decay=5e-4)
    >>> scheduler = build_lr_scheduler(optimizer, stepsize=[20, 40], gamma=0.1, warmup_epochs=0)

Both step once per epoch, as the seed: ``scheduler.step()`` after each training epoch.
"""
import bisect

import torch
from torch.optim.lr_scheduler import LRScheduler

OPTIMIZER_NAMES = ('adam', 'amsgrad', 'sgd', 'rmsprop')


def build_optimizer(name, params, lr, weight_decay):
    """The seed's optimizers: one parameter group, weight decay on every parameter.

    adam / amsgrad: Adam with default betas (amsgrad=True for the latter); sgd and rmsprop: momentum 0.9.
    """
    if name == 'adam':
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if name == 'amsgrad':
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, amsgrad=True)
    if name == 'sgd':
        return torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    if name == 'rmsprop':
        return torch.optim.RMSprop(params, lr=lr, momentum=0.9, weight_decay=weight_decay)
    raise KeyError('Unsupported optimizer: {}. Choose one of {}'.format(name, ', '.join(OPTIMIZER_NAMES)))


init_optim = build_optimizer  # the seed's name


class WarmupMultiStepLR(LRScheduler):
    """Step decay with an optional linear warm-up, in epochs.

    lr(epoch) = base_lr * warmup(epoch) * gamma ** (number of milestones <= epoch), where warmup rises linearly
    from ``warmup_factor`` at epoch 0 to 1 at epoch ``warmup_epochs`` (and stays 1 after). With
    ``warmup_epochs=0`` this is exactly ``torch.optim.lr_scheduler.MultiStepLR``. The value depends only on the
    epoch counter, so a resumed run continues the same schedule.
    """

    def __init__(self, optimizer, milestones, gamma=0.1, warmup_epochs=0, warmup_factor=0.1, last_epoch=-1):
        milestones = list(milestones)
        if milestones != sorted(milestones):
            raise ValueError('--stepsize milestones must be increasing, got {}'.format(milestones))
        if warmup_epochs < 0:
            raise ValueError('warmup_epochs must be >= 0, got {}'.format(warmup_epochs))
        if not 0 < warmup_factor <= 1:
            raise ValueError('warmup_factor must be in (0, 1], got {}'.format(warmup_factor))
        self.milestones = milestones
        self.gamma = gamma
        self.warmup_epochs = warmup_epochs
        self.warmup_factor = warmup_factor
        super().__init__(optimizer, last_epoch)

    def lr_factor(self, epoch):
        """Multiplier of the base learning rate at (0-based) ``epoch``."""
        factor = self.gamma ** bisect.bisect_right(self.milestones, epoch)
        if epoch < self.warmup_epochs:
            progress = epoch / self.warmup_epochs
            factor *= self.warmup_factor + (1. - self.warmup_factor) * progress
        return factor

    def get_lr(self):
        factor = self.lr_factor(self.last_epoch)
        return [base_lr * factor for base_lr in self.base_lrs]

    def set_epoch(self, epoch):
        """Jump to 0-based ``epoch`` (e.g. resuming from a checkpoint without scheduler state) and set the
        optimizer's learning rates accordingly."""
        self.last_epoch = epoch
        self._last_lr = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, self._last_lr):
            group['lr'] = lr


def build_lr_scheduler(optimizer, stepsize, gamma=0.1, warmup_epochs=0, warmup_factor=0.1):
    """MultiStepLR over ``stepsize`` (epoch milestones) with an optional linear warm-up."""
    return WarmupMultiStepLR(optimizer, stepsize, gamma=gamma, warmup_epochs=warmup_epochs,
                             warmup_factor=warmup_factor)
