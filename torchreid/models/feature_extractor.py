"""Re-id features for images, in one call: a model (by key or instance), its trained weights and the test transform.

    >>> from torchreid.models.feature_extractor import FeatureExtractor
    >>> extractor = FeatureExtractor('resnet50', weights='log/resnet50/best_model.pth.tar', device='cpu')
    >>> features = extractor(['a.jpg', 'b.jpg'])      # (2, 2048) float32 tensor on the CPU

Inputs are image paths, PIL images, numpy uint8 arrays (H, W, 3) RGB (or a stack (N, H, W, 3)) and uint8 tensors
(3, H, W) (or (N, 3, H, W)); each goes through the evaluation pipeline (resize to ``image_size`` and ImageNet
normalisation, :func:`torchreid.data.build_transforms`), so the features equal those the evaluation computes.
A float tensor (N, 3, H, W) is taken as already preprocessed. Images run through the model in batches of ``batch_size`` on the fast
inference path (:mod:`torchreid.models.inference`: eval mode, channels_last, inference mode).
"""
import numpy as np
import torch
import torch.nn as nn
from PIL import Image

from ..data import build_transforms, read_image_tensor
from ..utils.checkpoint import CheckpointError, load_pretrained_weights
from . import init_model
from .inference import extract_batch_features, prepare_for_inference


def _is_classifier_key(key):
    """Keys of identity classifiers ('classifier.weight', HACNN's 'classifier_global.bias', ...): their shape
    depends on the training identities and they do not take part in the eval feature."""
    return any(part.startswith('classifier') for part in key.split('.'))


class FeatureExtractor(object):
    """Callable that maps images to re-id features (N, feat_dim).

    Args:
        model (str or nn.Module): a registry key (see :func:`torchreid.models.get_names`) or a built model.
        weights (str, optional): a checkpoint to load (the seed's format, a bare state_dict, DataParallel prefixes
            all work). Its classifier may have any number of identities; every other layer must fit the model.
            With a registry key and no ``weights``, the model starts from its ImageNet weights.
        device (str or torch.device, optional): default 'cuda' when available, else 'cpu'.
        image_size (tuple): (height, width) the images are resized to (the model's training size).
        batch_size (int): images per forward pass.
        num_classes (int): classifier size when building from a key; only matters for models whose feature is
            their class-score vector (SqueezeNet).
    """

    def __init__(self, model, weights=None, device=None, image_size=(256, 128), batch_size=64, num_classes=1):
        if batch_size < 1:
            raise ValueError('batch_size must be at least 1, got {}'.format(batch_size))
        if isinstance(model, str):
            model = init_model(model, num_classes=num_classes, loss={'xent'}, pretrained=weights is None)
        elif not isinstance(model, nn.Module):
            raise TypeError('model must be a registry key or an nn.Module, got {}'.format(type(model).__name__))
        if weights is not None:
            self._load(model, weights)
        if device is None:
            device = 'cuda' if torch.cuda.is_available() else 'cpu'
        self.device = torch.device(device)
        self.model = prepare_for_inference(model, self.device)
        self.image_size = tuple(image_size)
        self.batch_size = batch_size
        _, self.transform = build_transforms(*self.image_size)

    @staticmethod
    def _load(model, weights):
        report = load_pretrained_weights(model, weights)
        misfits = ['{} ({})'.format(key, reason) for key, reason in report.skipped if not _is_classifier_key(key)]
        if misfits:
            raise CheckpointError("The weights in '{}' do not fit {}: {}. Use the architecture (and options) they "
                                  "were trained with.".format(weights, type(model).__name__, ', '.join(misfits[:10])))

    def _to_uint8_images(self, inputs):
        """Split ``inputs`` into single uint8 (3, H, W) tensors (or PIL images) for the pipeline."""
        if isinstance(inputs, (str, Image.Image)) or (isinstance(inputs, np.ndarray) and inputs.ndim == 3) or (
                isinstance(inputs, torch.Tensor) and inputs.dim() == 3):
            inputs = [inputs]
        images = []
        for item in inputs:
            if isinstance(item, str):
                images.append(read_image_tensor(item, self.transform.decode_size))
            elif isinstance(item, Image.Image):
                images.append(item.convert('RGB'))
            elif isinstance(item, np.ndarray):
                if item.dtype != np.uint8 or item.ndim != 3 or item.shape[2] != 3:
                    raise ValueError('numpy images must be uint8 RGB arrays (H, W, 3), got {} of shape {}'.format(
                        item.dtype, item.shape))
                images.append(torch.from_numpy(np.ascontiguousarray(item)).permute(2, 0, 1))
            elif isinstance(item, torch.Tensor):
                if item.dtype != torch.uint8 or item.dim() != 3 or item.shape[0] != 3:
                    raise ValueError('image tensors must be uint8 (3, H, W) (or a float batch (N, 3, H, W) '
                                     'already preprocessed), got {} of shape {}'.format(item.dtype, tuple(item.shape)))
                images.append(item)
            else:
                raise TypeError('cannot extract features from a {}: pass image paths, PIL images, numpy uint8 '
                                'arrays or tensors'.format(type(item).__name__))
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
