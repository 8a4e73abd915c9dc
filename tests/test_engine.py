"""The training loop with a tiny model and in-memory data: checkpoints, exact resume, fixbase, freeze-bn, AMP,
losses wiring, RNG handling, logging."""
import io
import os
import random
import sys

import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

from torchreid.engine import comm
from torchreid.engine.engine import (LATEST_CHECKPOINT, SoftmaxEngine, TripletEngine, epoch_checkpoint_name,
                                     pool_clip_outputs)
from torchreid.engine.evaluation import EvalResult
from torchreid.engine.logging import Logger, RunRecorder, log_to_file_only
from torchreid.engine.rng import capture_rng_state, preserved_rng_state, restore_rng_state
from torchreid.losses import CenterLoss, CrossEntropyLoss, TripletLoss
from torchreid.optim import make_lr_scheduler, make_optimizer
from torchreid.utils.checkpoint import load_checkpoint


NUM_CLASSES = 4


class TinyNet(nn.Module):
    """conv-BN-ReLU-pool feature (8-d) + linear classifier, with the models' train/eval output contract."""

    def __init__(self, num_classes=NUM_CLASSES, loss=('xent',), dropout=0.):
        super().__init__()
        self.loss = set(loss)
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout))
        self.classifier = nn.Linear(8, num_classes)
        self.feat_dim = 8

    def forward(self, x):
        feature = self.features(x)
        if not self.training:
            return feature
        logits = self.classifier(feature)
        return (logits, feature) if 'htri' in self.loss else logits


def make_loader(num_items=24, batch_size=8, seed=0):
    """Shuffled (by the global torch RNG, like a plain DataLoader) batches (imgs, pids, camids)."""
    generator = torch.Generator().manual_seed(seed)
    pids = torch.arange(num_items) % NUM_CLASSES
    imgs = torch.randn(num_items, 3, 8, 4, generator=generator) + pids.view(-1, 1, 1, 1).float()
    return DataLoader(TensorDataset(imgs, pids, torch.zeros(num_items, dtype=torch.long)), batch_size=batch_size,
                      shuffle=True, drop_last=True)


class ScriptedEvaluator(object):
    """Returns the given rank-1 values in turn; counts calls; consumes randomness like a real test loader may."""

    def __init__(self, rank1s, interrupt_at_call=None):
        self.rank1s = list(rank1s)
        self.calls = 0
        self.interrupt_at_call = interrupt_at_call  # Ctrl-C during this (0-based) call
        self.evaluated_weights = []  # the classifier weights of each evaluated model

    def evaluate(self, model):
        if self.calls == self.interrupt_at_call:
            raise KeyboardInterrupt
        self.evaluated_weights.append(model.classifier.weight.detach().clone())
        rank1 = self.rank1s[self.calls]
        self.calls += 1
        torch.rand(3), random.random(), np.random.rand()  # must not shift the training stream
        return EvalResult(rank1, rank1 / 2, rank1 / 4, np.array([rank1]), None)


def make_engine(save_dir, evaluator=None, seed=0, cls=SoftmaxEngine, model=None, loss_kwargs=None, milestones=(1,),
                **kwargs):
    torch.manual_seed(seed)
    model = model or TinyNet(dropout=0.2)
    optimizer = make_optimizer('adam', model.parameters(), 0.01, 5e-4)
    scheduler = make_lr_scheduler(optimizer, 'multi_step', list(milestones), gamma=0.5)
    loss_kwargs = loss_kwargs or {'criterion': CrossEntropyLoss(NUM_CLASSES, label_smooth=False)}
    return cls(model, optimizer, scheduler, make_loader(seed=seed), evaluator, torch.device('cpu'), str(save_dir),
               print_freq=2, **loss_kwargs, **kwargs)


def test_checkpoints_every_epoch_with_seed_keys(tmp_path):
    engine = make_engine(tmp_path, ScriptedEvaluator([0.5, 0.25]), run_args={'arch': 'tiny', 'stepsize': [1]})
    engine.run(max_epoch=4, eval_step=2)
    assert sorted(os.listdir(tmp_path)) == sorted([
        LATEST_CHECKPOINT, 'checkpoint_ep2.pth.tar', 'checkpoint_ep4.pth.tar', 'best_model.pth.tar', 'curves.png']
        + [name for name in os.listdir(tmp_path) if name.startswith('events.out.tfevents')])
    latest = load_checkpoint(str(tmp_path / LATEST_CHECKPOINT))  # weights_only=True
    assert latest['epoch'] == 3 and latest['rank1'] == 0.25
    assert latest['best_rank1'] == 0.5 and latest['best_epoch'] == 2
    assert latest['args'] == {'arch': 'tiny', 'stepsize': [1]}
    assert set(latest) >= {'state_dict', 'optimizer', 'scheduler', 'rng_states', 'history'}
    assert latest['scheduler']['last_epoch'] == 4
    assert latest['history']['epoch'] == [1, 2, 3, 4] and latest['history']['rank1'] == [0.5, 0.25]
    best = load_checkpoint(str(tmp_path / 'best_model.pth.tar'))
    assert best['epoch'] == 1 and best['rank1'] == 0.5
    assert epoch_checkpoint_name(59) == 'checkpoint_ep60.pth.tar'


def test_seed_evaluation_rule():
    engine = make_engine('unused')
    evaluated = [e + 1 for e in range(10) if engine.should_evaluate(e, 10, eval_step=3, start_eval=4)]
    assert evaluated == [6, 9, 10]
    assert [e + 1 for e in range(5) if engine.should_evaluate(e, 5, eval_step=-1, start_eval=0)] == [5]


def _train(save_dir, max_epoch, resume_from=None, evaluator_rank1s=(0.1, 0.2, 0.3), milestones=(1,), fixbase_epoch=0,
           evaluator=None):
    engine = make_engine(save_dir, evaluator or ScriptedEvaluator(evaluator_rank1s), milestones=milestones)
    fixbase_optimizer = None
    if fixbase_epoch:
        fixbase_optimizer = make_optimizer('adam', engine.model.classifier.parameters(), 0.02, 0)
    start_epoch = 0
    if resume_from is not None:
        checkpoint = load_checkpoint(resume_from)
        engine.model.load_state_dict(checkpoint['state_dict'])
        start_epoch = engine.load_state(checkpoint, fixbase_optimizer)
    engine.run(max_epoch=max_epoch, start_epoch=start_epoch, eval_step=1, fixbase_epoch=fixbase_epoch,
               fixbase_optimizer=fixbase_optimizer)
    return engine


def test_exact_resume_matches_uninterrupted_run(tmp_path):
    straight = _train(tmp_path / 'straight', 3)
    _train(tmp_path / 'first', 1)
    resumed = _train(tmp_path / 'resumed', 3, resume_from=str(tmp_path / 'first' / LATEST_CHECKPOINT),
                     evaluator_rank1s=(0.2, 0.3))
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    assert straight.optimizer.param_groups[0]['lr'] == resumed.optimizer.param_groups[0]['lr'] == 0.005
    assert straight.recorder.history == resumed.recorder.history
    assert resumed.best_rank1 == 0.3 and resumed.best_epoch == 3


def assert_same_run(straight, resumed):
    """The resumed run ended where the uninterrupted one did: weights, optimizer step, history, best rank-1."""
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key]), key
    assert straight.optimizer.param_groups[0]['lr'] == resumed.optimizer.param_groups[0]['lr']
    assert straight.recorder.history == resumed.recorder.history
    assert (straight.best_rank1, straight.best_epoch) == (resumed.best_rank1, resumed.best_epoch)


def test_resume_in_the_middle_of_an_lr_plateau(tmp_path):
    """The LR halves from the 3rd epoch (milestone 2). Resumed after epoch 1, a fresh schedule would lag one epoch
    behind (0.01 in epoch 3); the restored one gives the uninterrupted run's 0.005."""
    straight = _train(tmp_path / 'straight', 3, milestones=(2,))
    assert straight.recorder.history['lr'] == [0.01, 0.01, 0.005]
    _train(tmp_path / 'first', 1, milestones=(2,))
    resumed = _train(tmp_path / 'resumed', 3, resume_from=str(tmp_path / 'first' / LATEST_CHECKPOINT),
                     evaluator_rank1s=(0.2, 0.3), milestones=(2,))
    assert_same_run(straight, resumed)
    assert resumed.scheduler.last_epoch == 3


def _fixbase_optimizer(engine):
    return make_optimizer('adam', engine.model.classifier.parameters(), 0.02, 0)


def test_resume_from_a_fixbase_epoch(tmp_path):
    """Interrupted during the 2nd of 2 warm-up epochs; resumed from the 1st one's checkpoint, the run does the 2nd
    (with the warm-up optimizer's state) and the main epochs exactly as the uninterrupted run."""
    straight = _train(tmp_path / 'straight', 2, fixbase_epoch=2)
    interrupted = make_engine(tmp_path / 'first', ScriptedEvaluator([0.1]))
    train_one_epoch = interrupted.train_one_epoch

    def interrupted_in_second_warmup_epoch(epoch, **kwargs):
        if interrupted.fixbase_epochs_done == 1:
            raise KeyboardInterrupt
        return train_one_epoch(epoch, **kwargs)

    interrupted.train_one_epoch = interrupted_in_second_warmup_epoch
    with pytest.raises(KeyboardInterrupt):
        interrupted.run(max_epoch=2, eval_step=1, fixbase_epoch=2, fixbase_optimizer=_fixbase_optimizer(interrupted))
    checkpoint = load_checkpoint(str(tmp_path / 'first' / LATEST_CHECKPOINT))
    assert checkpoint['epoch'] == -1 and checkpoint['fixbase_epochs_done'] == 1
    resumed = _train(tmp_path / 'resumed', 2, resume_from=str(tmp_path / 'first' / LATEST_CHECKPOINT),
                     fixbase_epoch=2)
    assert_same_run(straight, resumed)


def test_an_interrupted_evaluation_keeps_the_epoch_and_resume_finishes_it(tmp_path):
    straight = _train(tmp_path / 'straight', 3)
    save_dir = tmp_path / 'run'
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C in the evaluation after epoch 2
        _train(save_dir, 3, evaluator=ScriptedEvaluator([0.1], interrupt_at_call=1))
    latest = load_checkpoint(str(save_dir / LATEST_CHECKPOINT))
    assert latest['epoch'] == 1 and latest['evaluation_pending'] is True
    assert latest['rank1'] == 0.1 and latest['history']['eval_epoch'] == [1]  # epoch 2's result is not known yet
    epoch2 = load_checkpoint(str(tmp_path / 'straight' / 'checkpoint_ep2.pth.tar'))
    assert epoch2['evaluation_pending'] is False and epoch2['rank1'] == 0.2
    for key, value in epoch2['state_dict'].items():  # epoch 2's training is on disk
        assert torch.equal(value, latest['state_dict'][key]), key
    assert not os.path.exists(str(save_dir / 'checkpoint_ep2.pth.tar'))

    resumed = _train(save_dir, 3, resume_from=str(save_dir / LATEST_CHECKPOINT), evaluator_rank1s=(0.2, 0.3))
    assert_same_run(straight, resumed)  # history: rank-1 0.1, 0.2, 0.3 at epochs 1, 2, 3
    assert resumed.evaluator.calls == 2  # epoch 2 (again), then epoch 3
    assert torch.equal(resumed.evaluator.evaluated_weights[0], straight.evaluator.evaluated_weights[1])
    finished = load_checkpoint(str(save_dir / 'checkpoint_ep2.pth.tar'))
    assert finished['rank1'] == 0.2 and finished['evaluation_pending'] is False
    assert load_checkpoint(str(save_dir / 'best_model.pth.tar'))['epoch'] == 2  # best: 0.3 at epoch 3 (0-based 2)


def test_an_interrupted_last_evaluation_is_finished_on_resume(tmp_path):
    straight = _train(tmp_path / 'straight', 2)
    with pytest.raises(KeyboardInterrupt):
        _train(tmp_path / 'run', 2, evaluator=ScriptedEvaluator([0.1], interrupt_at_call=1))
    resumed = _train(tmp_path / 'run', 2, resume_from=str(tmp_path / 'run' / LATEST_CHECKPOINT),
                     evaluator_rank1s=(0.2,))
    assert_same_run(straight, resumed)
    assert resumed.evaluator.calls == 1 and resumed.recorder.history['rank1'] == [0.1, 0.2]
    assert load_checkpoint(str(tmp_path / 'run' / LATEST_CHECKPOINT))['evaluation_pending'] is False
    with pytest.raises(ValueError, match=r'^nothing to train: the start epoch \(2\) is not below max_epoch \(2\)$'):
        _train(tmp_path / 'run', 2, resume_from=str(tmp_path / 'run' / LATEST_CHECKPOINT))


@pytest.mark.parametrize('failing', ['torch.save', 'os.replace'])
def test_an_interrupted_save_keeps_the_previous_checkpoint(failing, tmp_path, monkeypatch):
    """Ctrl-C while the new checkpoint is being written (half of it in the temporary file) or just before the
    rename: the previous checkpoint stays whole and the temporary file is removed."""
    engine = make_engine(tmp_path)
    engine.run(max_epoch=1)
    previous = (tmp_path / LATEST_CHECKPOINT).read_bytes()
    real_save, seen_temp_files = torch.save, []

    def write_half_then_interrupt(obj, f, *args, **kwargs):
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        f.write(buffer.getvalue()[:len(buffer.getvalue()) // 2])
        f.flush()
        seen_temp_files.extend(name for name in os.listdir(str(tmp_path)) if name.endswith('.tmp'))
        raise KeyboardInterrupt

    def interrupt_rename(src, dst):
        seen_temp_files.append(os.path.basename(src))
        raise KeyboardInterrupt

    if failing == 'torch.save':
        monkeypatch.setattr(torch, 'save', write_half_then_interrupt)
    else:
        monkeypatch.setattr(os, 'replace', interrupt_rename)
    with pytest.raises(KeyboardInterrupt):
        engine.run(max_epoch=2, start_epoch=1)
    monkeypatch.undo()
    assert len(seen_temp_files) == 1 and seen_temp_files[0].startswith('.{}.'.format(LATEST_CHECKPOINT))
    assert (tmp_path / LATEST_CHECKPOINT).read_bytes() == previous
    assert load_checkpoint(str(tmp_path / LATEST_CHECKPOINT))['epoch'] == 0
    assert not [name for name in os.listdir(str(tmp_path)) if name.endswith('.tmp')]


def test_seed_checkpoint_resume_continues_lr_schedule(tmp_path):
    engine = make_engine(tmp_path, ScriptedEvaluator([0.5]))
    start_epoch = engine.load_state({'state_dict': engine.model.state_dict(), 'rank1': 0.7, 'epoch': 4})
    assert start_epoch == 5
    assert engine.optimizer.param_groups[0]['lr'] == pytest.approx(0.005)  # milestone 1 passed: the seed restarted
    assert engine.best_rank1 == 0.7


def test_fixbase_trains_only_the_classifier_with_frozen_bn(tmp_path):
    engine = make_engine(tmp_path, ScriptedEvaluator([0.5]))
    before = {k: v.clone() for k, v in engine.model.state_dict().items()}
    fixbase_optimizer = make_optimizer('adam', engine.model.classifier.parameters(), 0.01, 0)
    engine.run_fixbase(2, fixbase_optimizer, start_epoch=0)
    after = engine.model.state_dict()
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {'classifier.weight', 'classifier.bias'}
    checkpoint = load_checkpoint(str(tmp_path / LATEST_CHECKPOINT))
    assert checkpoint['epoch'] == -1 and checkpoint['fixbase_epochs_done'] == 2 and 'fixbase_optimizer' in checkpoint


def test_fixbase_resumes_mid_warmup(tmp_path):
    engine = make_engine(tmp_path, ScriptedEvaluator([0.5]))
    engine.fixbase_epochs_done = 1
    calls = []

    def fake_epoch(epoch, optimizer=None, **kwargs):
        (optimizer or engine.optimizer).step()
        calls.append((epoch, kwargs))
        return {'loss': 1.}

    engine.train_one_epoch = fake_epoch
    engine.run(max_epoch=1, fixbase_epoch=3, fixbase_optimizer=engine.optimizer)
    assert [epoch for epoch, _ in calls] == [1, 2, 0]
    assert [kwargs.get('bn_eval', False) for _, kwargs in calls] == [True, True, False]


def test_freeze_bn_keeps_running_statistics(tmp_path):
    engine = make_engine(tmp_path, freeze_bn=True)
    bn = engine.model.features[1]
    mean_before = bn.running_mean.clone()
    weight_before = bn.weight.detach().clone()
    engine.train_one_epoch(0)
    assert torch.equal(bn.running_mean, mean_before)
    assert not torch.equal(bn.weight.detach(), weight_before)  # affine parameters still train


def test_triplet_engine_combines_losses_and_deep_supervision(tmp_path):
    criterion_xent = CrossEntropyLoss(NUM_CLASSES, label_smooth=False)
    criterion_htri = TripletLoss(margin=0.3)
    criterion_cent = CenterLoss(NUM_CLASSES, 8)
    engine = make_engine(tmp_path, cls=TripletEngine, model=TinyNet(loss=('xent', 'htri')), loss_kwargs=dict(
        criterion_xent=criterion_xent, criterion_htri=criterion_htri, lambda_xent=0.5, lambda_htri=2.,
        criterion_cent=criterion_cent, lambda_cent=0.1))
    torch.manual_seed(3)
    logits, features = torch.randn(8, NUM_CLASSES), torch.randn(8, 8)
    pids = torch.arange(8) % NUM_CLASSES
    loss, parts = engine.compute_loss((logits, features), pids)
    expected = (0.5 * criterion_xent(logits, pids) + 2. * criterion_htri(features, pids)
                + 0.1 * criterion_cent(features, pids))
    assert torch.allclose(loss, expected)
    assert set(parts) == {'xent', 'htri', 'cent'}
    # HACNN-style tuples: each term is the mean over the branches
    loss, _ = engine.compute_loss(((logits, logits * 2), (features, features * 2)), pids)
    deep = (0.5 * (criterion_xent(logits, pids) + criterion_xent(logits * 2, pids)) / 2
            + 2. * (criterion_htri(features, pids) + criterion_htri(features * 2, pids)) / 2
            + 0.1 * (criterion_cent(features, pids) + criterion_cent(features * 2, pids)) / 2)
    assert torch.allclose(loss, deep)
    engine.htri_only = True
    loss, parts = engine.compute_loss((logits, features), pids)
    assert 'xent' not in parts
    assert torch.allclose(loss, criterion_htri(features, pids) + 0.1 * criterion_cent(features, pids))


def test_center_loss_centres_train_and_are_checkpointed(tmp_path):
    model = TinyNet(loss=('xent', 'htri'))
    criterion_cent = CenterLoss(NUM_CLASSES, 8)
    centres_before = criterion_cent.centers.detach().clone()
    optimizer = make_optimizer('adam', [{'params': model.parameters()},
                                         {'params': criterion_cent.parameters(), 'weight_decay': 0.}], 0.01, 5e-4)
    engine = TripletEngine(model, optimizer, make_lr_scheduler(optimizer, 'multi_step', [10]), make_loader(), None,
                           torch.device('cpu'), str(tmp_path), criterion_xent=CrossEntropyLoss(NUM_CLASSES),
                           criterion_htri=TripletLoss(), criterion_cent=criterion_cent, lambda_cent=0.5)
    engine.run(max_epoch=1)
    assert not torch.equal(criterion_cent.centers.detach(), centres_before)
    checkpoint = load_checkpoint(str(tmp_path / LATEST_CHECKPOINT))
    assert torch.equal(checkpoint['criteria']['centers'], criterion_cent.centers.detach())


def test_clip_batches_train_on_pooled_frame_outputs(tmp_path):
    engine = make_engine(tmp_path)
    engine.train_model.eval()
    clips = torch.randn(2, 3, 3, 8, 4)
    pooled = engine.forward(clips)
    frames = engine.train_model(clips.flatten(0, 1)).view(2, 3, -1).mean(dim=1)
    assert torch.allclose(pooled, frames, atol=1e-6)
    nested = pool_clip_outputs((torch.arange(6.).view(6, 1), (torch.ones(6, 2),)), 2, 3)
    assert nested[0].flatten().tolist() == [1., 4.] and nested[1][0].shape == (2, 2)


def test_bf16_autocast_trains_on_cpu(tmp_path):
    engine = make_engine(tmp_path, amp='bf16')
    before = engine.model.classifier.weight.detach().clone()
    losses = engine.train_one_epoch(0)
    assert np.isfinite(losses['loss'])
    assert not torch.equal(before, engine.model.classifier.weight.detach())
    with pytest.raises(ValueError, match='fp16 needs a CUDA GPU'):
        make_engine(tmp_path, amp='fp16')


def test_progress_lines_follow_seed_format(tmp_path, capsys):
    engine = make_engine(tmp_path)
    engine.train_one_epoch(0)
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith('Epoch')]
    assert [line.split('\t')[0] for line in lines] == ['Epoch: [1][2/3]', 'Epoch: [1][3/3]']
    assert all(line.split('\t')[1].startswith('Time ') and line.split('\t')[3].startswith('Loss ') for line in lines)


def test_rng_state_round_trip_and_preservation():
    state = capture_rng_state()
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    restore_rng_state(state)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected
    restore_rng_state(state)
    with preserved_rng_state():
        torch.rand(5), random.random(), np.random.rand(2)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_single_process_comm():
    assert comm.get_rank() == 0 and comm.get_world_size() == 1 and comm.is_main_process()
    assert comm.all_gather_object({'a': 1}) == [{'a': 1}]
    assert comm.broadcast_object(3) == 3
    comm.synchronize()


def test_torchrun_env_detection(monkeypatch):
    for name in ('RANK', 'WORLD_SIZE', 'LOCAL_RANK', 'LOCAL_WORLD_SIZE'):
        monkeypatch.delenv(name, raising=False)
    assert not comm.torchrun_env().distributed
    monkeypatch.setenv('RANK', '3')
    monkeypatch.setenv('WORLD_SIZE', '4')
    monkeypatch.setenv('LOCAL_RANK', '1')
    monkeypatch.setenv('LOCAL_WORLD_SIZE', '2')
    assert comm.torchrun_env() == comm.DistInfo(True, 3, 4, 1, 2)


def test_logger_appends_with_a_header_per_run(tmp_path):
    fpath = str(tmp_path / 'log_train.txt')
    for text in ('first run\n', 'second run\n'):
        console = io.StringIO()
        logger = Logger(fpath, console=console)
        logger.write(text)
        logger.write_file_only('file only\n')
        logger.flush()
        logger.close()
        assert console.getvalue() == text
    content = open(fpath).read()
    assert content.count('==> Run started') == 2
    assert content.index('first run') < content.index('second run')
    assert content.count('file only') == 2


def test_log_to_file_only_needs_the_logger(tmp_path, monkeypatch, capsys):
    logger = Logger(str(tmp_path / 'log.txt'), console=sys.stdout)
    monkeypatch.setattr(sys, 'stdout', logger)
    log_to_file_only('hidden line')
    logger.close()
    assert 'hidden line' not in capsys.readouterr().out
    assert 'hidden line' in open(str(tmp_path / 'log.txt')).read()


def test_run_recorder_plots_and_writes_tensorboard(tmp_path):
    recorder = RunRecorder(str(tmp_path))
    for epoch in (1, 2, 3):
        recorder.record_train_epoch(epoch, {'loss': 3. - epoch / 2, 'htri': 0.5}, 0.1)
    recorder.record_evaluation(3, 0.5, 0.25)
    assert recorder.history['loss'] == [2.5, 2., 1.5] and recorder.history['rank1'] == [0.5]
    fpath = recorder.plot_curves()
    recorder.close()
    assert fpath == str(tmp_path / 'curves.png') and os.path.getsize(fpath) > 1000
    assert any(name.startswith('events.out.tfevents') for name in os.listdir(tmp_path))
    silent = RunRecorder(str(tmp_path / 'other'), enabled=False)
    silent.record_train_epoch(1, {'loss': 1.}, 0.1)
    assert silent.plot_curves() is None and not os.path.exists(str(tmp_path / 'other'))


@pytest.mark.parametrize('loss', ['xent', 'xent_htri'])
def test_hacnn_trains_and_evaluates_on_cpu_with_both_engines(loss, tmp_path):
    """HACNN (tuple outputs, 160x64 input) with each engine, on images, clips and tracklets (the seed needed a GPU)."""
    from torchreid.engine.evaluation import extract_features
    from torchreid.models import init_model
    torch.manual_seed(0)
    model = init_model('hacnn', num_classes=NUM_CLASSES, loss={'xent'} if loss == 'xent' else {'xent', 'htri'},
                       pretrained=False)
    optimizer = make_optimizer('adam', model.parameters(), 3e-4, 0)
    if loss == 'xent':
        kwargs = {'criterion': CrossEntropyLoss(NUM_CLASSES)}
        cls = SoftmaxEngine
    else:
        kwargs = {'criterion_xent': CrossEntropyLoss(NUM_CLASSES), 'criterion_htri': TripletLoss()}
        cls = TripletEngine
    engine = cls(model, optimizer, make_lr_scheduler(optimizer, 'multi_step', [10]), None, None, torch.device('cpu'),
                 str(tmp_path), **kwargs)
    pids = torch.tensor([0, 0, 1, 1])
    images = torch.randn(4, 3, 160, 64)
    before = model.classifier_global.weight.detach().clone() if hasattr(model, 'classifier_global') else None
    parts = engine.forward_backward(images, pids, optimizer)
    assert torch.isfinite(parts['loss'])
    if before is not None:
        assert not torch.equal(before, model.classifier_global.weight.detach())
    parts = engine.forward_backward(images.view(2, 2, 3, 160, 64), pids[::2], optimizer)  # clips of 2 frames
    assert torch.isfinite(parts['loss'])
    tracklets = DataLoader(TensorDataset(images.view(2, 2, 3, 160, 64), pids[::2], pids[::2]), batch_size=2)
    features, _, _, _ = extract_features(model, tracklets, torch.device('cpu'))
    assert features.shape == (2, model.feat_dim)


def test_terminal_shows_a_progress_bar_and_the_log_file_keeps_the_lines(tmp_path, monkeypatch, capsys):
    from torchreid.engine import engine as engine_module
    monkeypatch.setattr(engine_module, 'console_is_terminal', lambda: True)
    logger = Logger(str(tmp_path / 'log_train.txt'), console=sys.stdout)
    monkeypatch.setattr(sys, 'stdout', logger)
    make_engine(tmp_path).train_one_epoch(0)
    logger.close()
    captured = capsys.readouterr()
    assert 'Epoch: [1][3/3]' not in captured.out  # the console shows the bar instead
    assert 'Epoch 1' in captured.err and 'img' in captured.err  # tqdm: description, count, rate, ETA
    assert 'Epoch: [1][2/3]' in open(str(tmp_path / 'log_train.txt')).read()
