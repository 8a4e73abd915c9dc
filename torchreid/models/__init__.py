"""Model registry: every architecture by its key, or register your own.

    >>> from torchreid.models import init_model
    >>> model = init_model('resnet50', num_classes=751, loss={'xent', 'htri'}, pretrained=False)

Every model takes ``num_classes``, ``loss`` (``{'xent'}`` or ``{'xent', 'htri'}``, or torchreid 1.x's names
``'softmax'`` and ``'triplet'``) and ``pretrained``. In train mode it returns logits (``{'xent'}``) or
``(logits, features)`` (``{'xent', 'htri'}``); in eval mode the feature used for retrieval. Built-in modules are
imported on first use. torchreid 1.x's ``build_model(name, num_classes, loss='softmax')`` and
``show_avai_models()`` work as there.
"""
import importlib
from collections import OrderedDict

# key -> callable, or 'module:attribute' inside this package (imported lazily). The first 18 keys are the seed's,
# in the seed's order (including its misspelt 'nasnsetmobile').
_models = OrderedDict([
    ('resnet50', 'resnet:ResNet50'),
    ('resnet101', 'resnet:ResNet101'),
    ('seresnet50', 'senet:SEResNet50'),
    ('seresnet101', 'senet:SEResNet101'),
    ('seresnext50', 'senet:SEResNeXt50'),
    ('seresnext101', 'senet:SEResNeXt101'),
    ('resnext101', 'resnext:ResNeXt101_32x4d'),
    ('resnet50m', 'resnet50m:ResNet50M'),
    ('densenet121', 'densenet:DenseNet121'),
    ('squeezenet', 'squeezenet:SqueezeNet'),
    ('mobilenetv2', 'mobilenetv2:MobileNetV2'),
    ('shufflenet', 'shufflenet:ShuffleNet'),
    ('xception', 'xception:Xception'),
    ('inceptionv4', 'inceptionv4:InceptionV4ReID'),
    ('nasnsetmobile', 'nasnet:NASNetAMobile'),
    ('inceptionresnetv2', 'inceptionresnetv2:InceptionResNetV2'),
    ('mudeep', 'mudeep:MuDeep'),
    ('hacnn', 'hacnn:HACNN'),
    # beyond the seed
    ('nasnetmobile', 'nasnet:NASNetAMobile'),
    ('osnet_x1_0', 'osnet:osnet_x1_0'),
    ('osnet_x0_75', 'osnet:osnet_x0_75'),
    ('osnet_x0_5', 'osnet:osnet_x0_5'),
    ('osnet_x0_25', 'osnet:osnet_x0_25'),
    # torchreid 1.x model-zoo keys (their checkpoints load through torchreid.models.naming)
    ('osnet_ibn_x1_0', 'osnet:osnet_ibn_x1_0'),
    ('osnet_ain_x1_0', 'osnet_ain:osnet_ain_x1_0'),
    ('osnet_ain_x0_75', 'osnet_ain:osnet_ain_x0_75'),
    ('osnet_ain_x0_5', 'osnet_ain:osnet_ain_x0_5'),
    ('osnet_ain_x0_25', 'osnet_ain:osnet_ain_x0_25'),
    ('resnet50_fc512', 'resnet:ResNet50FC512'),
    ('resnet50_ibn_a', 'resnet_ibn:resnet50_ibn_a'),
    ('resnet50_ibn_b', 'resnet_ibn:resnet50_ibn_b'),
    ('mlfn', 'mlfn:mlfn'),
    ('mobilenetv2_x1_0', 'mobilenetv2:mobilenetv2_x1_0'),
    ('mobilenetv2_x1_4', 'mobilenetv2:mobilenetv2_x1_4'),
])

SEED_MODEL_KEYS = list(_models)[:18]


def _resolve(entry):
    if isinstance(entry, str):
        module_name, attribute = entry.split(':')
        module = importlib.import_module('.' + module_name, __name__)
        return getattr(module, attribute)
    return entry


def get_names():
    """All model keys: the seed's 18 first (in its order), then the additions."""
    return list(_models)


def init_model(name, *args, **kwargs):
    """Build the model registered as ``name``; arguments go to its constructor."""
    if name not in _models:
        raise KeyError('Unknown model: {}. Valid keys: {}'.format(name, get_names()))
    return _resolve(_models[name])(*args, **kwargs)


def register_model(name, constructor):
    """Make ``constructor(num_classes, loss, pretrained, **kwargs)`` available as ``-a name``."""
    if name in _models:
        raise ValueError("a model named '{}' is already registered".format(name))
    _models[name] = constructor


def build_model(name, num_classes, loss='softmax', pretrained=True, use_gpu=True):
    """torchreid 1.x's builder: the model registered as ``name`` (KeyError for an unknown one).

    loss: 'softmax' (train mode returns logits) or 'triplet' (``(logits, features)``); the sets of
    :func:`init_model` work too. ``use_gpu`` is accepted for 1.x scripts and changes nothing: every model here,
    HACNN included (1.x moved it to CUDA itself), is built on the CPU and runs on any device; move it with
    ``model.to(device)`` (or ``model.cuda()``, as 1.x's user guide does).
    """
    from .blocks import check_loss
    return init_model(name, num_classes=num_classes, loss=set(check_loss(loss)), pretrained=pretrained)


def show_avai_models():
    """Print the model keys (torchreid 1.x's name for :func:`get_names`)."""
    print(get_names())


def __getattr__(name):
    """torchreid 1.x's model constructors as attributes: ``torchreid.models.osnet_x1_0(num_classes=751,
    loss='softmax', pretrained=False)`` builds the model registered under that key. (A key that is also the name of
    a module of this package, e.g. ``hacnn``, gives the module once that is imported, as in 1.x's package.)"""
    if name in _models:
        return _resolve(_models[name])
    raise AttributeError("module '{}' has no attribute '{}'".format(__name__, name))
