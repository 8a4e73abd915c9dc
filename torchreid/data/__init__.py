"""Data loading: reading images, Image/Video datasets, samplers, transforms and the loader builders.

Items of :class:`ImageSampleDataset` are ``(img, pid, camid, path)`` (:class:`TrackletSampleDataset`:
``(imgs (S, C, H, W), pid, camid, frame_paths)``); loaders collate them with :func:`collate_with_paths`.

torchreid 1.x's names work here: :class:`ImageDataset` / :class:`VideoDataset` are the base classes of a user's own
dataset (``super().__init__(train, query, gallery, **kwargs)``), registered by name with
:func:`register_image_dataset` / :func:`register_video_dataset` for the data managers' ``sources`` and ``targets``.
"""
from .. import datasets as _registry
from ..datasets.base import ImageDataset, VideoDataset
from .datasets import (VIDEO_SAMPLE_METHODS, ImageSampleDataset, TrackletSampleDataset, VideoClipDataset,
                       collate_with_paths, sample_frame_indices, tracklets_to_frames)
from .image_io import (ImageNotFoundError, ImageReadError, array_to_rgb_tensor, read_image, read_image_tensor, to_rgb,
                       worker_error_message)
from .datamanager import ImageDataManager, ReidBatch, VideoDataManager
from .loaders import build_test_loader, build_train_loader
from .samplers import TRAIN_SAMPLERS, RandomIdentitySampler, build_train_sampler, check_pk_batch
from .transforms import (IMAGENET_MEAN, IMAGENET_STD, ImagePipeline, Random2DTranslation, ToNormalizedTensor,
                         ToUint8Tensor, build_seed_transforms, build_transforms)



def register_image_dataset(name, dataset):
    """torchreid 1.x's name: make the image dataset class ``dataset`` available as ``name`` (e.g. in a data
    manager's ``sources``); ValueError if the name is taken. See :func:`torchreid.datasets.register_image_dataset`."""
    _registry.register_image_dataset(name, dataset)


def register_video_dataset(name, dataset):
    """torchreid 1.x's name: make the video dataset class ``dataset`` available as ``name``."""
    _registry.register_video_dataset(name, dataset)


__all__ = [
    'read_image', 'read_image_tensor', 'to_rgb', 'array_to_rgb_tensor', 'ImageReadError', 'ImageNotFoundError',
    'worker_error_message',
    'ImageSampleDataset', 'TrackletSampleDataset', 'VideoClipDataset', 'collate_with_paths', 'sample_frame_indices',
    'tracklets_to_frames', 'VIDEO_SAMPLE_METHODS',
    'ImageDataset', 'VideoDataset', 'register_image_dataset', 'register_video_dataset',
    'RandomIdentitySampler', 'build_train_sampler', 'check_pk_batch', 'TRAIN_SAMPLERS',
    'Random2DTranslation', 'ToUint8Tensor', 'ToNormalizedTensor', 'ImagePipeline', 'build_transforms',
    'build_seed_transforms', 'IMAGENET_MEAN', 'IMAGENET_STD',
    'build_train_loader', 'build_test_loader',
    'ImageDataManager', 'VideoDataManager', 'ReidBatch',
]
