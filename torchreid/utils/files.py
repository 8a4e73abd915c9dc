"""Small file-system helpers of torchreid 1.x's ``torchreid.utils``: is it a file, list a folder, fetch a URL."""
import os
import warnings


def check_isfile(fpath):
    """True if ``fpath`` is a file; otherwise warns that no file was found there and returns False."""
    isfile = os.path.isfile(fpath)
    if not isfile:
        warnings.warn('No file found at "{}"'.format(fpath), stacklevel=2)
    return isfile


def listdir_nohidden(path, sort=False):
    """The names in folder ``path`` that do not start with a dot (sorted if ``sort``)."""
    names = [name for name in os.listdir(path) if not name.startswith('.')]
    return sorted(names) if sort else names


def download_url(url, dst):
    """Download ``url`` to the file ``dst`` (with a progress bar; ``dst`` is complete or absent afterwards)."""
    # the datasets' downloader is the one implementation; imported here, when called, so that importing
    # torchreid.utils (the bottom layer) does not import torchreid.datasets
    from ..datasets.download import fetch_url
    print('* url="{}"\n* destination="{}"'.format(url, dst))
    fetch_url(url, dst)
