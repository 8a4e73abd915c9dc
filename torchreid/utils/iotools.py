"""File helpers: folders, JSON, and atomic writes so an interrupted run never leaves a half-written file."""
import errno
import json
import os
import tempfile


def mkdir_if_missing(directory):
    """Create ``directory`` (and parents) unless it exists."""
    if not directory:
        return
    try:
        os.makedirs(directory)
    except OSError as e:
        if e.errno != errno.EEXIST:
            raise


def atomic_write(fpath, write_fn, mode='w'):
    """Call ``write_fn(f)`` on a temporary file next to ``fpath``, then rename it over ``fpath``.

    The rename is atomic on POSIX and Windows, so readers see either the old or the new file, never a partial one.
    """
    directory = os.path.dirname(os.path.abspath(fpath))
    mkdir_if_missing(directory)
    fd, tmp_path = tempfile.mkstemp(dir=directory, prefix='.' + os.path.basename(fpath) + '.', suffix='.tmp')
    try:
        with os.fdopen(fd, mode) as f:
            write_fn(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp_path, fpath)
    except BaseException:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)
        raise


def read_json(fpath):
    with open(fpath, 'r') as f:
        return json.load(f)


def write_json(obj, fpath):
    """Write ``obj`` as indented JSON, atomically."""
    atomic_write(fpath, lambda f: json.dump(obj, f, indent=4, separators=(',', ': ')))
