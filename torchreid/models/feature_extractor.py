"""Re-id features for images, in one call: a model (by key, by a checkpoint's record, or an instance), its trained
weights and the test transform.

    >>> from torchreid.models.feature_extractor import FeatureExtractor
    >>> extractor = FeatureExtractor(weights='log/resnet50/best_model.pth.tar', device='cpu')  # model from its record
    >>> features = extractor(['a.jpg', 'b.jpg'])      # (2, 2048) float32 tensor on the CPU

A checkpoint written by the training scripts records its model (:mod:`torchreid.models.model_record`): the key, the
architecture options (``last_stride``, ``neck``, ``pooling``, ...), the input size and the normalisation; the
extractor rebuilds exactly that model, and an explicit key, option or ``image_size`` that contradicts the record is
an error. Checkpoints without a record (the seed's, torchreid 1.x's, bare state_dicts) need the key (and any
options) and use 256x128 and ImageNet normalisation unless told otherwise.

Inputs are image paths (``str`` or ``pathlib.Path``), PIL images of any mode, numpy arrays and uint8 tensors; each
goes through the evaluation pipeline (resize to ``image_size`` and normalisation,
:func:`torchreid.data.build_transforms`), so the features equal those the evaluation computes. Numpy arrays are
(H, W) grayscale or (H, W, C) colour images (or a stack (N, H, W, C)) whose channels are taken to be in **RGB**
order unless ``channel_order='BGR'`` (OpenCV's ``cv2.imread`` gives BGR); they are converted by
:func:`torchreid.data.image_io.array_to_rgb_tensor`, PIL images by :func:`torchreid.data.image_io.to_rgb`. uint8
tensors (3, H, W) (or (N, 3, H, W)) are RGB, as torchvision reads them. A float tensor (N, 3, H, W) is taken as
already preprocessed. Images run through the model in batches of ``batch_size`` on the fast inference path
(:mod:`torchreid.models.inference`: eval mode, channels_last, inference mode).
"""
import pathlib

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

from ..data import build_transforms, image_io, read_image_tensor
from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD
from ..utils.checkpoint import load_checkpoint
from .inference import extract_batch_features, prepare_for_inference
from .loading import load_weights
from .model_record import build_model_for_checkpoint, model_record_of, resolve_model_config

DEFAULT_IMAGE_SIZE = (256, 128)
CHANNEL_ORDERS = ('RGB', 'BGR')


class FeatureExtractor(object):
    """Callable that maps images to re-id features (N, feat_dim).

    Args:
        model (str, nn.Module or None): a registry key (see :func:`torchreid.models.get_names`), a built model, or
            None to build the model recorded in ``weights``.
        weights (str, optional): a checkpoint to load (the seed's format, a bare state_dict, DataParallel prefixes,
            torchreid 1.x's model zoo and our deployment files from tools/export.py all work). Its classifier may
            have any number of identities; every other layer must fit the model (else
            :class:`~torchreid.utils.checkpoint.CheckpointError`, unless ``allow_partial``). With a registry key and
            no ``weights``, the model starts from its ImageNet weights.
        device (str or torch.device, optional): default 'cuda' when available, else 'cpu'.
        image_size (tuple, optional): (height, width) the images are resized to: the checkpoint's recorded
            training size by default, else 256x128.
        batch_size (int): images per forward pass.
        num_classes (int, optional): classifier size when building from a key (default: the record's, else 1);
            only matters for models whose feature is their class-score vector (SqueezeNet).
        model_options (dict, optional): constructor options when building from a key, e.g.
            ``{'last_stride': 1, 'neck': 'bnneck'}`` for a checkpoint without a record.
        allow_partial (bool): load the layers of ``weights`` that fit even when others do not (they keep their
            initialisation; a warning lists them).
        channel_order (str): 'RGB' (default) or 'BGR': the channel order of numpy input.
    """

    def __init__(self, model=None, weights=None, device=None, image_size=None, batch_size=64, num_classes=None,
                 model_options=None, allow_partial=False, channel_order='RGB'):
        if batch_size < 1:
            raise ValueError('batch_size must be at least 1, got {}'.format(batch_size))
        if channel_order not in CHANNEL_ORDERS:
            raise ValueError("channel_order must be 'RGB' or 'BGR', got {!r}".format(channel_order))
        if model is not None and not isinstance(model, (str, nn.Module)):
            raise TypeError('model must be a registry key, an nn.Module or None, got {}'.format(type(model).__name__))
        if isinstance(model, nn.Module) and (model_options or num_classes is not None):
            raise ValueError('model_options and num_classes apply when building from a key; the given {} is '
                             'already built'.format(type(model).__name__))
        checkpoint = load_checkpoint(str(weights)) if weights is not None else None
        source = "'{}'".format(weights)
        if isinstance(model, nn.Module):  # a built model: a record gives only the input size and normalisation
            record = model_record_of(checkpoint, source) if checkpoint is not None else None
            mean, std = (record['norm_mean'], record['norm_std']) if record else (IMAGENET_MEAN, IMAGENET_STD)
            if record is not None:
                _, _, image_size = resolve_model_config(record, input_size=image_size, source=source)
        else:
            model, record, recorded = build_model_for_checkpoint(
                checkpoint, model, model_options, image_size, num_classes, pretrained=weights is None, source=source)
            image_size, mean, std = record['input_size'], record['norm_mean'], record['norm_std']
            record = record if recorded else None
        if checkpoint is not None:
            load_weights(model, checkpoint, allow_partial=allow_partial, source=str(weights))  # 1.x names mapped
        if device is None:
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        self.device = torch.device(device)
        self.model = prepare_for_inference(model, self.device)
        self.image_size = tuple(image_size or DEFAULT_IMAGE_SIZE)
        self.batch_size = batch_size
        self.channel_order = channel_order
        self.record = record
        _, self.transform = build_transforms(*self.image_size, mean=tuple(mean), std=tuple(std))

    def _to_uint8_images(self, inputs):
        """Split ``inputs`` into single uint8 (3, H, W) tensors (or RGB PIL images) for the pipeline."""
        if isinstance(inputs, (str, pathlib.Path, Image.Image)) or (
                isinstance(inputs, np.ndarray) and inputs.ndim in (2, 3)) or (
                isinstance(inputs, torch.Tensor) and inputs.dim() == 3):
            inputs = [inputs]
        images = []
        for item in inputs:
            if isinstance(item, (str, pathlib.Path)):
                images.append(read_image_tensor(str(item), self.transform.decode_size))
            elif isinstance(item, Image.Image):
                images.append(image_io.to_rgb(item))
            elif isinstance(item, np.ndarray):
                images.append(image_io.array_to_rgb_tensor(item, self.channel_order))
            elif isinstance(item, torch.Tensor):
                if item.dtype != torch.uint8 or item.dim() != 3 or item.shape[0] != 3:
                    raise ValueError('image tensors must be uint8 RGB (3, H, W) (or a float batch (N, 3, H, W) '
                                     'already preprocessed), got {} of shape {}'.format(item.dtype, tuple(item.shape)))
                images.append(item)
            else:
                raise TypeError('cannot extract features from a {}: pass image paths, PIL images, numpy arrays '
                                'or tensors'.format(type(item).__name__))
        return images

    def __call__(self, inputs):
        """Features of ``inputs`` (one image or a sequence / batch of images): float32 tensor (N, feat_dim)."""
        if isinstance(inputs, torch.Tensor) and inputs.is_floating_point():
            if inputs.dim() != 4 or inputs.shape[1] != 3:
                raise ValueError('a float tensor must be a preprocessed batch (N, 3, H, W), got shape {}'.format(
                    tuple(inputs.shape)))
            batches = inputs.split(self.batch_size)
        else:
            images = self._to_uint8_images(inputs)
            batches = (torch.stack([self.transform(image) for image in images[start:start + self.batch_size]])
                       for start in range(0, len(images), self.batch_size))
        features = [extract_batch_features(self.model, batch.to(self.device)).cpu() for batch in batches]
        if not features:
            return torch.empty(0, getattr(self.model, 'feat_dim', 0))
        return torch.cat(features)
