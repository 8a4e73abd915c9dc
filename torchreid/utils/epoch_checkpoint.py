"""torchreid 1.x's checkpoint files: ``<save_dir>/model.pth.tar-<epoch>`` and ``model-best.pth.tar``.

The writing itself is :func:`torchreid.utils.checkpoint.save_checkpoint`'s (atomic, readable with
``weights_only=True``); this module only names the files as 1.x did.
"""
import os
from collections import OrderedDict

from . import checkpoint
from .iotools import mkdir_if_missing

BEST_MODEL_NAME_1X = 'model-best.pth.tar'


def epoch_checkpoint_path(save_dir, epoch):
    """``<save_dir>/model.pth.tar-<epoch>`` (``epoch``: the number of completed epochs, as 1.x)."""
    return os.path.join(save_dir, 'model.pth.tar-' + str(epoch))


def save_checkpoint(state, save_dir, is_best=False, remove_module_from_keys=False):
    """Write ``state`` (a dict with ``state_dict`` and ``epoch``, plus anything else) to
    ``<save_dir>/model.pth.tar-<epoch>``, and copy it to ``model-best.pth.tar`` if ``is_best``; returns the path.
    ``remove_module_from_keys`` strips DataParallel's ``module.`` prefix from the state_dict's keys."""
    mkdir_if_missing(save_dir)
    if remove_module_from_keys:
        state = dict(state)
        state['state_dict'] = OrderedDict((key[len('module.'):] if key.startswith('module.') else key, value)
                                          for key, value in state['state_dict'].items())
    fpath = checkpoint.save_checkpoint(state, fpath=epoch_checkpoint_path(save_dir, state['epoch']))
    print('Checkpoint saved to "{}"'.format(fpath))
    if is_best:
        checkpoint.save_checkpoint(state, fpath=os.path.join(save_dir, BEST_MODEL_NAME_1X))
    return fpath
