"""Several datasets as one training set, and a dataset's train + query + gallery as one training set (combineall).

:class:`MergedTrainSet` puts the train sets of several sources side by side: source k's pids and camids are
shifted past those of sources 0..k-1, so identities and cameras of different datasets never collide, and every
sample keeps the index of its source (``dsetids``). :func:`combine_all` makes one dataset's query and gallery
identities extra training classes, leaving out each dataset's junk and distractor ids (``combineall_junk_pids``).
"""
from .base import BaseDataset


def check_train_labels(samples, name):
    """Raise ValueError unless the pids of ``samples`` are exactly 0..N-1 (what a classifier of N classes needs)."""
    pids = {pid for _, pid, _ in samples}
    if pids != set(range(len(pids))):
        raise ValueError("the train pids of '{}' are not 0..{} (got {} distinct pids, from {} to {}): relabel them "
                         "with torchreid.datasets.relabel".format(name, len(pids) - 1, len(pids), min(pids),
                                                                  max(pids)))


def check_camids(samples, name):
    """Raise ValueError if a camid of ``samples`` is negative (camids are 0-based)."""
    camids = {camid for _, _, camid in samples}
    if min(camids) < 0:
        raise ValueError("the train camids of '{}' must be 0-based, got {}".format(name, min(camids)))


class CombinedDataset(BaseDataset):
    """``dataset`` with its query and gallery identities added to train (see :func:`combine_all`).

    ``query`` and ``gallery`` are the dataset's own, so evaluation still runs, but on identities trained on.
    """

    def __init__(self, dataset, verbose=True):
        self.source_name = dataset.name
        self.is_video = dataset.is_video
        junk_pids = set(dataset.combineall_junk_pids)
        extra_train = list(dataset.combineall_extra_train())
        train = list(dataset.train) + extra_train
        num_train_pids = len({pid for _, pid, _ in train})
        test_samples = []
        seen_paths = set()
        for sample in list(dataset.query) + list(dataset.gallery):
            # query and gallery are one list in some protocols (CUHK03 classic, PRID450S): add each image once
            if sample[1] in junk_pids or sample[0] in seen_paths:
                continue
            seen_paths.add(sample[0])
            test_samples.append(sample)
        label_of = {pid: num_train_pids + label
                    for label, pid in enumerate(sorted({pid for _, pid, _ in test_samples}))}
        train += [(path, label_of[pid], camid) for path, pid, camid in test_samples]
        self.num_added_pids = len(label_of)
        self.num_added_items = len(test_samples) + len(extra_train)
        super(CombinedDataset, self).__init__(train, dataset.query, dataset.gallery, verbose=False,
                                              num_gallery_pids=dataset.num_gallery_pids)
        self.total_ids = self.num_train_pids
        self.total_images = self.num_train_items
        if verbose:
            self.print_statistics()

    @property
    def name(self):
        return '{} (combineall: train + query + gallery)'.format(self.source_name)


def combine_all(dataset, verbose=True):
    """Train on everything a dataset has: its train set plus its query and gallery images (``--combineall``).

    Query and gallery pids share one map, numbered after the train labels (num_train_pids, num_train_pids + 1,
    ...), so they collide neither with each other nor with train. Left out: the pids in the dataset's
    ``combineall_junk_pids`` (Market-1501's pid 0 background boxes, GRID's and MARS's pid-0 distractors; pid -1
    junk boxes are dropped by the readers already). Added: ``combineall_extra_train()`` (MSMT17's list_val). An
    image in both query and gallery is added once. Meant for models trained for deployment: evaluation on this
    dataset afterwards tests on training identities, so its numbers are not comparable to published ones.

    Returns a :class:`CombinedDataset` (whose table is printed when ``verbose``).
    """
    if dataset.evaluation_only:
        raise ValueError("'{}' is an evaluation-only dataset (it has no training set), so it cannot be combined "
                         "into a training set".format(dataset.name))
    check_train_labels(dataset.train, dataset.name)
    return CombinedDataset(dataset, verbose=verbose)


class MergedTrainSet(object):
    """The train sets of several source datasets as one: pids and camids offset per source.

    Source k's train pids 0..N_k-1 become ``pid_offsets[k]`` + 0..N_k-1, where ``pid_offsets[k]`` is the total of
    N_0..N_{k-1}; its camids c become ``camid_offsets[k] + c``, where the offset adds up the camera spans
    (max camid + 1) of the previous sources, so cameras of different datasets never share an id even when a
    dataset's camids have gaps. With one source nothing changes.

    Attributes:
        train (list): merged ``(path, pid, camid)`` samples, source after source.
        dsetids (list of int): the source index of every train sample.
        num_train_pids, num_train_cams (int): classes of the merged set (the classifier's size), and its cameras.
        pid_offsets, camid_offsets (list of int): the offsets of each source.
        sources (list of str): the source names, in order.
    """

    def __init__(self, datasets, names, verbose=True):
        if len(datasets) != len(names) or not datasets:
            raise ValueError('MergedTrainSet needs one name per dataset and at least one dataset')
        self.sources = list(names)
        self.datasets = list(datasets)
        self.train, self.dsetids = [], []
        self.pid_offsets, self.camid_offsets = [], []
        self.is_video = datasets[0].is_video
        pid_offset = camid_offset = 0
        for dsetid, (dataset, name) in enumerate(zip(datasets, names)):
            if dataset.is_video != self.is_video:
                raise ValueError("cannot merge image and video datasets ('{}' and '{}')".format(names[0], name))
            if dataset.evaluation_only:
                raise ValueError("'{}' cannot be a source: it is an evaluation-only dataset (no training set); use "
                                 "it as a target".format(name))
            if not dataset.train:
                raise ValueError("'{}' cannot be a source: its training set is empty".format(name))
            check_train_labels(dataset.train, name)
            check_camids(dataset.train, name)
            self.pid_offsets.append(pid_offset)
            self.camid_offsets.append(camid_offset)
            self.train += [(path, pid + pid_offset, camid + camid_offset) for path, pid, camid in dataset.train]
            self.dsetids += [dsetid] * len(dataset.train)
            pid_offset += len({pid for _, pid, _ in dataset.train})
            camid_offset += max(camid for _, _, camid in dataset.train) + 1
        self.num_train_pids = pid_offset
        self.num_train_cams = len({camid for _, _, camid in self.train})
        self.num_train_items = len(self.train)
        if verbose:
            print(self.statistics_table())

    def statistics_table(self):
        unit = '# tracklets' if self.is_video else '# images'
        rule = '  ' + '-' * 80
        lines = ['=> Training set of {} source(s): {}'.format(len(self.sources), ', '.join(self.sources)), rule,
                 '  {:20} | # ids | {:>11} | # cameras | pid offset | cam offset'.format('source', unit), rule]
        for k, dataset in enumerate(self.datasets):
            num_pids, num_items, num_cams = BaseDataset.subset_stats(dataset.train)
            lines.append('  {:20} | {:5d} | {:11d} | {:9d} | {:10d} | {:10d}'.format(
                self.sources[k][:20], num_pids, num_items, num_cams, self.pid_offsets[k], self.camid_offsets[k]))
        lines.append(rule)
        lines.append('  {:20} | {:5d} | {:11d} | {:9d} |'.format('merged train', self.num_train_pids,
                                                                 self.num_train_items, self.num_train_cams))
        lines.append(rule)
        return '\n'.join(lines)
