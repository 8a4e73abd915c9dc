"""Block-wise evaluation from features equals distance matrix + evaluate_rank; distances; bad input."""
import numpy as np
import pytest
import torch

from torchreid.metrics import compute_distance_matrix, evaluate_features, evaluate_rank
from torchreid.metrics.blockwise import count_block_python, metrics_from_match_counts, true_match_lists
from torchreid.metrics import rank


def test_distance_matrix_definitions():
    qf = torch.tensor([[1.0, 0.0], [3.0, 4.0]])
    gf = torch.tensor([[0.0, 2.0], [3.0, 4.0], [-1.0, 0.0]])
    euclidean = compute_distance_matrix(qf, gf)  # squared, as the seed
    assert torch.allclose(euclidean, torch.tensor([[5.0, 20.0, 4.0], [13.0, 0.0, 32.0]]))
    cosine = compute_distance_matrix(qf.numpy(), gf.numpy(), metric='cosine')
    assert torch.allclose(cosine, torch.tensor([[1.0, 0.4, 2.0], [0.2, 0.0, 1.6]]), atol=1e-6)
    with pytest.raises(ValueError, match='unknown distance metric'):
        compute_distance_matrix(qf, gf, metric='manhattan')
    with pytest.raises(ValueError, match='feature dimensions differ'):
        compute_distance_matrix(qf, torch.zeros(2, 3))


def random_features(rng, integer):
    num_q, num_g, dim = int(rng.integers(1, 30)), int(rng.integers(1, 120)), int(rng.integers(1, 6))
    if integer:  # exact products: many exact ties, identical values in every path
        qf, gf = rng.integers(-2, 3, (num_q, dim)), rng.integers(-2, 3, (num_g, dim))
    else:
        qf, gf = rng.standard_normal((num_q, dim)), rng.standard_normal((num_g, dim))
    num_pids, num_cams = int(rng.integers(1, 6)), int(rng.integers(1, 4))
    ids = (rng.integers(0, num_pids, num_q), rng.integers(0, num_pids, num_g), rng.integers(0, num_cams, num_q),
           rng.integers(0, num_cams, num_g))
    return torch.tensor(qf, dtype=torch.float32), torch.tensor(gf, dtype=torch.float32), ids


@pytest.mark.parametrize('integer', [True, False])
def test_blockwise_equals_matrix_path_on_random_problems(integer):
    rng = np.random.default_rng(1 if integer else 2)
    checked = 0
    for trial in range(80):
        qf, gf, ids = random_features(rng, integer)
        metric = 'cosine' if (trial % 3 == 2 and not integer) else 'euclidean'
        normalize = trial % 4 == 1 and not integer
        a, b = (torch.nn.functional.normalize(qf), torch.nn.functional.normalize(gf)) if normalize else (qf, gf)
        try:
            expected = evaluate_rank(compute_distance_matrix(a, b, metric), *ids, max_rank=7)
        except ValueError:  # no valid query
            with pytest.raises(ValueError, match='no query has a true match'):
                evaluate_features(qf, gf, *ids, metric=metric)
            continue
        for use_cython in (True, False):
            result = evaluate_features(qf, gf, *ids, metric=metric, normalize_features=normalize, max_rank=7,
                                       query_block_size=int(rng.integers(1, 9)),
                                       gallery_block_size=int(rng.integers(1, 50)), use_cython=use_cython)
            np.testing.assert_array_equal(result.cmc, expected.cmc)
            assert result.mAP == pytest.approx(expected.mAP, abs=1e-12)
            assert result.mINP == pytest.approx(expected.mINP, abs=1e-12)
            np.testing.assert_allclose(result.all_AP, expected.all_AP, atol=1e-12)
            assert result.num_valid_queries == expected.num_valid_queries
        checked += 1
    assert checked > 40


def test_blockwise_float64_and_numpy_features():
    rng = np.random.default_rng(3)
    qf, gf = rng.standard_normal((6, 4)), rng.standard_normal((50, 4))
    ids = (np.arange(6) % 3, np.arange(50) % 3, np.zeros(6, dtype=int), np.ones(50, dtype=int))
    expected = evaluate_rank(compute_distance_matrix(torch.from_numpy(qf), torch.from_numpy(gf)), *ids)
    result = evaluate_features(qf, gf, *ids, gallery_block_size=7)
    assert result.mAP == pytest.approx(expected.mAP, abs=1e-12)


def test_true_match_lists_and_counts_to_metrics():
    match_ptr, match_index = true_match_lists(np.array([1, 2, 9]), np.array([2, 1, 1, 2, 1]), np.array([0, 0, 0]),
                                              np.array([1, 0, 1, 0, 2]))
    # query 0 (pid 1, cam 0): items 2 and 4; query 1 (pid 2, cam 0): item 0; query 2: none
    assert match_ptr.tolist() == [0, 2, 3, 3] and match_index.tolist() == [2, 4, 0]
    first_rank, ap, inp = metrics_from_match_counts(match_ptr, np.array([1, 2, 0]))
    # query 0: ranks 1 and 1 + 1 + 2 = 4; query 1: rank 0
    assert first_rank.tolist() == [1, 0, -1]
    np.testing.assert_allclose(ap, [(1 / 2 + 2 / 5) / 2, 1.0, 0.0])
    np.testing.assert_allclose(inp, [2 / 5, 1.0, 0.0])


def test_count_block_compiled_equals_numpy():
    rng = np.random.default_rng(4)
    tile = np.round(rng.random((5, 300)), 2).astype(np.float32)
    q_pids, g_pids = rng.integers(0, 2, 5), rng.integers(0, 4, 300)
    match_ptr, match_index = true_match_lists(q_pids, g_pids, np.zeros(5, dtype=np.int64), rng.integers(0, 2, 300))
    query_of = np.repeat(np.arange(5), np.diff(match_ptr))
    match_dist = tile[query_of, match_index]
    order = np.lexsort((match_index, match_dist, query_of))
    match_dist, match_index = np.ascontiguousarray(match_dist[order]), np.ascontiguousarray(match_index[order])
    counts = [np.zeros(match_index.size, dtype=np.int64) for _ in range(2)]
    flags = [np.zeros(5, dtype=np.int8) for _ in range(2)]
    rank.cython_eval.count_block(tile, 0, 0, q_pids, g_pids, match_ptr, match_dist, match_index, counts[0],
                                 flags[0])
    count_block_python(tile, 0, 0, q_pids, g_pids, match_ptr, match_dist, match_index, counts[1], flags[1])
    np.testing.assert_array_equal(counts[0], counts[1])
    assert counts[0].sum() > 0 and not flags[0].any()


@pytest.mark.parametrize('use_cython', [True, False])
def test_blockwise_bad_input(use_cython):
    qf, gf = torch.zeros(2, 3), torch.ones(4, 3)
    ids = ([0, 1], [0, 1, 0, 1], [0, 0], [1, 1, 1, 1])
    with pytest.raises(ValueError, match='query set is empty'):
        evaluate_features(torch.zeros(0, 3), gf, [], ids[1], [], ids[3], use_cython=use_cython)
    with pytest.raises(ValueError, match='gallery is empty'):
        evaluate_features(qf, torch.zeros(0, 3), ids[0], [], ids[2], [], use_cython=use_cython)
    with pytest.raises(ValueError, match='feature dimensions differ'):
        evaluate_features(qf, torch.ones(4, 2), *ids, use_cython=use_cython)
    with pytest.raises(ValueError, match='g_pids has 3 entries'):
        evaluate_features(qf, gf, ids[0], [0, 1, 0], ids[2], ids[3], use_cython=use_cython)
    with pytest.raises(ValueError, match='2-D'):
        evaluate_features(torch.zeros(3), gf, *ids, use_cython=use_cython)
    with pytest.raises(ValueError, match='gallery_block_size'):
        evaluate_features(qf, gf, *ids, gallery_block_size=0, use_cython=use_cython)
    nan_gallery = gf.clone()
    nan_gallery[2, 1] = float('nan')
    with pytest.raises(ValueError, match='NaN or infinite'):
        evaluate_features(qf, nan_gallery, *ids, gallery_block_size=3, use_cython=use_cython)


def progress_problem():
    """5 queries in blocks of 3, 10 gallery items in blocks of 4: 2 x 3 tiles; the true matches of query block 0
    (pid 1) lie in gallery block 0 only, those of query block 1 (pid 2) in gallery block 2 only."""
    rng = np.random.default_rng(5)
    qf, gf = torch.tensor(rng.standard_normal((5, 3)), dtype=torch.float32), torch.tensor(
        rng.standard_normal((10, 3)), dtype=torch.float32)
    ids = (np.array([1, 1, 1, 2, 2]), np.array([1, 0, 0, 0, 0, 0, 0, 0, 2, 2]), np.zeros(5, dtype=np.int64),
           np.ones(10, dtype=np.int64))
    return qf, gf, ids


def test_blockwise_first_pass_computes_only_the_tiles_holding_true_matches(monkeypatch):
    from torchreid.metrics import blockwise
    qf, gf, ids = progress_problem()
    tiles = []

    def counting_distance(query, gallery, metric):
        tiles.append((query.shape[0], gallery.shape[0]))
        return compute_distance_matrix(query, gallery, metric)

    monkeypatch.setattr(blockwise, 'pairwise_distance', counting_distance)
    result = evaluate_features(qf, gf, *ids, query_block_size=3, gallery_block_size=4)
    # pass 1: (block 0, gallery block 0) and (block 1, gallery block 2); pass 2: all 2 x 3 tiles
    assert tiles == [(3, 4), (2, 2)] + [(3, 4), (3, 4), (3, 2), (2, 4), (2, 4), (2, 2)]
    expected = evaluate_rank(compute_distance_matrix(qf, gf), *ids)
    np.testing.assert_array_equal(result.cmc, expected.cmc)
    assert result.mAP == pytest.approx(expected.mAP, abs=1e-12)


class RecordingBar(object):
    """Stands in for tqdm: records its arguments, updates and closing."""
    made = []

    def __init__(self, **kwargs):
        self.kwargs, self.updates, self.closed = kwargs, 0, False
        RecordingBar.made.append(self)

    def update(self, n):
        self.updates += n

    def close(self):
        self.closed = True


@pytest.mark.parametrize('progress', [True, False])
def test_blockwise_progress_bar_counts_every_tile_of_both_passes(monkeypatch, progress):
    from torchreid.metrics import blockwise
    qf, gf, ids = progress_problem()
    RecordingBar.made = []
    monkeypatch.setattr(blockwise, 'tqdm', RecordingBar)
    quiet = evaluate_features(qf, gf, *ids, query_block_size=3, gallery_block_size=4)
    RecordingBar.made = []
    result = evaluate_features(qf, gf, *ids, query_block_size=3, gallery_block_size=4, progress=progress)
    [bar] = RecordingBar.made
    assert bar.kwargs['total'] == 2 + 6 and bar.updates == 8 and bar.closed
    assert bar.kwargs['disable'] is (not progress)
    assert bar.kwargs['desc'] == 'Evaluating 5 queries x 10 gallery'
    np.testing.assert_array_equal(result.all_AP, quiet.all_AP)


def test_blockwise_progress_bar_writes_to_stderr_only_when_asked(capsys):
    qf, gf, ids = progress_problem()
    evaluate_features(qf, gf, *ids, query_block_size=3, gallery_block_size=4)
    assert capsys.readouterr() == ('', '')
    evaluate_features(qf, gf, *ids, query_block_size=3, gallery_block_size=4, progress=True)
    captured = capsys.readouterr()
    assert captured.out == '' and 'Evaluating 5 queries x 10 gallery' in captured.err and '/8 ' in captured.err
