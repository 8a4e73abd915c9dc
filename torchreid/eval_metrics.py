"""The seed's evaluation entry points, kept under their old names; the implementation is torchreid.metrics.

``evaluate`` returns ``(cmc, mAP)`` exactly as the seed did; ``torchreid.metrics.evaluate_rank`` returns the full
RankResult (adds mINP, per-query AP and the number of valid queries). Differences from the seed, on purpose: the
CMC always has max_rank entries (ranks past a small gallery repeat the last value, 1.0), ties are broken by
gallery index, the CUHK03 metric is seeded, and bad input raises ValueError instead of asserting.
"""
from .metrics.rank import evaluate_rank


def evaluate(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=50, use_metric_cuhk03=False, use_cython=True):
    """(cmc (max_rank,) float32, mAP float) of a (Q, G) distance matrix; see torchreid.metrics.evaluate_rank."""
    result = evaluate_rank(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=max_rank,
                           use_metric_cuhk03=use_metric_cuhk03, use_cython=use_cython)
    return result.cmc, result.mAP


def eval_market1501(distmat, q_pids, g_pids, q_camids, g_camids, max_rank):
    """The seed's Market-1501 evaluator: (cmc, mAP)."""
    return evaluate(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=max_rank)


def eval_cuhk03(distmat, q_pids, g_pids, q_camids, g_camids, max_rank, N=100, seed=0):
    """The seed's CUHK03 single-gallery-shot evaluator with N repeats, now seeded: (cmc, mAP)."""
    result = evaluate_rank(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=max_rank, use_metric_cuhk03=True,
                           cuhk03_num_repeats=N, cuhk03_seed=seed)
    return result.cmc, result.mAP
