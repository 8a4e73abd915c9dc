"""CMC / mAP / mINP straight from features, without the (Q, G) distance matrix.

Distances are computed tile by tile (query block x gallery block, on the features' device) and each tile is
consumed as it comes, so memory is bounded by the tile size (plus a few numbers per true match), whatever the
gallery size. Two passes over the tiles give exact results:

1. the distance of every true match (a gallery item with the query's pid from another camera) is read from the
   tiles; each query's matches are then sorted by (distance, gallery index);
2. for every valid non-match, the number of true matches ranked before it is counted (compiled kernel or numpy);
   a prefix sum turns these counts into the rank of each true match, which is all CMC, AP and mINP need.

Ranking rules are those of ``evaluate_rank`` (ties by gallery index, same-pid-same-camera items dropped), and
every distance tile is computed by the same code as ``compute_distance_matrix``, so the numbers equal
``evaluate_rank(compute_distance_matrix(...), ...)`` up to the float rounding of the matrix product (exactly, when
the products are exact). The price is computing every distance twice.
"""
import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from . import rank
from .distance import as_feature_matrix, check_metric, pairwise_distance


def true_match_lists(q_pids, g_pids, q_camids, g_camids):
    """Each query's true matches as CSR lists: (match_ptr (Q + 1,), match_index (num_matches,)).

    The true matches of query q are gallery items match_index[match_ptr[q]:match_ptr[q + 1]], ascending.
    """
    pid_order = np.argsort(g_pids, kind='stable')  # gallery grouped by pid, ascending index inside a group
    sorted_pids = g_pids[pid_order]
    group_start = np.searchsorted(sorted_pids, q_pids, side='left')
    group_size = np.searchsorted(sorted_pids, q_pids, side='right') - group_start
    # every (query, gallery item with the query's pid) pair, then keep those from another camera
    pair_query = np.repeat(np.arange(q_pids.size), group_size)
    offset_in_group = np.arange(pair_query.size) - np.repeat(np.cumsum(group_size) - group_size, group_size)
    pair_gallery = pid_order[np.repeat(group_start, group_size) + offset_in_group]
    is_match = g_camids[pair_gallery] != q_camids[pair_query]
    match_ptr = np.zeros(q_pids.size + 1, dtype=np.int64)
    np.cumsum(np.bincount(pair_query[is_match], minlength=q_pids.size), out=match_ptr[1:])
    return match_ptr, np.ascontiguousarray(pair_gallery[is_match], dtype=np.int64)


def metrics_from_match_counts(match_ptr, counts):
    """Per-query (first-match rank or -1, AP, INP) from the per-match counts of preceding non-matches.

    Match i (0-based, ranked order) of a query sits at rank i + counts[0] + ... + counts[i] among its valid items.
    """
    num_q = match_ptr.size - 1
    num_matches = np.diff(match_ptr)
    query_of = np.repeat(np.arange(num_q), num_matches)
    position = np.arange(counts.size) - match_ptr[query_of]
    running = np.cumsum(counts)
    before_query = np.concatenate([[0], running])[match_ptr[:-1]]
    ranks = position + running - before_query[query_of]
    has_match = num_matches > 0
    first_rank = np.full(num_q, -1, dtype=np.int64)
    first_rank[has_match] = ranks[match_ptr[:-1][has_match]]
    precision_sum = np.bincount(query_of, weights=(position + 1.0) / (ranks + 1.0), minlength=num_q)
    ap = precision_sum / np.maximum(num_matches, 1)
    inp = np.zeros(num_q)
    inp[has_match] = num_matches[has_match] / (ranks[match_ptr[1:][has_match] - 1] + 1.0)
    return first_rank, ap, inp


def count_block_python(tile, query_start, gallery_start, q_pids, g_pids, match_ptr, match_dist, match_index, counts,
                       nonfinite):
    """numpy version of eval_lib's count_block: adds one tile's preceding-non-match counts to ``counts``."""
    gallery_index = np.arange(gallery_start, gallery_start + tile.shape[1])
    for r, row in enumerate(tile):
        q = query_start + r
        if not np.isfinite(row).all():
            nonfinite[q] = 1
            continue
        begin, end = match_ptr[q], match_ptr[q + 1]
        if begin == end:
            continue
        nonmatch = g_pids[gallery_index] != q_pids[q]  # true matches and dropped same-camera items excluded
        dist, index = row[nonmatch], gallery_index[nonmatch]
        key_dist, key_index = match_dist[begin:end, None], match_index[begin:end, None]
        # number of true matches ranked before each non-match (ties by gallery index)
        position = np.count_nonzero((key_dist < dist) | ((key_dist == dist) & (key_index < index)), axis=0)
        counts[begin:end] += np.bincount(position, minlength=end - begin + 1)[:end - begin]


def _blocks(total, block_size):
    return [(start, min(start + block_size, total)) for start in range(0, total, block_size)]


def progress_bar(enabled, total_tiles, num_q, num_g):
    """A tqdm bar over the distance tiles of both passes, on stderr (a silent no-op bar unless ``enabled``)."""
    return tqdm(total=total_tiles, desc='Evaluating {} queries x {} gallery'.format(num_q, num_g), unit='tile',
                dynamic_ncols=True, leave=False, disable=not enabled)


@torch.no_grad()
def evaluate_features(query_features, gallery_features, q_pids, g_pids, q_camids, g_camids, metric='euclidean',
                      normalize_features=False, max_rank=50, query_block_size=256, gallery_block_size=8192,
                      use_cython=True, progress=False):
    """Market-1501-protocol CMC / mAP / mINP of (Q, d) query and (G, d) gallery features -> RankResult.

    Same arguments and result as ``evaluate_rank`` on ``compute_distance_matrix(query_features, gallery_features,
    metric)`` (after L2 normalisation of both when normalize_features=True), computed tile by tile: peak memory
    is about query_block_size x gallery_block_size distances (twice: device and CPU), 32 bytes per true match
    and a few int64 index arrays of length G: no Q x G matrix. Features may live on any device (the tiles are
    computed there). ``progress=True`` shows a progress bar (tqdm, on stderr) over the tiles of both passes, for
    large galleries (e.g. 500k distractors), where evaluation takes minutes.
    """
    check_metric(metric)
    rank.check_positive_int(query_block_size, 'query_block_size')
    rank.check_positive_int(gallery_block_size, 'gallery_block_size')
    query_features = as_feature_matrix(query_features, 'query_features')
    gallery_features = as_feature_matrix(gallery_features, 'gallery_features').to(query_features.device)
    num_q, num_g = query_features.shape[0], gallery_features.shape[0]
    if num_q == 0:
        raise ValueError('the query set is empty (query_features has 0 rows)')
    if num_g == 0:
        raise ValueError('the gallery is empty (gallery_features has 0 rows)')
    if query_features.shape[1] != gallery_features.shape[1]:
        raise ValueError('feature dimensions differ: queries have {}, gallery has {}'.format(
            query_features.shape[1], gallery_features.shape[1]))
    if gallery_features.dtype != query_features.dtype:
        gallery_features = gallery_features.to(query_features.dtype)
    q_pids = rank.as_id_array(q_pids, 'q_pids', num_q, 'the number of query features')
    q_camids = rank.as_id_array(q_camids, 'q_camids', num_q, 'the number of query features')
    g_pids = rank.as_id_array(g_pids, 'g_pids', num_g, 'the number of gallery features')
    g_camids = rank.as_id_array(g_camids, 'g_camids', num_g, 'the number of gallery features')
    rank.check_positive_int(max_rank, 'max_rank')
    if normalize_features:
        query_features = F.normalize(query_features, p=2, dim=1)
        gallery_features = F.normalize(gallery_features, p=2, dim=1)
    kernel = rank.compiled_kernel(use_cython)
    count_block = kernel.count_block if kernel is not None else count_block_python
    query_blocks = _blocks(num_q, query_block_size)
    gallery_blocks = _blocks(num_g, gallery_block_size)
    distance_dtype = np.float64 if query_features.dtype == torch.float64 else np.float32

    def distance_tile(q_start, q_end, g_start, g_end):
        tile = pairwise_distance(query_features[q_start:q_end], gallery_features[g_start:g_end], metric)
        return tile.to(torch.float64 if distance_dtype == np.float64 else torch.float32)

    # pass 1: the distance of every true match, read from the tiles that hold true matches
    match_ptr, match_index = true_match_lists(q_pids, g_pids, q_camids, g_camids)
    match_query = np.repeat(np.arange(num_q), np.diff(match_ptr))
    match_dist = np.zeros(match_index.size, dtype=distance_dtype)
    match_tiles = [np.unique(match_index[match_ptr[q_start]:match_ptr[q_end]] // gallery_block_size)
                   for q_start, q_end in query_blocks]  # per query block, the gallery blocks holding its matches
    bar = progress_bar(progress, sum(len(tiles) for tiles in match_tiles) + len(query_blocks) * len(gallery_blocks),
                       num_q, num_g)
    for (q_start, q_end), tiles in zip(query_blocks, match_tiles):
        block_entries = np.arange(match_ptr[q_start], match_ptr[q_end])
        for g_start, g_end in (gallery_blocks[t] for t in tiles):
            in_tile = (match_index[block_entries] >= g_start) & (match_index[block_entries] < g_end)
            entries = block_entries[in_tile]
            tile = distance_tile(q_start, q_end, g_start, g_end)
            rows = torch.as_tensor(match_query[entries] - q_start, device=tile.device)
            cols = torch.as_tensor(match_index[entries] - g_start, device=tile.device)
            match_dist[entries] = tile[rows, cols].cpu().numpy()
            bar.update(1)
    # each query's matches sorted by (distance, gallery index)
    order = np.lexsort((match_index, match_dist, match_query))
    match_dist = np.ascontiguousarray(match_dist[order])
    match_index = np.ascontiguousarray(match_index[order])

    # pass 2: count, per true match, the valid non-matches ranked before it
    counts = np.zeros(match_index.size, dtype=np.int64)
    nonfinite = np.zeros(num_q, dtype=np.int8)
    for q_start, q_end in query_blocks:
        for g_start, g_end in gallery_blocks:
            tile = np.ascontiguousarray(distance_tile(q_start, q_end, g_start, g_end).cpu().numpy())
            count_block(tile, q_start, g_start, q_pids, g_pids, match_ptr, match_dist, match_index, counts,
                        nonfinite)
            bar.update(1)
    bar.close()
    rank.raise_if_nonfinite(nonfinite)
    first_rank, ap, inp = metrics_from_match_counts(match_ptr, counts)
    return rank.summarize_first_ranks(first_rank, ap, inp, max_rank)
