"""Data loading: reading images, Image/Video datasets, samplers, transforms and the loader builders.

Items are ``(img, pid, camid, path)`` (video: ``(imgs (S, C, H, W), pid, camid, frame_paths)``); loaders collate
them with :func:`collate_with_paths`.
"""
from .datasets import (VIDEO_SAMPLE_METHODS, ImageDataset, VideoClipDataset, VideoDataset, collate_with_paths,
                       sample_frame_indices, tracklets_to_frames)
from .image_io import (ImageNotFoundError, ImageReadError, array_to_rgb_tensor, read_image, read_image_tensor, to_rgb,
                       worker_error_message)
from .datamanager import ImageDataManager, ReidBatch, VideoDataManager
from .loaders import build_test_loader, build_train_loader
from .samplers import TRAIN_SAMPLERS, RandomIdentitySampler, build_train_sampler, check_pk_batch
from .transforms import (IMAGENET_MEAN, IMAGENET_STD, ImagePipeline, Random2DTranslation, ToNormalizedTensor,
                         ToUint8Tensor, build_seed_transforms, build_transforms)

__all__ = [
    'read_image', 'read_image_tensor', 'to_rgb', 'array_to_rgb_tensor', 'ImageReadError', 'ImageNotFoundError',
    'worker_error_message',
    'ImageDataset', 'VideoDataset', 'VideoClipDataset', 'collate_with_paths', 'sample_frame_indices',
    'tracklets_to_frames', 'VIDEO_SAMPLE_METHODS',
    'RandomIdentitySampler', 'build_train_sampler', 'check_pk_batch', 'TRAIN_SAMPLERS',
    'Random2DTranslation', 'ToUint8Tensor', 'ToNormalizedTensor', 'ImagePipeline', 'build_transforms',
    'build_seed_transforms', 'IMAGENET_MEAN', 'IMAGENET_STD',
    'build_train_loader', 'build_test_loader',
    'ImageDataManager', 'VideoDataManager', 'ReidBatch',
]
