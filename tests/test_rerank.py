"""k-reciprocal re-ranking: the sparse, block-wise implementation equals a literal dense one."""
import numpy as np
import pytest
import torch

from torchreid.metrics import compute_distance_matrix, re_ranking


def dense_re_ranking(q_g, q_q, g_g, k1, k2, lambda_value):
    """The procedure with full N x N matrices, step by step (ties between equal distances by index)."""
    num_q = q_g.shape[0]
    full = np.concatenate([np.concatenate([q_q, q_g], axis=1), np.concatenate([q_g.T, g_g], axis=1)])
    squared = np.power(full, 2).astype(np.float32)
    dist = (squared / squared.max(axis=0)).T
    num_all = dist.shape[0]
    nearest = np.argsort(dist, axis=1, kind='stable')

    def reciprocal(i, k):
        return np.array([c for c in nearest[i, :k + 1] if i in nearest[c, :k + 1]], dtype=int)

    v = np.zeros((num_all, num_all), dtype=np.float32)
    for i in range(num_all):
        neighbours = reciprocal(i, k1)
        expanded = list(neighbours)
        for candidate in neighbours:
            candidate_neighbours = reciprocal(candidate, int(np.around(k1 / 2)))
            if len(np.intersect1d(candidate_neighbours, neighbours)) > 2 / 3 * len(candidate_neighbours):
                expanded.extend(candidate_neighbours)
        expanded = np.unique(expanded)
        weight = np.exp(-dist[i, expanded])
        v[i, expanded] = weight / weight.sum()
    if k2 != 1:
        v = np.stack([v[nearest[i, :k2]].mean(axis=0) for i in range(num_all)])
    jaccard = np.zeros((num_q, num_all), dtype=np.float32)
    for i in range(num_q):
        shared = np.zeros(num_all, dtype=np.float32)
        for k in np.flatnonzero(v[i]):
            rows = np.flatnonzero(v[:, k])
            shared[rows] += np.minimum(v[i, k], v[rows, k])
        jaccard[i] = 1 - shared / (2 - shared)
    return (jaccard * (1 - lambda_value) + dist[:num_q] * lambda_value)[:, num_q:]


def clustered_distances(rng, num_q, num_g, dim, integer=False):
    centers = rng.standard_normal((4, dim)) * 2
    if integer:
        qf = rng.integers(-2, 3, (num_q, dim)).astype(np.float32)
        gf = rng.integers(-2, 3, (num_g, dim)).astype(np.float32)
    else:
        qf = (centers[rng.integers(0, 4, num_q)] + rng.standard_normal((num_q, dim))).astype(np.float32)
        gf = (centers[rng.integers(0, 4, num_g)] + rng.standard_normal((num_g, dim))).astype(np.float32)
    qf, gf = torch.from_numpy(qf), torch.from_numpy(gf)
    return tuple(compute_distance_matrix(a, b).numpy() for a, b in ((qf, gf), (qf, qf), (gf, gf)))


def test_matches_dense_reference_with_default_parameters():
    q_g, q_q, g_g = clustered_distances(np.random.default_rng(0), 12, 45, 5)
    result = re_ranking(q_g, q_q, g_g)
    assert result.shape == (12, 45) and result.dtype == np.float32
    np.testing.assert_allclose(result, dense_re_ranking(q_g, q_q, g_g, 20, 6, 0.3), atol=1e-6)


def test_matches_dense_reference_on_random_parameters_and_ties():
    rng = np.random.default_rng(1)
    for trial in range(12):
        num_q, num_g = int(rng.integers(1, 15)), int(rng.integers(1, 40))
        distances = clustered_distances(rng, num_q, num_g, int(rng.integers(2, 6)), integer=trial % 3 == 0)
        if any((d ** 2).max(axis=0).min() == 0 for d in (np.vstack([distances[1], distances[0].T]),
                                                        np.vstack([distances[0], distances[2]]))):
            continue  # an image at distance 0 from everything: undefined normalisation
        k1, k2, lam = int(rng.integers(1, 25)), int(rng.integers(1, 8)), float(rng.random())
        np.testing.assert_allclose(re_ranking(*distances, k1=k1, k2=k2, lambda_value=lam),
                                   dense_re_ranking(*distances, k1, k2, lam), atol=2e-6)


def test_lambda_one_returns_the_normalised_original_distance():
    q_g, q_q, g_g = clustered_distances(np.random.default_rng(2), 5, 9, 3)
    squared = np.vstack([q_q, q_g.T]).astype(np.float32) ** 2  # columns of the full matrix for query i
    expected = (q_g.astype(np.float32) ** 2) / squared.max(axis=0)[:, None]
    np.testing.assert_allclose(re_ranking(torch.from_numpy(q_g), q_q, g_g, lambda_value=1.0), expected, rtol=1e-6)


def test_bad_input():
    q_g, q_q, g_g = clustered_distances(np.random.default_rng(3), 3, 4, 2)
    with pytest.raises(ValueError, match='q_q_dist must be'):
        re_ranking(q_g, g_g, g_g)
    with pytest.raises(ValueError, match='g_g_dist must be'):
        re_ranking(q_g, q_q, q_q)
    with pytest.raises(ValueError, match='k1 must be'):
        re_ranking(q_g, q_q, g_g, k1=0)
    with pytest.raises(ValueError, match='lambda_value'):
        re_ranking(q_g, q_q, g_g, lambda_value=1.5)
    bad = q_g.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match='NaN or infinite'):
        re_ranking(bad, q_q, g_g)
    with pytest.raises(ValueError, match='non-empty 2-D'):
        re_ranking(np.zeros((0, 4)), np.zeros((0, 0)), g_g)
