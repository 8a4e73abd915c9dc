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
