"""Data managers under torchreid 1.x's names: datasets, transforms and loaders for training on one or several
source datasets and testing on one or several target datasets.

    datamanager = torchreid.data.ImageDataManager(root='data', sources=['demo'], targets=['demo', 'demo_duke'],
                                                  height=128, width=64, batch_size_train=32)
    for imgs, pids, camids, paths in datamanager.train_loader: ...   # this toolkit's engine
    for data in datamanager.train_loader: data['img'], data['pid']   # torchreid 1.x code

Arguments, their order and defaults are torchreid 1.x's. The managers are built from this toolkit's parts:
dataset readers (:mod:`torchreid.datasets`), :class:`~torchreid.datasets.combine.MergedTrainSet` and
:func:`~torchreid.datasets.combine.combine_all`, the transforms and :func:`build_train_loader` /
:func:`build_test_loader`. 1.x options this toolkit does not have raise a ValueError saying so.
"""
import inspect

import numpy as np
import torch
from torchvision.transforms import InterpolationMode
from torchvision.transforms import v2

from .. import datasets as reid_datasets
from ..datasets.combine import MergedTrainSet, combine_all
from .datasets import collate_with_paths
from .loaders import build_test_loader, build_train_loader
from .transforms import (IMAGENET_MEAN, IMAGENET_STD, ImagePipeline, Random2DTranslation, ToNormalizedTensor,
                         ToUint8Tensor, build_transforms)

# 1.x train sampler name -> this toolkit's sampler
TRAIN_SAMPLERS_1X = {'RandomSampler': 'random', 'RandomIdentitySampler': 'identity'}
UNSUPPORTED_SAMPLERS_1X = ('SequentialSampler', 'RandomDomainSampler', 'RandomDatasetSampler')
# 1.x train transform names this toolkit has ('random_crop' is the seed's Random2DTranslation, as in 1.x)
TRANSFORM_NAMES = ('random_flip', 'random_crop', 'color_jitter', 'random_erase')


class ReidBatch(tuple):
    """A batch ``(imgs, pids, camids, paths)`` that torchreid 1.x code can also read as a dict.

    Unpacks and indexes as the 4-tuple this toolkit's engine reads; ``batch['img']``, ``['pid']``, ``['camid']``,
    ``['impath']`` and ``['dsetid']`` (the source index of each sample, int64 (B,)) are 1.x's batch keys.
    """
    KEYS = ('img', 'pid', 'camid', 'impath', 'dsetid')

    def __new__(cls, imgs, pids, camids, paths, dsetids):
        batch = super(ReidBatch, cls).__new__(cls, (imgs, pids, camids, paths))
        batch.dsetids = dsetids
        return batch

    def __getnewargs__(self):
        # pickling (a batch made in a loader worker travels to the main process) rebuilds it from all five parts
        return tuple(self) + (self.dsetids,)

    def __getitem__(self, key):
        if isinstance(key, str):
            if key == 'dsetid':
                return self.dsetids
            if key not in self.KEYS:
                raise KeyError("a batch has the keys {}, not '{}'".format(', '.join(self.KEYS), key))
            return tuple.__getitem__(self, self.KEYS.index(key))
        return tuple.__getitem__(self, key)

    def keys(self):
        return self.KEYS

    def items(self):
        return [(key, self[key]) for key in self.KEYS]

    def pin_memory(self):
        """Called by DataLoader(pin_memory=True): pins the tensors, keeps the batch type."""
        imgs, pids, camids, paths = self
        return ReidBatch(imgs.pin_memory(), pids.pin_memory(), camids.pin_memory(), paths, self.dsetids.pin_memory())


class ReidBatchCollate(object):
    """Collate items into a :class:`ReidBatch`; the dsetid of a sample is the source its pid falls in.

    ``pid_offsets`` are the first pids of the sources of a merged train set; None gives dsetid 0 (a test set).
    """

    def __init__(self, pid_offsets=None):
        self.pid_offsets = np.asarray(pid_offsets if pid_offsets is not None else [0], dtype=np.int64)

    def __call__(self, items):
        imgs, pids, camids, paths = collate_with_paths(items)
        dsetids = np.searchsorted(self.pid_offsets, pids.numpy(), side='right') - 1
        return ReidBatch(imgs, pids, camids, paths, torch.from_numpy(np.maximum(dsetids, 0)))


def transform_names(transforms):
    """The list of 1.x transform names of ``transforms`` (None, a name or a list); unknown names are an error."""
    if transforms is None:
        return []
    names = [transforms] if isinstance(transforms, str) else list(transforms)
    for name in names:
        if name == 'random_patch':
            raise ValueError("the 1.x transform 'random_patch' is not available here; use {}".format(
                ', '.join(TRANSFORM_NAMES)))
        if name not in TRANSFORM_NAMES:
            raise ValueError("unknown transform '{}'; valid transforms: {}".format(name, ', '.join(TRANSFORM_NAMES)))
    return names


def build_manager_transforms(height, width, transforms='random_flip', norm_mean=None, norm_std=None):
    """(train, test) transforms from 1.x transform names, as :class:`ImagePipeline` s.

    The test transform resizes and normalises. The train transform applies, in this order, 'random_crop' (the
    seed's Random2DTranslation: p=0.5, enlarge 1.125x and crop; otherwise a resize), 'random_flip' (p=0.5),
    'color_jitter' (brightness 0.2, contrast 0.15), normalisation, 'random_erase'. With both 'random_crop' and
    'random_flip' this is exactly :func:`build_transforms` (the scripts' pipeline).
    """
    names = transform_names(transforms)
    mean = IMAGENET_MEAN if norm_mean is None else tuple(norm_mean)
    std = IMAGENET_STD if norm_std is None else tuple(norm_std)
    train_transform, test_transform = build_transforms(height, width, random_erase='random_erase' in names,
                                                       color_jitter='color_jitter' in names, mean=mean, std=std)
    if 'random_crop' in names and 'random_flip' in names:
        return train_transform, test_transform
    steps = [ToUint8Tensor()]
    decode_size = (height, width)
    if 'random_crop' in names:
        translation = Random2DTranslation(height, width)
        decode_size = translation.enlarged_size()
        steps.append(translation)
    else:
        steps.append(v2.Resize((height, width), interpolation=InterpolationMode.BILINEAR, antialias=True))
    if 'random_flip' in names:
        steps.append(v2.RandomHorizontalFlip(p=0.5))
    if 'color_jitter' in names:
        steps.append(v2.ColorJitter(brightness=0.2, contrast=0.15, saturation=0, hue=0))
    steps.append(ToNormalizedTensor(mean, std))
    if 'random_erase' in names:
        steps.append(v2.RandomErasing(p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0))
    return ImagePipeline(steps, decode_size=decode_size), test_transform


def _name_list(names, argument):
    if names is None:
        return None
    names = [names] if isinstance(names, str) else list(names)
    if not names:
        raise ValueError('{} is empty: give at least one dataset name'.format(argument))
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError('{} lists {} more than once'.format(argument, ', '.join(duplicates)))
    return names


def check_dataset_options(names, split_id, dataset_options):
    """Options that no named dataset takes are errors, not silently ignored."""
    takes = {name: inspect.signature(reid_datasets.get_dataset_class(name).__init__).parameters for name in names}
    if split_id != 0 and not any('split_id' in parameters for parameters in takes.values()):
        raise ValueError('split_id={} but none of {} has several splits'.format(split_id, ', '.join(names)))
    for option, value in (dataset_options or {}).items():
        if value and not any(option in parameters for parameters in takes.values()):
            raise ValueError('{}=True but none of {} takes it'.format(option, ', '.join(names)))


def load_dataset(data_type, name, root, split_id=0, dataset_options=None, verbose=True):
    """Dataset ``name`` with the options of ``dataset_options`` that its constructor takes (and ``split_id`` if it
    has several splits)."""
    dataset_class = reid_datasets.get_dataset_class(name)
    parameters = inspect.signature(dataset_class.__init__).parameters
    kwargs = {option: value for option, value in (dataset_options or {}).items() if option in parameters}
    if 'split_id' in parameters:
        kwargs['split_id'] = split_id
    if verbose:
        print('Initializing dataset {}'.format(name))
    init = reid_datasets.init_vidreid_dataset if data_type == 'video' else reid_datasets.init_imgreid_dataset
    return init(name, root=root, verbose=verbose, **kwargs)


def make_train_loader(train_set, transform, sampler, batch_size, workers, **options):
    """The train loader of a :class:`MergedTrainSet`; its batches are :class:`ReidBatch` es (with dsetids)."""
    loader = build_train_loader(train_set.train, transform, batch_size, workers, sampler=sampler, **options)
    loader.collate_fn = ReidBatchCollate(train_set.pid_offsets)  # allowed after construction
    return loader


def combineall_warning(name):
    """What to tell a user who evaluates on a source whose query and gallery were trained on (combineall)."""
    return ("combineall trains on the query and gallery of '{}', which is also a target: its results are not "
            "comparable to published ones".format(name))


class ReidData(object):
    """What :func:`build_reid_data` builds (the attributes of the data managers, see :class:`DataManager`), plus
    ``combined_targets``: the targets whose query and gallery are in the training set (combineall)."""

    def __init__(self, **attributes):
        self.__dict__.update(attributes)


def build_reid_data(data_type, root, sources, targets, train_transform, test_transform, split_id=0,
                    combineall=False, dataset_options=None, batch_size_train=32, batch_size_test=32, workers=4,
                    train_sampler='random', num_instances=4, seed=0, pin_memory=False, num_replicas=1, rank=0,
                    train_clip_len=None, seq_len=15, sample_method='evenly', build_train_loader=True, verbose=True):
    """The one path from dataset names to datasets and loaders, for the data managers and the four scripts.

    Loads every source and target once; merges the sources' train sets (each first combined with its query and
    gallery when ``combineall``) into a :class:`MergedTrainSet` (pids and camids offset per source); builds its
    train loader (``train_sampler`` 'random' or 'identity'; clips of ``train_clip_len`` frames for clip-level
    video training, else frames or images) unless ``build_train_loader`` is False (evaluation only), and a query
    and a gallery loader per target (tracklets sampled by ``sample_method``, ``seq_len`` frames). Batches are
    :class:`ReidBatch` es. A training-only dataset (CUHK-SYSU) cannot be a target; an evaluation-only one cannot
    be a source. Returns a :class:`ReidData`.
    """
    sources, targets = list(sources), list(targets)
    video = data_type == 'video'
    datasets = {}
    for name in sources + [name for name in targets if name not in sources]:
        datasets[name] = load_dataset(data_type, name, root, split_id, dataset_options, verbose)
    for name in targets:
        if datasets[name].train_only:
            raise ValueError("'{}' cannot be a target: it is a training-only dataset (it has no query or gallery); "
                             "use it as a source".format(name))
    train_datasets = [combine_all(datasets[name], verbose=verbose) if combineall else datasets[name]
                      for name in sources]
    train_set = MergedTrainSet(train_datasets, sources, verbose=verbose)
    train_loader = None
    if build_train_loader:
        train_loader = make_train_loader(train_set, train_transform, train_sampler, batch_size_train, workers,
                                         num_instances=num_instances, seed=seed, pin_memory=pin_memory,
                                         num_replicas=num_replicas, rank=rank, video_clip_len=train_clip_len)
    test_loader, test_dataset = {}, {}
    for name in targets:
        dataset = datasets[name]
        test_dataset[name] = {'query': dataset.query, 'gallery': dataset.gallery}
        test_loader[name] = {}
        for subset in ('query', 'gallery'):
            loader = build_test_loader(getattr(dataset, subset), test_transform, batch_size_test, workers,
                                       video=video, seq_len=seq_len, sample=sample_method, pin_memory=pin_memory)
            loader.collate_fn = ReidBatchCollate()  # allowed after construction; workers start on iteration
            test_loader[name][subset] = loader
    return ReidData(sources=sources, targets=targets, datasets=datasets, train_set=train_set,
                    num_train_pids=train_set.num_train_pids, num_train_cams=train_set.num_train_cams,
                    train_loader=train_loader, test_loader=test_loader, test_dataset=test_dataset,
                    combined_targets=[name for name in sources if combineall and name in targets])


class DataManager(object):
    """What the image and video managers share: the datasets, the merged training set and the loaders.

    Attributes:
        sources, targets (list of str): dataset names.
        data_type (str): 'image' or 'video'.
        train_set (:class:`MergedTrainSet`): the sources' train sets (each combined with its query and gallery
            when ``combineall``), pids and camids offset per source.
        num_train_pids, num_train_cams (int): classes (the classifier's size) and cameras of the training set.
        train_loader: batches of the training set (the last incomplete batch dropped).
        train_loader_t: with ``load_train_targets``, batches of the targets' train sets; else None.
        test_loader (dict): ``test_loader[target]['query' | 'gallery']``, the evaluation loaders.
        test_dataset (dict): ``test_dataset[target]['query' | 'gallery']``, their ``(path, pid, camid)`` lists.
        datasets (dict): name -> the loaded dataset object (before combineall).
    """
    data_type = None

    def __init__(self, root, sources, targets, height, width, transforms, norm_mean, norm_std, use_gpu, split_id,
                 combineall, load_train_targets, batch_size_train, batch_size_test, workers, num_instances,
                 num_cams, num_datasets, train_sampler, train_sampler_t, dataset_options, seq_len, sample_method,
                 seed, num_replicas, rank, verbose):
        self.sources = _name_list(sources, 'sources')
        if self.sources is None:
            raise ValueError('sources must not be None: give the names of the training datasets')
        self.targets = _name_list(targets, 'targets') or list(self.sources)
        check_dataset_options(self.sources + [name for name in self.targets if name not in self.sources],
                              split_id, dataset_options)
        self.height, self.width = height, width
        self.combineall = combineall
        self._check_1x_options(num_cams, num_datasets, train_sampler, train_sampler_t, load_train_targets)
        self.transform_tr, self.transform_te = build_manager_transforms(height, width, transforms, norm_mean,
                                                                        norm_std)
        self.use_gpu = use_gpu and torch.cuda.is_available()
        video = self.data_type == 'video'
        reid_data = build_reid_data(
            self.data_type, root, self.sources, self.targets, self.transform_tr, self.transform_te,
            split_id=split_id, combineall=combineall, dataset_options=dataset_options,
            batch_size_train=batch_size_train, batch_size_test=batch_size_test, workers=workers,
            train_sampler=TRAIN_SAMPLERS_1X[train_sampler], num_instances=num_instances, seed=seed,
            pin_memory=self.use_gpu, num_replicas=num_replicas, rank=rank, train_clip_len=seq_len if video else None,
            seq_len=seq_len or 15, sample_method=sample_method, verbose=verbose)
        for name in reid_data.combined_targets:
            print('Warning: ' + combineall_warning(name))
        self.datasets = reid_data.datasets
        self.train_set = reid_data.train_set
        self.num_train_pids = reid_data.num_train_pids
        self.num_train_cams = reid_data.num_train_cams
        self.train_loader = reid_data.train_loader
        self.test_loader, self.test_dataset = reid_data.test_loader, reid_data.test_dataset

        self.train_loader_t = None
        if load_train_targets:
            overlap = sorted(set(self.sources) & set(self.targets))
            if overlap:
                raise ValueError('load_train_targets needs sources and targets to be different datasets; both list '
                                 '{}'.format(', '.join(overlap)))
            target_set = MergedTrainSet([self.datasets[name] for name in self.targets], self.targets,
                                        verbose=verbose)
            self.train_loader_t = make_train_loader(
                target_set, self.transform_tr, TRAIN_SAMPLERS_1X[train_sampler_t], batch_size_train, workers,
                num_instances=num_instances, seed=seed, pin_memory=self.use_gpu, num_replicas=num_replicas, rank=rank,
                video_clip_len=seq_len if video else None)

    @staticmethod
    def _check_1x_options(num_cams, num_datasets, train_sampler, train_sampler_t, load_train_targets):
        for name in (train_sampler, train_sampler_t):
            if name in UNSUPPORTED_SAMPLERS_1X:
                raise ValueError("the 1.x train sampler '{}' is not available here; use one of {}".format(
                    name, ', '.join(TRAIN_SAMPLERS_1X)))
            if name not in TRAIN_SAMPLERS_1X:
                raise ValueError("unknown train sampler '{}'; valid samplers: {}".format(
                    name, ', '.join(TRAIN_SAMPLERS_1X)))
        if num_cams != 1 or num_datasets != 1:
            raise ValueError('num_cams and num_datasets only serve the 1.x samplers RandomDomainSampler and '
                             'RandomDatasetSampler, which are not available here; leave them at 1')
        if train_sampler_t != 'RandomSampler' and not load_train_targets:
            raise ValueError('train_sampler_t only applies with load_train_targets=True')

    def fetch_test_loaders(self, name):
        """(query loader, gallery loader) of target ``name``."""
        if name not in self.test_loader:
            raise KeyError("'{}' is not a target; targets: {}".format(name, ', '.join(self.targets)))
        return self.test_loader[name]['query'], self.test_loader[name]['gallery']


class ImageDataManager(DataManager):
    """Image data manager (torchreid 1.x's arguments, order and defaults).

    Args:
        root (str): folder holding the datasets.
        sources (str or list of str): training datasets, merged into one training set (pids and camids offset
            per source).
        targets (str or list of str): test datasets, each with its own query/gallery loaders; default: sources.
        height, width (int): network input size.
        transforms (str, list of str or None): train augmentations among 'random_flip', 'random_crop',
            'color_jitter', 'random_erase' (see :func:`build_manager_transforms`); None: resize only.
        k_tfm (int): only 1 (1.x's several augmented copies per image are not available).
        norm_mean, norm_std (list of 3 floats): normalisation; None: ImageNet statistics.
        use_gpu (bool): pin batches in page-locked memory when CUDA is available.
        split_id (int): split of the multi-split datasets (passed to those that have splits).
        combineall (bool): train on train + query + gallery of every source (see :func:`combine_all`).
        load_train_targets (bool): also build ``train_loader_t`` over the targets' train sets (targets must
            differ from the sources).
        batch_size_train, batch_size_test (int): batch sizes.
        workers (int): loader worker processes.
        num_instances (int): images per identity in a batch of the RandomIdentitySampler.
        num_cams, num_datasets (int): only 1 (their 1.x samplers are not available).
        train_sampler, train_sampler_t (str): 'RandomSampler' (shuffle) or 'RandomIdentitySampler' (P x K).
        cuhk03_labeled, cuhk03_classic_split (bool): CUHK03 options.
        market1501_500k (bool): add Market-1501's 500k distractors to its gallery.
        seed (int): seeds the samplers and loader workers (not a 1.x argument).
        num_replicas, rank (int): distributed sharding of the train loader (not 1.x arguments).
        verbose (bool): print the statistics tables (not a 1.x argument).

    Batches are :class:`ReidBatch`: ``imgs, pids, camids, paths = batch`` or ``batch['img']`` etc.
    """
    data_type = 'image'

    def __init__(self, root='', sources=None, targets=None, height=256, width=128, transforms='random_flip',
                 k_tfm=1, norm_mean=None, norm_std=None, use_gpu=True, split_id=0, combineall=False,
                 load_train_targets=False, batch_size_train=32, batch_size_test=32, workers=4, num_instances=4,
                 num_cams=1, num_datasets=1, train_sampler='RandomSampler', train_sampler_t='RandomSampler',
                 cuhk03_labeled=False, cuhk03_classic_split=False, market1501_500k=False, seed=0, num_replicas=1,
                 rank=0, verbose=True):
        if k_tfm != 1:
            raise ValueError('k_tfm={}: several augmented copies per image (1.x k_tfm) are not available here; '
                             'use k_tfm=1'.format(k_tfm))
        dataset_options = {'cuhk03_labeled': cuhk03_labeled, 'cuhk03_classic_split': cuhk03_classic_split,
                           'market1501_500k': market1501_500k}
        super(ImageDataManager, self).__init__(
            root, sources, targets, height, width, transforms, norm_mean, norm_std, use_gpu, split_id, combineall,
            load_train_targets, batch_size_train, batch_size_test, workers, num_instances, num_cams, num_datasets,
            train_sampler, train_sampler_t, dataset_options, seq_len=None, sample_method='evenly', seed=seed,
            num_replicas=num_replicas, rank=rank, verbose=verbose)


class VideoDataManager(DataManager):
    """Video data manager (torchreid 1.x's arguments, order and defaults); see :class:`ImageDataManager`.

    Training is clip-level as in 1.x: each train item is a clip of ``seq_len`` frames of one tracklet, batches
    (B, seq_len, C, H, W). The clip's frames are drawn at random (sorted) with the same augmentation for every
    frame (:class:`~torchreid.data.datasets.VideoClipDataset`), whatever ``sample_method``; ``sample_method``
    ('evenly', 'random' or 'all', which needs batch_size_test=1) picks the frames of the test tracklets.
    """
    data_type = 'video'

    def __init__(self, root='', sources=None, targets=None, height=256, width=128, transforms='random_flip',
                 norm_mean=None, norm_std=None, use_gpu=True, split_id=0, combineall=False, batch_size_train=3,
                 batch_size_test=3, workers=4, num_instances=4, num_cams=1, num_datasets=1,
                 train_sampler='RandomSampler', seq_len=15, sample_method='evenly', seed=0, num_replicas=1, rank=0,
                 verbose=True):
        super(VideoDataManager, self).__init__(
            root, sources, targets, height, width, transforms, norm_mean, norm_std, use_gpu, split_id, combineall,
            False, batch_size_train, batch_size_test, workers, num_instances, num_cams, num_datasets,
            train_sampler, 'RandomSampler', {}, seq_len=seq_len, sample_method=sample_method, seed=seed,
            num_replicas=num_replicas, rank=rank, verbose=verbose)
