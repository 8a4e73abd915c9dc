"""What users watch: the console/file tee, TensorBoard scalars, and the per-epoch curves.png.

Only the main process (rank 0) writes any of these.
"""
import os
import sys

from ..utils.iotools import mkdir_if_missing
from ..utils.logger import Logger
from . import comm


def install_logger(fpath):
    """Tee stdout to ``fpath``; returns the :class:`Logger` (close it with :func:`uninstall_logger`)."""
    logger = Logger(fpath, console=sys.stdout)
    sys.stdout = logger
    return logger


def uninstall_logger(logger):
    if sys.stdout is logger:
        sys.stdout = logger.console
    logger.close()


def log_to_file_only(text):
    """Append a line to the log file without printing it (used beside a progress bar)."""
    if isinstance(sys.stdout, Logger):
        sys.stdout.write_file_only(text + '\n')


def warn(text):
    """A warning the user must not miss: 'Warning: <text>' on stderr (shown even when stdout is redirected or
    behind a progress bar) and in the log file; printed by the main process only. The run goes on."""
    if not comm.is_main_process():
        return
    line = 'Warning: ' + text
    print(line, file=sys.stderr, flush=True)
    log_to_file_only(line)


def console_is_terminal():
    """True when a person is watching the console (so a progress bar is useful)."""
    stream = sys.stderr
    return hasattr(stream, 'isatty') and stream.isatty()


class RunRecorder(object):
    """Per-epoch history (loss, lr, rank-1, mAP) with TensorBoard scalars and a curves.png plot.

    The history is a dict of lists of numbers kept in checkpoints, so the plot of a resumed run covers every epoch.
    With several targets, ``history['targets'][name]`` holds each target's 'eval_epoch', 'rank1', 'mAP' and 'mINP'
    lists (rank1 / mAP are then those of the target that picks the best model), plotted one line per target.

    Args:
        save_dir (str): where the TensorBoard event files and curves.png go.
        enabled (bool): False on non-main processes (nothing is written).
    """

    def __init__(self, save_dir, enabled=True):
        self.save_dir = save_dir
        self.enabled = enabled
        self.history = {'epoch': [], 'loss': [], 'lr': [], 'eval_epoch': [], 'rank1': [], 'mAP': []}
        self._writer = None

    @property
    def writer(self):
        """The TensorBoard SummaryWriter, created on first use (importing tensorboard is slow)."""
        if self._writer is None and self.enabled:
            from torch.utils.tensorboard import SummaryWriter
            self._writer = SummaryWriter(log_dir=self.save_dir)
        return self._writer

    def load_history(self, history):
        self.history = {key: {name: {field: list(v) for field, v in series.items()} for name, series in
                              values.items()} if key == 'targets' else list(values) for key, values in history.items()}

    def add_scalar(self, tag, value, step):
        if self.enabled:
            self.writer.add_scalar(tag, value, step)

    def record_train_epoch(self, epoch, losses, lr):
        """``epoch`` is 1-based (as printed); ``losses`` maps 'loss' (the total) and its parts to epoch averages."""
        self.history['epoch'].append(epoch)
        self.history['loss'].append(float(losses['loss']))
        self.history['lr'].append(float(lr))
        for name, value in losses.items():
            self.add_scalar('train/' + name, value, epoch)
        self.add_scalar('train/lr', lr, epoch)

    def record_evaluation(self, epoch, rank1, mAP, per_target=None):
        """``rank1`` / ``mAP`` pick the best model; ``per_target`` (name -> result with rank1, mAP, mINP) adds
        each target's numbers (TensorBoard ``test/<name>/rank1`` etc.)."""
        self.history['eval_epoch'].append(epoch)
        self.history['rank1'].append(float(rank1))
        self.history['mAP'].append(float(mAP))
        self.add_scalar('test/rank1', rank1, epoch)
        self.add_scalar('test/mAP', mAP, epoch)
        for name, result in (per_target or {}).items():
            series = self.history.setdefault('targets', {}).setdefault(
                name, {'eval_epoch': [], 'rank1': [], 'mAP': [], 'mINP': []})
            series['eval_epoch'].append(epoch)
            for field in ('rank1', 'mAP', 'mINP'):
                series[field].append(float(getattr(result, field)))
                self.add_scalar('test/{}/{}'.format(name, field), getattr(result, field), epoch)

    def plot_curves(self, fname='curves.png'):
        """Write loss, learning rate, rank-1 and mAP per epoch to ``save_dir/fname``; returns the path."""
        if not self.enabled:
            return None
        from matplotlib.figure import Figure  # no pyplot: no global backend state, works without a display

        history = self.history
        fig = Figure(figsize=(10, 7))
        axes = fig.subplots(2, 2)
        panels = [
            (axes[0, 0], history['epoch'], history['loss'], 'training loss'),
            (axes[0, 1], history['epoch'], history['lr'], 'learning rate'),
            (axes[1, 0], history['eval_epoch'], [100 * v for v in history['rank1']], 'Rank-1 (%)'),
            (axes[1, 1], history['eval_epoch'], [100 * v for v in history['mAP']], 'mAP (%)'),
        ]
        targets = history.get('targets') or {}
        for axis, epochs, values, title in panels:
            field = {'Rank-1 (%)': 'rank1', 'mAP (%)': 'mAP'}.get(title)
            if field is not None and targets:  # one line per target
                for name, series in targets.items():
                    axis.plot(series['eval_epoch'], [100 * v for v in series[field]], marker='o', markersize=3,
                              label=name)
                axis.legend(fontsize='small')
            else:
                axis.plot(epochs, values, marker='o', markersize=3)
            axis.set_title(title)
            axis.set_xlabel('epoch')
            axis.grid(True, alpha=0.3)
        fig.tight_layout()
        fpath = os.path.join(self.save_dir, fname)
        mkdir_if_missing(self.save_dir)
        fig.savefig(fpath, dpi=100)
        return fpath

    def close(self):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
