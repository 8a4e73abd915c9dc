"""Evaluation metrics: distances, CMC/mAP/mINP (compiled kernel + Python reference), block-wise evaluation from
features, and k-reciprocal re-ranking."""
from .rank import RankResult, evaluate_rank
