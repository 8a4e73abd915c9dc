"""A run owns its --save-dir: checked usable, locked, and cleared of an interrupted save's temporary files.

    >>> lock, notes = claim_save_dir('log/market-resnet50')   # SaveDirError (a ValueError): unusable or in use
    >>> ...                                                     # train; logs and checkpoints go there
    >>> lock.release()

The lock is the file ``save_dir/.lock`` holding the owner's pid, host, start time and command (JSON). It is created
with O_CREAT | O_EXCL, so of two runs started together exactly one gets it. A lock whose process no longer runs
on this host (killed, crashed machine) is taken over with a note; one held by a live process, or by a process on
another host (whose liveness cannot be checked from here), is an error naming that process.
"""
import datetime
import json
import os
import shlex
import socket
import sys
import time

from ..utils.iotools import remove_stale_temp_files

LOCK_NAME = '.lock'


class SaveDirError(ValueError):
    """--save-dir cannot be used: it is not a writable folder, or another run owns it. The message says which."""


def check_save_dir(save_dir):
    """Create ``save_dir`` if needed and check that files can be written in it; :class:`SaveDirError` otherwise."""
    if not save_dir:
        raise SaveDirError('--save-dir is empty; pass the folder for logs and checkpoints')
    if os.path.exists(save_dir) and not os.path.isdir(save_dir):
        raise SaveDirError("--save-dir '{}' is a file, not a folder; pass a folder path".format(save_dir))
    try:
        os.makedirs(save_dir, exist_ok=True)
    except OSError as error:
        parent = _existing_file_above(save_dir)
        if parent is not None:
            raise SaveDirError("--save-dir '{}' cannot be created: '{}' is a file, not a folder; pass another "
                               "path".format(save_dir, parent)) from error
        raise SaveDirError("--save-dir '{}' cannot be created ({}); pass a folder you can write to".format(
            save_dir, error.strerror or error)) from error
    probe = os.path.join(save_dir, '.write_test.{}'.format(os.getpid()))
    try:
        with open(probe, 'w'):
            pass
        os.remove(probe)
    except OSError as error:
        raise SaveDirError("--save-dir '{}' is not writable ({}); pass a folder you can write to".format(
            save_dir, error.strerror or error)) from error


def _existing_file_above(path):
    """The nearest ancestor of ``path`` (or ``path`` itself) that exists as a non-folder, or None."""
    path = os.path.abspath(path)
    while True:
        if os.path.exists(path):
            return None if os.path.isdir(path) else path
        parent = os.path.dirname(path)
        if parent == path:
            return None
        path = parent


def pid_is_alive(pid):
    """Whether a process ``pid`` runs on this machine (one of another user counts as alive). On Windows, where
    ``os.kill`` would terminate it, every pid counts as alive (the message then says to delete the lock)."""
    if pid <= 0:
        return False
    if os.name == 'nt':
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def describe_holder(holder):
    """'pid 123 on host gpu1, started 2026-12-01 09:00:00, command: python train.py ...'."""
    return 'pid {} on host {}, started {}, command: {}'.format(
        holder.get('pid', '?'), holder.get('host', '?'), holder.get('started', '?'), holder.get('command', '?'))


class RunLock(object):
    """The lock file of one save dir, held by this process between :meth:`acquire` and :meth:`release`."""

    def __init__(self, save_dir):
        self.save_dir = save_dir
        self.path = os.path.join(save_dir, LOCK_NAME)
        self.content = json.dumps({
            'pid': os.getpid(),
            'host': socket.gethostname(),
            'started': datetime.datetime.now().strftime('%Y-%m-%d %H:%M:%S'),
            'command': shlex.join(sys.argv),
        })
        self.held = False

    def acquire(self):
        """Take the lock; returns a list of notes (a stale lock taken over). :class:`SaveDirError` when it is held
        by a live process or by one on another host."""
        notes = []
        for _ in range(5):  # each retry follows a stale lock removed (by us or by a racing run)
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, 'w') as f:
                    f.write(self.content)
                    f.flush()
                    os.fsync(f.fileno())
                self.held = True
                return notes
            raw = self._read_settled()
            if raw is None:  # removed meanwhile: try again
                continue
            holder = _parse(raw)
            if self._holder_is_live(holder):
                elsewhere = holder.get('host') != socket.gethostname()
                raise SaveDirError(
                    "--save-dir '{}' is in use by another run{}: {}. Wait for it to finish or pass another "
                    "--save-dir (if that run is gone, delete '{}')".format(
                        self.save_dir, ' (on another host, so this run cannot check it)' if elsewhere else '',
                        describe_holder(holder), self.path))
            if self._remove_if_unchanged(raw):
                previous = describe_holder(holder) if holder else 'unreadable lock file'
                notes.append("Note: took over the lock of --save-dir '{}' left by a run that no longer runs "
                             "({})".format(self.save_dir, previous))
        raise SaveDirError("could not take the lock '{}' (other runs keep starting on --save-dir '{}')".format(
            self.path, self.save_dir))

    def release(self):
        """Remove the lock file if it is still ours."""
        if not self.held:
            return
        self.held = False
        try:
            with open(self.path) as f:
                if f.read() != self.content:
                    return
            os.remove(self.path)
        except OSError:
            pass

    def _read_settled(self):
        """The lock file's text, re-read briefly while it is empty (its creator may be between create and write);
        None if it disappeared."""
        for _ in range(10):
            try:
                with open(self.path) as f:
                    raw = f.read()
            except FileNotFoundError:
                return None
            if raw:
                return raw
            time.sleep(0.05)
        return raw

    @staticmethod
    def _holder_is_live(holder):
        if holder is None:  # unreadable: a run killed between creating and writing it
            return False
        if holder.get('host') != socket.gethostname():
            return True
        pid = holder.get('pid')
        if not isinstance(pid, int) or pid == os.getpid():  # our own pid: an earlier run of this process
            return False
        return pid_is_alive(pid)

    def _remove_if_unchanged(self, raw):
        """Remove a stale lock unless another run replaced it since it was read: it is first renamed aside (atomic),
        then checked; a fresh lock moved aside by mistake is put back. True when the stale lock was removed."""
        aside = '{}.stale.{}'.format(self.path, os.getpid())
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return False
        with open(aside) as f:
            moved = f.read()
        if moved == raw:
            os.remove(aside)
            return True
        try:
            os.link(aside, self.path)  # put the other run's lock back, unless yet another one exists by now
        except OSError:
            pass
        os.remove(aside)
        return False


def _parse(raw):
    try:
        holder = json.loads(raw)
    except ValueError:
        return None
    return holder if isinstance(holder, dict) else None


def claim_save_dir(save_dir):
    """Check that ``save_dir`` is a writable folder, take its lock, and remove the temporary files of a save that
    was killed (safe now that no other run writes there). Returns ``(lock, notes)``: the :class:`RunLock` (call
    ``release()`` at the end of the run) and the lines to print about what was taken over or removed."""
    check_save_dir(save_dir)
    lock = RunLock(save_dir)
    notes = lock.acquire()
    removed = remove_stale_temp_files(save_dir)
    if removed:
        notes.append("Note: removed {} temporary file(s) of an interrupted save in '{}': {}".format(
            len(removed), save_dir, ', '.join(removed)))
    return lock, notes
