"""Evaluation inside the loop: feature extraction (images, tracklets, flip), gathering across processes, the printed
result block, and the metrics wiring."""
import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

from torchreid.engine import comm, evaluation
from torchreid.engine.evaluation import (Evaluator, extract_features, extract_features_distributed, pool_frames,
                                         print_results, shard_loader)


class RowSums(nn.Module):
    """A 'model' whose feature is the per-column sums of each image: (B, C, H, W) -> (B, W) (flip-sensitive)."""

    def forward(self, x):
        return x.sum(dim=(1, 2))


def loader_of(imgs, pids, camids, batch_size=3):
    return DataLoader(TensorDataset(imgs, torch.as_tensor(pids), torch.as_tensor(camids)), batch_size=batch_size)


def test_pool_frames():
    frames = torch.tensor([[1., 5.], [3., 1.], [0., 0.], [2., 2.]])  # 2 tracklets x 2 frames
    assert pool_frames(frames, 2, 'avg').tolist() == [[2., 3.], [1., 1.]]
    assert pool_frames(frames, 2, 'max').tolist() == [[3., 5.], [2., 2.]]
    with pytest.raises(ValueError, match="'avg' or 'max'"):
        pool_frames(frames, 2, 'median')


def test_extract_image_features_in_order_with_flip():
    imgs = torch.arange(7 * 2 * 2 * 3, dtype=torch.float32).view(7, 2, 2, 3)
    loader = loader_of(imgs, list(range(7)), [0] * 7)
    features, pids, camids, batch_time = extract_features(RowSums(), loader, torch.device('cpu'))
    assert torch.equal(features, imgs.sum(dim=(1, 2)))
    assert pids.tolist() == list(range(7)) and pids.dtype == np.int64 and camids.tolist() == [0] * 7
    assert batch_time >= 0
    flipped, _, _, _ = extract_features(RowSums(), loader, torch.device('cpu'), flip=True)
    sums = imgs.sum(dim=(1, 2))
    assert torch.allclose(flipped, (sums + sums.flip(dims=[1])) / 2)


def test_extract_tracklet_features_pools_frames():
    tracklets = torch.rand(5, 4, 2, 2, 3)  # 5 tracklets of 4 frames
    loader = loader_of(tracklets, [0, 1, 2, 3, 4], [1] * 5, batch_size=2)
    frame_features = tracklets.sum(dim=(2, 3))  # (5, 4, 3)
    avg, _, _, _ = extract_features(RowSums(), loader, torch.device('cpu'), pool='avg')
    top, _, _, _ = extract_features(RowSums(), loader, torch.device('cpu'), pool='max')
    assert torch.allclose(avg, frame_features.mean(dim=1))
    assert torch.allclose(top, frame_features.max(dim=1).values)


def test_model_mode_is_restored():
    model = nn.Sequential(RowSums())
    evaluator = Evaluator(loader_of(torch.rand(2, 1, 1, 2), [0, 1], [0, 1]), loader_of(torch.rand(2, 1, 1, 2),
                          [0, 1], [1, 0]), torch.device('cpu'))
    evaluator.compute_metrics = lambda query, gallery: evaluation.EvalResult(1., 1., 1., np.ones(2), None)
    model.train()
    evaluator.evaluate(model)
    assert model.training


def test_distributed_gather_restores_dataset_order(monkeypatch):
    """Shards of 3 'processes' (strided, unequal sizes, one empty) are put back in dataset order."""
    imgs = torch.rand(7, 1, 2, 2)
    loader = loader_of(imgs, list(range(10, 17)), [0, 1] * 3 + [0])
    world_size = 3
    shares = [extract_features(RowSums(), shard_loader(loader, rank, world_size), torch.device('cpu'))
              for rank in range(world_size)]
    assert [len(share[1]) for share in shares] == [3, 2, 2]
    monkeypatch.setattr(comm, 'get_world_size', lambda: world_size)
    monkeypatch.setattr(comm, 'get_rank', lambda: 0)
    monkeypatch.setattr(comm, 'all_gather_object', lambda obj: shares)
    features, pids, camids, _ = extract_features_distributed(RowSums(), loader, torch.device('cpu'))
    expected, expected_pids, expected_camids, _ = extract_features(RowSums(), loader, torch.device('cpu'))
    assert torch.equal(features, expected)
    assert pids.tolist() == expected_pids.tolist() and camids.tolist() == expected_camids.tolist()
    monkeypatch.setattr(comm, 'get_rank', lambda: 1)
    assert extract_features_distributed(RowSums(), loader, torch.device('cpu')) is None


def test_result_block_matches_the_seed(capsys):
    cmc = np.linspace(0.5, 1.0, 50)
    print_results(0.713, cmc, mINP=0.25)
    assert capsys.readouterr().out == (
        'Results ----------\nmAP: 71.3%\nmINP: 25.0%\nCMC curve\nRank-1  : 50.0%\nRank-5  : {:.1%}\n'
        'Rank-10 : {:.1%}\nRank-20 : {:.1%}\n------------------\n'.format(cmc[4], cmc[9], cmc[19]))


def test_small_gallery_prints_only_the_ranks_it_has(capsys):
    print_results(0.5, np.array([0.5, 0.75, 1.0, 1.0, 1.0, 1.0, 1.0]))  # gallery of 7 (the seed crashed)
    out = capsys.readouterr().out
    assert 'Rank-5  : 100.0%' in out and 'Rank-10' not in out and 'Rank-20' not in out


def _random_sets(seed=0, num_ids=6):
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(num_ids, 16, generator=generator)
    q_pids = np.arange(num_ids).repeat(2)
    g_pids = np.arange(num_ids).repeat(3)
    query = centres[q_pids] + 1.5 * torch.randn(len(q_pids), 16, generator=generator)
    gallery = centres[g_pids] + 1.5 * torch.randn(len(g_pids), 16, generator=generator)
    return ((query, q_pids, np.zeros(len(q_pids), np.int64), 0.), (gallery, g_pids, np.ones(len(g_pids), np.int64), 0.))


@pytest.mark.parametrize('dist_metric,normalize', [('euclidean', False), ('euclidean', True), ('cosine', False)])
def test_tiled_and_full_distance_paths_agree(dist_metric, normalize, capsys):
    from torchreid.metrics import compute_distance_matrix, evaluate_rank
    query, gallery = _random_sets()
    tiled = Evaluator(None, None, torch.device('cpu'), dist_metric=dist_metric, normalize_feature=normalize)
    full = Evaluator(None, None, torch.device('cpu'), dist_metric=dist_metric, normalize_feature=normalize,
                     keep_distmat=True)
    tiled_result = tiled.compute_metrics(query, gallery)
    full_result = full.compute_metrics(query, gallery)
    assert tiled_result.distmat is None and full_result.distmat.shape == (12, 18)
    assert tiled_result.rank1 == pytest.approx(full_result.rank1)
    assert tiled_result.mAP == pytest.approx(full_result.mAP) and tiled_result.mINP == pytest.approx(full_result.mINP)
    features = [torch.nn.functional.normalize(x[0], dim=1) if normalize else x[0] for x in (query, gallery)]
    oracle = evaluate_rank(compute_distance_matrix(features[0], features[1], dist_metric).numpy(), query[1],
                           gallery[1], query[2], gallery[2])
    assert full_result.mAP == pytest.approx(oracle.mAP)
    assert np.allclose(full_result.distmat, compute_distance_matrix(features[0], features[1], dist_metric).numpy())
    assert 'Rank-10 : ' in capsys.readouterr().out
    assert 0 < full_result.mAP < 1  # a non-trivial case


def test_rerank_changes_the_distances_and_keeps_them():
    from torchreid.metrics import compute_distance_matrix, re_ranking
    query, gallery = _random_sets(seed=1)
    result = Evaluator(None, None, torch.device('cpu'), rerank=True).compute_metrics(query, gallery)
    expected = re_ranking(compute_distance_matrix(query[0], gallery[0]), compute_distance_matrix(query[0], query[0]),
                          compute_distance_matrix(gallery[0], gallery[0]))
    assert np.allclose(result.distmat, expected)


@pytest.mark.parametrize('terminal', [False, True])
def test_the_tiled_evaluation_shows_progress_only_on_a_terminal(terminal, monkeypatch):
    from torchreid import metrics
    from torchreid.engine import evaluation
    calls = []
    real = metrics.evaluate_features

    def recording(*args, **kwargs):
        calls.append(kwargs.get('progress'))
        return real(*args, **kwargs)

    monkeypatch.setattr(metrics, 'evaluate_features', recording)
    monkeypatch.setattr(evaluation, 'console_is_terminal', lambda: terminal)
    query, gallery = _random_sets()
    Evaluator(None, None, torch.device('cpu')).compute_metrics(query, gallery)
    assert calls == [terminal]
