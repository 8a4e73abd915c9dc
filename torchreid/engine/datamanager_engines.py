"""torchreid 1.x's engines over a data manager, as thin adapters over this package's one loop.

    >>> engine = ImageSoftmaxEngine(datamanager, model, optimizer, scheduler=scheduler, label_smooth=True)
    >>> engine.run(save_dir='log/resnet50', max_epoch=60, eval_freq=10, print_freq=10, test_only=False)

The loop, evaluation and checkpoints are :class:`~torchreid.engine.engine.SoftmaxEngine` /
:class:`~torchreid.engine.engine.TripletEngine` and :class:`~torchreid.engine.evaluation.Evaluator`'s (one per
target of the data manager); these classes only translate 1.x's arguments and keep 1.x's behaviour where users see
it: ``fixbase_epoch`` / ``open_layers`` train only the named top-level children during the first epochs (counted in
``max_epoch``, with the given optimizer); after each evaluation ``<save_dir>/model/model.pth.tar-<epoch>`` is written
(keys ``state_dict``, ``epoch`` = completed epochs, ``rank1``, ``optimizer``, ``scheduler``; resume it with
``torchreid.utils.resume_from_checkpoint`` and ``run(start_epoch=...)``); video test features are pooled over frames
by ``pooling_method``. The engine's own checkpoints (``checkpoint_latest.pth.tar``, ...) are written beside them.

Differences from 1.x, on purpose: ``scheduler=None`` keeps the learning rate constant (1.x failed when saving),
``rerank`` applies in training-time evaluations too (1.x honoured it only with ``test_only``), ``max_epoch`` not
above ``start_epoch`` without ``test_only`` is an error (1.x silently did nothing), and ``run`` returns the
evaluation result (:class:`~torchreid.engine.evaluation.TargetResults`, or None when nothing was evaluated).
The model is moved to the engine's device (1.x moved only the batches); ``use_gpu`` without a CUDA GPU means the
CPU, as in 1.x.
"""
import os

import torch

from ..losses import CrossEntropyLoss, TripletLoss
from ..optim import make_lr_scheduler
from ..utils.epoch_checkpoint import save_checkpoint as save_epoch_checkpoint
from ..utils.layers import check_open_layers, open_all_layers, open_specified_layers
from .engine import SoftmaxEngine, TripletEngine
from .evaluation import PRINTED_RANKS, MultiTargetEvaluator


class _FixbaseAnd1xCheckpoints(object):
    """Mixed into our engines: 1.x's fixbase (only ``open_layers`` train during the first ``fixbase_epoch``
    epochs) and its ``model/model.pth.tar-<epoch>`` files after each evaluation."""

    fixbase_epoch_1x = 0
    open_layers = None

    def set_train_mode(self, epoch, bn_eval=False):
        super().set_train_mode(epoch, bn_eval)
        if epoch + 1 <= self.fixbase_epoch_1x and self.open_layers is not None:
            print('* Only train {} (epoch: {}/{})'.format(self.open_layers, epoch + 1, self.fixbase_epoch_1x))
            open_specified_layers(self.model, self.open_layers)
        else:
            open_all_layers(self.model)

    def evaluate_and_save(self, epoch):
        super().evaluate_and_save(epoch)
        state = {'state_dict': self.model.state_dict(), 'epoch': epoch + 1, 'rank1': self.last_rank1,
                 'optimizer': self.optimizer.state_dict(), 'scheduler': self.scheduler.state_dict()}
        save_epoch_checkpoint(state, os.path.join(self.save_dir, 'model'))


class SoftmaxEngine1x(_FixbaseAnd1xCheckpoints, SoftmaxEngine):
    """:class:`SoftmaxEngine` with 1.x's fixbase and checkpoint files."""


class TripletEngine1x(_FixbaseAnd1xCheckpoints, TripletEngine):
    """:class:`TripletEngine` with 1.x's fixbase and checkpoint files."""


class DataManagerEngine(object):
    """What the four 1.x engines share: the data manager, model, optimizer and scheduler, and :meth:`run`."""

    pooling_method = 'avg'

    def __init__(self, datamanager, model, optimizer, scheduler=None, use_gpu=True, label_smooth=True):
        self.datamanager = datamanager
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler if scheduler is not None else make_lr_scheduler(optimizer, 'multi_step', [])
        self.use_gpu = bool(use_gpu) and torch.cuda.is_available()
        self.device = torch.device('cuda' if self.use_gpu else 'cpu')
        self.label_smooth = label_smooth
        self.train_loader = datamanager.train_loader
        self.test_loader = datamanager.test_loader
        self.engine = None  # the engine of the last run()

    def build_engine(self, save_dir, evaluator, print_freq):
        """Our engine for one run (subclasses: softmax or triplet)."""
        raise NotImplementedError

    def build_evaluator(self, dist_metric, normalize_feature, rerank, use_metric_cuhk03, keep_distmat):
        """One :class:`Evaluator` per target of the data manager (the first target picks the best model)."""
        return MultiTargetEvaluator.from_test_loaders(
            self.test_loader, self.datamanager.targets, self.device, pool=self.pooling_method,
            normalize_feature=normalize_feature, dist_metric=dist_metric, rerank=rerank,
            use_metric_cuhk03=use_metric_cuhk03, keep_distmat=keep_distmat)

    def run(self, save_dir='log', max_epoch=0, start_epoch=0, print_freq=10, fixbase_epoch=0, open_layers=None,
            start_eval=0, eval_freq=-1, test_only=False, dist_metric='euclidean', normalize_feature=False,
            visrank=False, visrank_topk=10, use_metric_cuhk03=False, ranks=[1, 5, 10, 20], rerank=False):
        """Train epochs ``start_epoch .. max_epoch - 1`` evaluating every ``eval_freq`` epochs from ``start_eval``
        and after the last, or (``test_only``) only evaluate every target; ``visrank`` (with ``test_only``) writes
        the top-``visrank_topk`` ranked gallery pictures to ``<save_dir>/visrank_<target>``. ``ranks``: the
        Rank-k lines printed."""
        if visrank and not test_only:
            raise ValueError('visrank can be set to True only if test_only=True')
        if not test_only and max_epoch <= start_epoch:
            raise ValueError('nothing to train: max_epoch ({}) is not above start_epoch ({}); pass a larger '
                             'max_epoch, or test_only=True to evaluate'.format(max_epoch, start_epoch))
        if open_layers is not None:
            check_open_layers(self.model, open_layers)  # a wrong name is an error now, not after an epoch
        self.model.to(self.device)
        evaluator = self.build_evaluator(dist_metric, normalize_feature, rerank, use_metric_cuhk03,
                                         keep_distmat=visrank)
        self.engine = self.build_engine(save_dir, evaluator, print_freq)
        self.engine.fixbase_epoch_1x = fixbase_epoch
        self.engine.open_layers = open_layers
        if test_only:
            result = self.engine.evaluate()
            self._print_ranks(result, ranks)
            if visrank:
                self._visualize(result, save_dir, visrank_topk)
            return result
        # 1.x evaluates after epoch e (1-based) when e >= start_eval; the engine's rule is e > start_eval
        self.engine.run(max_epoch, start_epoch=start_epoch, eval_step=eval_freq, start_eval=max(0, start_eval - 1))
        return None

    @staticmethod
    def _print_ranks(result, ranks):
        """The Rank-k lines of ``ranks`` when they are not the ones the result block printed."""
        if list(ranks) == list(PRINTED_RANKS):
            return
        for name, target_result in result.per_target.items():
            print('CMC curve of {}'.format(name))
            for r in ranks:
                if r <= len(target_result.cmc):
                    print('Rank-{:<3}: {:.1%}'.format(r, target_result.cmc[r - 1]))

    def _visualize(self, result, save_dir, topk):
        from ..visualize import visualize_ranked_results
        for name, target_result in result.per_target.items():
            dataset = self.datamanager.test_dataset[name]
            visualize_ranked_results(target_result.distmat,
                                     ([s[:3] for s in dataset['query']], [s[:3] for s in dataset['gallery']]),
                                     save_dir=os.path.join(save_dir, 'visrank_' + name), topk=topk,
                                     data_type=self.datamanager.data_type)


class ImageSoftmaxEngine(DataManagerEngine):
    """torchreid 1.x's softmax engine: cross entropy (``label_smooth``: with label smoothing) on the data
    manager's training identities."""

    def build_engine(self, save_dir, evaluator, print_freq):
        criterion = CrossEntropyLoss(self.datamanager.num_train_pids, label_smooth=self.label_smooth)
        return SoftmaxEngine1x(self.model, self.optimizer, self.scheduler, self.train_loader, evaluator, self.device,
                               save_dir, criterion=criterion, print_freq=print_freq)


class ImageTripletEngine(DataManagerEngine):
    """torchreid 1.x's triplet engine: ``weight_t`` * batch-hard triplet (``margin``) + ``weight_x`` * cross
    entropy. Use a data manager with ``train_sampler='RandomIdentitySampler'``."""

    def __init__(self, datamanager, model, optimizer, margin=0.3, weight_t=1, weight_x=1, scheduler=None,
                 use_gpu=True, label_smooth=True):
        if weight_t < 0 or weight_x < 0 or weight_t + weight_x <= 0:
            raise ValueError('weight_t and weight_x must be >= 0 and not both 0, got {} and {}'.format(
                weight_t, weight_x))
        super().__init__(datamanager, model, optimizer, scheduler=scheduler, use_gpu=use_gpu,
                         label_smooth=label_smooth)
        self.margin = margin
        self.weight_t = weight_t
        self.weight_x = weight_x

    def build_engine(self, save_dir, evaluator, print_freq):
        criterion_xent = CrossEntropyLoss(self.datamanager.num_train_pids, label_smooth=self.label_smooth)
        return TripletEngine1x(self.model, self.optimizer, self.scheduler, self.train_loader, evaluator, self.device,
                               save_dir, criterion_xent=criterion_xent, criterion_htri=TripletLoss(self.margin),
                               lambda_xent=self.weight_x, lambda_htri=self.weight_t, print_freq=print_freq)


def _check_pooling(pooling_method):
    if pooling_method not in ('avg', 'max'):
        raise ValueError("pooling_method must be 'avg' or 'max', got {!r}".format(pooling_method))
    return pooling_method


class VideoSoftmaxEngine(ImageSoftmaxEngine):
    """Softmax training on clips (their frame outputs averaged); test features pooled over the frames of a
    tracklet by ``pooling_method`` ('avg' or 'max')."""

    def __init__(self, datamanager, model, optimizer, scheduler=None, use_gpu=True, label_smooth=True,
                 pooling_method='avg'):
        self.pooling_method = _check_pooling(pooling_method)
        super().__init__(datamanager, model, optimizer, scheduler=scheduler, use_gpu=use_gpu,
                         label_smooth=label_smooth)


class VideoTripletEngine(ImageTripletEngine):
    """Triplet training on clips; test features pooled by ``pooling_method`` ('avg' or 'max')."""

    def __init__(self, datamanager, model, optimizer, margin=0.3, weight_t=1, weight_x=1, scheduler=None,
                 use_gpu=True, label_smooth=True, pooling_method='avg'):
        self.pooling_method = _check_pooling(pooling_method)
        super().__init__(datamanager, model, optimizer, margin=margin, weight_t=weight_t, weight_x=weight_x,
                         scheduler=scheduler, use_gpu=use_gpu, label_smooth=label_smooth)
