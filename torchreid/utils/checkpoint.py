"""The one place that writes and reads checkpoints.

File format (the seed's, so its model-zoo files load): a dict ``{'state_dict': OrderedDict, 'rank1': float,
'epoch': int}`` written with ``torch.save``; ``'epoch'`` is 0-based while the file name ``checkpoint_ep<N>`` is
1-based. Callers may add entries (optimizer and scheduler state) as long as they hold only tensors, numbers,
strings, None, and lists / tuples / dicts / sets of those, so that ``torch.load(weights_only=True)`` reads the file
back. Numpy scalars (the seed stored ``rank1`` as ``numpy.float32``) are saved as Python numbers and still read from
old files.

    save_checkpoint(state, is_best=False, fpath)    atomic write; copies to best_model.pth.tar when is_best
    load_checkpoint(fpath, map_location='cpu')      the dict; FileNotFoundError / CheckpointError otherwise
    extract_state_dict(checkpoint)                  the model's state_dict in today's naming
    load_model_state(model, state_dict, rename=None)
                                                    strict load (--resume); the error lists every difference
    load_pretrained_weights(model, fpath, allow_partial=False, source=None, rename=None)
                                                    load of the matching layers (--load-weights): anything but the
                                                    classifier left unloaded is an error unless allow_partial
    is_classifier_key(key)                          identity-classifier keys (their shape follows the class count)

A checkpoint written by the engine also holds ``'model'``: the record that rebuilds its model (see
:mod:`torchreid.models.model_record`).

``rename`` (a function state_dict -> state_dict, applied after :func:`extract_state_dict`) lets the caller map
another naming of the same layers onto the model's. This module knows no model; the models' loader
:func:`torchreid.models.loading.load_weights` passes torchreid 1.x's names (:mod:`torchreid.models.naming`) this
way, and is what the scripts, tools and FeatureExtractor use.
"""
import contextlib
import os
import re
import shutil
from collections import OrderedDict

import numpy as np
import torch

from .iotools import atomic_write

BEST_MODEL_NAME = 'best_model.pth.tar'

# Numpy scalars in old checkpoints unpickle through these globals; allow exactly them under weights_only=True.
try:
    from numpy._core.multiarray import scalar as _numpy_scalar  # numpy >= 2
except ImportError:
    from numpy.core.multiarray import scalar as _numpy_scalar
_NUMPY_SAFE_GLOBALS = [
    (_numpy_scalar, 'numpy.core.multiarray.scalar'),
    (_numpy_scalar, 'numpy._core.multiarray.scalar'),
    (np.dtype, 'numpy.dtype'),
] + [getattr(getattr(np, 'dtypes', None), name) for name in (
    'BoolDType', 'Int8DType', 'Int16DType', 'Int32DType', 'Int64DType', 'UInt8DType', 'UInt16DType', 'UInt32DType',
    'UInt64DType', 'Float16DType', 'Float32DType', 'Float64DType') if hasattr(getattr(np, 'dtypes', None), name)]

# torchvision < 0.3 named a dense layer's children 'norm.1', 'relu.1', 'conv.1', 'norm.2', ... ; today 'norm1', ...
_OLD_DENSENET_NAME = re.compile(r'(denselayer\d+\.)(norm|relu|conv)\.([12])\.')

_PREFIX = 'module.'
_MAX_LISTED = 10


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be read, or its state_dict does not fit the model. The message says which and why."""


class LoadReport(object):
    """What a partial load did: ``loaded`` keys, and ``skipped`` as ``(key, reason)`` pairs.

    ``num_model_entries`` is the size of the model's state_dict (BatchNorm ``num_batches_tracked`` counters are left
    out of all counts and lists).
    """

    def __init__(self, source, loaded, skipped, num_model_entries):
        self.source = source
        self.loaded = list(loaded)
        self.skipped = list(skipped)
        self.num_model_entries = num_model_entries

    def summary(self):
        """One line: "Loaded N/M layers from '<path>'; skipped: key (reason), ...". """
        text = "Loaded {}/{} layers from '{}'".format(len(self.loaded), self.num_model_entries, self.source)
        if self.skipped:
            listed = ', '.join('{} ({})'.format(key, reason) for key, reason in self.skipped[:_MAX_LISTED])
            if len(self.skipped) > _MAX_LISTED:
                listed += ', ... ({} more)'.format(len(self.skipped) - _MAX_LISTED)
            text += '; skipped: ' + listed
        return text

    def __repr__(self):
        return 'LoadReport({})'.format(self.summary())


def _to_saveable(obj, where):
    """``obj`` with numpy scalars turned into Python numbers; TypeError (naming the entry) for what
    ``torch.load(weights_only=True)`` could not read back."""
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, (bool, int, float, complex, str, bytes, torch.Tensor, torch.Size,
                                       torch.device, torch.dtype)):
        return obj
    if isinstance(obj, dict):
        items = [(key, _to_saveable(value, '{}[{!r}]'.format(where, key))) for key, value in obj.items()]
        if type(obj) is dict:
            return dict(items)
        converted = type(obj)()  # OrderedDict, Counter: keep the type (both load under weights_only=True)
        converted.update(dict(items))
        return converted
    if type(obj) in (list, tuple, set):
        return type(obj)(_to_saveable(value, '{}[{}]'.format(where, i)) for i, value in enumerate(obj))
    raise TypeError('checkpoint entry {} is a {}, which torch.load(weights_only=True) cannot read back; store '
                    'tensors, numbers, strings, lists and dicts only (e.g. vars(args) instead of args)'.format(
                        where, type(obj).__name__))


def save_checkpoint(state, is_best=False, fpath='checkpoint.pth.tar'):
    """Write ``state`` to ``fpath`` atomically; with ``is_best`` also copy it (atomically) to
    ``best_model.pth.tar`` in the same folder. Returns ``fpath``.

    An interrupted run leaves either the previous file or the complete new one, never a truncated file.
    """
    state = _to_saveable(state, 'state')
    atomic_write(fpath, lambda f: torch.save(state, f), mode='wb')
    if is_best:
        best_path = os.path.join(os.path.dirname(fpath), BEST_MODEL_NAME)

        def copy(f_out):
            with open(fpath, 'rb') as f_in:
                shutil.copyfileobj(f_in, f_out)

        atomic_write(best_path, copy, mode='wb')
    return fpath


def _allow_numpy_scalars():
    """Context in which weights_only loading also accepts numpy scalars (torch >= 2.5; a no-op before)."""
    safe_globals = getattr(torch.serialization, 'safe_globals', None)
    return safe_globals(_NUMPY_SAFE_GLOBALS) if safe_globals is not None else contextlib.nullcontext()


def load_checkpoint(fpath, map_location='cpu'):
    """Read a checkpoint with ``torch.load(weights_only=True)`` (no code runs from the file).

    Raises FileNotFoundError when ``fpath`` does not exist and :class:`CheckpointError` (naming the file) when it
    is corrupt, truncated, not a torch file, or holds objects other than tensors, numbers, strings and containers.
    """
    if not os.path.isfile(fpath):
        raise FileNotFoundError("No checkpoint file at '{}'. Check the path (e.g. the --resume, --load-weights or "
                                "--save-dir argument).".format(fpath))
    try:
        with _allow_numpy_scalars():
            checkpoint = torch.load(fpath, map_location=map_location, weights_only=True)
    except Exception as error:
        raise CheckpointError(
            "Could not read checkpoint '{}': {}: {}\nThe file is corrupt or truncated, is not a PyTorch checkpoint, "
            "or stores Python objects beyond tensors, numbers, strings and containers (only such files are loaded, "
            "so that no code from the file runs). If you trust it, convert it once with torch.load(path, "
            "weights_only=False) and save its state_dict.".format(fpath, type(error).__name__, error)) from error
    if not isinstance(checkpoint, dict):
        raise CheckpointError("'{}' holds a {}, not a checkpoint dict or a state_dict.".format(
            fpath, type(checkpoint).__name__))
    return checkpoint


def rename_old_densenet_key(key):
    """torchvision 0.2's DenseNet name -> today's: ``...denselayer1.norm.1.weight`` -> ``...denselayer1.norm1.weight``
    (other keys are returned unchanged)."""
    return _OLD_DENSENET_NAME.sub(r'\1\2\3.', key)


def extract_state_dict(checkpoint):
    """The model state_dict inside ``checkpoint``, in today's naming.

    Accepts the seed's ``{'state_dict': ..., 'rank1': ..., 'epoch': ...}`` and bare state_dicts; removes the
    ``module.`` prefix that DataParallel / DistributedDataParallel put on every key, and renames torchvision 0.2's
    DenseNet keys (``denselayer1.norm.1.weight`` -> ``denselayer1.norm1.weight``).
    """
    if not isinstance(checkpoint, dict):
        raise CheckpointError('expected a checkpoint dict or a state_dict, got a {}'.format(type(checkpoint).__name__))
    state_dict = checkpoint.get('state_dict', checkpoint)
    if not isinstance(state_dict, dict) or not state_dict or not all(
            isinstance(value, torch.Tensor) for value in state_dict.values()):
        raise CheckpointError("no state_dict found: expected a mapping of names to tensors, or a dict with such a "
                              "mapping under 'state_dict' (got keys {})".format(list(checkpoint)[:_MAX_LISTED]))
    keys = list(state_dict)
    while all(key.startswith(_PREFIX) for key in keys):
        keys = [key[len(_PREFIX):] for key in keys]
    keys = [rename_old_densenet_key(key) for key in keys]
    return OrderedDict(zip(keys, state_dict.values()))


def _is_counter(key):
    return key.endswith('num_batches_tracked')


def is_classifier_key(key):
    """True for the keys of identity classifiers ('classifier.weight', HACNN's 'classifier_global.bias', ...): their
    shape follows the number of training identities and they take no part in the eval feature, so a checkpoint of
    another dataset may leave them unloaded."""
    return any(part.startswith('classifier') for part in key.split('.'))


def _compare(own_state, state_dict):
    """(missing, unexpected, mismatched) between a model's state and a state_dict; BN counters missing from
    old files are not reported (they start at 0)."""
    missing = [key for key in own_state if key not in state_dict and not _is_counter(key)]
    unexpected = [key for key in state_dict if key not in own_state]
    mismatched = [(key, list(state_dict[key].shape), list(own_state[key].shape))
                  for key in state_dict if key in own_state and state_dict[key].shape != own_state[key].shape]
    return missing, unexpected, mismatched


def _listing(items):
    shown = ', '.join(str(item) for item in items[:_MAX_LISTED])
    if len(items) > _MAX_LISTED:
        shown += ', ... ({} more)'.format(len(items) - _MAX_LISTED)
    return shown


def group_keys(keys):
    """'layer4 (30 keys), fc (2 keys)': ``keys`` counted by top-level module, in order of first appearance. A
    top-level Sequential that holds most of the keys is split by its index ('base.4 (50 keys), base.5 (65 keys)')."""
    top = [key.split('.', 1)[0] for key in keys]
    groups = []
    for key, first in zip(keys, top):
        parts = key.split('.')
        if len(parts) > 2 and parts[1].isdigit() and top.count(first) > len(keys) / 2:
            first = '.'.join(parts[:2])
        groups.append(first)
    counts = OrderedDict()
    for group in groups:
        counts[group] = counts.get(group, 0) + 1
    shown = ['{} ({} key{})'.format(group, count, '' if count == 1 else 's') for group, count in counts.items()]
    if len(shown) > _MAX_LISTED:
        shown = shown[:_MAX_LISTED] + ['... ({} more groups)'.format(len(shown) - _MAX_LISTED)]
    return ', '.join(shown)


def _common_prefix(keys):
    """The first name component shared by all ``keys`` ('module' for ['module.a', 'module.b']), or None."""
    first = {key.split('.', 1)[0] for key in keys if '.' in key}
    if len(first) == 1 and all('.' in key for key in keys):
        return first.pop()
    return None


def likely_cause(own_state, state_dict, missing, unexpected, mismatched, recorded_model=None):
    """One sentence naming the most likely reason why ``state_dict`` does not fit a model whose state is
    ``own_state``, given the differences :func:`_compare` found (classifier keys are not looked at).

    Checked in order: a name prefix on every key of one side (a wrapper module, a stray DataParallel ``module.``),
    another layer naming (the unmatched layers have the same shapes in the same order under other names, e.g.
    torchreid 1.x's ResNet-50), other head options (only BNNeck / GeM layers differ), another architecture (few
    layers match), else a modified model. ``recorded_model`` (the model record of the file, if any) is named.
    """
    missing = [key for key in missing if not is_classifier_key(key)]
    unexpected = [key for key in unexpected if not is_classifier_key(key) and not _is_counter(key)]
    mismatched = [key for key, _, _ in mismatched if not is_classifier_key(key)]
    recorded = ''
    if isinstance(recorded_model, dict) and recorded_model.get('name'):
        recorded = " (the checkpoint records model '{}' with options {})".format(
            recorded_model['name'], recorded_model.get('options', {}))
    for keys, others, where in ((unexpected, own_state, 'file'), (missing, state_dict, 'model')):
        prefix = _common_prefix(keys) if keys else None
        if prefix is not None:
            stripped = [key[len(prefix) + 1:] for key in keys]
            if sum(key in others for key in stripped) >= len(keys) / 2:
                side = ('every unmatched key of the file has the prefix' if where == 'file'
                        else 'every unmatched key of the model has the prefix')
                return ("a name prefix: {} '{}.' that the other side lacks (e.g. a model saved inside a wrapper, or "
                        "a DataParallel 'module.' on only some keys); remove or add that prefix".format(side, prefix))
    if missing and len(missing) == len(unexpected):
        file_shapes = [list(state_dict[key].shape) for key in unexpected]
        model_shapes = [list(own_state[key].shape) for key in missing]
        if file_shapes == model_shapes:
            return ("another layer naming: the {} unmatched layers have the same shapes in the same order under other "
                    "names (e.g. '{}' in the file for '{}' in the model; torchreid 1.x (deep-person-reid) names "
                    "ResNet-50's layers 'conv1, bn1, layer1..4' where this torchreid has 'base.0, base.1, "
                    "base.4..7'){}; load it with torchreid.models.loading.load_weights (which maps 1.x's names) "
                    "or rename the keys of the file to this model's names".format(
                        len(missing), unexpected[0], missing[0], recorded))
    differing = missing + unexpected + mismatched
    head_groups = {'bottleneck', 'global_pool'}
    if differing and all(key.split('.', 1)[0] in head_groups for key in differing):
        return ("other head options{}: only {} differ ('bottleneck' layers come with --neck bnneck, 'global_pool.p' "
                "with --pooling gem); build the model with the options it was trained with".format(
                    recorded, group_keys(differing)))
    model_layers = [key for key in own_state if not _is_counter(key) and not is_classifier_key(key)]
    unloaded = set(missing) | set(mismatched)
    matching = sum(1 for key in model_layers if key not in unloaded)
    if matching < len(model_layers) / 2:
        return ('another architecture{}: only {} of the model\'s {} layers (classifier aside) match by name and '
                'shape; use the architecture the checkpoint was trained with (-a/--arch)'.format(
                    recorded, matching, len(model_layers)))
    return ('a differently configured or modified model{}: {} of the model\'s {} layers (classifier aside) match; '
            'build the model with the architecture and options the checkpoint was trained with'.format(
                recorded, matching, len(model_layers)))


def load_model_state(model, state_dict, rename=None):
    """Load ``state_dict`` (or a checkpoint dict holding one) into ``model`` strictly.

    Raises :class:`CheckpointError` naming the missing, unexpected and mis-shaped keys, with a hint: to keep only
    the layers that fit (e.g. a classifier trained for another number of identities) use --load-weights
    (:func:`load_pretrained_weights`); keys of another network mean the checkpoint belongs to another -a/--arch.
    ``rename``: see the module docstring.
    """
    recorded_model = state_dict.get('model') if isinstance(state_dict, dict) else None
    state_dict = extract_state_dict(state_dict)
    if rename is not None:
        state_dict = rename(state_dict)
    own_state = model.state_dict()
    missing, unexpected, mismatched = _compare(own_state, state_dict)
    if missing or unexpected or mismatched:
        problems = []
        if missing:
            problems.append('missing keys ({}): {}'.format(len(missing), _listing(missing)))
        if unexpected:
            problems.append('unexpected keys ({}): {}'.format(len(unexpected), _listing(unexpected)))
        if mismatched:
            problems.append('mis-shaped keys ({}): {}'.format(len(mismatched), _listing(
                ['{} (checkpoint {} vs model {})'.format(key, src, own) for key, src, own in mismatched])))
        only_classifier = all(is_classifier_key(key) for key in missing + unexpected + [k for k, _, _ in mismatched])
        cause = ('only the classifier differs (trained for another number of identities)' if only_classifier else
                 likely_cause(own_state, state_dict, missing, unexpected, mismatched, recorded_model))
        raise CheckpointError(
            'The checkpoint does not match {}:\n  {}\nLikely cause: {}.\nIf only some layers differ (e.g. the '
            'classifier was trained for another number of identities), load the matching ones with --load-weights '
            '(load_pretrained_weights); if the keys belong to another network, use the architecture it was trained '
            'with (-a/--arch).'.format(type(model).__name__, '\n  '.join(problems), cause))
    model.load_state_dict(state_dict, strict=False)  # strictness checked above; BN counters may be absent


def load_pretrained_weights(model, fpath, allow_partial=False, source=None, rename=None):
    """Copy the layers of a checkpoint whose name and shape fit ``model``; returns a :class:`LoadReport`.

    ``fpath`` is a checkpoint file, or a checkpoint dict / state_dict already read (named ``source`` in messages,
    default '<checkpoint>'). A classifier that does not fit (another number of identities; see
    :func:`is_classifier_key`) is the normal case: it keeps its initialisation and a note says so. Anything else
    left unloaded (missing from the file, not in the model, another shape) raises :class:`CheckpointError` before
    the model is touched: the message groups the keys by layer and names the likely cause (:func:`likely_cause`).
    With
    ``allow_partial=True`` (``--allow-partial-load`` in the scripts and tools/export_onnx.py) the matching layers
    are loaded anyway and a warning lists the rest. A file of which no layer fits is an error either way.
    ``rename``: see the module docstring.
    """
    if isinstance(fpath, dict):
        checkpoint, source = fpath, source or '<checkpoint>'
    else:
        checkpoint, source = load_checkpoint(fpath), source or fpath
    state_dict = extract_state_dict(checkpoint)
    if rename is not None:
        state_dict = rename(state_dict)
    own_state = model.state_dict()
    missing, unexpected, mismatched = _compare(own_state, state_dict)
    skipped = [(key, 'shape {} in file vs {} in model'.format(src, own)) for key, src, own in mismatched]
    skipped += [(key, 'not in model') for key in unexpected]
    skipped += [(key, 'missing from file') for key in missing]
    bad = {key for key, _ in skipped}
    matched = OrderedDict((key, value) for key, value in state_dict.items() if key not in bad)
    report = LoadReport(source=source,
                        loaded=[key for key in matched if not _is_counter(key)],
                        skipped=[(key, reason) for key, reason in skipped if not _is_counter(key)],
                        num_model_entries=sum(1 for key in own_state if not _is_counter(key)))
    misfits = [key for key, _ in report.skipped if not is_classifier_key(key)]
    name = type(model).__name__
    if not report.loaded:
        raise CheckpointError("No layer of '{}' fits {} (0/{} loaded; the file holds {}); likely cause: {}.".format(
                                  source, name, report.num_model_entries, group_keys(list(state_dict)),
                                  likely_cause(own_state, state_dict, missing, unexpected, mismatched,
                                               checkpoint.get('model'))))
    if misfits:
        parts = []
        for label, keys in (('missing from the file', [k for k in missing if not is_classifier_key(k)]),
                            ('not in the model', [k for k in unexpected
                                                  if not is_classifier_key(k) and not _is_counter(k)]),
                            ('of another shape', [k for k, _, _ in mismatched if not is_classifier_key(k)])):
            if keys:
                parts.append('{} {}: {}'.format(len(keys), label, group_keys(keys)))
        text = "The weights in '{}' do not fit {} ({}/{} layers loadable; {}); likely cause: {}.".format(
            source, name, len(report.loaded), report.num_model_entries, '; '.join(parts),
            likely_cause(own_state, state_dict, missing, unexpected, mismatched, checkpoint.get('model')))
        if not allow_partial:
            raise CheckpointError(text + ' To load only the layers that fit and keep the others as initialised, '
                                         'pass --allow-partial-load (allow_partial=True).')
        print('Warning: ' + text + ' Loading the matching layers only (--allow-partial-load / allow_partial=True).')
    model.load_state_dict(matched, strict=False)
    print(report.summary())
    classifier_skipped = [(key, reason) for key, reason in report.skipped if is_classifier_key(key)]
    if classifier_skipped:
        print('Note: the classifier was not loaded, it keeps its initialisation (normal when the checkpoint was '
              'trained for another number of identities): {}'.format(
                  ', '.join('{} ({})'.format(key, reason) for key, reason in classifier_skipped)))
    return report
