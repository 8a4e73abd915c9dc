"""A run owns its --save-dir (torchreid/engine/run_lock.py) and writes files like any other tool
(torchreid/utils/iotools.py): the lock, stale locks, unusable folders, leftovers of a killed save, permissions."""
import json
import os
import signal
import socket
import subprocess
import sys

import pytest
import torch

from torchreid.engine.run_lock import LOCK_NAME, RunLock, SaveDirError, check_save_dir, claim_save_dir
from torchreid.utils import iotools
from torchreid.utils.checkpoint import BEST_MODEL_NAME, load_checkpoint, save_checkpoint

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def write_lock(save_dir, pid, host=None, command='python train_imgreid_xent.py -d market1501'):
    os.makedirs(str(save_dir), exist_ok=True)
    holder = {'pid': pid, 'host': host or socket.gethostname(), 'started': '2026-12-01 08:00:00', 'command': command}
    with open(os.path.join(str(save_dir), LOCK_NAME), 'w') as f:
        json.dump(holder, f)
    return holder


def read_lock(save_dir):
    with open(os.path.join(str(save_dir), LOCK_NAME)) as f:
        return json.load(f)


def dead_pid():
    """The pid of a process that has exited (and been reaped)."""
    process = subprocess.Popen([sys.executable, '-c', 'pass'])
    process.wait()
    return process.pid


def test_lock_is_taken_with_the_owner_and_released(tmp_path):
    lock, notes = claim_save_dir(str(tmp_path / 'run'))
    assert notes == []
    holder = read_lock(tmp_path / 'run')
    assert holder['pid'] == os.getpid() and holder['host'] == socket.gethostname()
    assert set(holder) == {'pid', 'host', 'started', 'command'} and 'pytest' in holder['command']
    lock.release()
    assert not os.path.exists(str(tmp_path / 'run' / LOCK_NAME))
    lock.release()  # twice is harmless


def test_a_live_run_keeps_its_save_dir(tmp_path):
    sleeper = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    try:
        for pid in (os.getppid(), sleeper.pid):
            write_lock(tmp_path, pid)
            with pytest.raises(SaveDirError) as error:
                claim_save_dir(str(tmp_path))
            message = str(error.value)
            assert "--save-dir '{}' is in use by another run: pid {} on host {}, started 2026-12-01 08:00:00, " \
                   "command: python train_imgreid_xent.py -d market1501.".format(
                       tmp_path, pid, socket.gethostname()) in message
            assert "delete '{}'".format(tmp_path / LOCK_NAME) in message and '\n' not in message
            assert read_lock(tmp_path)['pid'] == pid  # untouched
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_lock_from_another_host_is_not_broken(tmp_path):
    write_lock(tmp_path, dead_pid(), host='some-other-node')
    with pytest.raises(SaveDirError, match='in use by another run .on another host, so this run cannot check it.: '
                                           'pid \\d+ on host some-other-node'):
        claim_save_dir(str(tmp_path))
    assert read_lock(tmp_path)['host'] == 'some-other-node'


def test_the_lock_of_a_dead_run_is_taken_over_with_a_note(tmp_path):
    pid = dead_pid()
    write_lock(tmp_path, pid)
    lock, notes = claim_save_dir(str(tmp_path))
    assert notes == ["Note: took over the lock of --save-dir '{}' left by a run that no longer runs (pid {} on host "
                     "{}, started 2026-12-01 08:00:00, command: python train_imgreid_xent.py -d market1501)".format(
                         tmp_path, pid, socket.gethostname())]
    assert read_lock(tmp_path)['pid'] == os.getpid()
    assert sorted(os.listdir(str(tmp_path))) == [LOCK_NAME]  # the stale lock moved aside is gone
    lock.release()
    assert os.listdir(str(tmp_path)) == []


def test_own_pid_and_unreadable_locks_are_stale(tmp_path):
    write_lock(tmp_path, os.getpid())  # an earlier run of this process (or of a restarted container's pid)
    lock, notes = claim_save_dir(str(tmp_path))
    assert len(notes) == 1 and 'pid {}'.format(os.getpid()) in notes[0]
    lock.release()
    (tmp_path / LOCK_NAME).write_text('')  # killed between creating and writing it
    lock, notes = claim_save_dir(str(tmp_path))
    assert notes == ["Note: took over the lock of --save-dir '{}' left by a run that no longer runs (unreadable lock "
                     "file)".format(tmp_path)]
    lock.release()


def test_release_leaves_a_lock_that_is_no_longer_ours(tmp_path):
    lock, _ = claim_save_dir(str(tmp_path))
    holder = write_lock(tmp_path, os.getppid())  # taken over meanwhile by someone else
    lock.release()
    assert read_lock(tmp_path) == holder


def test_a_stale_lock_replaced_meanwhile_is_put_back(tmp_path):
    """Two runs see the same stale lock; the slower one must not delete the lock the faster one has just made."""
    write_lock(tmp_path, os.getppid())
    fresh = (tmp_path / LOCK_NAME).read_text()
    lock = RunLock(str(tmp_path))
    assert not lock._remove_if_unchanged('{"pid": 1, "the stale lock": "read earlier"}')
    assert (tmp_path / LOCK_NAME).read_text() == fresh
    assert sorted(os.listdir(str(tmp_path))) == [LOCK_NAME]


@pytest.mark.parametrize('layout,message', [
    ('file', "--save-dir '{save_dir}' is a file, not a folder; pass a folder path"),
    ('under_file', "--save-dir '{save_dir}' cannot be created: '{file}' is a file, not a folder; pass another path"),
])
def test_unusable_save_dirs(layout, message, tmp_path):
    a_file = tmp_path / 'notes.txt'
    a_file.write_text('not a folder')
    save_dir = str(a_file) if layout == 'file' else str(a_file / 'run' / 'sub')
    with pytest.raises(SaveDirError) as error:
        claim_save_dir(save_dir)
    assert str(error.value) == message.format(save_dir=save_dir, file=a_file)
    assert a_file.read_text() == 'not a folder'


@pytest.mark.skipif(not os.path.isdir('/sys/kernel'), reason='needs a read-only file system at /sys (Linux)')
def test_read_only_save_dirs():
    """Root ignores a folder's mode bits, so a read-only file system stands in for a read-only folder."""
    with pytest.raises(SaveDirError, match=r"^--save-dir '/sys/kernel' is not writable \(.+\); pass a folder you "
                                           r"can write to$"):
        check_save_dir('/sys/kernel')
    with pytest.raises(SaveDirError, match=r"^--save-dir '/sys/torchreid_run' cannot be created \(.+\); pass a "
                                           r"folder you can write to$"):
        check_save_dir('/sys/torchreid_run')


KILLED_SAVE = """
import importlib.util, os, signal, sys
spec = importlib.util.spec_from_file_location('iotools', os.path.join(sys.argv[1], 'torchreid', 'utils', 'iotools.py'))
iotools = importlib.util.module_from_spec(spec)
spec.loader.exec_module(iotools)

def write_then_die(f):
    f.write(b'half a checkpoint')
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)

iotools.atomic_write(sys.argv[2], write_then_die, mode='wb')
"""


def kill_during_save(fpath):
    """Run atomic_write(fpath) in a process that is SIGKILLed after writing part of the temporary file."""
    result = subprocess.run([sys.executable, '-c', KILLED_SAVE, REPO, str(fpath)], capture_output=True)
    assert result.returncode == -signal.SIGKILL, result.stderr


def test_a_killed_save_keeps_the_previous_file_and_its_leftover_goes_at_the_next_start(tmp_path):
    latest = tmp_path / 'checkpoint_latest.pth.tar'
    save_checkpoint({'state_dict': {'w': torch.ones(2)}, 'epoch': 4}, fpath=str(latest))
    kill_during_save(latest)
    leftovers = [name for name in os.listdir(str(tmp_path)) if name != latest.name]
    assert len(leftovers) == 1 and leftovers[0].startswith('.checkpoint_latest.pth.tar.')
    assert leftovers[0].endswith('.tmp') and (tmp_path / leftovers[0]).read_bytes() == b'half a checkpoint'
    assert load_checkpoint(str(latest))['epoch'] == 4  # the previous checkpoint is intact
    (tmp_path / '.hidden_notes.tmp').write_text('a user file that merely looks similar')
    (tmp_path / 'sub').mkdir()
    (tmp_path / 'sub' / leftovers[0]).write_text('not in the save dir itself')

    lock, notes = claim_save_dir(str(tmp_path))
    lock.release()
    assert notes == ["Note: removed 1 temporary file(s) of an interrupted save in '{}': {}".format(
        tmp_path, leftovers[0])]
    assert sorted(os.listdir(str(tmp_path))) == ['.hidden_notes.tmp', latest.name, 'sub']
    assert os.path.exists(str(tmp_path / 'sub' / leftovers[0]))


def test_temporary_files_are_not_removed_while_another_run_owns_the_folder(tmp_path):
    kill_during_save(tmp_path / 'checkpoint_latest.pth.tar')
    write_lock(tmp_path, os.getppid())
    with pytest.raises(SaveDirError):
        claim_save_dir(str(tmp_path))
    assert len([name for name in os.listdir(str(tmp_path)) if name.endswith('.tmp')]) == 1


@pytest.fixture
def umask():
    """Set the process umask for one test (restored after)."""
    previous = os.umask(0o022)
    yield lambda value: os.umask(value)
    os.umask(previous)


@pytest.mark.parametrize('mask,mode', [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600), (0o027, 0o640)])
def test_files_are_written_with_the_users_umask(mask, mode, umask, tmp_path):
    umask(mask)
    assert iotools.current_umask() == mask
    fpath = str(tmp_path / 'checkpoint_ep1.pth.tar')
    save_checkpoint({'state_dict': {'w': torch.ones(2)}, 'epoch': 0}, is_best=True, fpath=fpath)
    iotools.write_json({'a': 1}, str(tmp_path / 'splits.json'))
    lock, _ = claim_save_dir(str(tmp_path))
    for name in ('checkpoint_ep1.pth.tar', BEST_MODEL_NAME, 'splits.json', LOCK_NAME):
        assert oct(os.stat(str(tmp_path / name)).st_mode & 0o777) == oct(mode), name
    lock.release()
    save_checkpoint({'state_dict': {'w': torch.zeros(2)}, 'epoch': 1}, fpath=fpath)  # replacing keeps the rule
    assert oct(os.stat(fpath).st_mode & 0o777) == oct(mode)


def test_umask_is_read_without_proc(monkeypatch, umask):
    umask(0o037)
    real_open = open

    def no_proc(path, *args, **kwargs):
        if str(path).startswith('/proc/'):
            raise FileNotFoundError(path)
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr('builtins.open', no_proc)
    assert iotools.current_umask() == 0o037
    monkeypatch.undo()
    assert iotools.current_umask() == 0o037  # and the fallback restored it
