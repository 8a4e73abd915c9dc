"""Evaluation inside the training loop: feature extraction, distances, rank/mAP/mINP and the printed result block.

One batch of the query or gallery loader is ``(imgs, pids, camids, paths)``; imgs is (B, C, H, W) for images or
(B, S, C, H, W) for tracklets of S frames, whose frame features are pooled (mean or max) into one feature.
Under torchrun every process extracts a strided share of each set and the main process gathers them.
"""
import time
from collections import namedtuple
from contextlib import nullcontext

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from ..models.inference import extract_batch_features
from . import comm
from .logging import console_is_terminal

EvalResult = namedtuple('EvalResult', ['rank1', 'mAP', 'mINP', 'cmc', 'distmat'])

PRINTED_RANKS = (1, 5, 10, 20)


def pool_frames(frame_features, num_tracklets, pool):
    """(B*S, D) frame features -> (B, D) tracklet features by mean ('avg') or max ('max') over the S frames."""
    frame_features = frame_features.view(num_tracklets, -1, frame_features.size(-1))
    if pool == 'avg':
        return frame_features.mean(dim=1)
    if pool == 'max':
        return frame_features.max(dim=1).values
    raise ValueError("pool must be 'avg' or 'max', got '{}'".format(pool))


@torch.no_grad()
def extract_features(model, loader, device, pool='avg', flip=False, autocast=None):
    """Features of every item of ``loader`` in loader order.

    Args:
        model (nn.Module): in eval mode it returns (N, D) features.
        loader: yields ``(imgs, pids, camids, ...)`` with imgs (B, C, H, W) or tracklets (B, S, C, H, W).
        device (torch.device): where the forward pass runs.
        pool (str): 'avg' or 'max' pooling of frame features (tracklets only).
        flip (bool): average each feature with the feature of the horizontally flipped input.
        autocast: optional context-manager factory (mixed precision).

    Returns:
        (features (N, D) float32 CPU tensor, pids (N,) int64 ndarray, camids (N,) int64 ndarray,
        seconds per forward batch).
    """
    model.eval()
    autocast = autocast or nullcontext
    features, pids, camids, batch_times = [], [], [], []
    for batch in loader:
        imgs = batch[0].to(device, non_blocking=True)
        start = time.time()
        with autocast():
            if imgs.dim() == 5:
                batch_size = imgs.size(0)
                batch_features = pool_frames(
                    extract_batch_features(model, imgs.flatten(0, 1), channels_last=False, flip=flip), batch_size, pool)
            else:
                batch_features = extract_batch_features(model, imgs, channels_last=False, flip=flip)
        batch_features = batch_features.float().cpu()
        batch_times.append(time.time() - start)
        features.append(batch_features)
        pids.append(np.asarray(batch[1]))
        camids.append(np.asarray(batch[2]))
    if not features:
        return torch.empty(0, 0), np.empty(0, np.int64), np.empty(0, np.int64), 0.
    return (torch.cat(features), np.concatenate(pids).astype(np.int64), np.concatenate(camids).astype(np.int64),
            float(np.mean(batch_times)))


def shard_loader(loader, rank, world_size):
    """A loader over items rank, rank + world_size, ... of ``loader``'s dataset (same batch size and workers)."""
    indices = list(range(rank, len(loader.dataset), world_size))
    return DataLoader(loader.dataset, batch_size=loader.batch_size, sampler=indices, num_workers=loader.num_workers,
                      collate_fn=loader.collate_fn, pin_memory=loader.pin_memory)


def extract_features_distributed(model, loader, device, **kwargs):
    """:func:`extract_features` over all processes; the main process gets the whole set, the others None."""
    world_size = comm.get_world_size()
    if world_size == 1:
        return extract_features(model, loader, device, **kwargs)
    rank = comm.get_rank()
    features, pids, camids, batch_time = extract_features(model, shard_loader(loader, rank, world_size), device,
                                                          **kwargs)
    shares = comm.all_gather_object((features, pids, camids, batch_time))
    if rank != 0:
        return None
    num_items = len(loader.dataset)
    order = np.concatenate([np.arange(r, num_items, world_size) for r in range(world_size)])
    inverse = np.argsort(order, kind='stable')
    features = torch.cat([share[0] for share in shares if len(share[1])])[torch.from_numpy(inverse)]
    pids = np.concatenate([share[1] for share in shares])[inverse]
    camids = np.concatenate([share[2] for share in shares])[inverse]
    return features, pids, camids, float(np.mean([share[3] for share in shares]))


def print_results(mAP, cmc, mINP=None, ranks=PRINTED_RANKS):
    """The seed's result block (plus mINP); ranks beyond the CMC length (tiny galleries) are left out."""
    print('Results ----------')
    print('mAP: {:.1%}'.format(mAP))
    if mINP is not None:
        print('mINP: {:.1%}'.format(mINP))
    print('CMC curve')
    for r in ranks:
        if r <= len(cmc):
            print('Rank-{:<3}: {:.1%}'.format(r, cmc[r - 1]))
    print('------------------')


class Evaluator(object):
    """Query-vs-gallery evaluation of a model, as the seed's ``test()`` plus the options the scripts expose.

    Args:
        query_loader, gallery_loader: test loaders (no shuffling).
        device (torch.device): where the forward passes run.
        pool (str): 'avg' or 'max' pooling of frame features (video).
        flip_test (bool): average each feature with that of the flipped image.
        normalize_feature (bool): L2-normalise features before the distance.
        dist_metric (str): 'euclidean' (squared, as the seed) or 'cosine'.
        rerank (bool): k-reciprocal re-ranking of the distance matrix.
        use_metric_cuhk03 (bool): CUHK03 single-gallery-shot metric.
        autocast: optional context-manager factory for mixed precision.
        keep_distmat (bool): return the (query x gallery) distance matrix in the result (--visualize-ranks).
    """

    def __init__(self, query_loader, gallery_loader, device, pool='avg', flip_test=False, normalize_feature=False,
                 dist_metric='euclidean', rerank=False, use_metric_cuhk03=False, autocast=None, keep_distmat=False):
        self.query_loader = query_loader
        self.gallery_loader = gallery_loader
        self.device = device
        self.pool = pool
        self.flip_test = flip_test
        self.normalize_feature = normalize_feature
        self.dist_metric = dist_metric
        self.rerank = rerank
        self.use_metric_cuhk03 = use_metric_cuhk03
        self.autocast = autocast
        self.keep_distmat = keep_distmat

    def _extract(self, model, loader, name):
        extracted = extract_features_distributed(model, loader, self.device, pool=self.pool, flip=self.flip_test,
                                                 autocast=self.autocast)
        if extracted is not None:
            print('Extracted features for {} set, obtained {}-by-{} matrix'.format(
                name, extracted[0].size(0), extracted[0].size(1)))
        return extracted

    def evaluate(self, model):
        """Rank-1, mAP, mINP and CMC of ``model`` (the bare module, not a DDP wrapper).

        Every process returns the same numbers; ``distmat`` is None except on the main process when it was
        computed (see :meth:`compute_metrics`).
        """
        was_training = model.training
        query = self._extract(model, self.query_loader, 'query')
        gallery = self._extract(model, self.gallery_loader, 'gallery')
        model.train(was_training)
        result = None
        if comm.is_main_process():
            images_per_batch = self.query_loader.batch_size * getattr(self.query_loader.dataset, 'seq_len', 1)
            print('==> BatchTime(s)/BatchSize(img): {:.3f}/{}'.format((query[3] + gallery[3]) / 2, images_per_batch))
            result = self.compute_metrics(query, gallery)
        summary = comm.broadcast_object(None if result is None else result._replace(distmat=None))
        return result if result is not None else summary

    def compute_metrics(self, query, gallery):
        """CMC/mAP/mINP of the extracted features; prints the result block.

        The full distance matrix is built only when it is needed (re-ranking, the CUHK03 metric, or
        ``keep_distmat`` for the ranked-results pictures); otherwise the evaluation runs tile by tile, so its
        memory does not grow with query x gallery.
        """
        from .. import metrics

        query_features, query_pids, query_camids, _ = query
        gallery_features, gallery_pids, gallery_camids, _ = gallery
        distmat = None
        if not (self.rerank or self.use_metric_cuhk03 or self.keep_distmat):
            print('Computing CMC and mAP')
            rank_result = metrics.evaluate_features(query_features, gallery_features, query_pids, gallery_pids,
                                                    query_camids, gallery_camids, metric=self.dist_metric,
                                                    normalize_features=self.normalize_feature, max_rank=50,
                                                    progress=console_is_terminal())
        else:
            if self.normalize_feature:
                query_features = F.normalize(query_features, p=2, dim=1)
                gallery_features = F.normalize(gallery_features, p=2, dim=1)
            distmat = _to_numpy(metrics.compute_distance_matrix(query_features, gallery_features, self.dist_metric))
            if self.rerank:
                print('Applying person re-ranking ...')
                distmat = metrics.re_ranking(
                    distmat, metrics.compute_distance_matrix(query_features, query_features, self.dist_metric),
                    metrics.compute_distance_matrix(gallery_features, gallery_features, self.dist_metric))
            print('Computing CMC and mAP')
            rank_result = metrics.evaluate_rank(distmat, query_pids, gallery_pids, query_camids, gallery_camids,
                                                max_rank=50, use_metric_cuhk03=self.use_metric_cuhk03)
        cmc = np.asarray(rank_result.cmc)
        print_results(rank_result.mAP, cmc, rank_result.mINP)
        return EvalResult(float(cmc[0]), float(rank_result.mAP), float(rank_result.mINP), cmc, distmat)


def _to_numpy(matrix):
    return matrix.cpu().numpy() if torch.is_tensor(matrix) else np.asarray(matrix)


class TargetResults(object):
    """The results of one evaluation on every target, in target order (``per_target``: name -> EvalResult).

    It reads as the result of ``best_target`` (``rank1``, ``mAP``, ``mINP``, ``cmc``, ``distmat``): that target's
    Rank-1 picks the best model.
    """

    def __init__(self, per_target, best_target):
        if best_target not in per_target:
            raise ValueError("best target '{}' is not among the targets {}".format(best_target, list(per_target)))
        self.per_target = per_target
        self.best_target = best_target

    def __getattr__(self, name):
        if name in EvalResult._fields:
            return getattr(self.per_target[self.best_target], name)
        raise AttributeError(name)


def format_target_table(per_target, ranks=PRINTED_RANKS):
    """The table of every target's mAP, mINP and Rank-k (percentages; '-' where a gallery is shorter than k)."""
    width = max([len('target')] + [len(name) for name in per_target])
    columns = ['mAP', 'mINP'] + ['Rank-{}'.format(r) for r in ranks]
    rule = '  ' + '-' * (width + 9 * len(columns) + 1)
    lines = ['##### Results of {} targets #####'.format(len(per_target)), rule,
             '  {:{w}} |'.format('target', w=width) + ''.join(' {:>7} '.format(c) for c in columns), rule]
    for name, result in per_target.items():
        values = [result.mAP, result.mINP] + [result.cmc[r - 1] if r <= len(result.cmc) else None for r in ranks]
        lines.append('  {:{w}} |'.format(name, w=width) + ''.join(
            ' {:>7} '.format('-' if value is None else '{:.1%}'.format(value)) for value in values))
    lines.append(rule)
    return '\n'.join(line.rstrip() for line in lines)


class MultiTargetEvaluator(object):
    """Evaluates on several targets, each with its own :class:`Evaluator` (its query/gallery protocol): a header
    line and a result block per target, then, with more than one target, the table of all of them.

    Args:
        evaluators (dict): target name -> Evaluator, in the order they are evaluated (and printed).
        best_target (str): the target whose Rank-1 picks the best model (default: the first).
    """

    def __init__(self, evaluators, best_target=None):
        if not evaluators:
            raise ValueError('MultiTargetEvaluator needs at least one target')
        self.evaluators = dict(evaluators)
        self.targets = list(evaluators)
        self.best_target = self.targets[0] if best_target is None else best_target
        if self.best_target not in self.evaluators:
            raise ValueError("best target '{}' is not among the targets {}".format(self.best_target, self.targets))

    @classmethod
    def from_test_loaders(cls, test_loader, targets, device, best_target=None, **evaluator_options):
        """One :class:`Evaluator` (with ``evaluator_options``) per target over a data manager's
        ``test_loader[name]['query' | 'gallery']``."""
        return cls({name: Evaluator(test_loader[name]['query'], test_loader[name]['gallery'], device,
                                    **evaluator_options)
                    for name in targets}, best_target=best_target)

    def evaluate(self, model):
        """Returns :class:`TargetResults` (every process gets the numbers; distmats on the main process only)."""
        per_target = {}
        for name in self.targets:
            print('##### Evaluating {} #####'.format(name))
            per_target[name] = self.evaluators[name].evaluate(model)
        if len(per_target) > 1:
            print(format_target_table(per_target))
        return TargetResults(per_target, self.best_target)
