"""Optimizers and schedules: the scripts' builders (make_*) and torchreid 1.x's (build_*)."""
import math

import pytest
import torch
import torch.nn as nn

from torchreid.optim import (WarmupCosineLR, WarmupMultiStepLR, build_lr_scheduler, build_optimizer, init_optim,
                             make_lr_scheduler, make_optimizer)


def _params():
    return torch.nn.Linear(3, 2).parameters()


@pytest.mark.parametrize('name,cls,extra', [
    ('adam', torch.optim.Adam, {'amsgrad': False, 'betas': (0.9, 0.999)}),
    ('amsgrad', torch.optim.Adam, {'amsgrad': True}),
    ('sgd', torch.optim.SGD, {'momentum': 0.9, 'nesterov': False, 'dampening': 0}),
    ('rmsprop', torch.optim.RMSprop, {'momentum': 0.9, 'alpha': 0.99}),
    ('radam', torch.optim.RAdam, {'betas': (0.9, 0.999)}),
])
def test_seed_optimizers(name, cls, extra):
    optimizer = make_optimizer(name, _params(), lr=0.01, weight_decay=5e-4)
    assert type(optimizer) is cls
    assert len(optimizer.param_groups) == 1
    group = optimizer.param_groups[0]
    assert group['lr'] == 0.01 and group['weight_decay'] == 5e-4
    for key, value in extra.items():
        assert group[key] == value
    assert init_optim is make_optimizer


def test_unknown_optimizer():
    with pytest.raises(KeyError, match='Unsupported optimizer: adagrad'):
        make_optimizer('adagrad', _params(), 0.1, 0)


class TwoLayers(nn.Module):
    def __init__(self):
        super().__init__()
        self.base = nn.Linear(3, 4)
        self.classifier = nn.Linear(4, 2)


@pytest.mark.parametrize('optim,cls,extra', [
    ('adam', torch.optim.Adam, {'betas': (0.9, 0.99), 'amsgrad': False}),
    ('amsgrad', torch.optim.Adam, {'betas': (0.9, 0.99), 'amsgrad': True}),
    ('sgd', torch.optim.SGD, {'momentum': 0.9, 'dampening': 0, 'nesterov': False}),
    ('rmsprop', torch.optim.RMSprop, {'momentum': 0.9, 'alpha': 0.99}),
    ('radam', torch.optim.RAdam, {'betas': (0.9, 0.99)}),
])
def test_1x_build_optimizer_defaults(optim, cls, extra):
    model = TwoLayers()
    optimizer = build_optimizer(model, optim=optim)
    assert type(optimizer) is cls
    (group,) = optimizer.param_groups
    assert group['lr'] == 0.0003 and group['weight_decay'] == 5e-4
    assert len(group['params']) == 4
    for key, value in extra.items():
        assert group[key] == value


def test_1x_build_optimizer_passes_its_arguments():
    model = TwoLayers()
    sgd = build_optimizer(model, optim='sgd', lr=0.1, weight_decay=0.01, momentum=0.5, sgd_dampening=0,
                          sgd_nesterov=True)
    assert {k: sgd.param_groups[0][k] for k in ('lr', 'weight_decay', 'momentum', 'nesterov')} == {
        'lr': 0.1, 'weight_decay': 0.01, 'momentum': 0.5, 'nesterov': True}
    rms = build_optimizer(model, optim='rmsprop', rmsprop_alpha=0.5, momentum=0.2)
    assert (rms.param_groups[0]['alpha'], rms.param_groups[0]['momentum']) == (0.5, 0.2)
    adam = build_optimizer(model, adam_beta1=0.5, adam_beta2=0.6)
    assert adam.param_groups[0]['betas'] == (0.5, 0.6)


def test_1x_staged_lr_groups():
    model = TwoLayers()
    optimizer = build_optimizer(model, optim='sgd', lr=0.1, staged_lr=True, new_layers='classifier', base_lr_mult=0.2)
    base, new = optimizer.param_groups
    assert base['lr'] == pytest.approx(0.02) and new['lr'] == 0.1
    assert [p.shape for p in base['params']] == [(4, 3), (4,)]
    assert [p.shape for p in new['params']] == [(2, 4), (2,)]
    both = build_optimizer(nn.DataParallel(model), staged_lr=True, new_layers=['base', 'classifier'])
    assert len(both.param_groups[0]['params']) == 0 and len(both.param_groups[1]['params']) == 4


def test_1x_build_optimizer_errors():
    model = TwoLayers()
    with pytest.raises(ValueError, match='Unsupported optim: adagrad'):
        build_optimizer(model, optim='adagrad')
    with pytest.raises(TypeError, match='make_optimizer'):
        build_optimizer(model.parameters())
    with pytest.raises(ValueError, match=r"\['fc'\] are not among them \(children: base, classifier\)"):
        build_optimizer(model, staged_lr=True, new_layers=['fc'])
    with pytest.raises(ValueError, match='none given'):
        build_optimizer(model, staged_lr=True)


def _lrs(scheduler, optimizer, epochs):
    lrs = []
    for _ in range(epochs):
        lrs.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        scheduler.step()
    return lrs


def _sgd(lr=0.1):
    return make_optimizer('sgd', _params(), lr, 0)


def test_without_warmup_equals_multisteplr():
    ours_opt, ref_opt = _sgd(), _sgd()
    ours = _lrs(make_lr_scheduler(ours_opt, 'multi_step', [2, 5], gamma=0.5), ours_opt, 8)
    ref = _lrs(torch.optim.lr_scheduler.MultiStepLR(ref_opt, [2, 5], gamma=0.5), ref_opt, 8)
    assert ours == pytest.approx(ref)
    assert ours == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025])


def test_linear_warmup():
    optimizer = _sgd(1.0)
    scheduler = make_lr_scheduler(optimizer, 'multi_step', [3], gamma=0.1, warmup_epochs=2, warmup_factor=0.2)
    assert _lrs(scheduler, optimizer, 5) == pytest.approx([0.2, 0.6, 1.0, 0.1, 0.1])


def test_single_step_and_cosine_values():
    optimizer = _sgd(1.0)
    assert _lrs(make_lr_scheduler(optimizer, 'single_step', [2], gamma=0.5), optimizer, 6) == pytest.approx(
        [1, 1, 0.5, 0.5, 0.25, 0.25])
    optimizer = _sgd(1.0)
    assert _lrs(make_lr_scheduler(optimizer, 'cosine', max_epoch=4), optimizer, 5) == pytest.approx(
        [1, (1 + math.sqrt(0.5)) / 2, 0.5, (1 - math.sqrt(0.5)) / 2, 0], abs=1e-12)
    optimizer = _sgd(1.0)
    warm = make_lr_scheduler(optimizer, 'cosine', max_epoch=4, warmup_epochs=2, warmup_factor=0.5)
    assert _lrs(warm, optimizer, 3) == pytest.approx([0.5, 0.75 * (1 + math.sqrt(0.5)) / 2, 0.5])


@pytest.mark.parametrize('name,ours_kwargs,reference', [
    ('single_step', {'stepsize': 3, 'gamma': 0.5}, lambda o: torch.optim.lr_scheduler.StepLR(o, 3, gamma=0.5)),
    ('single_step', {'stepsize': [5, 3], 'gamma': 0.5},  # 1.x: of a list, the last item
     lambda o: torch.optim.lr_scheduler.StepLR(o, 3, gamma=0.5)),
    ('multi_step', {'stepsize': [2, 6], 'gamma': 0.2},
     lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [2, 6], gamma=0.2)),
    ('cosine', {'max_epoch': 7}, lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 7.)),
])
def test_1x_build_lr_scheduler_equals_torch_schedulers(name, ours_kwargs, reference):
    ours_opt, ref_opt = _sgd(), _sgd()
    ours = _lrs(build_lr_scheduler(ours_opt, lr_scheduler=name, **ours_kwargs), ours_opt, 10)
    assert ours == pytest.approx(_lrs(reference(ref_opt), ref_opt, 10), abs=1e-12)


def test_1x_build_lr_scheduler_defaults_and_errors():
    optimizer = _sgd()
    assert _lrs(build_lr_scheduler(optimizer), optimizer, 3) == pytest.approx([0.1, 0.01, 0.001])
    with pytest.raises(ValueError, match='Unsupported scheduler: plateau'):
        build_lr_scheduler(optimizer, lr_scheduler='plateau')
    with pytest.raises(TypeError, match='must be a list'):
        build_lr_scheduler(optimizer, lr_scheduler='multi_step', stepsize=5)
    with pytest.raises(ValueError, match='one step size'):
        make_lr_scheduler(optimizer, 'single_step', [2, 4])
    with pytest.raises(ValueError, match='max_epoch > 0'):
        make_lr_scheduler(optimizer, 'cosine')


@pytest.mark.parametrize('schedule,kwargs', [
    ('multi_step', {'stepsize': [2, 4]}),
    ('cosine', {'max_epoch': 6}),
    ('single_step', {'stepsize': [2]}),
])
def test_state_dict_resume_continues_schedule(schedule, kwargs):
    # the order a resume uses: build optimizer and scheduler, then load the optimizer state, then the scheduler's
    def build():
        optimizer = make_optimizer('adam', _params(), 1.0, 0)
        return optimizer, make_lr_scheduler(optimizer, schedule, warmup_epochs=1, warmup_factor=0.5, **kwargs)

    optimizer, scheduler = build()
    straight = _lrs(scheduler, optimizer, 6)
    optimizer, scheduler = build()
    first = _lrs(scheduler, optimizer, 3)
    optimizer2, scheduler2 = build()
    optimizer2.load_state_dict(optimizer.state_dict())
    scheduler2.load_state_dict(scheduler.state_dict())
    assert first + _lrs(scheduler2, optimizer2, 3) == pytest.approx(straight)
    if schedule == 'multi_step':
        assert straight == pytest.approx([0.5, 1, 0.1, 0.1, 0.01, 0.01])
    if schedule == 'cosine':
        assert straight == pytest.approx([0.5] + [(1 + math.cos(math.pi * e / 6)) / 2 for e in range(1, 6)])


def test_bad_schedules_are_rejected():
    optimizer = _sgd()
    with pytest.raises(ValueError, match='increasing'):
        WarmupMultiStepLR(optimizer, [40, 20])
    with pytest.raises(ValueError, match='warmup_factor'):
        WarmupMultiStepLR(optimizer, [20], warmup_factor=0)
    with pytest.raises(ValueError, match='Unsupported scheduler: linear'):
        make_lr_scheduler(optimizer, 'linear', [2])


def test_set_epoch_jumps_the_schedule():
    optimizer = _sgd(1.0)
    scheduler = make_lr_scheduler(optimizer, 'multi_step', [2, 4], gamma=0.1)
    scheduler.set_epoch(3)  # e.g. resuming a seed checkpoint saved after epoch index 2
    assert optimizer.param_groups[0]['lr'] == pytest.approx(0.1)
    assert _lrs(scheduler, optimizer, 2) == pytest.approx([0.1, 0.01])
    optimizer = _sgd(1.0)
    cosine = WarmupCosineLR(optimizer, max_epoch=4)
    cosine.set_epoch(2)
    assert optimizer.param_groups[0]['lr'] == pytest.approx(0.5)
