# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled rank / mAP / mINP evaluation for person re-identification (OpenMP over queries, no GIL).

Use it through ``torchreid.metrics.evaluate_rank``; the functions here take prepared, validated arrays.

Ranking convention (shared with the Python reference in torchreid/metrics/rank.py): gallery items are ranked by
ascending distance, and items with *equal* distances by ascending gallery index. Gallery items with the query's
pid *and* camid are dropped; items of the query's pid from another camera are the true matches; everything else
(other pids, pid-0 distractors, same-camera items of other pids) is a non-match.

Market-1501 protocol, without sorting a row: CMC, AP and mINP only need the rank of each true match among the
valid gallery items. With the m true matches sorted by (distance, index), one pass over the row counts, for every
valid non-match that comes before the last true match, how many true matches come before it (a vectorised count,
or a binary search when m > 64). A prefix sum of those counts gives each match's rank. The pass reads the row in
chunks of 32 with SIMD compares (SSE2) and only looks at the items at or below the last match's distance.
Memory: a few numbers per true match and thread; nothing of size Q x G or G. Time: one read of the matrix.

CUHK03 single-gallery-shot protocol: the seed's sampling (one random item per gallery identity, repeated), drawing
from a numpy ``RandomState`` bit generator in exactly the order ``np.random.choice`` did in the seed, so a given
RandomState gives the same numbers as the seed's Python code. The draws form one sequential stream, so this path
runs on one thread.
"""
import numpy as np

cimport numpy as cnp
from cython.parallel cimport prange, threadid
from cpython.pycapsule cimport PyCapsule_GetPointer
from libc.math cimport INFINITY
from libc.stdint cimport int64_t, uint32_t
from libc.stdlib cimport free, malloc, qsort
from numpy.random cimport bitgen_t

cnp.import_array()

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    static int reid_max_threads(void) { return omp_get_max_threads(); }
    static int reid_openmp_enabled(void) { return 1; }
    #else
    static int reid_max_threads(void) { return 1; }
    static int reid_openmp_enabled(void) { return 0; }
    #endif
    """
    int reid_max_threads() nogil
    int reid_openmp_enabled() nogil

cdef extern from *:
    """
    #include <math.h>
    #include <stdint.h>
    #if defined(__SSE2__) || defined(_M_X64)
    #include <emmintrin.h>
    #define REID_HAVE_SSE2 1
    #endif
    #if defined(_MSC_VER)
    #include <intrin.h>
    static inline int reid_lowest_bit(uint32_t x) { unsigned long i; _BitScanForward(&i, x); return (int)i; }
    #else
    static inline int reid_lowest_bit(uint32_t x) { return __builtin_ctz(x); }
    #endif
    #define REID_SCAN_CHUNK 32

    /* Bit i set when x[i] <= t or x[i] is NaN/+inf, for the REID_SCAN_CHUNK items at x (SSE2 where available). */
    static inline uint32_t reid_candidate_mask_f(const float* x, float t) {
        uint32_t mask = 0;
    #ifdef REID_HAVE_SSE2
        const __m128 vt = _mm_set1_ps(t), vinf = _mm_set1_ps(INFINITY);
        for (int k = 0; k < REID_SCAN_CHUNK / 4; k++) {
            __m128 v = _mm_loadu_ps(x + 4 * k);
            __m128 hit = _mm_or_ps(_mm_cmple_ps(v, vt), _mm_cmpnlt_ps(v, vinf));
            mask |= (uint32_t)_mm_movemask_ps(hit) << (4 * k);
        }
    #else
        for (int i = 0; i < REID_SCAN_CHUNK; i++) mask |= (uint32_t)((x[i] <= t) | !(x[i] < INFINITY)) << i;
    #endif
        return mask;
    }
    static inline uint32_t reid_candidate_mask_d(const double* x, double t) {
        uint32_t mask = 0;
    #ifdef REID_HAVE_SSE2
        const __m128d vt = _mm_set1_pd(t), vinf = _mm_set1_pd(INFINITY);
        for (int k = 0; k < REID_SCAN_CHUNK / 2; k++) {
            __m128d v = _mm_loadu_pd(x + 2 * k);
            __m128d hit = _mm_or_pd(_mm_cmple_pd(v, vt), _mm_cmpnlt_pd(v, vinf));
            mask |= (uint32_t)_mm_movemask_pd(hit) << (2 * k);
        }
    #else
        for (int i = 0; i < REID_SCAN_CHUNK; i++) mask |= (uint32_t)((x[i] <= t) | !(x[i] < INFINITY)) << i;
    #endif
        return mask;
    }

    /* Number of the m sorted keys (kd[i], ki[i]) that are smaller than (d, j): keys with kd < d, plus keys with
       kd == d and ki < j (equal distances are ordered by index). A linear, vectorised count, for small m. */
    static const uint8_t reid_bits_in_nibble[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};
    static inline int64_t reid_count_before_f(const float* kd, const int64_t* ki, int64_t m, float d, int64_t j) {
        int64_t less = 0, less_or_equal = 0, i = 0;
    #ifdef REID_HAVE_SSE2
        const __m128 vd = _mm_set1_ps(d);
        for (; i + 4 <= m; i += 4) {
            __m128 k = _mm_loadu_ps(kd + i);
            less += reid_bits_in_nibble[_mm_movemask_ps(_mm_cmplt_ps(k, vd))];
            less_or_equal += reid_bits_in_nibble[_mm_movemask_ps(_mm_cmple_ps(k, vd))];
        }
    #endif
        for (; i < m; i++) { less += kd[i] < d; less_or_equal += kd[i] <= d; }
        int64_t before = less;
        for (i = less; i < less_or_equal; i++) before += ki[i] < j;
        return before;
    }
    static inline int64_t reid_count_before_d(const double* kd, const int64_t* ki, int64_t m, double d, int64_t j) {
        int64_t less = 0, less_or_equal = 0, i = 0;
    #ifdef REID_HAVE_SSE2
        const __m128d vd = _mm_set1_pd(d);
        for (; i + 2 <= m; i += 2) {
            __m128d k = _mm_loadu_pd(kd + i);
            less += reid_bits_in_nibble[_mm_movemask_pd(_mm_cmplt_pd(k, vd))];
            less_or_equal += reid_bits_in_nibble[_mm_movemask_pd(_mm_cmple_pd(k, vd))];
        }
    #endif
        for (; i < m; i++) { less += kd[i] < d; less_or_equal += kd[i] <= d; }
        int64_t before = less;
        for (i = less; i < less_or_equal; i++) before += ki[i] < j;
        return before;
    }
    """
    const int SCAN_CHUNK "REID_SCAN_CHUNK"
    int64_t count_before_f "reid_count_before_f"(const float* kd, const int64_t* ki, int64_t m, float d,
                                                 int64_t j) nogil
    int64_t count_before_d "reid_count_before_d"(const double* kd, const int64_t* ki, int64_t m, double d,
                                                 int64_t j) nogil
    uint32_t candidate_mask_f "reid_candidate_mask_f"(const float* x, float t) nogil
    uint32_t candidate_mask_d "reid_candidate_mask_d"(const double* x, double t) nogil
    int lowest_bit "reid_lowest_bit"(uint32_t x) nogil

ctypedef fused real_t:
    float
    double

cdef struct Key:
    double dist
    int64_t index


def openmp_threads():
    """Number of threads the OpenMP loops use by default (1 when the module was built without OpenMP)."""
    return reid_max_threads() if reid_openmp_enabled() else 1


# below this many distances one thread does the job faster than waking (and waiting for) the others
cdef enum:
    PARALLEL_MIN_DISTANCES = 1 << 21


cdef inline int resolve_threads(int num_threads, int64_t num_distances) noexcept nogil:
    """num_threads <= 0: the OpenMP default; small problems run on one thread."""
    if num_distances < PARALLEL_MIN_DISTANCES:
        return 1
    if num_threads <= 0:
        return reid_max_threads()
    return num_threads


cdef int compare_keys(const void* a, const void* b) noexcept nogil:
    """Orders (distance, gallery index) pairs: by distance, then by index."""
    cdef const Key* ka = <const Key*> a
    cdef const Key* kb = <const Key*> b
    if ka.dist < kb.dist:
        return -1
    if ka.dist > kb.dist:
        return 1
    if ka.index < kb.index:
        return -1
    if ka.index > kb.index:
        return 1
    return 0


cdef inline bint is_finite(double d) noexcept nogil:
    return -INFINITY < d < INFINITY


cdef bint row_is_finite(const real_t* row, int64_t num_cols) noexcept nogil:
    cdef int64_t j
    for j in range(num_cols):
        if not (-INFINITY < row[j] < INFINITY):
            return False
    return True


# up to this many true matches, a linear vectorised count beats a binary search
cdef enum:
    LINEAR_COUNT_MAX_MATCHES = 64


cdef inline int64_t matches_before(real_t d, int64_t j, const real_t* key_dist, const int64_t* key_index,
                                   int64_t m) noexcept nogil:
    """Number of the m sorted (distance, index) keys that are smaller than (d, j)."""
    cdef int64_t base = 0, n = m, half, smaller
    if m <= LINEAR_COUNT_MAX_MATCHES:
        if real_t is float:
            return count_before_f(key_dist, key_index, m, d, j)
        else:
            return count_before_d(key_dist, key_index, m, d, j)
    while n > 1:  # branch-free binary search
        half = n >> 1
        smaller = (key_dist[base + half - 1] < d) | ((key_dist[base + half - 1] == d)
                                                     & (key_index[base + half - 1] < j))
        base += half * smaller
        n -= half
    return base + ((key_dist[base] < d) | ((key_dist[base] == d) & (key_index[base] < j)))


cdef bint count_preceding_nonmatches(const real_t* row, int64_t num_cols, int64_t col_offset, int64_t q_pid,
                                     const int64_t* g_pids, const real_t* key_dist, const int64_t* key_index,
                                     int64_t m, int64_t* counts) noexcept nogil:
    """For each valid non-match of one row, adds 1 to ``counts[p]``, p = number of true matches ranked before it.

    row[c] is the distance to gallery item ``col_offset + c``; the m >= 1 true matches (key_dist, key_index) are
    sorted by (distance, index). Items with the query's pid (true matches and the dropped same-camera items) are
    not counted. Non-matches ranked after the last true match change no rank and are skipped. Returns False if the
    row holds a NaN or infinite distance.

    The row is read in chunks of SCAN_CHUNK items: a vectorised compare gives a bit mask of the candidates (items
    at or below the last match's distance, or NaN/inf), and only the set bits are visited. Most chunks have none.
    """
    cdef int64_t c, j, chunk_start, full_chunks_end
    cdef uint32_t mask
    cdef real_t d
    cdef real_t last_dist = key_dist[m - 1]
    cdef int64_t last_index = key_index[m - 1]
    full_chunks_end = num_cols - num_cols % SCAN_CHUNK
    chunk_start = 0
    while chunk_start < num_cols:
        if chunk_start < full_chunks_end:
            if real_t is float:
                mask = candidate_mask_f(&row[chunk_start], last_dist)
            else:
                mask = candidate_mask_d(&row[chunk_start], last_dist)
        else:  # the last, partial chunk
            mask = 0
            for c in range(chunk_start, num_cols):
                if row[c] <= last_dist or not (row[c] < INFINITY):
                    mask |= (<uint32_t> 1) << (c - chunk_start)
        while mask:
            c = chunk_start + lowest_bit(mask)
            mask &= mask - 1
            d = row[c]
            j = col_offset + c
            if not (-INFINITY < d < INFINITY):
                return False
            # d <= last_dist here; (d, j) precedes the last match unless it ties with it and comes later
            if (d == last_dist and j >= last_index) or g_pids[j] == q_pid:
                continue
            counts[matches_before(d, j, key_dist, key_index, m)] += 1
        chunk_start += SCAN_CHUNK
    return True


cdef void metrics_from_counts(const int64_t* counts, int64_t m, int64_t* first_rank, double* ap,
                              double* inp) noexcept nogil:
    """Turns per-match counts of preceding non-matches into the first-match rank, AP and INP of one query.

    True match i (0-based, in ranked order) sits at rank i + counts[0] + ... + counts[i] (0-based) among the valid
    items. AP = mean over matches of precision at the match; INP = m / (1 + rank of the last match).
    """
    cdef int64_t i, rank = 0, preceding = 0
    cdef double precision_sum = 0.0
    for i in range(m):
        preceding += counts[i]
        rank = i + preceding
        precision_sum += (i + 1.0) / (rank + 1.0)
    first_rank[0] = counts[0]
    ap[0] = precision_sum / m
    inp[0] = m / (rank + 1.0)


def evaluate_market1501(const real_t[:, ::1] distmat, const int64_t[::1] q_pids, const int64_t[::1] q_camids,
                        const int64_t[::1] g_pids, const int64_t[::1] g_camids,
                        const int64_t[::1] pid_order, const int64_t[::1] group_start,
                        const int64_t[::1] group_end, int64_t max_group_size,
                        int64_t[::1] first_rank, double[::1] ap, double[::1] inp, char[::1] nonfinite,
                        int num_threads=0):
    """Per-query first-match rank, AP and INP under the Market-1501 protocol (no sort of the distance rows).

    distmat: (Q, G) float32 or float64, C-contiguous. pid_order: gallery indices sorted by (pid, index); the
    gallery items with query q's pid are pid_order[group_start[q]:group_end[q]] (max_group_size = the largest
    such range). Outputs, per query: first_rank (0-based rank of the first true match, -1 when the query has no
    valid match), ap, inp, and nonfinite = 1 when its row holds a NaN or infinite distance.
    """
    cdef int64_t num_q = distmat.shape[0]
    cdef int64_t num_g = distmat.shape[1]
    cdef int64_t q, t, j, m, i, base
    cdef const real_t* row
    cdef int threads = resolve_threads(num_threads, num_q * num_g)
    cdef int64_t scratch = max(max_group_size, 1)
    # per-thread scratch, thread k uses [k * scratch, (k + 1) * scratch)
    cdef Key* keys = <Key*> malloc(threads * scratch * sizeof(Key))
    cdef real_t* key_dist = <real_t*> malloc(threads * scratch * sizeof(real_t))
    cdef int64_t* key_index = <int64_t*> malloc(threads * scratch * sizeof(int64_t))
    cdef int64_t* counts = <int64_t*> malloc(threads * scratch * sizeof(int64_t))
    if keys == NULL or key_dist == NULL or key_index == NULL or counts == NULL:
        free(keys); free(key_dist); free(key_index); free(counts)
        raise MemoryError()
    try:
        for q in prange(num_q, nogil=True, num_threads=threads, schedule='dynamic', chunksize=8):
            base = threadid() * scratch
            row = &distmat[q, 0]
            nonfinite[q] = 0
            first_rank[q] = -1
            ap[q] = 0.0
            inp[q] = 0.0
            m = 0
            for t in range(group_start[q], group_end[q]):
                j = pid_order[t]
                if g_camids[j] != q_camids[q]:
                    keys[base + m].dist = row[j]
                    keys[base + m].index = j
                    m = m + 1
            if m == 0:
                nonfinite[q] = not row_is_finite(row, num_g)
                continue
            for i in range(m):
                if not is_finite(keys[base + i].dist):
                    nonfinite[q] = 1
            if nonfinite[q]:
                continue
            qsort(&keys[base], m, sizeof(Key), compare_keys)
            for i in range(m):
                key_dist[base + i] = <real_t> keys[base + i].dist  # exact: it came from a real_t row
                key_index[base + i] = keys[base + i].index
                counts[base + i] = 0
            if not count_preceding_nonmatches(row, num_g, 0, q_pids[q], &g_pids[0], &key_dist[base],
                                              &key_index[base], m, &counts[base]):
                nonfinite[q] = 1
                continue
            metrics_from_counts(&counts[base], m, &first_rank[q], &ap[q], &inp[q])
    finally:
        free(keys)
        free(key_dist)
        free(key_index)
        free(counts)


def count_block(const real_t[:, ::1] tile, int64_t query_start, int64_t gallery_start,
                const int64_t[::1] q_pids, const int64_t[::1] g_pids, const int64_t[::1] match_ptr,
                const real_t[::1] match_dist, const int64_t[::1] match_index, int64_t[::1] counts,
                char[::1] nonfinite, int num_threads=0):
    """Block-wise step: adds one distance tile's preceding-non-match counts to the per-match ``counts``.

    tile: (qb, gb) distances of queries query_start.. against gallery items gallery_start... The true matches of
    query q are entries match_ptr[q]:match_ptr[q + 1] (global query index) of match_dist / match_index, sorted by
    (distance, index); counts has one slot per entry. Sets nonfinite[q] = 1 (global index) for a row with a NaN
    or infinite distance.
    """
    cdef int64_t qb = tile.shape[0]
    cdef int64_t gb = tile.shape[1]
    cdef int64_t r, q, begin, m
    cdef int threads = resolve_threads(num_threads, qb * gb)
    if query_start + qb > q_pids.shape[0] or gallery_start + gb > g_pids.shape[0]:
        raise ValueError('tile lies outside the query/gallery ranges')
    for r in prange(qb, nogil=True, num_threads=threads, schedule='dynamic', chunksize=8):
        q = query_start + r
        begin = match_ptr[q]
        m = match_ptr[q + 1] - begin
        if m == 0:
            if not row_is_finite(&tile[r, 0], gb):
                nonfinite[q] = 1
        elif not count_preceding_nonmatches(&tile[r, 0], gb, gallery_start, q_pids[q], &g_pids[0],
                                            &match_dist[begin], &match_index[begin], m, &counts[begin]):
            nonfinite[q] = 1


cdef inline uint32_t legacy_bounded_uint32(bitgen_t* rng, uint32_t upper) noexcept nogil:
    """A uniform integer in [0, upper], drawn exactly as numpy's legacy RandomState.randint / choice does it:
    mask to the next power of two minus one and reject values above ``upper``; upper == 0 draws nothing."""
    cdef uint32_t mask = upper, value
    if upper == 0:
        return 0
    if upper == <uint32_t> 0xFFFFFFFFu:
        return rng.next_uint32(rng.state)
    mask |= mask >> 1
    mask |= mask >> 2
    mask |= mask >> 4
    mask |= mask >> 8
    mask |= mask >> 16
    while True:
        value = rng.next_uint32(rng.state) & mask
        if value <= upper:
            return value


def evaluate_cuhk03(const real_t[:, ::1] distmat, const int64_t[::1] q_pids, const int64_t[::1] q_camids,
                    const int64_t[::1] g_pids, const int64_t[::1] g_camids, const int64_t[::1] g_labels,
                    int64_t num_labels, int64_t num_repeats, int64_t max_rank, object bit_generator,
                    double[::1] ap, char[::1] valid, int64_t[::1] rank_hist, char[::1] nonfinite):
    """CUHK03 single-gallery-shot protocol (one query at a time; the random stream is sequential).

    For every valid query (one with a true match), num_repeats times: draw one item per gallery identity (in the
    order the identities first appear in the ranked list, as the seed did), and find the rank r of the query's
    identity among the drawn items; rank_hist[min(r, max_rank)] += 1 and ap[q] += 1 / (r + 1) / num_repeats.
    g_labels: gallery pids relabelled 0..num_labels-1. bit_generator: the ``_bit_generator`` of a numpy
    RandomState (MT19937); its lock is held while drawing.
    """
    cdef int64_t num_q = distmat.shape[0]
    cdef int64_t num_g = distmat.shape[1]
    cdef int64_t q, j, n, r, g, num_groups, positive_group, rank, repeat
    cdef bint has_match
    cdef double ap_sum
    cdef const real_t* row
    cdef bitgen_t* rng = <bitgen_t*> PyCapsule_GetPointer(bit_generator.capsule, 'BitGenerator')
    cdef Key* keys = <Key*> malloc(max(num_g, 1) * sizeof(Key))
    cdef int64_t* group_of_label = <int64_t*> malloc(max(num_labels, 1) * sizeof(int64_t))
    cdef int64_t* item_group = <int64_t*> malloc(max(num_g, 1) * sizeof(int64_t))
    cdef int64_t* group_begin = <int64_t*> malloc((num_g + 1) * sizeof(int64_t))
    cdef int64_t* group_fill = <int64_t*> malloc(max(num_g, 1) * sizeof(int64_t))
    cdef int64_t* positions = <int64_t*> malloc(max(num_g, 1) * sizeof(int64_t))
    cdef int64_t* drawn = <int64_t*> malloc(max(num_g, 1) * sizeof(int64_t))
    if (keys == NULL or group_of_label == NULL or item_group == NULL or group_begin == NULL or group_fill == NULL
            or positions == NULL or drawn == NULL):
        free(keys); free(group_of_label); free(item_group); free(group_begin); free(group_fill)
        free(positions); free(drawn)
        raise MemoryError()
    try:
        with bit_generator.lock:
            with nogil:
                for g in range(num_labels):
                    group_of_label[g] = -1
                for q in range(num_q):
                    row = &distmat[q, 0]
                    valid[q] = 0
                    ap[q] = 0.0
                    nonfinite[q] = not row_is_finite(row, num_g)
                    if nonfinite[q]:
                        continue
                    # the valid gallery items, ranked by (distance, index)
                    n = 0
                    has_match = False
                    for j in range(num_g):
                        if g_pids[j] == q_pids[q]:
                            if g_camids[j] == q_camids[q]:
                                continue
                            has_match = True
                        keys[n].dist = row[j]
                        keys[n].index = j
                        n = n + 1
                    if not has_match:
                        continue
                    valid[q] = 1
                    qsort(keys, n, sizeof(Key), compare_keys)
                    # identities numbered by first appearance; positions (ranks) of each identity's items, ascending
                    num_groups = 0
                    positive_group = -1
                    for r in range(n):
                        g = group_of_label[g_labels[keys[r].index]]
                        if g < 0:
                            g = num_groups
                            group_of_label[g_labels[keys[r].index]] = g
                            group_fill[g] = 0
                            num_groups = num_groups + 1
                        if g_pids[keys[r].index] == q_pids[q]:
                            positive_group = g
                        item_group[r] = g
                        group_fill[g] += 1
                    group_begin[0] = 0
                    for g in range(num_groups):
                        group_begin[g + 1] = group_begin[g] + group_fill[g]
                        group_fill[g] = 0
                    for r in range(n):
                        g = item_group[r]
                        positions[group_begin[g] + group_fill[g]] = r
                        group_fill[g] += 1
                    ap_sum = 0.0
                    for repeat in range(num_repeats):
                        for g in range(num_groups):
                            drawn[g] = positions[group_begin[g] + legacy_bounded_uint32(
                                rng, <uint32_t> (group_begin[g + 1] - group_begin[g] - 1))]
                        rank = 0
                        for g in range(num_groups):
                            if drawn[g] < drawn[positive_group]:
                                rank = rank + 1
                        rank_hist[rank if rank < max_rank else max_rank] += 1
                        ap_sum += 1.0 / (rank + 1.0)
                    ap[q] = ap_sum / num_repeats
                    for r in range(n):
                        group_of_label[g_labels[keys[r].index]] = -1
    finally:
        free(keys)
        free(group_of_label)
        free(item_group)
        free(group_begin)
        free(group_fill)
        free(positions)
        free(drawn)
