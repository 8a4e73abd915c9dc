"""ImageNet weights for the backbones: where each file comes from, how it is cached and checked, and how its tensor
names map onto ours.

Registry
    ``IMAGENET_WEIGHTS``: model key -> :class:`WeightSource` (URL + who publishes it). These are the files the seed
    loaded: torchvision's ResNet-50/101 and DenseNet-121, Cadene's ``pretrainedmodels`` SE-ResNet(X)t, ResNeXt101,
    InceptionV4, InceptionResNetV2 and NASNet-A Mobile. torchvision's ResNet files are the 2021 re-serialisations
    (``resnet50-0676ba61``, ``resnet101-63fe2227``) of the seed's ``resnet50-19c8e357`` / ``resnet101-5d3b4d8f``:
    the same weights, but the old files use torch's legacy tar format, which ``torch.load(weights_only=True)``
    refuses.
    The torchreid 1.x keys ``resnet50_fc512``, ``resnet50_ibn_a`` and ``resnet50_ibn_b`` start, as in 1.x, from
    torchvision's ResNet-50 file (the IBN models take every tensor whose layer they kept: see
    :mod:`torchreid.models.resnet_ibn`).
    ``MODELS_WITHOUT_IMAGENET_WEIGHTS``: ``pretrained=True`` downloads nothing for them. The seed trained most of them
    from scratch; the others are in ``MANUAL_IMAGENET_WEIGHTS``.
    ``MANUAL_IMAGENET_WEIGHTS``: model key -> :class:`WeightSource` for ImageNet files that exist but cannot be
    downloaded here (no stable download link and no published hash): the OSNet family (the authors' Google Drive,
    which torchreid 1.x fetched with ``gdown`` into ``<torch home>/checkpoints/<key>_imagenet.pth``), and MLFN and
    MobileNetV2 x1.0 / x1.4 (mega.nz, which torchreid 1.x did not download either). ``pretrained=True`` warns with
    the URL (:func:`warn_manual_imagenet_weights`) and builds a randomly initialised model; get the file by hand and
    load it with ``torchreid.utils.checkpoint.load_pretrained_weights(model, path)`` (these models use the upstream
    key names).

API (what a model module calls)
    ``load_imagenet_weights(model, key, name_map, strict=True) -> LoadReport``: fetch the file for ``key``
    (download once into ``torch.hub.get_dir()/checkpoints``, verify its SHA-256 prefix), rename every tensor with
    ``name_map`` and copy it into ``model``. ``name_map(source_name)`` returns our name, or ``None`` to drop the
    tensor (the 1000-class ``fc`` / ``last_linear`` / ``classifier``). With ``strict=True`` a mapped name that our
    model lacks, or a shape that differs, is an error (the mapping or the file is wrong); with ``strict=False`` such
    tensors are skipped and reported. Model entries the file does not cover (our classifier, fusion layers, neck)
    keep their initialisation and are listed in the report.
    ``rename_prefixes(pairs, drop=())``: the usual ``name_map``: the first matching ``(source_prefix, our_prefix)``
    pair rewrites the name; names starting with a prefix in ``drop`` (or matching no pair) are dropped.
    ``imagenet_state_dict(key)``: the source state_dict itself; ``cached_weights_path(key)``: where its file lives
    (or where to put it by hand on a machine with no network).

Errors are :class:`PretrainedWeightsError` (a RuntimeError) and name the URL, the cache path and
``pretrained=False`` as the way out.
"""
import hashlib
import http.client
import os
import re
import warnings
from collections import OrderedDict, namedtuple
from urllib.parse import urlparse

import torch

from ..utils.checkpoint import LoadReport

WeightSource = namedtuple('WeightSource', ['url', 'origin'])

_TORCHVISION = 'https://download.pytorch.org/models/'
_CADENE = 'http://data.lip6.fr/cadene/pretrainedmodels/'

IMAGENET_WEIGHTS = {
    'resnet50': WeightSource(_TORCHVISION + 'resnet50-0676ba61.pth', 'torchvision'),
    'resnet101': WeightSource(_TORCHVISION + 'resnet101-63fe2227.pth', 'torchvision'),
    'resnet50m': WeightSource(_TORCHVISION + 'resnet50-0676ba61.pth', 'torchvision'),
    'densenet121': WeightSource(_TORCHVISION + 'densenet121-a639ec97.pth', 'torchvision'),
    'seresnet50': WeightSource(_CADENE + 'se_resnet50-ce0d4300.pth', 'Cadene pretrainedmodels'),
    'seresnet101': WeightSource(_CADENE + 'se_resnet101-7e38fcc6.pth', 'Cadene pretrainedmodels'),
    'seresnext50': WeightSource(_CADENE + 'se_resnext50_32x4d-a260b3a4.pth', 'Cadene pretrainedmodels'),
    'seresnext101': WeightSource(_CADENE + 'se_resnext101_32x4d-3b2fe3d8.pth', 'Cadene pretrainedmodels'),
    'resnext101': WeightSource(_CADENE + 'resnext101_32x4d-29e315fa.pth', 'Cadene pretrainedmodels'),
    'inceptionv4': WeightSource(_CADENE + 'inceptionv4-8e4777a0.pth', 'Cadene pretrainedmodels'),
    'inceptionresnetv2': WeightSource(_CADENE + 'inceptionresnetv2-520b38e4.pth', 'Cadene pretrainedmodels'),
    'nasnsetmobile': WeightSource(_CADENE + 'nasnetamobile-7e03cead.pth', 'Cadene pretrainedmodels'),
    'nasnetmobile': WeightSource(_CADENE + 'nasnetamobile-7e03cead.pth', 'Cadene pretrainedmodels'),
    # torchreid 1.x keys
    'resnet50_fc512': WeightSource(_TORCHVISION + 'resnet50-0676ba61.pth', 'torchvision'),
    'resnet50_ibn_a': WeightSource(_TORCHVISION + 'resnet50-0676ba61.pth', 'torchvision'),
    'resnet50_ibn_b': WeightSource(_TORCHVISION + 'resnet50-0676ba61.pth', 'torchvision'),
}

_DRIVE = 'https://drive.google.com/uc?id='
_OSNET_AUTHORS = "the OSNet authors' Google Drive"

# Published without a downloadable URL or hash (torchreid 1.x's model files, upstream 1.4.0); not downloaded here.
MANUAL_IMAGENET_WEIGHTS = {
    'osnet_x1_0': WeightSource(_DRIVE + '1LaG1EJpHrxdAxKnSCJ_i0u-nbxSAeiFY', _OSNET_AUTHORS),
    'osnet_x0_75': WeightSource(_DRIVE + '1uwA9fElHOk3ZogwbeY5GkLI6QPTX70Hq', _OSNET_AUTHORS),
    'osnet_x0_5': WeightSource(_DRIVE + '16DGLbZukvVYgINws8u8deSaOqjybZ83i', _OSNET_AUTHORS),
    'osnet_x0_25': WeightSource(_DRIVE + '1rb8UN5ZzPKRc_xvtHlyDh-cSz88YX9hs', _OSNET_AUTHORS),
    'osnet_ibn_x1_0': WeightSource(_DRIVE + '1sr90V6irlYYDd4_4ISU2iruoRG8J__6l', _OSNET_AUTHORS),
    'osnet_ain_x1_0': WeightSource(_DRIVE + '1-CaioD9NaqbHK_kzSMW8VE4_3KcsRjEo', _OSNET_AUTHORS),
    'osnet_ain_x0_75': WeightSource(_DRIVE + '1apy0hpsMypqstfencdH-jKIUEFOW4xoM', _OSNET_AUTHORS),
    'osnet_ain_x0_5': WeightSource(_DRIVE + '1KusKvEYyKGDTUBVRxRiz55G31wkihB6l', _OSNET_AUTHORS),
    'osnet_ain_x0_25': WeightSource(_DRIVE + '1SxQt2AvmEcgWNhaRb2xC4rP6ZwVDP0Wt', _OSNET_AUTHORS),
    'mlfn': WeightSource('https://mega.nz/#!YHxAhaxC!yu9E6zWl0x5zscSouTdbZu8gdFFytDdl-RAdD2DEfpk',
                         'mega.nz'),
    'mobilenetv2_x1_0': WeightSource('https://mega.nz/#!NKp2wAIA!1NH1pbNzY_M2hVk_hdsxNM1NUOWvvGPHhaNr-fASF6c',
                                     'mega.nz'),
    'mobilenetv2_x1_4': WeightSource('https://mega.nz/#!RGhgEIwS!xN2s2ZdyqI6vQ3EwgmRXLEW3khr9tpXg96G9SUJugGk',
                                     'mega.nz'),
}

# Trained from scratch in the seed, or published without a downloadable URL (MANUAL_IMAGENET_WEIGHTS).
MODELS_WITHOUT_IMAGENET_WEIGHTS = (
    'squeezenet', 'mobilenetv2', 'shufflenet', 'xception', 'mudeep', 'hacnn',
) + tuple(MANUAL_IMAGENET_WEIGHTS)

# torch.hub's convention: '<name>-<first hex digits of the file's SHA-256>.<ext>'
_HASH_IN_NAME = re.compile(r'-([a-f0-9]{8,})\.')


class PretrainedWeightsError(RuntimeError):
    """ImageNet weights could not be downloaded, verified, read or mapped onto the model."""


def weight_source(key):
    """The :class:`WeightSource` of ``key``; a KeyError names the keys that have ImageNet weights."""
    if key not in IMAGENET_WEIGHTS:
        raise KeyError("no ImageNet weights are registered for '{}' (registered: {}); build it with "
                       "pretrained=False".format(key, sorted(IMAGENET_WEIGHTS)))
    return IMAGENET_WEIGHTS[key]


def warn_manual_imagenet_weights(key, stacklevel=4):
    """The ``pretrained=True`` warning of a model in ``MANUAL_IMAGENET_WEIGHTS``: where the ImageNet file is
    published and how to load it by hand. Nothing is downloaded; the model stays randomly initialised.
    ``stacklevel`` 4: the caller of the model's constructor function when called from the model's ``__init__``."""
    source = MANUAL_IMAGENET_WEIGHTS.get(key)
    if source is None:
        where = "their authors' Google Drive only, with no stable download link or hash"
    elif 'drive.google.com' in source.url:
        where = ("{} only ({}), with no stable download link or hash; torchreid 1.x fetched it with gdown into "
                 "'<torch home>/checkpoints/{}_imagenet.pth'".format(source.origin, source.url, key))
    else:
        where = ('{} only ({}), with no stable download link or hash; torchreid 1.x did not download it '
                 'either'.format(source.origin, source.url))
    warnings.warn("{}: ImageNet weights are not downloaded automatically: they are published on {}. This model is "
                  "randomly initialised. Download the file by hand and load it with "
                  "torchreid.utils.checkpoint.load_pretrained_weights(model, path), or pass pretrained=False to "
                  "silence this warning.".format(key or 'OSNet', where), stacklevel=stacklevel)


def cached_weights_path(key):
    """Where the file of ``key`` is cached: ``torch.hub.get_dir()/checkpoints/<file name of the URL>``."""
    file_name = os.path.basename(urlparse(weight_source(key).url).path)
    return os.path.join(torch.hub.get_dir(), 'checkpoints', file_name)


def sha256_of_file(path, chunk_size=1 << 20):
    """Hex SHA-256 digest of the file at ``path``."""
    digest = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(chunk_size), b''):
            digest.update(chunk)
    return digest.hexdigest()


def _expected_hash_prefix(path):
    match = _HASH_IN_NAME.search(os.path.basename(path))
    return match.group(1) if match else None


def _check_hash(path, url):
    """Raise PretrainedWeightsError when the SHA-256 of ``path`` does not start with the prefix in its name."""
    expected = _expected_hash_prefix(path)
    if expected is None:
        return
    actual = sha256_of_file(path)
    if not actual.startswith(expected):
        raise PretrainedWeightsError(
            "'{}' is corrupt or incomplete: its SHA-256 is {} but its name says it starts with {}. Delete it so that "
            "it is downloaded again from {}, or build the model with pretrained=False.".format(
                path, actual, expected, url))


def _download(url, path):
    """Download ``url`` to ``path`` through a temporary file, verifying the hash before the file takes its name."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    unverified = path + '.unverified'
    print('Downloading ImageNet weights: "{}" to {}'.format(url, path))
    try:
        torch.hub.download_url_to_file(url, unverified, hash_prefix=None, progress=True)
    except (OSError, http.client.HTTPException) as error:
        raise PretrainedWeightsError(
            "Could not download ImageNet weights from {} ({}: {}). Either download that file on a machine with "
            "network access and put it at '{}', or build the model with pretrained=False.".format(
                url, type(error).__name__, error, path)) from error
    try:
        _check_hash(unverified, url)
    except PretrainedWeightsError:
        os.remove(unverified)
        raise
    os.replace(unverified, path)


def imagenet_state_dict(key):
    """The ImageNet state_dict of ``key`` in its publisher's naming (downloaded on first use, hash-checked)."""
    source = weight_source(key)
    path = cached_weights_path(key)
    if not os.path.exists(path):
        _download(source.url, path)
    _check_hash(path, source.url)
    try:
        state_dict = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:
        raise PretrainedWeightsError(
            "Could not read the ImageNet weights at '{}' ({}: {}). Delete the file so that it is downloaded again "
            "from {}, or build the model with pretrained=False.".format(path, type(error).__name__, error,
                                                                        source.url)) from error
    if not isinstance(state_dict, dict):
        raise PretrainedWeightsError("'{}' holds a {}, not a state_dict; delete it (it will be downloaded again "
                                     "from {}).".format(path, type(state_dict).__name__, source.url))
    return state_dict


def rename_prefixes(pairs, drop=()):
    """A ``name_map`` from ``(source_prefix, our_prefix)`` pairs; the first match wins.

    Names starting with a prefix in ``drop``, or matching no pair, map to ``None`` (dropped). Example: torchvision's
    ResNet onto ours is ``rename_prefixes([('conv1.', 'base.0.'), ('bn1.', 'base.1.'), ('layer1.', 'base.4.'),
    ...], drop=('fc.',))``.
    """
    pairs = list(pairs)
    drop = tuple(drop)

    def name_map(name):
        if drop and name.startswith(drop):
            return None
        for source_prefix, our_prefix in pairs:
            if name.startswith(source_prefix):
                return our_prefix + name[len(source_prefix):]
        return None

    return name_map


def _is_counter(name):
    return name.endswith('num_batches_tracked')


def load_imagenet_weights(model, key, name_map, strict=True):
    """Copy the ImageNet weights of ``key`` into ``model``; returns (and prints) a :class:`LoadReport`.

    See the module docstring for ``name_map`` and ``strict``. BatchNorm ``num_batches_tracked`` counters are loaded
    when the file has them and otherwise keep their value; they are left out of the report.
    """
    path = cached_weights_path(key)
    source_state = imagenet_state_dict(key)
    own_state = model.state_dict()
    mapped = OrderedDict()
    skipped = []
    for source_name, tensor in source_state.items():
        name = name_map(source_name)
        if name is None:
            continue
        if name not in own_state:
            skipped.append((source_name, "maps to '{}', which is not in the model".format(name)))
        elif own_state[name].shape != tensor.shape:
            skipped.append((source_name, 'shape {} in file vs {} in model as {}'.format(
                list(tensor.shape), list(own_state[name].shape), name)))
        else:
            mapped[name] = tensor
    if strict and skipped:
        raise PretrainedWeightsError(
            "The ImageNet weights in '{}' do not fit {} ('{}'): {}. The file may be the wrong one (delete it to "
            "download it again) or the model was built with options that change these layers; use "
            "pretrained=False.".format(path, type(model).__name__, key,
                                       '; '.join('{} ({})'.format(n, r) for n, r in skipped[:10])))
    if not any(not _is_counter(name) for name in mapped):
        raise PretrainedWeightsError("None of the tensors in '{}' map onto {} ('{}'): check the name map.".format(
            path, type(model).__name__, key))
    model.load_state_dict(mapped, strict=False)
    for name in own_state:
        if name not in mapped and not _is_counter(name):
            skipped.append((name, 'not in the ImageNet file (kept its initialisation)'))
    report = LoadReport(source=path,
                        loaded=[name for name in mapped if not _is_counter(name)],
                        skipped=skipped,
                        num_model_entries=sum(1 for name in own_state if not _is_counter(name)))
    print('ImageNet weights for {}: {}'.format(key, report.summary()))
    return report
