"""The one place that knows how torchreid 1.x names the tensors of the models we share with it, and maps them onto
our names (for loading 1.x checkpoints) and back (for writing deployment files in 1.x naming).

Only two families are named differently; every other 1.x model-zoo key (OSNet, OSNet-IBN, OSNet-AIN, MLFN, HACNN)
uses 1.x's names here too, so its state_dict passes through unchanged.

    ResNet (resnet50, resnet101, resnet50_fc512, resnet50_ibn_a, resnet50_ibn_b)
        1.x: conv1, bn1, layer1..layer4 (torchvision's names)    ours: base.0, base.1, base.4..base.7
        (``fc.*`` of resnet50_fc512 and ``classifier.*`` are the same in both)
    MobileNetV2 (mobilenetv2, mobilenetv2_x1_0, mobilenetv2_x1_4)
        1.x: conv2..conv8, each a Sequential (conv2.0.conv1.conv.weight, conv3.1....)
        ours: block2..block8, the single-unit blocks 2 and 8 unwrapped (block2.conv1.conv.weight, block3.1....)
        (conv1, conv9 and classifier are the same in both)

    to_own_naming(arch, state_dict)   a state_dict in 1.x's or our naming -> ours (a new OrderedDict; ours unchanged)
    to_1x_naming(arch, state_dict)    ours -> 1.x's
    uses_1x_naming(arch, state_dict)  whether a state_dict is in 1.x's naming of a renamed family

``arch`` is a registry key or a model instance. Keys are expected without DataParallel's ``module.`` prefix
(:func:`torchreid.utils.checkpoint.extract_state_dict` strips it). Names outside the mapped prefixes are kept as
they are, so a strict load still reports anything that does not belong to the model.
"""
from collections import OrderedDict

from ..utils.checkpoint import CheckpointError
from .resnet import TORCHVISION_RESNET_NAMES

# (1.x prefix, our prefix), the first match wins; 1.x's ResNets keep torchvision's names
RESNET_1X_NAMES = tuple(TORCHVISION_RESNET_NAMES)
MOBILENETV2_1X_NAMES = (('conv2.0.', 'block2.'), ('conv3.', 'block3.'), ('conv4.', 'block4.'), ('conv5.', 'block5.'),
                        ('conv6.', 'block6.'), ('conv7.', 'block7.'), ('conv8.0.', 'block8.'))

RENAMED_FAMILIES = {
    'resnet': (('resnet50', 'resnet101', 'resnet50_fc512', 'resnet50_ibn_a', 'resnet50_ibn_b'), RESNET_1X_NAMES),
    'mobilenetv2': (('mobilenetv2', 'mobilenetv2_x1_0', 'mobilenetv2_x1_4'), MOBILENETV2_1X_NAMES),
}


def _family(arch):
    """The renamed family of ``arch`` (registry key or model), or None when 1.x's names are ours."""
    if isinstance(arch, str):
        for family, (keys, _) in RENAMED_FAMILIES.items():
            if arch in keys:
                return family
        return None
    # a model instance: the classes that use our own names
    from .mobilenetv2 import MobileNetV2
    from .resnet import ResNet
    if isinstance(arch, ResNet):
        return 'resnet'
    if isinstance(arch, MobileNetV2):
        return 'mobilenetv2'
    return None


def _starts_with_any(name, prefixes):
    return any(name.startswith(prefix) for prefix in prefixes)


def _rename(state_dict, pairs):
    """Rewrite each name's first matching ``(old_prefix, new_prefix)``; other names stay as they are."""
    renamed = OrderedDict()
    for name, tensor in state_dict.items():
        for old_prefix, new_prefix in pairs:
            if name.startswith(old_prefix):
                name = new_prefix + name[len(old_prefix):]
                break
        renamed[name] = tensor
    return renamed


def uses_1x_naming(arch, state_dict):
    """True if ``state_dict`` names a renamed family (see the module docstring) the 1.x way, False if ours or if
    ``arch`` is named alike in both. A state_dict that mixes both namings is a CheckpointError."""
    family = _family(arch)
    if family is None:
        return False
    pairs = RENAMED_FAMILIES[family][1]
    theirs = [name for name in state_dict if _starts_with_any(name, [old for old, _ in pairs])]
    ours = [name for name in state_dict if _starts_with_any(name, [new for _, new in pairs])]
    if theirs and ours:
        raise CheckpointError(
            "The state_dict mixes torchreid 1.x's names ({}, ...) with ours ({}, ...) for a {} model: it was not "
            "written by one model; re-save it from the model that was trained.".format(theirs[0], ours[0], family))
    return bool(theirs)


def to_own_naming(arch, state_dict):
    """``state_dict`` in our naming for ``arch`` (registry key or model): 1.x's names of the ResNet and MobileNetV2
    families are renamed, anything else is returned as a new OrderedDict with the same entries."""
    if not uses_1x_naming(arch, state_dict):
        return OrderedDict(state_dict)
    return _rename(state_dict, RENAMED_FAMILIES[_family(arch)][1])


def to_1x_naming(arch, state_dict):
    """``state_dict`` (our naming) in torchreid 1.x's naming for ``arch``; the inverse of :func:`to_own_naming`."""
    family = _family(arch)
    if family is None or uses_1x_naming(arch, state_dict):
        return OrderedDict(state_dict)
    return _rename(state_dict, [(new, old) for old, new in RENAMED_FAMILIES[family][1]])
