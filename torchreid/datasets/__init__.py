"""Dataset registry: look datasets up by name, or register your own.

Built-in readers are imported on first use, so importing torchreid does not pull in h5py or scipy.

    >>> from torchreid.datasets import init_imgreid_dataset
    >>> dataset = init_imgreid_dataset('market1501', root='data')
    >>> dataset.train[0]   # (path, pid, camid)
"""
import importlib
import inspect
from collections import OrderedDict

from .base import (BaseDataset, BaseImageDataset, BaseVideoDataset, DatasetNotFoundError,
                   check_required_paths, check_subsets_not_empty, relabel)

# name -> class, or 'module:ClassName' inside this package for the built-in readers (imported lazily).
_image_datasets = OrderedDict([
    ('market1501', 'market1501:Market1501'),
    ('cuhk03', 'cuhk03:CUHK03'),
    ('dukemtmcreid', 'dukemtmcreid:DukeMTMCreID'),
    ('msmt17', 'msmt17:MSMT17'),
    ('viper', 'viper:VIPeR'),
    ('grid', 'grid:GRID'),
    ('cuhk01', 'cuhk01:CUHK01'),
    ('prid450s', 'prid450s:PRID450S'),
    ('ilids', 'ilids:iLIDS'),
    ('sensereid', 'sensereid:SenseReID'),
    ('cuhk02', 'cuhk02:CUHK02'),
    ('cuhksysu', 'cuhksysu:CUHKSYSU'),
    ('market_style', 'generic:MarketStyleDataset'),
    ('demo', 'demo:DemoImageDataset'),
    ('demo_duke', 'demo:DemoDukeDataset'),
])
_video_datasets = OrderedDict([
    ('mars', 'mars:Mars'),
    ('ilidsvid', 'ilidsvid:iLIDSVID'),
    ('prid2011', 'prid2011:PRID2011'),
    ('dukemtmcvidreid', 'dukemtmcvidreid:DukeMTMCVidReID'),
    ('demovideo', 'demo:DemoVideoDataset'),
])


def _resolve(entry):
    if isinstance(entry, str):
        module_name, class_name = entry.split(':')
        module = importlib.import_module('.' + module_name, __name__)
        return getattr(module, class_name)
    return entry


def _build(name, dataset_class, root, kwargs):
    """Instantiate ``dataset_class``; a non-zero split_id for a dataset with a single split is an error, not ignored."""
    split_id = kwargs.get('split_id', 0)
    if split_id and 'split_id' not in inspect.signature(dataset_class.__init__).parameters:
        raise ValueError("'{}' has a single split; split_id (--split-id) must be 0, got {}".format(name, split_id))
    dataset = dataset_class(root=root, **kwargs)
    check_subsets_not_empty(dataset, name)
    return dataset


def get_dataset_class(name):
    """The class registered as ``name`` (image or video), e.g. to inspect the options its constructor takes."""
    if name in _image_datasets:
        return _resolve(_image_datasets[name])
    if name in _video_datasets:
        return _resolve(_video_datasets[name])
    raise _unknown(name, get_names())


def get_image_names():
    return list(_image_datasets)


def get_video_names():
    return list(_video_datasets)


def get_names():
    """All dataset keys: image datasets first, then video datasets."""
    return get_image_names() + get_video_names()


def _unknown(name, valid):
    return KeyError("Invalid dataset, got '{}', but expected to be one of {}".format(name, valid))


def init_imgreid_dataset(name, root='data', **kwargs):
    """Build the image dataset registered as ``name`` under ``root``."""
    if name not in _image_datasets:
        raise _unknown(name, get_image_names())
    return _build(name, _resolve(_image_datasets[name]), root, kwargs)


def init_vidreid_dataset(name, root='data', **kwargs):
    """Build the video dataset registered as ``name`` under ``root``."""
    if name not in _video_datasets:
        raise _unknown(name, get_video_names())
    return _build(name, _resolve(_video_datasets[name]), root, kwargs)


def init_dataset(name, root='data', **kwargs):
    """Build any registered dataset, image or video."""
    if name in _image_datasets:
        return init_imgreid_dataset(name, root=root, **kwargs)
    if name in _video_datasets:
        return init_vidreid_dataset(name, root=root, **kwargs)
    raise _unknown(name, get_names())


def register_image_dataset(name, dataset_class):
    """Make ``dataset_class`` (a :class:`BaseImageDataset` subclass) available as ``-d name``."""
    if name in _image_datasets or name in _video_datasets:
        raise ValueError("a dataset named '{}' is already registered".format(name))
    _image_datasets[name] = dataset_class


def register_video_dataset(name, dataset_class):
    """Make ``dataset_class`` (a :class:`BaseVideoDataset` subclass) available as ``-d name``."""
    if name in _image_datasets or name in _video_datasets:
        raise ValueError("a dataset named '{}' is already registered".format(name))
    _video_datasets[name] = dataset_class
