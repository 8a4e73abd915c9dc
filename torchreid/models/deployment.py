"""Weights-only deployment files for trackers (``tools/export.py --format pt``), and what BoxMOT can rebuild.

A deployment file is what a torchreid 1.x user or a tracker loads: the model's state_dict in torchreid 1.x's naming
(:mod:`torchreid.models.naming`; no optimizer or scheduler state), plus the metadata BoxMOT reads from the file,
whatever its name (BoxMOT 25 ``ReIDModelRegistry``: ``model_name`` picks the architecture, ``num_classes`` sizes
its classifier, ``img_size`` the crops it feeds; ``preprocess`` the crop resizing)::

    {'state_dict': OrderedDict (1.x names), 'model_name': 'resnet50', 'num_classes': 751, 'img_size': [256, 128],
     'feat_dim': 2048, 'mean': [0.485, 0.456, 0.406], 'std': [0.229, 0.224, 0.225], 'preprocess': 'resize',
     'model': {...}}

``model`` is our model record (:mod:`torchreid.models.model_record`), so this toolkit rebuilds exactly the model
from the file too (FeatureExtractor, --load-weights, the export tool). BoxMOT loads the file with
``torch.load(weights_only=False)`` and needs a ``.pt`` suffix; every value here also loads with
``weights_only=True``.

BoxMOT builds its own copy of a 1.x architecture and loads the weights into it, so only models whose eval network
is one of those copies can be deployed this way (:data:`BOXMOT_MODELS`). Other heads (BNNeck, GeM pooling,
ResNet-50 with last stride 1, other registry keys) raise :class:`BoxMOTIncompatible` pointing to ONNX, which BoxMOT
runs for any model. BoxMOT normalises crops with the ImageNet mean / std whatever the file says.

ONNX and TorchScript files carry no such metadata; BoxMOT reads it from a JSON file next to them
(``<file>.metadata.json``, :func:`save_boxmot_sidecar`): without it, it feeds TorchScript models 256x128 crops
whatever they were trained at (ONNX graphs declare their input size, which BoxMOT uses).
"""
import json

from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD
from ..utils.checkpoint import save_checkpoint
from ..utils.iotools import atomic_write
from .model_record import infer_num_classes, same_value
from .naming import to_1x_naming

# BoxMOT resizes crops to img_size (cv2 bilinear), as our test transform does
PREPROCESS = 'resize'

# BoxMOT's architecture options for its builders of the 1.x keys (BoxMOT 25: boxmot/reid/backbones)
_PLAIN_HEAD = {'pooling': 'avg', 'neck': 'none', 'neck_feat': None}
_RESNET = dict(_PLAIN_HEAD, last_stride=2)
# our key -> (BoxMOT's key, the options its copy is built with); an option not recorded has our constructor's
# default, which is 1.x's for these keys
BOXMOT_MODELS = {
    'resnet50': ('resnet50', _RESNET),
    'resnet101': ('resnet101', _RESNET),
    'resnet50_fc512': ('resnet50_fc512', dict(_PLAIN_HEAD, last_stride=1)),
    'mobilenetv2': ('mobilenetv2_x1_0', dict(_PLAIN_HEAD, width_mult=1.0)),  # the seed's: 1.x's x1.0 in eval
    'mobilenetv2_x1_0': ('mobilenetv2_x1_0', _PLAIN_HEAD),
    'mobilenetv2_x1_4': ('mobilenetv2_x1_4', _PLAIN_HEAD),
    'mlfn': ('mlfn', _PLAIN_HEAD),
    'hacnn': ('hacnn', {'nchannels': [128, 256, 384], 'feat_dim': 512, 'learn_region': True}),
}
for _key in ('osnet_x1_0', 'osnet_x0_75', 'osnet_x0_5', 'osnet_x0_25', 'osnet_ibn_x1_0', 'osnet_ain_x1_0',
             'osnet_ain_x0_75', 'osnet_ain_x0_5', 'osnet_ain_x0_25'):
    BOXMOT_MODELS[_key] = (_key, _PLAIN_HEAD)
# options that change training only, not the eval network
TRAINING_ONLY_OPTIONS = ('dropout_p',)

_HEAD_NAMES = {('neck', 'bnneck'): 'a BNNeck head', ('pooling', 'gem'): 'GeM pooling'}


class BoxMOTIncompatible(ValueError):
    """The model cannot be rebuilt by BoxMOT from a .pt file; the message names why and points to ONNX."""


def boxmot_model_name(record):
    """BoxMOT's key for the model ``record`` describes; :class:`BoxMOTIncompatible` when BoxMOT has no copy of
    that network (another registry key, or head / architecture options its copy does not have)."""
    name = record['name']
    if name not in BOXMOT_MODELS:
        raise BoxMOTIncompatible(
            "BoxMOT has no architecture for '{}' (it rebuilds the torchreid 1.x keys {}), so it cannot load a .pt "
            "of it; export it with --format onnx, which BoxMOT runs for any model".format(
                name, ', '.join(sorted(BOXMOT_MODELS))))
    boxmot_key, required = BOXMOT_MODELS[name]
    problems = []
    for option, value in sorted(record['options'].items()):
        if option in TRAINING_ONLY_OPTIONS:
            continue
        if option not in required:
            problems.append('{}={!r} (an option BoxMOT does not know)'.format(option, value))
        elif not same_value(value, required[option]):
            what = _HEAD_NAMES.get((option, value), '{}={!r}'.format(option, value))
            problems.append('{} (BoxMOT\'s {} has {}={!r})'.format(what, boxmot_key, option, required[option]))
    if problems:
        raise BoxMOTIncompatible(
            "BoxMOT cannot rebuild this {}: it has {}; a .pt would load there without those layers or give other "
            "features. Export it with --format onnx (BoxMOT runs it with the exact features) or --format "
            "torchscript".format(name, '; '.join(problems)))
    return boxmot_key


def boxmot_warnings(record):
    """Differences BoxMOT will introduce even with a matching architecture (one sentence each)."""
    notes = []
    if (list(record['norm_mean']), list(record['norm_std'])) != (list(IMAGENET_MEAN), list(IMAGENET_STD)):
        notes.append('the model was trained with mean {} and std {}, but BoxMOT normalises crops with ImageNet\'s '
                     '{} / {} in every format: its features will differ from ours'.format(
                         record['norm_mean'], record['norm_std'], list(IMAGENET_MEAN), list(IMAGENET_STD)))
    if record['name'] == 'hacnn':
        notes.append("BoxMOT's HACNN samples its spatial transformer with align_corners=False (torch's default) "
                     "where ours (and the weights of 1.x's model zoo) use align_corners=True: its features are "
                     "close to ours, not equal; --format onnx keeps ours exactly")
    return notes


def deployment_state(model, record):
    """The deployment file's content for ``model`` (weights loaded) built as ``record`` describes; raises
    :class:`BoxMOTIncompatible` for a model BoxMOT cannot rebuild (see :func:`boxmot_model_name`)."""
    model_name = boxmot_model_name(record)
    own_state = model.state_dict()
    num_classes = infer_num_classes(record['name'], own_state, **record['options'])
    state_dict = to_1x_naming(model, {key: value.detach().cpu().clone() for key, value in own_state.items()})
    return {
        'state_dict': state_dict,
        'model_name': model_name,
        'num_classes': num_classes,
        'img_size': [int(size) for size in record['input_size']],
        'feat_dim': int(model.feat_dim),
        'mean': [float(value) for value in record['norm_mean']],
        'std': [float(value) for value in record['norm_std']],
        'preprocess': PREPROCESS,
        'model': dict(record, num_classes=num_classes),
    }


def save_deployment_file(model, record, fpath):
    """Write :func:`deployment_state` to ``fpath`` (atomically); returns the state written."""
    state = deployment_state(model, record)
    save_checkpoint(state, fpath=fpath)
    return state


SIDECAR_SUFFIX = '.metadata.json'
SIDECAR_SCHEMA_VERSION = 1  # BoxMOT 25's artifact and model_kwargs schema versions


def save_boxmot_sidecar(record, fpath):
    """Write the metadata BoxMOT reads for an ONNX / TorchScript file ``fpath`` to ``fpath + '.metadata.json'``:
    model_name (BoxMOT's key, else ours), num_classes, img_size and preprocess. Returns the JSON file's path."""
    try:
        model_name = boxmot_model_name(record)
    except BoxMOTIncompatible:
        model_name = record['name']  # BoxMOT runs the graph itself; the name is informative only
    size = [int(value) for value in record['input_size']]
    metadata = {
        'schema_version': SIDECAR_SCHEMA_VERSION,
        'model_name': model_name,
        'num_classes': record['num_classes'],
        'img_size': size,
        'preprocess': PREPROCESS,
        'model_kwargs_schema_version': SIDECAR_SCHEMA_VERSION,
        'model_kwargs': {'img_size': size},
    }
    sidecar = fpath + SIDECAR_SUFFIX
    atomic_write(sidecar, lambda f: json.dump(metadata, f, indent=2, sort_keys=True))
    return sidecar
