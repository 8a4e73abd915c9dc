"""File helpers: folders, JSON, and atomic writes so an interrupted run never leaves a half-written file."""
import errno
import json
import os
import re
import tempfile

# atomic_write's temporary files: '.<name>.<8 random characters of tempfile.mkstemp>.tmp'
_TEMP_FILE = re.compile(r'^\..+\.[A-Za-z0-9_]{8}\.tmp$')


def mkdir_if_missing(dirname):
    """Create ``dirname`` (and parents) unless it exists."""
    if not dirname:
        return
    try:
        os.makedirs(dirname)
    except OSError as e:
        if e.errno != errno.EEXIST:
            raise


def current_umask():
    """The process's umask, read without changing it where the system allows (Linux: /proc/self/status), so other
    threads never see a temporarily altered umask; elsewhere set and restored at once."""
    try:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith('Umask:'):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def atomic_write(fpath, write_fn, mode='w'):
    """Call ``write_fn(f)`` on a temporary file next to ``fpath``, then rename it over ``fpath``.

    The rename is atomic on POSIX and Windows, so readers see either the old or the new file, never a partial one.
    The file gets the permissions of any newly created file (0o666 minus the umask, e.g. 0644), not the 0600 of
    ``tempfile.mkstemp``. A process killed mid-write leaves a hidden ``.<name>.*.tmp`` file, which
    :func:`remove_stale_temp_files` clears.
    """
    directory = os.path.dirname(os.path.abspath(fpath))
    mkdir_if_missing(directory)
    fd, tmp_path = tempfile.mkstemp(dir=directory, prefix='.' + os.path.basename(fpath) + '.', suffix='.tmp')
    try:
        with os.fdopen(fd, mode) as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp_path, 0o666 & ~current_umask())
        os.replace(tmp_path, fpath)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


def remove_stale_temp_files(directory):
    """Delete the temporary files that :func:`atomic_write` left in ``directory`` (not its subfolders) when its
    process was killed mid-write; returns their names. Call only while no other process writes there."""
    if not os.path.isdir(directory):
        return []
    removed = []
    for name in sorted(os.listdir(directory)):
        path = os.path.join(directory, name)
        if _TEMP_FILE.match(name) and os.path.isfile(path):
            os.remove(path)
            removed.append(name)
    return removed


def read_json(fpath):
    with open(fpath, 'r') as f:
        return json.load(f)


def write_json(obj, fpath):
    """Write ``obj`` as indented JSON, atomically."""
    atomic_write(fpath, lambda f: json.dump(obj, f, indent=4, separators=(',', ': ')))
