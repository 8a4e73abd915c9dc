"""The model record: what a checkpoint needs to say so that its model can be rebuilt exactly.

    >>> record = make_model_record('resnet50', num_classes=751, loss={'xent'}, options={'last_stride': 1},
    ...                            input_size=(256, 128), norm_mean=IMAGENET_MEAN, norm_std=IMAGENET_STD, feat_dim=2048)
    >>> checkpoint['model'] = record                 # the engine stores it in every checkpoint it writes
    >>> model = build_model_from_record(model_record_of(checkpoint))

A record is a dict of plain values (it loads under ``torch.load(weights_only=True)``)::

    {'name': 'resnet50', 'options': {'last_stride': 1, 'pooling': 'gem', 'neck': 'bnneck', 'neck_feat': None},
     'num_classes': 751, 'loss': ['xent'], 'input_size': [256, 128], 'norm_mean': [...], 'norm_std': [...],
     'feat_dim': 2048}

``options`` holds the constructor's keyword options beyond ``num_classes``, ``loss`` and ``pretrained``: the
defaults its signature shows plus those given explicitly, so an option added to a model later is recorded without
a change here. An entry a record lacks takes its default (:data:`RECORD_DEFAULTS`; a missing option: the
constructor's default). Checkpoints of the seed, of torchreid 1.x or bare state_dicts have no record and are
loaded as before.
"""
import inspect
import warnings

import torch

from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD
from ..utils.checkpoint import CheckpointError, extract_state_dict
from . import _models, _resolve, get_names, init_model

RECORD_KEY = 'model'
# what a record without the entry means (the toolkit's fixed choices before records existed)
RECORD_DEFAULTS = {
    'options': {},
    'num_classes': None,  # None: 1, the classifier then stays unloaded (a note says so)
    'loss': ['xent'],
    'input_size': [256, 128],
    'norm_mean': list(IMAGENET_MEAN),
    'norm_std': list(IMAGENET_STD),
    'feat_dim': None,
}
_NOT_OPTIONS = ('num_classes', 'loss', 'pretrained')
_PLAIN = (bool, int, float, str, type(None))


def _plain(value):
    """``value`` as a plain, torch.load(weights_only=True)-safe value (tuples as lists), or raise TypeError."""
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, (list, tuple)) and all(isinstance(item, _PLAIN) for item in value):
        return list(value)
    raise TypeError('not a plain value: {!r}'.format(value))


def constructor_defaults(name):
    """{option: default} of the constructor registered as ``name``, for the keyword options its signature shows
    (beyond num_classes, loss, pretrained) whose default is a plain value; {} for a ``**kwargs`` factory."""
    if name not in _models:
        raise KeyError('Unknown model: {}. Valid keys: {}'.format(name, get_names()))
    defaults = {}
    for parameter in inspect.signature(_resolve(_models[name])).parameters.values():
        if parameter.name in _NOT_OPTIONS or parameter.default is inspect.Parameter.empty:
            continue
        try:
            defaults[parameter.name] = _plain(parameter.default)
        except TypeError:
            continue
    return defaults


def make_model_record(name, num_classes, loss, options, input_size, norm_mean, norm_std, feat_dim):
    """The record of model ``name`` built with ``num_classes``, ``loss`` and the keyword ``options`` given to its
    constructor, trained at ``input_size`` (height, width) with the normalisation ``norm_mean`` / ``norm_std``."""
    recorded_options = constructor_defaults(name)
    for option, value in (options or {}).items():
        try:
            recorded_options[option] = _plain(value)
        except TypeError as error:
            raise TypeError('model option {}={!r} cannot be recorded in a checkpoint (plain values only)'.format(
                option, value)) from error
    return {
        'name': name,
        'options': recorded_options,
        'num_classes': int(num_classes),
        'loss': sorted(loss),
        'input_size': [int(size) for size in input_size],
        'norm_mean': [float(value) for value in norm_mean],
        'norm_std': [float(value) for value in norm_std],
        'feat_dim': None if feat_dim is None else int(feat_dim),
    }


def model_record_of(checkpoint, source='the checkpoint'):
    """The record in ``checkpoint`` with every entry filled in (:data:`RECORD_DEFAULTS`), or None when it has none
    (seed, torchreid 1.x or foreign files). CheckpointError for a record that is not one."""
    record = checkpoint.get(RECORD_KEY) if isinstance(checkpoint, dict) else None
    if record is None:
        return None
    if not isinstance(record, dict) or not isinstance(record.get('name'), str):
        raise CheckpointError("{} has a '{}' entry that is not a model record (a dict with at least 'name'); "
                              "got {!r}".format(source, RECORD_KEY, record if not isinstance(record, dict) else
                                                sorted(record)))
    if record['name'] not in _models:
        raise CheckpointError("{} holds a model '{}', which is not registered here (valid keys: {}); register it "
                              "with torchreid.models.register_model first".format(source, record['name'],
                                                                                 ', '.join(get_names())))
    filled = {key: record.get(key, default) for key, default in RECORD_DEFAULTS.items()}
    filled['name'] = record['name']
    filled['options'] = dict(filled['options'] or {})
    return filled


def _option_value(record, option):
    """The value ``option`` had when the record's model was built (its default when not recorded)."""
    if option in record['options']:
        return record['options'][option]
    return constructor_defaults(record['name']).get(option, '<the default of {}>'.format(record['name']))


def same_value(a, b):
    """Equal, with lists and tuples of the same items counted equal (a record read back from a file holds lists)."""
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return a == b


def resolve_model_config(record, name=None, options=None, input_size=None, num_classes=None,
                         source='the checkpoint'):
    """What to build for ``record``, checked against what the user asked for explicitly.

    ``name``, ``options`` (dict), ``input_size`` ((height, width); either may be None) and ``num_classes`` are the
    explicit choices (None: not given). Each must equal the record; a contradiction raises
    :class:`CheckpointError` naming both values and the fix (drop the option). Returns ``(name, options,
    input_size)`` with the record's values.
    """
    conflicts = []
    if name is not None and name != record['name']:
        conflicts.append("model '{}' (the checkpoint holds '{}')".format(name, record['name']))
    for option, value in (options or {}).items():
        recorded = _option_value(record, option)
        if not same_value(value, recorded):
            conflicts.append('{}={!r} (the checkpoint was trained with {!r})'.format(option, value, recorded))
    if num_classes is not None and record['num_classes'] is not None and num_classes != record['num_classes']:
        conflicts.append('{} classes (the checkpoint has {})'.format(num_classes, record['num_classes']))
    recorded_size = list(record['input_size'])
    for index, label in enumerate(('height', 'width')):
        if input_size is not None and input_size[index] is not None and input_size[index] != recorded_size[index]:
            conflicts.append('{} {} (the checkpoint was trained at {}x{})'.format(label, input_size[index],
                                                                                 *recorded_size))
    if conflicts:
        raise CheckpointError("{} records the model it holds, and you asked for {}. Drop these options to use the "
                              "checkpoint's (or use a checkpoint trained with yours).".format(
                                  source, '; '.join(conflicts)))
    return record['name'], dict(record['options']), tuple(recorded_size)


def build_model_from_record(record, num_classes=None, loss=None, pretrained=False):
    """The model the record describes (``num_classes`` / ``loss`` override the record's, e.g. to train on);
    weights are not loaded. Options equal to the constructor's defaults are not passed, so a record written by a
    newer version whose extra options are at their defaults still builds."""
    name = record['name']
    num_classes = num_classes if num_classes is not None else record.get('num_classes')
    if num_classes is None:
        num_classes = 1
    loss = set(loss if loss is not None else record.get('loss') or ['xent'])
    defaults = constructor_defaults(name)
    options = {option: value for option, value in record['options'].items()
               if not (option in defaults and same_value(defaults[option], value))}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # "no ImageNet weights" notices: the weights come from the checkpoint
        try:
            return init_model(name, num_classes=num_classes, loss=loss, pretrained=pretrained, **options)
        except TypeError as error:
            if 'unexpected keyword argument' not in str(error):
                raise
            raise CheckpointError("the checkpoint's model record gives {} options {} that it does not take here "
                                  "({}); was it written by another torchreid version?".format(
                                      name, sorted(options), error)) from error


def build_model_for_checkpoint(checkpoint, name=None, options=None, input_size=None, num_classes=None,
                               pretrained=False, source='the checkpoint'):
    """The model to load ``checkpoint`` into (weights not loaded yet), and how its input is prepared.

    With a record in ``checkpoint``, its model, checked against the explicit ``name``, ``options``,
    ``input_size`` and ``num_classes`` (:func:`resolve_model_config`). Without one (or with ``checkpoint`` None),
    ``name`` is required and the model is built from it and ``options``; the class count is ``num_classes``, else
    the checkpoint's classifier size, else 1; the input size ``input_size``, else 256x128; ImageNet normalisation.
    Returns ``(model, record, recorded)``: ``record`` describes the model built (the checkpoint's own record when
    ``recorded`` is True, else one made from the arguments and defaults).
    """
    record = model_record_of(checkpoint, source) if checkpoint is not None else None
    if record is not None:
        resolve_model_config(record, name, options, input_size, num_classes, source)
        return build_model_from_record(record, pretrained=pretrained), record, True
    if name is None:
        raise ValueError('a model key is needed: {}'.format(
            '{} does not record its model'.format(source) if checkpoint is not None else 'no checkpoint given'))
    options = dict(options or {})
    if num_classes is None:
        num_classes = 1
        if checkpoint is not None:
            try:
                num_classes = infer_num_classes(name, checkpoint, **options)
            except (KeyError, ValueError, TypeError):
                pass  # no classifier of this model in the file: the load then says what does not fit
    size = tuple(input_size) if input_size is not None else (None, None)
    size = [default if given is None else given for given, default in zip(size, RECORD_DEFAULTS['input_size'])]
    with warnings.catch_warnings():
        if not pretrained:
            warnings.simplefilter('ignore')  # "no ImageNet weights" notices: the weights come from the checkpoint
        try:
            model = init_model(name, num_classes=num_classes, loss={'xent'}, pretrained=pretrained, **options)
        except TypeError as error:
            if not options or 'unexpected keyword argument' not in str(error):
                raise
            raise ValueError('model {} does not take the options {} ({})'.format(name, sorted(options),
                                                                                  error)) from error
    record = make_model_record(name, num_classes, {'xent'}, options, size, IMAGENET_MEAN, IMAGENET_STD,
                               getattr(model, 'feat_dim', None))
    return model, record, False


def infer_num_classes(name, state_dict, **model_kwargs):
    """The number of identities the classifier in ``state_dict`` (a checkpoint dict or state_dict) was built for.

    Builds ``name`` twice on the meta device (no memory, no weights) with different class counts; the first
    entry whose shape changes is a classifier weight, and its first dimension in ``state_dict`` is the answer.
    """
    state_dict = extract_state_dict(state_dict)
    with torch.device('meta'), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        shapes_a = {k: v.shape for k, v in init_model(name, 2, pretrained=False, **model_kwargs).state_dict().items()}
        shapes_b = {k: v.shape for k, v in init_model(name, 3, pretrained=False, **model_kwargs).state_dict().items()}
    for key, shape in shapes_a.items():
        if shapes_b.get(key) != shape:
            if key not in state_dict:
                raise KeyError("the checkpoint has no '{}' (the classifier of {}); is it a checkpoint of another "
                               "architecture? Pass --num-classes to skip this inference.".format(key, name))
            return int(state_dict[key].shape[0])
    raise ValueError('{} has no layer whose shape depends on num_classes; pass the number of classes '
                     'explicitly'.format(name))
