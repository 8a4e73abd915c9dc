"""The contract every dataset keeps, and the helpers its readers share.

A dataset is three lists of ``(path, pid, camid)``: ``train``, ``query`` and ``gallery``. For video datasets
``path`` is a tuple of frame paths (one tracklet). Train pids are relabelled to 0..N-1 (the classifier's targets);
query and gallery keep their original pids. Camera ids are 0-based everywhere.
"""
import os

from ..utils.iotools import read_json, write_json

DOCS = 'DATASETS.md'
SUBSET_KEYS = ('train', 'query', 'gallery')


class DatasetNotFoundError(FileNotFoundError):
    """A dataset file or folder is missing. The message names the path, the expected layout and the docs section."""


def check_required_paths(paths, layout, docs_section):
    """Raise :class:`DatasetNotFoundError` for the first missing path.

    Args:
        paths (list of str): files or folders that must exist.
        layout (str): the expected folder layout, printed in the error (a few lines, e.g. a tree).
        docs_section (str): the heading of the dataset's section in DATASETS.md.
    """
    for path in paths:
        if not os.path.exists(path):
            raise DatasetNotFoundError(
                "'{}' is not available.\nExpected layout:\n{}\nSee the '{}' section of {} for how to get and "
                "lay out this dataset.".format(path, layout.rstrip(), docs_section, DOCS))


def first_existing_dir(candidates, marker=None):
    """Return the first folder of ``candidates`` that exists, or the first candidate if none does.

    Lets a reader accept both the seed's folder name and the raw name of the extracted archive. With ``marker``
    (a file or folder name) a candidate only counts when it holds ``marker``: that tells the seed's
    ``market1501/`` holding the images apart from a ``market1501/`` that holds ``Market-1501-v15.09.15/``.
    """
    for candidate in candidates:
        if os.path.isdir(candidate) and (marker is None or os.path.exists(os.path.join(candidate, marker))):
            return candidate
    return candidates[0]


def save_split_file(splits, fpath, dataset_dir):
    """Write ``splits`` (a list of ``{'train': samples, 'query': samples, 'gallery': samples}``) as JSON.

    Image paths are stored relative to ``dataset_dir`` with '/' separators, so the dataset folder (and --root) can
    move; :func:`load_split_file` turns them back into paths under the folder's new location.
    """
    def relative(samples):
        return [[os.path.relpath(path, dataset_dir).replace(os.sep, '/'), pid, camid] for path, pid, camid in samples]
    write_json([{key: relative(split[key]) for key in SUBSET_KEYS} for split in splits], fpath)


def load_split_file(fpath, dataset_dir):
    """Read a file written by :func:`save_split_file`: a list of splits of ``(path, pid, camid)`` tuples.

    Paths are joined to ``dataset_dir`` (the folder's current location). Returns None when the file is missing, or
    holds absolute paths: the seed wrote those (tied to the old --root, and with 1-based camids for some datasets),
    so the caller regenerates the file.
    """
    if not os.path.exists(fpath):
        return None
    stored = read_json(fpath)
    splits = []
    for split in stored:
        if any(os.path.isabs(path) for key in SUBSET_KEYS for path, _, _ in split[key]):
            print("Note: '{}' was written by an older version (absolute paths); making it again".format(fpath))
            return None
        splits.append({key: [(os.path.join(dataset_dir, *path.split('/')), int(pid), int(camid))
                             for path, pid, camid in split[key]] for key in SUBSET_KEYS})
    return splits


def load_or_make_split(split_path, dataset_dir, make_splits, split_id, name, verbose=True):
    """Split ``split_id`` of the split file at ``split_path``, which ``make_splits()`` creates when it is missing.

    Returns a dict with 'train', 'query' and 'gallery' sample lists; a split id out of range is a ValueError.
    """
    splits = load_split_file(split_path, dataset_dir)
    if splits is None:
        print("Creating the {} splits in '{}'".format(name, split_path))
        splits = make_splits()
        save_split_file(splits, split_path, dataset_dir)
    check_split_id(split_id, len(splits), name)
    if verbose:
        print('Split index = {}'.format(split_id))
    return splits[split_id]


def relabel(samples):
    """Map the pids of ``samples`` to 0..N-1 in sorted pid order; returns the new list."""
    pid2label = {pid: label for label, pid in enumerate(sorted({pid for _, pid, _ in samples}))}
    return [(path, pid2label[pid], camid) for path, pid, camid in samples]


def check_split_id(split_id, num_splits, name):
    """Raise a ValueError that says how many splits exist when ``split_id`` is out of range."""
    if not 0 <= split_id < num_splits:
        raise ValueError('split_id {} is out of range: {} has {} splits (valid split_id: 0..{})'.format(
            split_id, name, num_splits, num_splits - 1))


def check_subsets_not_empty(dataset, key):
    """Raise a ValueError naming ``key`` and every empty subset of a freshly loaded ``dataset``.

    Found at load, before any training: an empty query or gallery cannot be evaluated and an empty train set has
    nothing to train, so each usually means a wrong --root or an empty folder. Query and gallery may be empty only
    for a ``train_only`` dataset, train only for an ``evaluation_only`` one.
    """
    train_only = getattr(dataset, 'train_only', False)
    subsets = [] if train_only else [('query', dataset.query), ('gallery', dataset.gallery)]
    if not getattr(dataset, 'evaluation_only', False):
        subsets.insert(0, ('train', dataset.train))
    empty = [subset for subset, samples in subsets if len(samples) == 0]
    if not empty:
        return
    which = empty[0] + ' set' if len(empty) == 1 else '{} and {} sets'.format(', '.join(empty[:-1]), empty[-1])
    folder = getattr(dataset, 'dataset_dir', None)
    section = getattr(dataset, 'docs_section', None)
    raise ValueError(
        "dataset '{}' loaded with an empty {} (0 {}){}: check that --root is the folder holding the dataset and that "
        "its folders hold the images{}".format(
            key, which, 'tracklets' if dataset.is_video else 'images', " from '{}'".format(folder) if folder else '',
            " (see the '{}' section of {})".format(section, DOCS) if section else ''))


class BaseDataset(object):
    """Holds the three subsets and their statistics, and prints the statistics table.

    Subclasses build the lists and call ``super().__init__(train, query, gallery, ...)``.
    ``total_ids`` / ``total_images`` override the "total" row where a benchmark counts it differently
    (e.g. CUHK03 and VIPeR count train + query images, since query and gallery overlap).

    Class attributes that say how a dataset may be used (see :mod:`torchreid.datasets.combine`):
    ``train_only`` (no query/gallery by design, e.g. CUHK-SYSU: a source, never a target), ``evaluation_only``
    (no real training set, e.g. SenseReID: a target, never a source) and ``combineall_junk_pids`` (pids that
    combineall leaves out of the query/gallery images it adds to train: junk boxes and lumped distractors).
    """
    is_video = False
    train_only = False
    evaluation_only = False
    combineall_junk_pids = ()

    def combineall_extra_train(self):
        """Extra training samples (already in train's label space) that combineall adds; e.g. MSMT17's list_val."""
        return []

    def __init__(self, train, query, gallery, verbose=True, total_ids=None, total_images=None,
                 num_gallery_pids=None):
        self.train = train
        self.query = query
        self.gallery = gallery
        self.num_train_pids, self.num_train_items, self.num_train_cams = self.subset_stats(train)
        self.num_query_pids, self.num_query_items, self.num_query_cams = self.subset_stats(query)
        self.num_gallery_pids, self.num_gallery_items, self.num_gallery_cams = self.subset_stats(gallery)
        if num_gallery_pids is not None:
            self.num_gallery_pids = num_gallery_pids
        self.num_cams = len({camid for subset in (train, query, gallery) for _, _, camid in subset})
        self.total_ids = total_ids if total_ids is not None else self.num_train_pids + self.num_query_pids
        if total_images is None:
            total_images = self.num_train_items + self.num_query_items + self.num_gallery_items
        self.total_images = total_images
        if verbose:
            self.print_statistics()

    @staticmethod
    def subset_stats(samples):
        """(number of pids, number of items, number of cameras) of a subset."""
        pids = {pid for _, pid, _ in samples}
        cams = {camid for _, _, camid in samples}
        return len(pids), len(samples), len(cams)

    @property
    def name(self):
        return self.__class__.__name__

    def statistics_rows(self):
        """(subset name, # ids, # items, # cameras) rows of the printed table."""
        return [
            ('train', self.num_train_pids, self.num_train_items, self.num_train_cams),
            ('query', self.num_query_pids, self.num_query_items, self.num_query_cams),
            ('gallery', self.num_gallery_pids, self.num_gallery_items, self.num_gallery_cams),
        ]

    def statistics_table(self):
        unit = '# tracklets' if self.is_video else '# images'
        rule = '  ' + '-' * 40
        lines = ['=> {} loaded'.format(self.name), 'Dataset statistics:', rule,
                 '  subset   | # ids | {:>11} | # cameras'.format(unit), rule]
        for subset, num_pids, num_items, num_cams in self.statistics_rows():
            lines.append('  {:8} | {:5d} | {:11d} | {:9d}'.format(subset, num_pids, num_items, num_cams))
        lines.append(rule)
        lines.append('  {:8} | {:5d} | {:11d} | {:9d}'.format('total', self.total_ids, self.total_images,
                                                             self.num_cams))
        lines.append(rule)
        if self.is_video:
            lengths = [len(paths) for subset in (self.train, self.query, self.gallery) for paths, _, _ in subset]
            if lengths:
                lines.append('  number of images per tracklet: {} ~ {}, average {:.1f}'.format(
                    min(lengths), max(lengths), sum(lengths) / len(lengths)))
                lines.append(rule)
        return '\n'.join(lines)

    def print_statistics(self):
        print(self.statistics_table())


class BaseImageDataset(BaseDataset):
    """An image dataset: every path is one image file."""
    is_video = False


class BaseVideoDataset(BaseDataset):
    """A video dataset: every path is a tuple of frame files (one tracklet)."""
    is_video = True


# ----------------------------------------------------------------------------------------------------------------
# torchreid 1.x's base classes of a user's own dataset
# ----------------------------------------------------------------------------------------------------------------

# what 1.x's data managers pass to every dataset, with 1.x's defaults; here the data managers do these jobs
# themselves (transforms, combineall, the split to evaluate), so a dataset takes them only at their defaults
_DATA_MANAGER_OPTIONS_1X = {'transform': None, 'k_tfm': 1, 'mode': 'train', 'combineall': False, 'split_id': 0,
                            'cuhk03_labeled': False, 'cuhk03_classic_split': False, 'market1501_500k': False,
                            'seq_len': 15, 'sample_method': 'evenly'}


def _three_tuples(samples, subset):
    """``(path, pid, camid)`` samples from 1.x's 3- or 4-tuples (``dsetid`` 0: here the data managers number the
    sources themselves); ValueError for anything else."""
    converted = []
    for sample in samples:
        if len(sample) == 4 and sample[3] != 0:
            raise ValueError('{} sample {!r} has dsetid {}: dataset ids come from the order of the data manager\'s '
                             'sources, so give (path, pid, camid) or dsetid 0'.format(subset, sample, sample[3]))
        if len(sample) not in (3, 4):
            raise ValueError('{} samples must be (path, pid, camid[, dsetid]) tuples, got {!r}'.format(
                subset, sample))
        converted.append(tuple(sample[:3]))
    return converted


class _Dataset1x(object):
    """What torchreid 1.x's ``Dataset`` offers a subclass: the lists, the statistics and its two helpers."""

    def _init_1x(self, train, query, gallery, verbose, options):
        options = dict(options)
        options.pop('root', None)  # a subclass that does not take root itself passes it on; it is its business
        for name, value in options.items():
            if name not in _DATA_MANAGER_OPTIONS_1X:
                raise TypeError("{}() got an unexpected keyword argument '{}'".format(type(self).__name__, name))
            if value != _DATA_MANAGER_OPTIONS_1X[name]:
                raise ValueError('{}={!r}: give it to the data manager (ImageDataManager / VideoDataManager), which '
                                 'applies it to every dataset here; the dataset takes only (train, query, '
                                 'gallery)'.format(name, value))
        BaseDataset.__init__(self, _three_tuples(train, 'train'), _three_tuples(query, 'query'),
                             _three_tuples(gallery, 'gallery'), verbose=verbose)

    @property
    def data_type(self):
        return 'video' if self.is_video else 'image'

    def check_before_run(self, required_files):
        """Raise :class:`DatasetNotFoundError` naming the first of ``required_files`` (a path or a list) that is
        missing."""
        for path in [required_files] if isinstance(required_files, str) else required_files:
            if not os.path.exists(path):
                raise DatasetNotFoundError("'{}' is not found (dataset {}); check the root folder and the "
                                           "dataset's layout".format(path, self.name))

    def download_dataset(self, dataset_dir, dataset_url):
        """Download and extract ``dataset_url`` into ``dataset_dir`` unless that folder exists already."""
        if os.path.exists(dataset_dir):
            return
        if dataset_url is None:
            raise DatasetNotFoundError("'{}' does not exist and {} has no download URL: put the dataset "
                                       "there by hand".format(dataset_dir, self.name))
        from .download import download_dataset  # download imports this module
        download_dataset(dataset_dir, dataset_url)


class ImageDataset(_Dataset1x, BaseImageDataset):
    """torchreid 1.x's base class of a user's image dataset: build the three lists of ``(path, pid, camid)``
    (train pids 0-based and contiguous, camids 0-based), then ``super().__init__(train, query, gallery,
    **kwargs)``; register it with ``torchreid.data.register_image_dataset(name, cls)`` and name it in a data
    manager's ``sources`` / ``targets``.
    """

    def __init__(self, train, query, gallery, **kwargs):
        verbose = kwargs.pop('verbose', True)
        self._init_1x(train, query, gallery, verbose, kwargs)


class VideoDataset(_Dataset1x, BaseVideoDataset):
    """torchreid 1.x's base class of a user's video dataset: as :class:`ImageDataset` with tracklets (a tuple of
    frame paths) for paths. The frames of an item are the data manager's ``seq_len`` / ``sample_method`` (1.x's
    manager passed them on to the dataset), so the dataset takes them only at their defaults.
    """

    def __init__(self, train, query, gallery, seq_len=15, sample_method='evenly', **kwargs):
        verbose = kwargs.pop('verbose', True)
        kwargs.update(seq_len=seq_len, sample_method=sample_method)
        self._init_1x(train, query, gallery, verbose, kwargs)
