# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""The yardstick for benchmarks/eval_speed.py: the seed's compiled evaluator algorithm (full sort of every row).

Like the seed's eval_lib kernel (SPEC section 13.4): argsort every distance row (numpy's default sort, as the seed),
build the integer match matrix, then per query drop same-pid-same-camera items, take the cumulative match curve
and the non-interpolated AP from the full ranked list. Single-threaded, as the seed. ``rows_per_block=None`` sorts
the whole matrix at once exactly like the seed (Q x G int64 indices and matches: 16 bytes per distance); a block
size sorts that many rows at a time, same time complexity, bounded memory. Compiled at benchmark time (pyximport).
"""
import numpy as np

from libc.stdint cimport int64_t


def classic_market1501(distmat, q_pids, g_pids, q_camids, g_camids, int64_t max_rank, rows_per_block=None):
    """(cmc (max_rank,) float32, mAP, mINP) by full sorting; queries without a true match are skipped."""
    cdef int64_t num_q = distmat.shape[0]
    cdef int64_t num_g = distmat.shape[1]
    cdef int64_t[::1] g_pids_v = np.ascontiguousarray(g_pids, dtype=np.int64)
    cdef int64_t[::1] g_camids_v = np.ascontiguousarray(g_camids, dtype=np.int64)
    cdef double[:, ::1] all_cmc = np.zeros((num_q, max_rank), dtype=np.float64)
    cdef double[::1] all_ap = np.zeros(num_q, dtype=np.float64)
    cdef double[::1] all_inp = np.zeros(num_q, dtype=np.float64)
    cdef char[::1] is_valid = np.zeros(num_q, dtype=np.int8)
    cdef int64_t[::1] kept_matches = np.zeros(num_g, dtype=np.int64)
    cdef int64_t[:, ::1] order
    cdef int64_t[:, ::1] matches
    cdef int64_t block_start, block_end, q, r, g, num_kept, num_rel, q_pid, q_camid, last_match, first_match
    cdef double precision_sum
    q_pids = np.asarray(q_pids, dtype=np.int64)
    q_camids = np.asarray(q_camids, dtype=np.int64)
    block = num_q if rows_per_block is None else int(rows_per_block)
    for block_start in range(0, num_q, block):
        block_end = min(block_start + block, num_q)
        order = np.ascontiguousarray(np.argsort(distmat[block_start:block_end], axis=1), dtype=np.int64)
        matches = (np.asarray(g_pids_v)[np.asarray(order)]
                   == q_pids[block_start:block_end, None]).astype(np.int64)
        for r in range(block_end - block_start):
            q = block_start + r
            q_pid = q_pids[q]
            q_camid = q_camids[q]
            num_kept = 0
            for g in range(num_g):
                if g_pids_v[order[r, g]] != q_pid or g_camids_v[order[r, g]] != q_camid:
                    kept_matches[num_kept] = matches[r, g]
                    num_kept += 1
            num_rel = 0
            precision_sum = 0.0
            first_match = -1
            last_match = -1
            for g in range(num_kept):
                if kept_matches[g]:
                    num_rel += 1
                    precision_sum += num_rel / (g + 1.0)
                    if first_match < 0:
                        first_match = g
                    last_match = g
            if num_rel == 0:
                continue
            is_valid[q] = 1
            for g in range(first_match, max_rank):
                all_cmc[q, g] = 1.0
            all_ap[q] = precision_sum / num_rel
            all_inp[q] = num_rel / (last_match + 1.0)
    valid = np.asarray(is_valid).astype(bool)
    num_valid = valid.sum()
    cmc = (np.asarray(all_cmc)[valid].sum(axis=0) / num_valid).astype(np.float32)
    return cmc, float(np.asarray(all_ap)[valid].mean()), float(np.asarray(all_inp)[valid].mean())
