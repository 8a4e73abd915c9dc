"""The one training loop. Subclasses say only how a batch's model outputs become a loss.

Follow one batch: :meth:`Engine.train_one_epoch` takes ``(imgs, pids, ...)`` from the train loader,
:meth:`Engine.forward_backward` runs the model (:meth:`Engine.forward`), turns its outputs into a loss
(:meth:`compute_loss`, the part :class:`SoftmaxEngine` and :class:`TripletEngine` override), back-propagates and
steps the optimizer. :meth:`Engine.run` repeats epochs, steps the LR schedule, evaluates and checkpoints.

Checkpoints (``save_dir/checkpoint_latest.pth.tar`` after every epoch, ``checkpoint_ep<N>.pth.tar`` after every
evaluation, ``best_model.pth.tar`` for the best rank-1 of the evaluator's ``best_target``, by default the first
target) hold the seed's keys (``state_dict``, ``rank1``, 0-based ``epoch``) plus everything
:meth:`Engine.load_state` needs to continue the run exactly, and the sources and targets of the run.

No lost work: an epoch's checkpoint is on disk before its evaluation starts (``evaluation_pending: True``) and is
rewritten with the result after it. A run resumed from a checkpoint whose evaluation was interrupted (an error,
Ctrl-C) first evaluates that epoch's weights, then trains on: its history, best model and later epochs are those of
the uninterrupted run (evaluation leaves the random streams untouched).
"""
import datetime
import os
import time
from contextlib import nullcontext
from functools import partial

import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel

from ..losses import apply_criterion
from ..utils.avgmeter import AverageMeter
from ..utils.checkpoint import save_checkpoint
from ..utils.torchtools import set_bn_to_eval
from . import comm
from .logging import RunRecorder, console_is_terminal, log_to_file_only
from .rng import capture_rng_state, preserved_rng_state, restore_rng_state

LATEST_CHECKPOINT = 'checkpoint_latest.pth.tar'

AMP_DTYPES = {'bf16': torch.bfloat16, 'fp16': torch.float16}


def epoch_checkpoint_name(epoch):
    """File name of the checkpoint after 0-based ``epoch`` (the name is 1-based, as the seed)."""
    return 'checkpoint_ep{}.pth.tar'.format(epoch + 1)


def wrap_model(model, device, find_unused_parameters=False):
    """DistributedDataParallel under torchrun, DataParallel over several visible GPUs (the seed), else the model."""
    if comm.is_distributed():
        device_ids = [device.index] if device.type == 'cuda' else None
        return DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=find_unused_parameters)
    if device.type == 'cuda' and torch.cuda.device_count() > 1:
        return nn.DataParallel(model)
    return model


def make_autocast(amp, device):
    """A factory of autocast contexts for --amp ('bf16' | 'fp16' | None: full precision) on ``device``."""
    if amp is None:
        return nullcontext
    if amp not in AMP_DTYPES:
        raise ValueError("--amp must be 'bf16' or 'fp16', got '{}'".format(amp))
    if amp == 'fp16' and device.type != 'cuda':
        raise ValueError('--amp fp16 needs a CUDA GPU; use --amp bf16 on CPU')
    return partial(torch.autocast, device_type=device.type, dtype=AMP_DTYPES[amp])


def pool_clip_outputs(outputs, num_clips, num_frames):
    """Average model outputs of (B*S) frames into (B) clip outputs; nested tuples (e.g. HACNN) are kept."""
    if isinstance(outputs, (tuple, list)):
        return type(outputs)(pool_clip_outputs(output, num_clips, num_frames) for output in outputs)
    return outputs.view(num_clips, num_frames, *outputs.shape[1:]).mean(dim=1)


def _format_duration(seconds):
    return str(datetime.timedelta(seconds=int(round(seconds))))


class Engine(object):
    """Trains ``model`` and evaluates it; subclasses implement :meth:`compute_loss`.

    Args:
        model (nn.Module): the bare model (already on ``device``); the engine wraps it for DDP / DataParallel.
        optimizer, scheduler: stepped once per batch and once per epoch.
        train_loader: yields ``(imgs, pids, camids, paths)``; imgs (B, C, H, W), or (B, S, C, H, W) clips that
            are trained on the average of their frame outputs.
        evaluator (Evaluator): query/gallery evaluation, or None for no evaluation.
        device (torch.device): where training runs.
        save_dir (str): logs, TensorBoard files, curves.png and checkpoints.
        print_freq (int): a progress line every ``print_freq`` batches.
        freeze_bn (bool): BatchNorm layers in eval mode during training (running statistics frozen).
        amp (str or None): 'bf16' or 'fp16' mixed precision (fp16 uses a gradient scaler).
        criteria_with_state (nn.Module or None): loss modules with parameters (center loss), saved in checkpoints.
        run_args (dict or None): the command-line arguments, stored in every checkpoint.
        model_record (dict or None): what rebuilds ``model`` (:func:`torchreid.models.model_record.make_model_record`),
            stored in every checkpoint as ``'model'``.
        find_unused_parameters (bool): for DDP, when some parameters get no gradient (e.g. --htri-only).
        datasets_record (dict or None): the training and test datasets (``sources``, ``targets``, ``best_target``,
            ``combineall``), stored in every checkpoint under those keys; a resumed run compares them.
    """

    def __init__(self, model, optimizer, scheduler, train_loader, evaluator, device, save_dir, print_freq=10,
                 freeze_bn=False, amp=None, criteria_with_state=None, run_args=None, find_unused_parameters=False,
                 model_record=None, datasets_record=None):
        self.model = model
        self.train_model = wrap_model(model, device, find_unused_parameters)
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.train_loader = train_loader
        self.evaluator = evaluator
        self.device = device
        self.save_dir = save_dir
        self.print_freq = max(1, print_freq)
        self.freeze_bn = freeze_bn
        self.criteria_with_state = criteria_with_state
        self.run_args = dict(run_args or {})
        self.model_record = model_record
        self.datasets_record = dict(datasets_record or {})
        self.autocast = make_autocast(amp, device)
        self.grad_scaler = torch.amp.GradScaler('cuda') if amp == 'fp16' else None
        self.recorder = RunRecorder(save_dir, enabled=comm.is_main_process())
        self.best_rank1 = float('-inf')
        self.best_epoch = 0
        self.last_rank1 = 0.
        self.last_mAP = 0.
        self.fixbase_epochs_done = 0
        self.past_fixbase = False  # resumed from a checkpoint written after a main epoch
        self.pending_evaluation = False  # resumed from a checkpoint whose evaluation did not finish
        self.train_time = 0.

    # ---- one batch -------------------------------------------------------------------------------------------

    def forward(self, imgs):
        """Model outputs for a batch of images (B, C, H, W), or clip-level outputs for clips (B, S, C, H, W)."""
        if imgs.dim() == 5:
            num_clips, num_frames = imgs.shape[:2]
            return pool_clip_outputs(self.train_model(imgs.flatten(0, 1)), num_clips, num_frames)
        return self.train_model(imgs)

    def compute_loss(self, outputs, pids):
        """Loss for one batch: returns (scalar tensor, {name: scalar tensor} of its parts)."""
        raise NotImplementedError

    def forward_backward(self, imgs, pids, optimizer):
        """Forward, loss, backward and optimizer step on one batch; returns the loss parts (detached tensors)."""
        with self.autocast():
            outputs = self.forward(imgs)
            loss, parts = self.compute_loss(outputs, pids)
        optimizer.zero_grad(set_to_none=True)
        if self.grad_scaler is not None:
            self.grad_scaler.scale(loss).backward()
            self._average_criteria_gradients()
            self.grad_scaler.step(optimizer)
            self.grad_scaler.update()
        else:
            loss.backward()
            self._average_criteria_gradients()
            optimizer.step()
        parts = {name: value.detach() for name, value in parts.items()}
        parts['loss'] = loss.detach()
        return parts

    def _average_criteria_gradients(self):
        """DDP averages the model's gradients; loss parameters (center loss) are averaged here."""
        if self.criteria_with_state is None or comm.get_world_size() == 1:
            return
        for param in self.criteria_with_state.parameters():
            if param.grad is not None:
                torch.distributed.all_reduce(param.grad)
                param.grad /= comm.get_world_size()

    # ---- one epoch -------------------------------------------------------------------------------------------

    def train_one_epoch(self, epoch, optimizer=None, sampler_epoch=None, bn_eval=False):
        """Train for one pass over the train loader; returns {'loss': average, <part>: average, ...}.

        ``epoch`` is 0-based (printed 1-based). ``sampler_epoch`` seeds the shuffling (defaults to ``epoch``).
        ``bn_eval`` also freezes BatchNorm statistics (fixbase warm-up).
        """
        optimizer = optimizer or self.optimizer
        self.set_train_mode(epoch, bn_eval)
        self._set_sampler_epoch(epoch if sampler_epoch is None else sampler_epoch)

        num_batches = len(self.train_loader)
        batch_time, data_time = AverageMeter(), AverageMeter()
        part_sums, num_items = {}, 0
        show_bar = comm.is_main_process() and console_is_terminal()
        progress = self._progress_bar(epoch, num_batches) if show_bar else None
        end = time.time()
        for batch_idx, batch in enumerate(self.train_loader):
            data_time.update(time.time() - end)
            imgs = batch[0].to(self.device, non_blocking=True)
            pids = batch[1].to(self.device, non_blocking=True)
            parts = self.forward_backward(imgs, pids, optimizer)
            batch_size = pids.size(0)
            num_items += batch_size
            for name, value in parts.items():  # summed on the device: no GPU sync per batch
                part_sums[name] = part_sums.get(name, 0.) + value.float() * batch_size
            batch_time.update(time.time() - end)

            if (batch_idx + 1) % self.print_freq == 0 or batch_idx + 1 == num_batches:
                loss_avg = part_sums['loss'].item() / num_items
                line = ('Epoch: [{0}][{1}/{2}]\tTime {bt.val:.3f} ({bt.avg:.3f})\tData {dt.val:.4f} ({dt.avg:.4f})\t'
                        'Loss {3:.4f} ({4:.4f})\t'.format(epoch + 1, batch_idx + 1, num_batches,
                                                          parts['loss'].item(), loss_avg, bt=batch_time,
                                                          dt=data_time))
                if progress is not None:
                    log_to_file_only(line)
                    progress.set_postfix(loss='{:.4f}'.format(loss_avg),
                                         lr='{:.2e}'.format(optimizer.param_groups[0]['lr']), refresh=False)
                elif comm.is_main_process():
                    print(line)
            if progress is not None:
                progress.update(batch_size)
            end = time.time()
        if progress is not None:
            progress.close()
        if num_items == 0:
            raise RuntimeError('the train loader gave no batch: the training set is smaller than one batch '
                               '(--train-batch); lower --train-batch')
        return {name: (total / num_items).item() for name, total in part_sums.items()}

    def set_train_mode(self, epoch, bn_eval=False):
        """Put the model (and loss modules with parameters) in train mode for 0-based ``epoch``; BatchNorm
        statistics stay frozen with ``bn_eval`` (fixbase warm-up) or ``freeze_bn``."""
        self.train_model.train()
        if self.criteria_with_state is not None:
            self.criteria_with_state.train()
        if bn_eval or self.freeze_bn:
            self.model.apply(set_bn_to_eval)

    def _set_sampler_epoch(self, epoch):
        for holder in (getattr(self.train_loader, 'sampler', None), getattr(self.train_loader, 'batch_sampler', None)):
            if hasattr(holder, 'set_epoch'):
                holder.set_epoch(epoch)

    def _progress_bar(self, epoch, num_batches):
        from tqdm import tqdm
        batch_size = getattr(self.train_loader, 'batch_size', None) or 1
        return tqdm(total=num_batches * batch_size, desc='Epoch {}'.format(epoch + 1), unit='img', unit_scale=False,
                    dynamic_ncols=True, leave=False)

    # ---- the run ---------------------------------------------------------------------------------------------

    def evaluate(self):
        """Evaluate the current model (without disturbing the training random stream); returns an EvalResult."""
        comm.broadcast_buffers(self.model)
        # DataParallel spreads test batches over the GPUs too; a DDP wrapper would synchronise every forward pass,
        # which processes with unequal shares of the test set cannot do, so DDP evaluates the bare model
        eval_model = self.train_model if isinstance(self.train_model, nn.DataParallel) else self.model
        with preserved_rng_state():
            return self.evaluator.evaluate(eval_model)

    def should_evaluate(self, epoch, max_epoch, eval_step, start_eval):
        """The seed's rule: every ``eval_step`` epochs once past ``start_eval``, and always after the last one."""
        done = epoch + 1
        return (done > start_eval and eval_step > 0 and done % eval_step == 0) or done == max_epoch

    def run(self, max_epoch, start_epoch=0, eval_step=-1, start_eval=0, fixbase_epoch=0, fixbase_optimizer=None):
        """Train epochs ``start_epoch .. max_epoch - 1`` (after the fixbase warm-up, if any), evaluating and
        checkpointing; prints the best rank-1 and the elapsed times at the end.

        Each epoch is checkpointed before its evaluation (see the module docstring); a run resumed from a checkpoint
        whose evaluation was interrupted evaluates that epoch first. ValueError when there is nothing to do.
        """
        if start_epoch >= max_epoch and not self.pending_evaluation:
            raise ValueError('nothing to train: the start epoch ({}) is not below max_epoch ({})'.format(
                start_epoch, max_epoch))
        start_time = time.time()
        if self.pending_evaluation:
            self.finish_interrupted_evaluation(start_epoch - 1)
        if fixbase_epoch > self.fixbase_epochs_done and not self.past_fixbase:
            self.run_fixbase(fixbase_epoch, fixbase_optimizer, start_epoch)
        if start_epoch < max_epoch:
            print('==> Start training')
        for epoch in range(start_epoch, max_epoch):
            epoch_start = time.time()
            losses = self.train_one_epoch(epoch, sampler_epoch=fixbase_epoch + epoch)
            self.train_time += time.time() - epoch_start
            self.recorder.record_train_epoch(epoch + 1, losses, lr=self.optimizer.param_groups[0]['lr'])
            self.scheduler.step()
            if self.evaluator is not None and self.should_evaluate(epoch, max_epoch, eval_step, start_eval):
                self.save(epoch, evaluation_pending=True)  # the epoch is safe before its evaluation starts
                self.evaluate_and_save(epoch)
            else:
                self.save(epoch)
        self.finish(start_time)

    def evaluate_and_save(self, epoch):
        """Evaluate after 0-based ``epoch``, then rewrite its checkpoint with the result (and checkpoint_ep<N>,
        best_model.pth.tar when its rank-1 is the best)."""
        is_best = self.test_epoch(epoch)
        self.save(epoch, is_best=is_best, keep_epoch_file=True)

    def finish_interrupted_evaluation(self, epoch):
        """The evaluation after 0-based ``epoch`` was interrupted before this run resumed: do it now."""
        self.pending_evaluation = False
        if self.evaluator is None:
            print('Note: the evaluation after epoch {} was interrupted and this run has no evaluator; it is '
                  'skipped'.format(epoch + 1))
            return
        print('Note: the evaluation after epoch {} was interrupted; evaluating that epoch before training '
              'on'.format(epoch + 1))
        self.evaluate_and_save(epoch)

    def test_epoch(self, epoch):
        """Evaluate after 0-based ``epoch`` and record the result; True when its rank-1 is the best so far."""
        print('==> Test')
        result = self.evaluate()
        self.last_rank1, self.last_mAP = result.rank1, result.mAP
        per_target = getattr(result, 'per_target', None)
        self.recorder.record_evaluation(epoch + 1, result.rank1, result.mAP,
                                        per_target=per_target if per_target and len(per_target) > 1 else None)
        if result.rank1 <= self.best_rank1:
            return False
        self.best_rank1, self.best_epoch = result.rank1, epoch + 1
        return True

    def run_fixbase(self, fixbase_epoch, fixbase_optimizer, start_epoch):
        """The seed's warm-up: train only the classifier (``fixbase_optimizer``) with BatchNorm frozen, for extra
        epochs before the main ones (no LR step, no evaluation). Each epoch is checkpointed."""
        print('Train classifier for {} epochs while keeping base network frozen'.format(fixbase_epoch))
        for fixbase_index in range(self.fixbase_epochs_done, fixbase_epoch):
            epoch_start = time.time()
            self.train_one_epoch(fixbase_index, optimizer=fixbase_optimizer, bn_eval=True)
            self.train_time += time.time() - epoch_start
            self.fixbase_epochs_done = fixbase_index + 1
            self.save(start_epoch - 1, fixbase_optimizer=fixbase_optimizer)
        print('Now open all layers for training')

    def finish(self, start_time):
        if self.best_epoch > 0:
            targets = getattr(self.evaluator, 'targets', None) or []
            on_target = ' (target {})'.format(self.evaluator.best_target) if len(targets) > 1 else ''
            print('==> Best Rank-1 {:.1%}, achieved at epoch {}{}'.format(self.best_rank1, self.best_epoch,
                                                                         on_target))
        print('Finished. Total elapsed time (h:m:s): {}. Training time (h:m:s): {}.'.format(
            _format_duration(time.time() - start_time), _format_duration(self.train_time)))
        if comm.is_main_process() and self.recorder.history['epoch']:
            print("Training curves saved to '{}'".format(self.recorder.plot_curves()))
        self.recorder.close()

    # ---- checkpoints -----------------------------------------------------------------------------------------

    def state(self, epoch, fixbase_optimizer=None, evaluation_pending=False):
        """The checkpoint after 0-based ``epoch``: the seed's keys plus what an exact resume needs.
        ``evaluation_pending``: written before the epoch's evaluation (rank1/mAP are the previous evaluation's).

        Collective under torchrun (gathers every process's random state), so every process calls it.
        """
        state = {
            'state_dict': self.model.state_dict(),
            'rank1': self.last_rank1,
            'epoch': epoch,
            'mAP': self.last_mAP,
            'best_rank1': self.best_rank1,
            'best_epoch': self.best_epoch,
            'optimizer': self.optimizer.state_dict(),
            'scheduler': self.scheduler.state_dict(),
            'rng_states': comm.all_gather_object(self._capture_rng_state()),
            'fixbase_epochs_done': self.fixbase_epochs_done,
            'evaluation_pending': evaluation_pending,
            'train_time': self.train_time,
            'history': self.recorder.history,
            'args': self.run_args,
        }
        state.update(self.datasets_record)
        if self.model_record is not None:
            state['model'] = self.model_record
        if fixbase_optimizer is not None:
            state['fixbase_optimizer'] = fixbase_optimizer.state_dict()
        if self.grad_scaler is not None:
            state['grad_scaler'] = self.grad_scaler.state_dict()
        if self.criteria_with_state is not None:
            state['criteria'] = self.criteria_with_state.state_dict()
        return state

    def save(self, epoch, is_best=False, keep_epoch_file=False, fixbase_optimizer=None, evaluation_pending=False):
        """Write checkpoint_latest (every epoch) and checkpoint_ep<N> (``keep_epoch_file``); rank 0 only."""
        state = self.state(epoch, fixbase_optimizer, evaluation_pending=evaluation_pending)
        if comm.is_main_process():
            save_checkpoint(state, is_best=False, fpath=os.path.join(self.save_dir, LATEST_CHECKPOINT))
            if keep_epoch_file:
                save_checkpoint(state, is_best=is_best, fpath=os.path.join(self.save_dir,
                                                                           epoch_checkpoint_name(epoch)))
        comm.synchronize()

    def load_state(self, checkpoint, fixbase_optimizer=None):
        """Continue from ``checkpoint`` (weights already loaded); returns the epoch to start from.

        Restores the optimizer, LR schedule, random streams, best rank-1 and history when the checkpoint has
        them. A seed checkpoint (weights, rank1, epoch only) continues the LR schedule at its epoch with a fresh
        optimizer state.
        """
        start_epoch = checkpoint['epoch'] + 1
        self.last_rank1 = float(checkpoint.get('rank1', 0.))
        self.last_mAP = float(checkpoint.get('mAP', 0.))
        self.best_rank1 = float(checkpoint.get('best_rank1', self.last_rank1))
        self.best_epoch = int(checkpoint.get('best_epoch', start_epoch))
        best_target = self.datasets_record.get('best_target')
        if best_target is not None and checkpoint.get('best_target', best_target) != best_target:
            print("Note: the checkpoint's best model was chosen on target {}, this run chooses on {}: the best "
                  'Rank-1 starts afresh'.format(checkpoint['best_target'], best_target))
            self.best_rank1, self.best_epoch = float('-inf'), 0
        self.train_time = float(checkpoint.get('train_time', 0.))
        # a checkpoint from the fixbase warm-up has epoch -1; one from a main epoch is past the warm-up
        self.fixbase_epochs_done = int(checkpoint.get('fixbase_epochs_done', 0))
        self.past_fixbase = start_epoch > 0
        self.pending_evaluation = bool(checkpoint.get('evaluation_pending', False))
        if 'history' in checkpoint:
            self.recorder.load_history(checkpoint['history'])
        if 'criteria' in checkpoint and self.criteria_with_state is not None:
            self.criteria_with_state.load_state_dict(checkpoint['criteria'])
        if 'optimizer' in checkpoint:
            self.optimizer.load_state_dict(checkpoint['optimizer'])
            self.scheduler.load_state_dict(checkpoint['scheduler'])
        else:
            print('Note: the checkpoint holds no optimizer state (an older format); the optimizer starts afresh '
                  'and the learning-rate schedule continues at epoch {}'.format(start_epoch + 1))
            self.scheduler.set_epoch(start_epoch)
        if fixbase_optimizer is not None and 'fixbase_optimizer' in checkpoint:
            fixbase_optimizer.load_state_dict(checkpoint['fixbase_optimizer'])
        if self.grad_scaler is not None and 'grad_scaler' in checkpoint:
            self.grad_scaler.load_state_dict(checkpoint['grad_scaler'])
        self._restore_rng_states(checkpoint.get('rng_states'))
        return start_epoch

    def _capture_rng_state(self):
        """This process's random state: the global generators, plus the train loader's own generator (it seeds
        the loader workers of each epoch)."""
        state = capture_rng_state()
        generator = getattr(self.train_loader, 'generator', None)
        if generator is not None:
            state['loader_generator'] = generator.get_state()
        return state

    def _restore_rng_states(self, rng_states):
        if not rng_states:
            return
        if len(rng_states) != comm.get_world_size():
            print('Note: the checkpoint was written by {} process(es) and this run has {}; the random streams '
                  'start afresh, so augmentation draws differ from an uninterrupted run'.format(
                      len(rng_states), comm.get_world_size()))
            return
        state = rng_states[comm.get_rank()]
        restore_rng_state(state)
        generator = getattr(self.train_loader, 'generator', None)
        if generator is not None and 'loader_generator' in state:
            generator.set_state(state['loader_generator'])


class SoftmaxEngine(Engine):
    """Cross-entropy training (``train_*_xent.py``): the model returns logits, or a tuple of logits (HACNN),
    whose losses are averaged (deep supervision)."""

    def __init__(self, model, optimizer, scheduler, train_loader, evaluator, device, save_dir, criterion, **kwargs):
        super().__init__(model, optimizer, scheduler, train_loader, evaluator, device, save_dir, **kwargs)
        self.criterion = criterion

    def compute_loss(self, outputs, pids):
        loss = apply_criterion(self.criterion, outputs, pids)
        return loss, {}


class TripletEngine(Engine):
    """Cross entropy plus batch-hard triplet (``train_*_xent_htri.py``), optionally with center loss.

    The model returns ``(logits, features)`` (each may be a tuple: deep supervision).
    loss = lambda_xent * CE(logits) + lambda_htri * triplet(features) [+ lambda_cent * center(features)];
    ``htri_only`` drops the CE term.
    """

    def __init__(self, model, optimizer, scheduler, train_loader, evaluator, device, save_dir, criterion_xent,
                 criterion_htri, lambda_xent=1., lambda_htri=1., htri_only=False, criterion_cent=None,
                 lambda_cent=0., **kwargs):
        if criterion_cent is not None:
            kwargs['criteria_with_state'] = criterion_cent
        super().__init__(model, optimizer, scheduler, train_loader, evaluator, device, save_dir, **kwargs)
        self.criterion_xent = criterion_xent
        self.criterion_htri = criterion_htri
        self.criterion_cent = criterion_cent
        self.lambda_xent = lambda_xent
        self.lambda_htri = lambda_htri
        self.lambda_cent = lambda_cent
        self.htri_only = htri_only

    def compute_loss(self, outputs, pids):
        logits, features = outputs
        parts = {'htri': apply_criterion(self.criterion_htri, features, pids)}
        if self.htri_only:
            loss = parts['htri']
        else:
            parts['xent'] = apply_criterion(self.criterion_xent, logits, pids)
            loss = self.lambda_xent * parts['xent'] + self.lambda_htri * parts['htri']
        if self.criterion_cent is not None:
            parts['cent'] = apply_criterion(self.criterion_cent, features, pids)
            loss = loss + self.lambda_cent * parts['cent']
        return loss, parts
