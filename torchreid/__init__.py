"""torchreid: deep person re-identification in PyTorch.

Subpackages: ``datasets`` (benchmarks and the demo data), ``data`` (loaders, samplers, transforms), ``models``,
``losses``, ``metrics`` (distances, rank/mAP, re-ranking), ``engine`` (training and evaluation loop) and ``utils``.
"""
from .version import __version__

__author__ = 'torchreid contributors'

_SUBPACKAGES = ('data', 'datasets', 'engine', 'losses', 'metrics', 'models', 'optim', 'utils')


def __getattr__(name):
    """``import torchreid`` then ``torchreid.models.build_model(...)`` works, as in torchreid 1.x: each subpackage
    is imported on first use (so ``import torchreid`` stays fast)."""
    if name in _SUBPACKAGES:
        import importlib
        return importlib.import_module('.' + name, __name__)
    raise AttributeError("module 'torchreid' has no attribute '{}'".format(name))
