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
    load_model_state(model, state_dict)             strict load (--resume); the error lists every difference
    load_pretrained_weights(model, fpath)           partial load of the matching layers (--load-weights)
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


def load_model_state(model, state_dict):
    """Load ``state_dict`` (or a checkpoint dict holding one) into ``model`` strictly.

    Raises :class:`CheckpointError` naming the missing, unexpected and mis-shaped keys, with a hint: to keep only
    the layers that fit (e.g. a classifier trained for another number of identities) use --load-weights
    (:func:`load_pretrained_weights`); keys of another network mean the checkpoint belongs to another -a/--arch.
    """
    state_dict = extract_state_dict(state_dict)
    missing, unexpected, mismatched = _compare(model.state_dict(), state_dict)
    if missing or unexpected or mismatched:
        problems = []
        if missing:
            problems.append('missing keys ({}): {}'.format(len(missing), _listing(missing)))
        if unexpected:
            problems.append('unexpected keys ({}): {}'.format(len(unexpected), _listing(unexpected)))
        if mismatched:
            problems.append('mis-shaped keys ({}): {}'.format(len(mismatched), _listing(
                ['{} (checkpoint {} vs model {})'.format(key, src, own) for key, src, own in mismatched])))
        raise CheckpointError(
            'The checkpoint does not match {}:\n  {}\nIf only some layers differ (e.g. the classifier was trained '
            'for another number of identities), load the matching ones with --load-weights '
            '(load_pretrained_weights); if the keys belong to another network, use the architecture it was trained '
            'with (-a/--arch).'.format(type(model).__name__, '\n  '.join(problems)))
    model.load_state_dict(state_dict, strict=False)  # strictness checked above; BN counters may be absent


def load_pretrained_weights(model, fpath):
    """Copy the layers of the checkpoint at ``fpath`` whose name and shape fit ``model``; the others keep their
    values. Prints and returns a :class:`LoadReport` whose skipped keys say why: not in model, shape mismatch,
    or missing from file.
    """
    state_dict = extract_state_dict(load_checkpoint(fpath))
    own_state = model.state_dict()
    missing, unexpected, mismatched = _compare(own_state, state_dict)
    skipped = [(key, 'shape {} in file vs {} in model'.format(src, own)) for key, src, own in mismatched]
    skipped += [(key, 'not in model') for key in unexpected]
    skipped += [(key, 'missing from file') for key in missing]
    bad = {key for key, _ in skipped}
    matched = OrderedDict((key, value) for key, value in state_dict.items() if key not in bad)
    model.load_state_dict(matched, strict=False)
    report = LoadReport(source=fpath,
                        loaded=[key for key in matched if not _is_counter(key)],
                        skipped=[(key, reason) for key, reason in skipped if not _is_counter(key)],
                        num_model_entries=sum(1 for key in own_state if not _is_counter(key)))
    print(report.summary())
    return report
