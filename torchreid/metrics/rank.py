"""CMC, mAP and mINP from a query-gallery distance matrix (Market-1501 and CUHK03 protocols).

Definitions, shared by the readable Python reference below and the compiled kernel in eval_lib/cython_eval.pyx:

* Ranking: for each query the gallery is sorted by ascending distance; equal distances are ordered by gallery
  index (lower first), so results never depend on a sort algorithm's tie order.
* Valid gallery items: all but those with the query's pid *and* camid. True matches: valid items with the
  query's pid. A query without a true match is skipped (counts in no metric); pid-0 distractors and same-camera
  items of other pids are ordinary non-matches.
* CMC[k] = fraction of valid queries whose first true match is within the top k + 1 valid items. ``cmc`` always
  has ``max_rank`` entries: when the gallery is smaller than max_rank, the ranks past its end repeat the last
  value (1.0: every valid query has found its match by then). So ``cmc[19]`` (Rank-20) always exists.
* AP = non-interpolated average precision over the whole ranked list: the mean over true matches of the precision
  at each match. mINP = mean inverse negative penalty (Ye et al., TPAMI 2021): num_matches / (1-based rank of the
  last true match).
* CUHK03 single-gallery-shot (``use_metric_cuhk03``): num_repeats times, one random item per gallery identity is
  drawn (identities in order of first appearance in the ranked list, as the seed did); the query's identity is
  then the only true match, so AP = INP = 1 / its rank. Draws come from a numpy ``RandomState``; given the same
  one, the numbers equal the seed's ``eval_cuhk03`` run after ``np.random.seed``.

``evaluate_rank`` uses the compiled kernel when it is built (``pip install .`` or ``cd eval_lib && make``) and
this module's Python reference otherwise (with one warning) or when ``use_cython=False``; both give the same
numbers.
"""
import warnings

import numpy as np

try:
    from eval_lib import cython_eval
except ImportError:  # not built: the Python reference is used, see compiled_kernel()
    cython_eval = None

CYTHON_AVAILABLE = cython_eval is not None
_missing_kernel_warned = False


class RankResult(object):
    """What ``evaluate_rank`` returns; unpacks as torchreid 1.x's pair: ``cmc, mAP = evaluate_rank(...)``.

    cmc: (max_rank,) float32, cmc[k] = Rank-(k+1) accuracy. mAP, mINP: means over valid queries.
    all_AP: (num_query,) float64 AP of each query, NaN for queries without a true match.
    num_valid_queries: number of queries with at least one true match. rank1: cmc[0].
    """
    __slots__ = ('cmc', 'mAP', 'mINP', 'all_AP', 'num_valid_queries')

    def __init__(self, cmc, mAP, mINP, all_AP, num_valid_queries):
        self.cmc = cmc
        self.mAP = mAP
        self.mINP = mINP
        self.all_AP = all_AP
        self.num_valid_queries = num_valid_queries

    @property
    def rank1(self):
        return float(self.cmc[0])

    def __iter__(self):
        return iter((self.cmc, self.mAP))

    def __len__(self):
        return 2

    def __getitem__(self, index):
        return (self.cmc, self.mAP)[index]

    def __repr__(self):
        return 'RankResult(rank1={:.4f}, mAP={:.4f}, mINP={:.4f}, num_valid_queries={})'.format(
            self.rank1, self.mAP, self.mINP, self.num_valid_queries)


def compiled_kernel(use_cython):
    """The compiled module, or None for the Python reference (warning once if it was wanted but is not built)."""
    global _missing_kernel_warned
    if not use_cython:
        return None
    if cython_eval is None and not _missing_kernel_warned:
        _missing_kernel_warned = True
        warnings.warn('torchreid: the compiled evaluator eval_lib.cython_eval is not built, using the slower '
                      'Python reference (same results). Build it with `pip install -e .` at the repository root '
                      'or `cd eval_lib && make`.', RuntimeWarning, stacklevel=3)
    return cython_eval


def to_numpy(array):
    """torch tensors (any device) and array-likes -> numpy."""
    if hasattr(array, 'detach'):
        array = array.detach().cpu().numpy()
    return np.asarray(array)


def as_distance_matrix(distmat):
    """(Q, G) distances as a C-contiguous float32/float64 array (no copy when it already is one)."""
    distmat = to_numpy(distmat)
    if distmat.ndim != 2:
        raise ValueError('distmat must be a 2-D (num_query, num_gallery) matrix, got shape {}'.format(distmat.shape))
    if distmat.dtype == np.float16:
        distmat = distmat.astype(np.float32)
    elif distmat.dtype not in (np.float32, np.float64):
        if not (np.issubdtype(distmat.dtype, np.integer) or np.issubdtype(distmat.dtype, np.floating)):
            raise ValueError('distmat must hold real numbers, got dtype {}'.format(distmat.dtype))
        distmat = distmat.astype(np.float64)
    return np.ascontiguousarray(distmat)


def as_id_array(ids, name, expected_length, length_source):
    """A 1-D int64 array of pids or camids of the expected length (clear error otherwise)."""
    ids = to_numpy(ids)
    if ids.ndim != 1:
        raise ValueError('{} must be 1-D, got shape {}'.format(name, ids.shape))
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        raise ValueError('{} must hold integers, got dtype {}'.format(name, ids.dtype))
    if ids.shape[0] != expected_length:
        raise ValueError('{} has {} entries but {} is {}: ids and distances must describe the same images'.format(
            name, ids.shape[0], length_source, expected_length))
    return np.ascontiguousarray(ids, dtype=np.int64)


def check_rank_inputs(distmat, q_pids, g_pids, q_camids, g_camids, max_rank):
    """Validated (distmat, q_pids, g_pids, q_camids, g_camids); raises ValueError naming the problem."""
    distmat = as_distance_matrix(distmat)
    num_q, num_g = distmat.shape
    if num_q == 0:
        raise ValueError('the query set is empty (distmat has 0 rows)')
    if num_g == 0:
        raise ValueError('the gallery is empty (distmat has 0 columns)')
    q_pids = as_id_array(q_pids, 'q_pids', num_q, 'the number of distmat rows')
    q_camids = as_id_array(q_camids, 'q_camids', num_q, 'the number of distmat rows')
    g_pids = as_id_array(g_pids, 'g_pids', num_g, 'the number of distmat columns')
    g_camids = as_id_array(g_camids, 'g_camids', num_g, 'the number of distmat columns')
    check_positive_int(max_rank, 'max_rank')
    return distmat, q_pids, g_pids, q_camids, g_camids


def check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError('{} must be a positive integer, got {!r}'.format(name, value))


def raise_if_nonfinite(nonfinite_rows):
    """ValueError naming the first query row with a NaN or infinite distance, if any."""
    bad = np.flatnonzero(nonfinite_rows)
    if bad.size:
        raise ValueError('distmat holds NaN or infinite distances ({} query rows, first: row {}); check the '
                         'features for NaN/inf'.format(bad.size, bad[0]))


def summarize(rank_hist, ap, inp, valid, max_rank, draws_per_query=1):
    """RankResult from per-query AP/INP and the histogram of first-match ranks (ranks >= max_rank in the last bin).

    rank_hist: (max_rank + 1,) counts; draws_per_query: how many first-match ranks each valid query contributed
    (1, or the number of CUHK03 repeats).
    """
    num_valid = int(np.count_nonzero(valid))
    if num_valid == 0:
        raise ValueError('no query has a true match in the gallery (an item with the same pid from another '
                         'camera), so CMC and mAP are undefined; check that the query and gallery ids come from '
                         'the same identities and cameras')
    cmc = np.cumsum(rank_hist[:max_rank]) / float(num_valid * draws_per_query)
    all_ap = np.where(valid, ap, np.nan)
    return RankResult(cmc=cmc.astype(np.float32), mAP=float(np.mean(ap[valid])), mINP=float(np.mean(inp[valid])),
                      all_AP=all_ap, num_valid_queries=num_valid)


def summarize_first_ranks(first_rank, ap, inp, max_rank):
    """RankResult from per-query first-match ranks (-1: no true match), AP and INP (Market-1501 protocol)."""
    valid = first_rank >= 0
    rank_hist = np.bincount(np.minimum(first_rank[valid], max_rank), minlength=max_rank + 1)
    return summarize(rank_hist, ap, inp, valid, max_rank)


# ----------------------------------------------------------------------------------------------------------------
# Market-1501 protocol
# ----------------------------------------------------------------------------------------------------------------

def _check_row_finite(row, query_index):
    if not np.isfinite(row).all():
        raise ValueError('distmat holds NaN or infinite distances (first: row {}); check the features for '
                         'NaN/inf'.format(query_index))


def market1501_python(distmat, q_pids, g_pids, q_camids, g_camids):
    """Readable reference: per query (first-match rank or -1, AP, INP), by sorting each row.

    Inputs as returned by check_rank_inputs. Returns three (Q,) arrays: int64, float64, float64.
    """
    num_q = distmat.shape[0]
    first_rank = np.full(num_q, -1, dtype=np.int64)
    ap = np.zeros(num_q)
    inp = np.zeros(num_q)
    for q in range(num_q):
        row = distmat[q]
        _check_row_finite(row, q)
        order = np.argsort(row, kind='stable')  # ascending distance; equal distances by gallery index
        same_pid = g_pids[order] == q_pids[q]
        same_cam = g_camids[order] == q_camids[q]
        is_match = same_pid[~(same_pid & same_cam)]  # ranked valid items: True where it is a true match
        match_ranks = np.flatnonzero(is_match)  # 0-based ranks of the true matches
        if match_ranks.size == 0:
            continue
        num_matches = match_ranks.size
        first_rank[q] = match_ranks[0]
        precision_at_matches = np.arange(1, num_matches + 1) / (match_ranks + 1.0)
        ap[q] = precision_at_matches.mean()
        inp[q] = num_matches / (match_ranks[-1] + 1.0)
    return first_rank, ap, inp


def market1501_compiled(distmat, q_pids, g_pids, q_camids, g_camids, num_threads=0):
    """Same as market1501_python, by the compiled one-pass kernel (num_threads 0: OpenMP default)."""
    pid_order = np.argsort(g_pids, kind='stable')  # gallery grouped by pid, ascending index inside a group
    sorted_pids = g_pids[pid_order]
    group_start = np.searchsorted(sorted_pids, q_pids, side='left')
    group_end = np.searchsorted(sorted_pids, q_pids, side='right')
    max_group_size = int((group_end - group_start).max())
    num_q = distmat.shape[0]
    first_rank = np.empty(num_q, dtype=np.int64)
    ap = np.empty(num_q)
    inp = np.empty(num_q)
    nonfinite = np.zeros(num_q, dtype=np.int8)
    cython_eval.evaluate_market1501(distmat, q_pids, q_camids, g_pids, g_camids, pid_order, group_start, group_end,
                                    max_group_size, first_rank, ap, inp, nonfinite, num_threads)
    raise_if_nonfinite(nonfinite)
    return first_rank, ap, inp


# ----------------------------------------------------------------------------------------------------------------
# CUHK03 single-gallery-shot protocol
# ----------------------------------------------------------------------------------------------------------------

def as_random_state(seed):
    """An int seed or a numpy RandomState (used as is, so it advances) -> RandomState."""
    if isinstance(seed, np.random.RandomState):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return np.random.RandomState(seed)
    raise ValueError('cuhk03_seed must be an int or a numpy RandomState (for the legacy random stream the seed '
                     'used), got {!r}'.format(type(seed).__name__))


def cuhk03_python(distmat, q_pids, g_pids, q_camids, g_camids, max_rank, num_repeats, random_state):
    """Readable reference: (rank_hist, ap, valid) of the single-gallery-shot protocol."""
    num_q = distmat.shape[0]
    rank_hist = np.zeros(max_rank + 1, dtype=np.int64)
    ap = np.zeros(num_q)
    valid = np.zeros(num_q, dtype=bool)
    for q in range(num_q):
        row = distmat[q]
        _check_row_finite(row, q)
        order = np.argsort(row, kind='stable')
        same_pid = g_pids[order] == q_pids[q]
        same_cam = g_camids[order] == q_camids[q]
        ranked_pids = g_pids[order][~(same_pid & same_cam)]
        if not np.any(ranked_pids == q_pids[q]):
            continue
        valid[q] = True
        # number identities by their first appearance in the ranked list
        unique_pids, first_position, identity_of_unique = np.unique(ranked_pids, return_index=True,
                                                                    return_inverse=True)
        number_of_unique = np.argsort(np.argsort(first_position))
        identity = number_of_unique[identity_of_unique]  # identity number of each ranked position
        positive = number_of_unique[np.searchsorted(unique_pids, q_pids[q])]
        # the ranks of each identity's items, identity by identity, ascending inside an identity
        ranks_by_identity = np.argsort(identity, kind='stable')
        sizes = np.bincount(identity)
        starts = np.cumsum(sizes) - sizes
        # one draw per identity and repeat, in the seed's order (repeat by repeat, identity by identity);
        # randint with an array of bounds consumes the stream exactly as one np.random.choice per identity
        picks = random_state.randint(0, np.tile(sizes, (num_repeats, 1)))
        drawn_ranks = ranks_by_identity[starts + picks]  # (num_repeats, num_identities)
        rank_of_positive = np.count_nonzero(drawn_ranks < drawn_ranks[:, [positive]], axis=1)
        rank_hist += np.bincount(np.minimum(rank_of_positive, max_rank), minlength=max_rank + 1)
        ap[q] = np.mean(1.0 / (rank_of_positive + 1.0))
    return rank_hist, ap, valid


def cuhk03_compiled(distmat, q_pids, g_pids, q_camids, g_camids, max_rank, num_repeats, random_state):
    """Same as cuhk03_python, by the compiled kernel (one thread: the random stream is sequential)."""
    unique_pids, g_labels = np.unique(g_pids, return_inverse=True)
    num_q = distmat.shape[0]
    rank_hist = np.zeros(max_rank + 1, dtype=np.int64)
    ap = np.zeros(num_q)
    valid = np.zeros(num_q, dtype=np.int8)
    nonfinite = np.zeros(num_q, dtype=np.int8)
    cython_eval.evaluate_cuhk03(distmat, q_pids, q_camids, g_pids, g_camids,
                                np.ascontiguousarray(g_labels, dtype=np.int64), unique_pids.size, num_repeats,
                                max_rank, random_state._bit_generator, ap, valid, rank_hist, nonfinite)
    raise_if_nonfinite(nonfinite)
    return rank_hist, ap, valid.astype(bool)


# ----------------------------------------------------------------------------------------------------------------
# Public entry point
# ----------------------------------------------------------------------------------------------------------------

def evaluate_rank(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=50, use_metric_cuhk03=False,
                  use_cython=True, cuhk03_num_repeats=100, cuhk03_seed=0):
    """CMC, mAP and mINP of a (Q, G) distance matrix (numpy or torch, float32/float64) -> RankResult.

    q_pids, q_camids: (Q,) ints; g_pids, g_camids: (G,) ints. max_rank: length of the returned CMC.
    use_metric_cuhk03: CUHK03 single-gallery-shot protocol, cuhk03_num_repeats draws per query from
    cuhk03_seed (int, or a numpy RandomState that is advanced in place). use_cython=False forces the Python
    reference. Raises ValueError for mismatched shapes, an empty query set or gallery, NaN/inf distances, and
    when no query has a true match.
    """
    distmat, q_pids, g_pids, q_camids, g_camids = check_rank_inputs(distmat, q_pids, g_pids, q_camids, g_camids,
                                                                    max_rank)
    kernel = compiled_kernel(use_cython)
    if use_metric_cuhk03:
        check_positive_int(cuhk03_num_repeats, 'cuhk03_num_repeats')
        random_state = as_random_state(cuhk03_seed)
        evaluate = cuhk03_compiled if kernel is not None else cuhk03_python
        rank_hist, ap, valid = evaluate(distmat, q_pids, g_pids, q_camids, g_camids, max_rank,
                                        int(cuhk03_num_repeats), random_state)
        return summarize(rank_hist, ap, ap, valid, max_rank, draws_per_query=int(cuhk03_num_repeats))
    evaluate = market1501_compiled if kernel is not None else market1501_python
    first_rank, ap, inp = evaluate(distmat, q_pids, g_pids, q_camids, g_camids)
    return summarize_first_ranks(first_rank, ap, inp, max_rank)
