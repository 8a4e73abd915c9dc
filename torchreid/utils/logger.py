"""The console/file tee the scripts install as ``sys.stdout`` (torchreid 1.x's ``torchreid.utils.Logger``)."""
import datetime
import os
import sys

from .iotools import mkdir_if_missing


class Logger(object):
    """A file-like tee: everything written goes to ``console`` and is appended to ``fpath`` (console only when
    ``fpath`` is None, as 1.x's).

    Unlike the seed (which overwrote the file), each run appends a header with the date and command line, so the
    log of a resumed run keeps the history of the earlier ones. Install with ``sys.stdout = Logger(...)``.
    """

    def __init__(self, fpath=None, console=None):
        self.console = console if console is not None else sys.stdout
        self.file = None
        if fpath is not None:
            mkdir_if_missing(os.path.dirname(os.path.abspath(fpath)))
            self.file = open(fpath, 'a')
            self.file.write('\n{0}\n==> Run started {1}: {2}\n{0}\n'.format(
                '#' * 60, datetime.datetime.now().strftime('%Y-%m-%d %H:%M:%S'), ' '.join(sys.argv)))
            self.file.flush()

    def write(self, text):
        self.console.write(text)
        self.write_file_only(text)

    def write_file_only(self, text):
        """Write to the log file but not the console (the console shows a progress bar instead)."""
        if self.file is not None:
            self.file.write(text)

    def flush(self):
        self.console.flush()
        if self.file is not None:
            self.file.flush()
            os.fsync(self.file.fileno())

    def isatty(self):
        return self.console.isatty()

    def close(self):
        if self.file is not None and not self.file.closed:
            self.file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
