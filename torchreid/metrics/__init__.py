"""Evaluation metrics: distances, CMC / mAP / mINP (compiled kernel with a Python reference), block-wise evaluation
straight from features, and k-reciprocal re-ranking."""
from .blockwise import evaluate_features
from .distance import compute_distance_matrix
from .rank import CYTHON_AVAILABLE, RankResult, evaluate_rank
from .rerank import re_ranking

__all__ = ['CYTHON_AVAILABLE', 'RankResult', 'compute_distance_matrix', 'evaluate_features', 'evaluate_rank',
           're_ranking']
