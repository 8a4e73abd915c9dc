"""The one function that loads checkpoint weights into a model: 1.x-named files map onto our names first.

    >>> from torchreid.models.loading import load_weights
    >>> load_weights(model, 'resnet50_market_xent.pth.tar')              # --load-weights: the layers that fit
    >>> load_weights(model, checkpoint, strict=True)                     # --resume: every key

A torchreid 1.x (deep-person-reid) model-zoo checkpoint of a family we name differently (ResNet's ``conv1, bn1,
layer1..4``, MobileNetV2's ``conv2..conv8``; :mod:`torchreid.models.naming`) is renamed to our keys, so it loads
strictly and gives identical features; files in our naming (the seed's, ours) pass through unchanged. The loading
itself, its checks and its messages are :mod:`torchreid.utils.checkpoint`'s, which knows no model (it takes the
renaming as a function).
"""
import functools

from ..utils.checkpoint import load_checkpoint, load_model_state, load_pretrained_weights
from .naming import to_own_naming


def load_weights(model, checkpoint, strict=False, allow_partial=False, source=None):
    """Load ``checkpoint`` (a file path, or a checkpoint dict / state_dict already read) into ``model``.

    ``strict=True``: every key must fit (:func:`~torchreid.utils.checkpoint.load_model_state`, for --resume);
    returns None. Otherwise the layers that fit are loaded, a classifier of another size keeps its initialisation,
    and anything else left unloaded is a CheckpointError unless ``allow_partial``
    (:func:`~torchreid.utils.checkpoint.load_pretrained_weights`); returns its LoadReport. ``source`` names the
    checkpoint in messages (default: the path).
    """
    rename = functools.partial(to_own_naming, model)
    if strict:
        if allow_partial:
            raise ValueError('allow_partial applies to a non-strict load; pass strict=False to load what fits')
        if not isinstance(checkpoint, dict):
            checkpoint = load_checkpoint(checkpoint)
        load_model_state(model, checkpoint, rename=rename)
        return None
    return load_pretrained_weights(model, checkpoint, allow_partial=allow_partial, source=source, rename=rename)
