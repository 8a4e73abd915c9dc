"""Evaluation metrics: distances, CMC / mAP / mINP (compiled kernel with a Python reference), block-wise evaluation
straight from features, k-reciprocal re-ranking and top-k accuracy.

torchreid 1.x's ``cmc, mAP = evaluate_rank(...)`` works: the :class:`RankResult` unpacks as that pair and also has
``mINP``, ``rank1``, ``all_AP`` and ``num_valid_queries``.
"""
from .accuracy import accuracy
from .blockwise import evaluate_features
from .distance import compute_distance_matrix
from .rank import CYTHON_AVAILABLE, RankResult, evaluate_rank
from .rerank import re_ranking

__all__ = ['CYTHON_AVAILABLE', 'RankResult', 'accuracy', 'compute_distance_matrix', 'evaluate_features',
           'evaluate_rank', 're_ranking']
