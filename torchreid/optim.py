"""Optimizers and learning-rate schedules.

The scripts' builders take explicit pieces (parameter groups, a schedule name):

    >>> optimizer = make_optimizer('adam', model.parameters(), lr=3e-4, weight_decay=5e-4)
    >>> scheduler = make_lr_scheduler(optimizer, 'multi_step', stepsize=[20, 40], gamma=0.1, warmup_epochs=0)

torchreid 1.x's builders keep their names, arguments and defaults and build the same objects:

    >>> optimizer = build_optimizer(model, optim='adam', lr=0.0003)
    >>> scheduler = build_lr_scheduler(optimizer, lr_scheduler='single_step', stepsize=20)

Every schedule steps once per epoch (``scheduler.step()`` after each training epoch) and its learning rate is a
closed-form function of the epoch counter, so a resumed run (scheduler state restored, or :meth:`set_epoch`)
continues the same schedule.
"""
import bisect
import math

import torch
import torch.nn as nn
from torch.optim.lr_scheduler import LRScheduler

from .utils.layers import bare_model

OPTIMIZER_NAMES = ('adam', 'amsgrad', 'sgd', 'rmsprop', 'radam')
LR_SCHEDULER_NAMES = ('single_step', 'multi_step', 'cosine')


def make_optimizer(name, params, lr, weight_decay, momentum=0.9, sgd_dampening=0, sgd_nesterov=False,
                   rmsprop_alpha=0.99, adam_betas=(0.9, 0.999)):
    """The optimizer ``name`` over ``params`` (parameters or parameter groups), weight decay on every group that
    does not set its own.

    adam / amsgrad / radam: Adam (amsgrad=True for the second) / RAdam with ``adam_betas``; sgd and rmsprop use
    ``momentum`` (the seed: 0.9).
    """
    if name in ('adam', 'amsgrad'):
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay, betas=adam_betas,
                                amsgrad=name == 'amsgrad')
    if name == 'radam':
        return torch.optim.RAdam(params, lr=lr, weight_decay=weight_decay, betas=adam_betas)
    if name == 'sgd':
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay, dampening=sgd_dampening,
                               nesterov=sgd_nesterov)
    if name == 'rmsprop':
        return torch.optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=weight_decay, alpha=rmsprop_alpha)
    raise KeyError('Unsupported optimizer: {}. Choose one of {}'.format(name, ', '.join(OPTIMIZER_NAMES)))


init_optim = make_optimizer  # the seed's name, with the seed's arguments (optim, params, lr, weight_decay)


def staged_param_groups(model, new_layers, lr, base_lr_mult):
    """Two parameter groups: the top-level children named in ``new_layers`` (str or list) at the optimizer's lr,
    all the others (``base``, first) at ``lr * base_lr_mult``. ValueError for a name that is no child."""
    model = bare_model(model)
    new_layers = [new_layers] if isinstance(new_layers, str) else list(new_layers or [])
    new_layers = [name for name in new_layers if name]
    children = dict(model.named_children())
    missing = [name for name in new_layers if name not in children]
    if not new_layers or missing:
        raise ValueError('staged_lr=True needs new_layers naming top-level children of the model; {} (children: '
                         '{})'.format('{} are not among them'.format(missing) if missing else 'none given',
                                      ', '.join(children)))
    base_params, new_params = [], []
    for name, module in children.items():
        (new_params if name in new_layers else base_params).extend(module.parameters())
    return [{'params': base_params, 'lr': lr * base_lr_mult}, {'params': new_params}]


def build_optimizer(model, optim='adam', lr=0.0003, weight_decay=5e-04, momentum=0.9, sgd_dampening=0,
                    sgd_nesterov=False, rmsprop_alpha=0.99, adam_beta1=0.9, adam_beta2=0.99, staged_lr=False,
                    new_layers='', base_lr_mult=0.1):
    """torchreid 1.x's optimizer builder over ``model``'s parameters (its defaults: Adam betas (0.9, 0.99)).

    optim: 'adam', 'amsgrad', 'sgd', 'rmsprop' or 'radam' (``torch.optim.RAdam``). staged_lr: the layers named in
    ``new_layers`` train at ``lr``, the rest at ``lr * base_lr_mult`` (unlike 1.x, a name that is no child of the
    model is an error rather than silently ignored).
    """
    if optim not in OPTIMIZER_NAMES:
        raise ValueError('Unsupported optim: {}. Must be one of {}'.format(optim, list(OPTIMIZER_NAMES)))
    if not isinstance(model, nn.Module):
        raise TypeError('build_optimizer takes the model (an nn.Module), got {}; for parameter groups use '
                        'torchreid.optim.make_optimizer(name, params, lr, weight_decay)'.format(type(model).__name__))
    params = staged_param_groups(model, new_layers, lr, base_lr_mult) if staged_lr else model.parameters()
    return make_optimizer(optim, params, lr, weight_decay, momentum=momentum, sgd_dampening=sgd_dampening,
                          sgd_nesterov=sgd_nesterov, rmsprop_alpha=rmsprop_alpha, adam_betas=(adam_beta1, adam_beta2))


class EpochLRSchedule(LRScheduler):
    """A per-epoch schedule with an optional linear warm-up: lr(epoch) = base_lr * warmup(epoch) * decay(epoch).

    warmup rises linearly from ``warmup_factor`` at epoch 0 to 1 at epoch ``warmup_epochs`` (and stays 1 after);
    subclasses define :meth:`decay_factor`. The value depends only on the epoch counter.
    """

    def __init__(self, optimizer, warmup_epochs=0, warmup_factor=0.1, last_epoch=-1):
        if warmup_epochs < 0:
            raise ValueError('warmup_epochs must be >= 0, got {}'.format(warmup_epochs))
        if not 0 < warmup_factor <= 1:
            raise ValueError('warmup_factor must be in (0, 1], got {}'.format(warmup_factor))
        self.warmup_epochs = warmup_epochs
        self.warmup_factor = warmup_factor
        super().__init__(optimizer, last_epoch)

    def decay_factor(self, epoch):
        raise NotImplementedError

    def lr_factor(self, epoch):
        """Multiplier of the base learning rate at (0-based) ``epoch``."""
        factor = self.decay_factor(epoch)
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


class WarmupMultiStepLR(EpochLRSchedule):
    """decay = gamma ** (number of milestones <= epoch); with ``warmup_epochs=0`` exactly ``MultiStepLR``."""

    def __init__(self, optimizer, milestones, gamma=0.1, warmup_epochs=0, warmup_factor=0.1, last_epoch=-1):
        milestones = list(milestones)
        if milestones != sorted(milestones):
            raise ValueError('--stepsize milestones must be increasing, got {}'.format(milestones))
        self.milestones = milestones
        self.gamma = gamma
        super().__init__(optimizer, warmup_epochs, warmup_factor, last_epoch)

    def decay_factor(self, epoch):
        return self.gamma ** bisect.bisect_right(self.milestones, epoch)


class WarmupStepLR(EpochLRSchedule):
    """decay = gamma ** (epoch // step_size); with ``warmup_epochs=0`` exactly ``StepLR``."""

    def __init__(self, optimizer, step_size, gamma=0.1, warmup_epochs=0, warmup_factor=0.1, last_epoch=-1):
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
            raise ValueError('single_step needs one positive integer step size, got {!r}'.format(step_size))
        self.step_size = step_size
        self.gamma = gamma
        super().__init__(optimizer, warmup_epochs, warmup_factor, last_epoch)

    def decay_factor(self, epoch):
        return self.gamma ** (epoch // self.step_size)


class WarmupCosineLR(EpochLRSchedule):
    """decay = (1 + cos(pi * epoch / max_epoch)) / 2, from 1 at epoch 0 towards 0 at ``max_epoch``; with
    ``warmup_epochs=0`` the closed form of ``CosineAnnealingLR(T_max=max_epoch)``."""

    def __init__(self, optimizer, max_epoch, warmup_epochs=0, warmup_factor=0.1, last_epoch=-1):
        if max_epoch is None or not max_epoch > 0:
            raise ValueError('the cosine schedule needs max_epoch > 0, got {!r}'.format(max_epoch))
        self.max_epoch = max_epoch
        super().__init__(optimizer, warmup_epochs, warmup_factor, last_epoch)

    def decay_factor(self, epoch):
        return 0.5 * (1. + math.cos(math.pi * epoch / self.max_epoch))


def make_lr_scheduler(optimizer, schedule, stepsize=(), gamma=0.1, max_epoch=None, warmup_epochs=0,
                      warmup_factor=0.1):
    """The scripts' schedule (``--lr-scheduler``): 'multi_step' decays by ``gamma`` at each epoch in ``stepsize``,
    'single_step' every ``stepsize`` epochs (an int, or a one-item list), 'cosine' anneals to 0 over ``max_epoch``;
    each with an optional linear warm-up."""
    warmup = dict(warmup_epochs=warmup_epochs, warmup_factor=warmup_factor)
    if schedule == 'multi_step':
        return WarmupMultiStepLR(optimizer, stepsize, gamma=gamma, **warmup)
    if schedule == 'single_step':
        if isinstance(stepsize, (list, tuple)):
            if len(stepsize) != 1:
                raise ValueError('single_step takes one step size, got {}'.format(list(stepsize)))
            stepsize = stepsize[0]
        return WarmupStepLR(optimizer, stepsize, gamma=gamma, **warmup)
    if schedule == 'cosine':
        return WarmupCosineLR(optimizer, max_epoch, **warmup)
    raise ValueError('Unsupported scheduler: {}. Must be one of {}'.format(schedule, list(LR_SCHEDULER_NAMES)))


def build_lr_scheduler(optimizer, lr_scheduler='single_step', stepsize=1, gamma=0.1, max_epoch=1):
    """torchreid 1.x's scheduler builder: 'single_step' (``stepsize`` an int; of a list, 1.x takes the last
    item), 'multi_step' (``stepsize`` a list of epochs) or 'cosine' (over ``max_epoch``), without warm-up."""
    if lr_scheduler not in LR_SCHEDULER_NAMES:
        raise ValueError('Unsupported scheduler: {}. Must be one of {}'.format(lr_scheduler,
                                                                             list(LR_SCHEDULER_NAMES)))
    if lr_scheduler == 'single_step' and isinstance(stepsize, (list, tuple)):
        stepsize = stepsize[-1]
    if lr_scheduler == 'multi_step' and not isinstance(stepsize, (list, tuple)):
        raise TypeError('For multi_step lr_scheduler, stepsize must be a list, but got {}'.format(
            type(stepsize).__name__))
    return make_lr_scheduler(optimizer, lr_scheduler, stepsize=stepsize, gamma=gamma, max_epoch=max_epoch)
