"""torchreid: deep person re-identification in PyTorch.

Subpackages: ``datasets`` (benchmarks and the demo data), ``data`` (loaders, samplers, transforms), ``models``,
``losses``, ``metrics`` (distances, rank/mAP, re-ranking), ``engine`` (training and evaluation loop) and ``utils``.
"""
from .version import __version__

__author__ = 'torchreid contributors'
