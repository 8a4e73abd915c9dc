"""What users watch: the console/file tee, TensorBoard scalars, and the per-epoch curves.png.

Only the main process (rank 0) writes any of these.
"""
import datetime
import os
import sys

from ..utils.iotools import mkdir_if_missing
from . import comm


class Logger(object):
    """A file-like tee: everything written goes to ``console`` and is appended to ``fpath``.

    Unlike the seed (which overwrote the file), each run appends a header with the date and command line, so the
    log of a resumed run keeps the history of the earlier ones. Install with ``sys.stdout = Logger(...)``.
    """

    def __init__(self, fpath, console=None):
        mkdir_if_missing(os.path.dirname(os.path.abspath(fpath)))
        self.console = console if console is not None else sys.stdout
        self.file = open(fpath, 'a')
        self.file.write('\n{0}\n==> Run started {1}: {2}\n{0}\n'.format(
            '#' * 60, datetime.datetime.now().strftime('%Y-%m-%d %H:%M:%S'), ' '.join(sys.argv)))
        self.file.flush()

    def write(self, text):
        self.console.write(text)
        self.file.write(text)

    def write_file_only(self, text):
        """Write to the log file but not the console (the console shows a progress bar instead)."""
        self.file.write(text)

    def flush(self):
        self.console.flush()
        self.file.flush()
        os.fsync(self.file.fileno())

    def isatty(self):
        return self.console.isatty()

    def close(self):
        if not self.file.closed:
            self.file.close()


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
        self.history = {key: list(values) for key, values in history.items()}

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

    def record_evaluation(self, epoch, rank1, mAP):
        self.history['eval_epoch'].append(epoch)
        self.history['rank1'].append(float(rank1))
        self.history['mAP'].append(float(mAP))
        self.add_scalar('test/rank1', rank1, epoch)
        self.add_scalar('test/mAP', mAP, epoch)

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
        for axis, epochs, values, title in panels:
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
