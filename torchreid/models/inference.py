"""The fast path for feature extraction (evaluation, retrieval, the FeatureExtractor): eval mode, channels_last
memory format, ``torch.inference_mode`` and, optionally, reduced-precision autocast.

    >>> model = prepare_for_inference(init_model('osnet_x1_0', num_classes=751, pretrained=False))
    >>> features = extract_batch_features(model, images)                        # (B, 512) float32, same as fp32
    >>> features = extract_batch_features(model, images, dtype=torch.bfloat16)  # faster where bf16 is native

channels_last lets oneDNN (CPU) and cuDNN (GPU) pick their fastest convolution kernels and changes features only by
float32 rounding. bf16/fp16 autocast changes them more: ``benchmarks/model_speed.py`` measures the speed-up and the
feature error (cosine similarity, relative error) per model; :func:`feature_agreement` computes the error.

``torch.compile`` composes with both (``extract_batch_features(torch.compile(model), images)``); on a CPU it needs a
C++ compiler, takes about a minute per model and dtype, and compiles again for a new batch size (e.g. the last,
smaller batch of a loader), so it is left to the caller: it pays off for long extraction runs.
"""
from contextlib import nullcontext

import torch
import torch.nn.functional as F

AUTOCAST_DTYPES = (torch.bfloat16, torch.float16)


def prepare_for_inference(model, device=None, channels_last=True):
    """Put ``model`` in eval mode, on ``device`` (if given), with channels_last weights; returns ``model``.

    channels_last only changes how 4-D weights are laid out in memory; the state_dict (values, shapes) is the same.
    """
    model.eval()
    if device is not None:
        model.to(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return model


def model_device(model):
    """The device of ``model``'s first parameter (CPU for a model without parameters)."""
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device('cpu')


def extract_batch_features(model, images, dtype=None, channels_last=True, flip=False):
    """Eval-mode features of one batch: ``images`` (B, 3, H, W) -> (B, feat_dim) float32, on the model's device.

    Runs under ``torch.inference_mode`` (no autograd bookkeeping; the result cannot be used in backward).

    Args:
        model (nn.Module): a re-id model in eval mode (see :func:`prepare_for_inference`).
        images (Tensor): normalised images, on any device (moved to the model's).
        dtype (torch.dtype or None): autocast dtype, torch.bfloat16 or torch.float16; None adds no autocast of its
            own (float32, or whatever autocast the caller runs it under, e.g. the engine's --amp).
        channels_last (bool): pass the images in channels_last memory format (use with a channels_last model).
        flip (bool): average with the features of the horizontally flipped images (flip test).
    """
    if dtype is not None and dtype not in AUTOCAST_DTYPES:
        raise ValueError('dtype must be None (float32) or one of {}, got {}'.format(AUTOCAST_DTYPES, dtype))
    if images.dim() != 4:
        raise ValueError('images must be (B, C, H, W), got shape {}'.format(tuple(images.shape)))
    device = model_device(model)
    memory_format = torch.channels_last if channels_last else torch.contiguous_format
    precision = torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()
    with torch.inference_mode(), precision:
        images = images.to(device, memory_format=memory_format, non_blocking=True)
        features = model(images).float()
        if flip:
            features = (features + model(images.flip(-1)).float()) / 2
    return features


def feature_agreement(reference, candidate):
    """How well ``candidate`` (N, D) features reproduce ``reference`` (N, D): ``(min cosine similarity,
    max relative error)`` over the N rows, the relative error of a row being ``||c - r|| / ||r||``."""
    reference, candidate = reference.float(), candidate.float()
    cosine = F.cosine_similarity(candidate, reference, dim=1).min().item()
    relative = ((candidate - reference).norm(dim=1) / reference.norm(dim=1).clamp(min=1e-12)).max().item()
    return cosine, relative
