"""k-reciprocal re-ranking (Zhong et al., "Re-ranking Person Re-identification with k-reciprocal Encoding",
CVPR 2017), in memory that grows with the number of images, not with its square.

The procedure (the one of the authors' widely used implementation; N = Q + G images, queries first):

1. D[i, :] = (column i of the full N x N distance matrix [[q_q, q_g], [q_g^T, g_g]], squared, divided by its
   maximum), in float32.
2. R(i, k) = the k-reciprocal neighbours of i: the j among i's k + 1 nearest (by D, ties by index) that have i
   among their own k + 1 nearest.
3. The expanded set E(i) = R(i, k1), plus R(c, round(k1 / 2)) for each c in R(i, k1) that shares more than 2/3 of
   R(c, round(k1 / 2)) with R(i, k1).
4. V[i, j] = exp(-D[i, j]) over j in E(i), normalised to sum 1; with k2 > 1 each row is replaced by the mean of
   the rows of its k2 nearest neighbours (local query expansion).
5. Jaccard distance J[i, j] = 1 - s / (2 - s), s = sum_k min(V[i, k], V[j, k]); result
   (1 - lambda) * J + lambda * D, restricted to query rows and gallery columns.

The straightforward implementation materialises N x N float32 matrices (D, V, the expanded V) and an N x N int64
argsort: about 8 GB for Market-1501 (N = 19,281). Here: D is rebuilt block by block of rows from the inputs, only
each row's nearest neighbours are kept (argpartition, no full sort), V and its expansion are sparse (a few hundred
non-zeros per row) and the Jaccard sums run over sparse columns, so the extra memory is the (Q, G) float32 result
plus O(N * (k1 + nnz per row)). Values are float32 like the reference; the neighbour sets are identical (ties
between equal distances go by index), and results agree with the dense reference to float32 rounding (~1e-6).
"""
import numpy as np
import scipy.sparse as sp

from .rank import check_positive_int, to_numpy

ROW_BLOCK = 256  # rows of D built at a time: ROW_BLOCK x N float32


def _square_matrix(name, matrix, size):
    matrix = to_numpy(matrix)
    if matrix.shape != (size, size):
        raise ValueError('{} must be ({}, {}), got shape {}'.format(name, size, size, matrix.shape))
    return matrix


def _normalized_rows(q_g_dist, q_q_dist, g_g_dist, start, end):
    """Rows start..end-1 of D (float32): column i of the full matrix, squared, divided by its maximum."""
    num_q = q_g_dist.shape[0]
    if end <= num_q:  # query rows: columns of [q_q; q_g^T]
        columns = np.hstack([q_q_dist[:, start:end].T, q_g_dist[start:end, :]])
    else:  # gallery rows (a block never straddles queries and gallery)
        g_start, g_end = start - num_q, end - num_q
        columns = np.hstack([q_g_dist[:, g_start:g_end].T, g_g_dist[:, g_start:g_end].T])
    if not np.isfinite(columns).all():
        raise ValueError('re-ranking input distances hold NaN or infinite values')
    squared = np.power(columns, 2).astype(np.float32)
    maximum = squared.max(axis=1, keepdims=True)
    if np.any(maximum <= 0):
        raise ValueError('re-ranking needs a non-zero distance in every row; got an image at distance 0 from all')
    return squared / maximum


def _row_blocks(num_q, num_all):
    blocks = [(s, min(s + ROW_BLOCK, num_q)) for s in range(0, num_q, ROW_BLOCK)]
    return blocks + [(s, min(s + ROW_BLOCK, num_all)) for s in range(num_q, num_all, ROW_BLOCK)]


def _nearest_neighbours(rows, count):
    """(b, N) distances -> (b, count) column indices of the count smallest per row, by (distance, index)."""
    num_cols = rows.shape[1]
    if count >= num_cols:
        return np.argsort(rows, axis=1, kind='stable')
    nearest = np.argpartition(rows, count - 1, axis=1)[:, :count]
    kth_value = np.take_along_axis(rows, nearest, axis=1).max(axis=1)
    # argpartition picks an arbitrary subset of items tied at the count-th value: redo those rows exactly
    tied_rows = np.flatnonzero(np.count_nonzero(rows <= kth_value[:, None], axis=1) > count)
    for r in tied_rows:
        nearest[r] = np.argsort(rows[r], kind='stable')[:count]
    values = np.take_along_axis(rows, nearest, axis=1)
    order = np.lexsort((nearest, values), axis=1)
    return np.take_along_axis(nearest, order, axis=1)


def _reciprocal_sets(neighbours, k):
    """Sparse boolean N x N: row i marks i's k-reciprocal neighbours (in i's k + 1 nearest and vice versa)."""
    num_all = neighbours.shape[0]
    forward = neighbours[:, :k + 1]
    backward = forward[forward]  # (N, k+1, k+1): the nearest of each of i's nearest
    is_reciprocal = (backward == np.arange(num_all)[:, None, None]).any(axis=2)
    rows = np.repeat(np.arange(num_all), forward.shape[1])[is_reciprocal.ravel()]
    return sp.csr_matrix((np.ones(rows.size, dtype=np.float32), (rows, forward[is_reciprocal])),
                         shape=(num_all, num_all))


def re_ranking(q_g_dist, q_q_dist, g_g_dist, k1=20, k2=6, lambda_value=0.3):
    """k-reciprocal re-ranked (Q, G) float32 distances from the q-g, q-q and g-g distance matrices (numpy/torch).

    k1: size of the reciprocal neighbourhoods; k2: neighbours averaged in the query expansion (1 = none);
    lambda_value: weight of the original distance in the result.
    """
    q_g_dist = to_numpy(q_g_dist)
    if q_g_dist.ndim != 2 or q_g_dist.size == 0:
        raise ValueError('q_g_dist must be a non-empty 2-D (num_query, num_gallery) matrix, got shape {}'.format(
            q_g_dist.shape))
    num_q, num_g = q_g_dist.shape
    q_q_dist = _square_matrix('q_q_dist', q_q_dist, num_q)
    g_g_dist = _square_matrix('g_g_dist', g_g_dist, num_g)
    check_positive_int(k1, 'k1')
    check_positive_int(k2, 'k2')
    if not 0 <= lambda_value <= 1:
        raise ValueError('lambda_value must be in [0, 1], got {!r}'.format(lambda_value))
    num_all = num_q + num_g
    blocks = _row_blocks(num_q, num_all)

    # 1-2. each image's nearest neighbours, one block of rows of D at a time
    num_nearest = min(num_all, max(k1 + 1, k2))
    neighbours = np.empty((num_all, num_nearest), dtype=np.int64)
    for start, end in blocks:
        neighbours[start:end] = _nearest_neighbours(_normalized_rows(q_g_dist, q_q_dist, g_g_dist, start, end),
                                                    num_nearest)

    # 3. expanded sets E: R(i, k1) plus each candidate's R(c, k1/2) that overlaps R(i, k1) by more than 2/3
    reciprocal = _reciprocal_sets(neighbours, k1)
    half_reciprocal = _reciprocal_sets(neighbours, int(np.around(k1 / 2.0)))
    overlap = (reciprocal @ half_reciprocal.T).multiply(reciprocal).tocsr()  # (i, c): |R(i,k1) & R(c,k1/2)|
    half_size = np.asarray(half_reciprocal.sum(axis=1)).ravel()
    overlap_rows = np.repeat(np.arange(num_all), np.diff(overlap.indptr))
    accepted = overlap.data > 2.0 / 3.0 * half_size[overlap.indices]
    accepted_candidates = sp.csr_matrix((np.ones(int(accepted.sum()), dtype=np.float32),
                                         (overlap_rows[accepted], overlap.indices[accepted])),
                                        shape=(num_all, num_all))
    expanded = (reciprocal + accepted_candidates @ half_reciprocal).tocsr()
    expanded.sort_indices()

    # 4. V: exp(-D) over E(i), each row normalised to sum 1 (D rebuilt block by block)
    weights = np.empty(expanded.nnz, dtype=np.float32)
    for start, end in blocks:
        rows = _normalized_rows(q_g_dist, q_q_dist, g_g_dist, start, end)
        for i in range(start, end):
            columns = expanded.indices[expanded.indptr[i]:expanded.indptr[i + 1]]
            row_weights = np.exp(-rows[i - start, columns])
            weights[expanded.indptr[i]:expanded.indptr[i + 1]] = row_weights / np.sum(row_weights)
    v = sp.csr_matrix((weights, expanded.indices, expanded.indptr), shape=(num_all, num_all))
    if k2 != 1:
        # mean of the rows of the k2 nearest neighbours, summed in neighbour order like a dense np.mean
        neighbour_rows = sp.csr_matrix((np.ones(num_all * k2, dtype=np.float32), neighbours[:, :k2].ravel(),
                                        np.arange(0, num_all * k2 + 1, k2)), shape=(num_all, num_all))
        v = (neighbour_rows @ v).tocsr()
        v.data /= np.float32(k2)
    v.sort_indices()

    # 5. Jaccard distance query x gallery: s[i, j] = sum over k in V[i]'s support of min(V[i, k], V[j, k])
    gallery_columns = v[num_q:].tocsc()  # gallery rows of V, column by column
    result = np.empty((num_q, num_g), dtype=np.float32)
    for start, end in blocks:
        if start >= num_q:
            break
        original = _normalized_rows(q_g_dist, q_q_dist, g_g_dist, start, end)[:, num_q:]
        for i in range(start, end):
            support = v.indices[v.indptr[i]:v.indptr[i + 1]]
            query_weight = v.data[v.indptr[i]:v.indptr[i + 1]]
            begins, ends = gallery_columns.indptr[support], gallery_columns.indptr[support + 1]
            lengths = ends - begins
            entries = np.repeat(begins - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
            shared = np.minimum(np.repeat(query_weight, lengths), gallery_columns.data[entries])
            similarity = np.bincount(gallery_columns.indices[entries], weights=shared, minlength=num_g)
            similarity = similarity.astype(np.float32)
            jaccard = 1 - similarity / (2 - similarity)
            result[i] = jaccard * (1 - lambda_value) + original[i - start] * lambda_value
    return result
