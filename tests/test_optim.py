import pytest
import torch

from torchreid.optim import WarmupMultiStepLR, build_lr_scheduler, build_optimizer, init_optim


def _params():
    return torch.nn.Linear(3, 2).parameters()


@pytest.mark.parametrize('name,cls,extra', [
    ('adam', torch.optim.Adam, {'amsgrad': False}),
    ('amsgrad', torch.optim.Adam, {'amsgrad': True}),
    ('sgd', torch.optim.SGD, {'momentum': 0.9, 'nesterov': False, 'dampening': 0}),
    ('rmsprop', torch.optim.RMSprop, {'momentum': 0.9, 'alpha': 0.99}),
])
def test_seed_optimizers(name, cls, extra):
    optimizer = build_optimizer(name, _params(), lr=0.01, weight_decay=5e-4)
    assert type(optimizer) is cls
    assert len(optimizer.param_groups) == 1
    group = optimizer.param_groups[0]
    assert group['lr'] == 0.01 and group['weight_decay'] == 5e-4
    for key, value in extra.items():
        assert group[key] == value
    assert init_optim is build_optimizer


def test_unknown_optimizer():
    with pytest.raises(KeyError, match='Unsupported optimizer: adagrad'):
        build_optimizer('adagrad', _params(), 0.1, 0)


def _lrs(scheduler, optimizer, epochs):
    lrs = []
    for _ in range(epochs):
        lrs.append(optimizer.param_groups[0]['lr'])
        optimizer.step()
        scheduler.step()
    return lrs


def test_without_warmup_equals_multisteplr():
    ours_opt = build_optimizer('sgd', _params(), 0.1, 0)
    ref_opt = build_optimizer('sgd', _params(), 0.1, 0)
    ours = _lrs(build_lr_scheduler(ours_opt, [2, 5], gamma=0.5), ours_opt, 8)
    ref = _lrs(torch.optim.lr_scheduler.MultiStepLR(ref_opt, [2, 5], gamma=0.5), ref_opt, 8)
    assert ours == pytest.approx(ref)
    assert ours == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.05, 0.025, 0.025, 0.025])


def test_linear_warmup():
    optimizer = build_optimizer('sgd', _params(), 1.0, 0)
    scheduler = build_lr_scheduler(optimizer, [3], gamma=0.1, warmup_epochs=2, warmup_factor=0.2)
    assert _lrs(scheduler, optimizer, 5) == pytest.approx([0.2, 0.6, 1.0, 0.1, 0.1])


def test_state_dict_resume_continues_schedule():
    # the order a resume uses: build optimizer and scheduler, then load the optimizer state, then the scheduler's
    optimizer = build_optimizer('adam', _params(), 1.0, 0)
    scheduler = build_lr_scheduler(optimizer, [2, 4], warmup_epochs=1, warmup_factor=0.5)
    straight = _lrs(scheduler, optimizer, 6)

    optimizer = build_optimizer('adam', _params(), 1.0, 0)
    scheduler = build_lr_scheduler(optimizer, [2, 4], warmup_epochs=1, warmup_factor=0.5)
    first = _lrs(scheduler, optimizer, 3)
    optimizer2 = build_optimizer('adam', _params(), 1.0, 0)
    scheduler2 = build_lr_scheduler(optimizer2, [2, 4], warmup_epochs=1, warmup_factor=0.5)
    optimizer2.load_state_dict(optimizer.state_dict())
    scheduler2.load_state_dict(scheduler.state_dict())
    assert first + _lrs(scheduler2, optimizer2, 3) == pytest.approx(straight)
    assert straight == pytest.approx([0.5, 1, 0.1, 0.1, 0.01, 0.01])


def test_bad_schedules_are_rejected():
    optimizer = build_optimizer('sgd', _params(), 0.1, 0)
    with pytest.raises(ValueError, match='increasing'):
        WarmupMultiStepLR(optimizer, [40, 20])
    with pytest.raises(ValueError, match='warmup_factor'):
        WarmupMultiStepLR(optimizer, [20], warmup_factor=0)


def test_set_epoch_jumps_the_schedule():
    optimizer = build_optimizer('sgd', _params(), 1.0, 0)
    scheduler = build_lr_scheduler(optimizer, [2, 4], gamma=0.1)
    scheduler.set_epoch(3)  # e.g. resuming a seed checkpoint saved after epoch index 2
    assert optimizer.param_groups[0]['lr'] == pytest.approx(0.1)
    assert _lrs(scheduler, optimizer, 2) == pytest.approx([0.1, 0.01])
