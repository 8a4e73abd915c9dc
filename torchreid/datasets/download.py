"""Download and extract a dataset archive; when that is impossible, an error that says how to do it by hand.

Used by the readers whose dataset the seed downloaded itself (DukeMTMC-reID, VIPeR, GRID, PRID450S, iLIDS,
iLIDS-VID, DukeMTMC-VideoReID) and, for extraction only, by CUHK01 (whose zip is placed by hand).
"""
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile

from tqdm import tqdm

from ..utils.iotools import mkdir_if_missing
from .base import DOCS, DatasetNotFoundError


class DatasetDownloadError(DatasetNotFoundError):
    """Downloading or extracting a dataset failed. The message gives the URL and the manual steps."""


def fetch_url(url, fpath, timeout=60):
    """Download ``url`` to ``fpath`` with a progress bar.

    The bytes go to a temporary file next to ``fpath`` that is renamed once complete, so ``fpath`` is either the
    whole file or absent (an interrupted download is never mistaken for the archive).
    """
    directory = os.path.dirname(os.path.abspath(fpath))
    mkdir_if_missing(directory)
    fd, tmp_path = tempfile.mkstemp(dir=directory, prefix='.' + os.path.basename(fpath) + '.', suffix='.part')
    try:
        with os.fdopen(fd, 'wb') as f, urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get('Content-Length')
            total = int(length) if length and length.isdigit() else None
            received = 0
            with tqdm(total=total, unit='B', unit_scale=True, unit_divisor=1024,
                      desc=os.path.basename(fpath)) as progress:
                while True:
                    chunk = response.read(1 << 20)
                    if not chunk:
                        break
                    f.write(chunk)
                    received += len(chunk)
                    progress.update(len(chunk))
            if total is not None and received != total:
                raise OSError('the connection closed after {} of {} bytes'.format(received, total))
        os.replace(tmp_path, fpath)
    finally:
        if os.path.exists(tmp_path):
            os.remove(tmp_path)


def _move_merging(src, dst):
    """Move ``src`` to ``dst``; where ``dst`` is an existing folder, merge into it (existing files are kept)."""
    if not os.path.exists(dst):
        os.replace(src, dst)
    elif os.path.isdir(src) and os.path.isdir(dst):
        for name in os.listdir(src):
            _move_merging(os.path.join(src, name), os.path.join(dst, name))


def _extract_tar_safely(archive, dest_dir):
    """Extract a tar archive, refusing members that would land outside ``dest_dir`` (absolute paths, '..')."""
    if hasattr(tarfile, 'data_filter'):   # Python >= 3.9.17 / 3.10.12 / 3.11.4
        archive.extractall(dest_dir, filter='data')
        return
    root = os.path.realpath(dest_dir)
    for member in archive.getmembers():
        target = os.path.realpath(os.path.join(dest_dir, member.name))
        if os.path.commonpath([root, target]) != root or member.issym() or member.islnk():
            raise DatasetDownloadError("refusing to extract '{}' from the archive (it points outside '{}')".format(
                member.name, dest_dir))
    archive.extractall(dest_dir)


def extract_archive(archive_path, dest_dir):
    """Extract a zip or tar (.tar, .tar.gz, ...) archive into ``dest_dir``.

    It is unpacked into a hidden temporary folder inside ``dest_dir`` first and moved into place only when
    complete, so an interrupted extraction never leaves a half-filled dataset folder behind. Entries already in
    ``dest_dir`` are kept.
    """
    if not (zipfile.is_zipfile(archive_path) or tarfile.is_tarfile(archive_path)):
        raise DatasetDownloadError(
            "'{}' is not a zip or tar archive (a dead download link often returns an HTML page instead). "
            "Delete it and get the archive by hand.".format(archive_path))
    print("Extracting '{}' into '{}'".format(archive_path, dest_dir))
    mkdir_if_missing(dest_dir)
    tmp_dir = tempfile.mkdtemp(dir=dest_dir, prefix='.extracting-')
    try:
        if zipfile.is_zipfile(archive_path):
            with zipfile.ZipFile(archive_path) as archive:
                archive.extractall(tmp_dir)
        else:
            with tarfile.open(archive_path) as archive:
                _extract_tar_safely(archive, tmp_dir)
        for name in os.listdir(tmp_dir):
            _move_merging(os.path.join(tmp_dir, name), os.path.join(dest_dir, name))
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


def download_dataset(dataset_dir, url, archive_name=None, layout='', docs_section=''):
    """Put the dataset's archive into ``dataset_dir`` (downloading it unless it is already there) and extract it.

    Args:
        dataset_dir (str): the dataset's folder under --root, e.g. ``data/viper``.
        url (str): where the archive is downloaded from.
        archive_name (str): file name to save the archive as; defaults to the last part of the URL's path.
        layout (str): the folder tree the user should end up with, shown in the error.
        docs_section (str): the dataset's heading in DATASETS.md, shown in the error.

    Returns:
        str: the path of the archive.

    Raises:
        DatasetDownloadError: the download or extraction failed; the message names the URL, where to put which
            file by hand and the DATASETS.md section.
    """
    if archive_name is None:
        archive_name = os.path.basename(urllib.parse.urlparse(url).path)
    if not archive_name:
        raise ValueError("cannot tell a file name from the URL '{}': pass archive_name".format(url))
    archive_path = os.path.join(dataset_dir, archive_name)
    manual_steps = (
        'To set it up by hand, download {url} in a browser (or from a mirror), save it as\n'
        '    {archive}\n'
        'and run again (it is then extracted automatically), or extract it yourself so that you have:\n'
        '{layout}\n'
        "See the '{section}' section of {docs}.".format(url=url, archive=archive_path, layout=layout.rstrip(),
                                                      section=docs_section, docs=DOCS))
    if not os.path.isfile(archive_path):
        print("Downloading '{}' to '{}'".format(url, archive_path))
        try:
            fetch_url(url, archive_path)
        except (OSError, ValueError, http.client.HTTPException) as error:
            raise DatasetDownloadError('Downloading {} failed ({}: {}).\n{}'.format(
                url, type(error).__name__, error, manual_steps)) from error
    try:
        extract_archive(archive_path, dataset_dir)
    except DatasetDownloadError as error:
        raise DatasetDownloadError('{}\n{}'.format(error, manual_steps)) from None
    except (OSError, zipfile.BadZipFile, tarfile.TarError) as error:
        raise DatasetDownloadError("Extracting '{}' failed ({}: {}). Delete it and get it again.\n{}".format(
            archive_path, type(error).__name__, error, manual_steps)) from error
    return archive_path
