"""What the four scripts do: build dataset, loaders, model, losses and optimizer from the parsed arguments, then
train or evaluate with the engine. Each script is one call: ``sys.exit(main('image', 'xent'))``.
"""
import os
import sys

import torch
import torch.nn as nn

from .. import data, datasets, models
from ..losses import CenterLoss, CrossEntropyLoss, TripletLoss
from ..models.pretrained import PretrainedWeightsError
from ..optim import build_lr_scheduler, build_optimizer
from ..utils.checkpoint import CheckpointError, load_checkpoint, load_model_state, load_pretrained_weights
from ..utils.seeding import set_random_seed
from ..utils.torchtools import count_num_param
from . import comm
from .cli import build_parser, parse_args
from .engine import SoftmaxEngine, TripletEngine, make_autocast
from .evaluation import Evaluator
from .logging import install_logger, log_to_file_only, uninstall_logger

# Errors caused by the command line or the files it names: reported in one line, exit status 1.
USER_ERRORS = (FileNotFoundError, CheckpointError, PretrainedWeightsError, ValueError)


def main(data_type, loss, argv=None):
    """Entry point of a training script; returns the exit status (0 on success, 1 on a reported error)."""
    args = parse_args(build_parser(data_type, loss), argv)
    try:
        run(args, data_type, loss)
    except USER_ERRORS as error:
        print('Error: {}'.format(error), file=sys.stderr)
        return 1
    return 0


def select_device(args):
    """Apply --gpu-devices / --use-cpu, join torchrun's process group if started by it; returns the device."""
    if not args.use_avai_gpus:
        os.environ['CUDA_VISIBLE_DEVICES'] = args.gpu_devices
    use_gpu = torch.cuda.is_available() and not args.use_cpu
    dist_info = comm.init_distributed_mode(use_gpu)
    return torch.device('cuda', dist_info.local_rank) if use_gpu else torch.device('cpu')


def run(args, data_type, loss):
    """Train (or with --evaluate, evaluate) as the script for ``data_type`` / ``loss`` does.

    Returns the :class:`~torchreid.engine.evaluation.EvalResult` of --evaluate, else None.
    """
    device = select_device(args)
    stdout = sys.stdout
    logger = None
    if comm.is_main_process():
        logger = install_logger(os.path.join(args.save_dir, 'log_test.txt' if args.evaluate else 'log_train.txt'))
    else:
        sys.stdout = open(os.devnull, 'w')  # one process speaks
    try:
        return _run(args, data_type, loss, device)
    except USER_ERRORS as error:
        log_to_file_only('Error: {}'.format(error))  # main() prints it on the console
        raise
    finally:
        if logger is not None:
            uninstall_logger(logger)
        elif sys.stdout is not stdout:
            sys.stdout.close()
            sys.stdout = stdout
        comm.cleanup()


def build_dataset(args, data_type):
    print('Initializing dataset {}'.format(args.dataset))
    if data_type == 'video':
        return datasets.init_vidreid_dataset(args.dataset, root=args.root, split_id=args.split_id)
    return datasets.init_imgreid_dataset(args.dataset, root=args.root, split_id=args.split_id,
                                         cuhk03_labeled=args.cuhk03_labeled,
                                         cuhk03_classic_split=args.cuhk03_classic_split)


def build_loaders(args, dataset, data_type, loss, pin_memory, training):
    """(train loader or None, query loader, gallery loader)."""
    train_transform, test_transform = data.build_transforms(args.height, args.width, random_erase=args.random_erase,
                                                            color_jitter=args.color_jitter)
    video = data_type == 'video'
    seq_len = args.seq_len if video else 15
    train_loader = None
    if training:
        train_loader = data.build_train_loader(
            dataset.train, train_transform, args.train_batch, args.workers,
            sampler='identity' if loss == 'xent_htri' else 'random',
            num_instances=getattr(args, 'num_instances', 4), seed=args.seed, pin_memory=pin_memory,
            num_replicas=comm.get_world_size(), rank=comm.get_rank(),
            video_clip_len=seq_len if getattr(args, 'train_clips', False) else None)
    query_loader, gallery_loader = [
        data.build_test_loader(samples, test_transform, args.test_batch, args.workers, video=video, seq_len=seq_len,
                               pin_memory=pin_memory)
        for samples in (dataset.query, dataset.gallery)]
    return train_loader, query_loader, gallery_loader


# architecture flags passed to the model constructor when given (--last-stride, --pooling, --neck, --neck-feat)
MODEL_OPTIONS = ('last_stride', 'pooling', 'neck', 'neck_feat')


def build_model(args, num_classes, loss):
    print('Initializing model: {}'.format(args.arch))
    model_loss = {'xent'} if loss == 'xent' else {'xent', 'htri'}
    options = {name: getattr(args, name) for name in MODEL_OPTIONS if getattr(args, name, None) is not None}
    try:
        model = models.init_model(args.arch, num_classes=num_classes, loss=model_loss,
                                  pretrained=not args.no_pretrained, **options)
    except TypeError as error:
        if not options or 'unexpected keyword argument' not in str(error):
            raise
        flags = ', '.join('--' + name.replace('_', '-') for name in options)
        raise ValueError('-a {} does not support {} ({})'.format(args.arch, flags, error)) from error
    except PretrainedWeightsError as error:
        raise PretrainedWeightsError('{}\nTo train from scratch instead (e.g. offline), pass --no-pretrained.'.format(
            error)) from error
    print('Model size: {:.3f} M'.format(count_num_param(model)))
    return model


def fixbase_optimizer_for(args, model):
    """The seed's classifier-only optimizer for --fixbase-epoch, or None (with the seed's warning if impossible)."""
    if getattr(args, 'fixbase_epoch', 0) <= 0:
        return None
    classifier = getattr(model, 'classifier', None)
    if not isinstance(classifier, nn.Module):
        print("Warn: model has no attribute 'classifier' and fixbase_epoch is reset to 0")
        return None
    return build_optimizer(args.optim, classifier.parameters(), args.fixbase_lr, args.weight_decay)


def _run(args, data_type, loss, device):
    print('==========\nArgs:{}\n=========='.format(args))
    set_random_seed(args.seed + comm.get_rank())
    if device.type == 'cuda':
        print('Currently using GPU {}'.format(os.environ.get('CUDA_VISIBLE_DEVICES', args.gpu_devices)))
        torch.backends.cudnn.benchmark = True
    else:
        print('Currently using CPU (GPU is highly recommended)')
    if comm.is_distributed():
        print('Distributed run: {} processes (batch size {} per process)'.format(comm.get_world_size(),
                                                                                args.train_batch))

    dataset = build_dataset(args, data_type)
    train_loader, query_loader, gallery_loader = build_loaders(args, dataset, data_type, loss,
                                                               pin_memory=device.type == 'cuda',
                                                               training=not args.evaluate)
    model = build_model(args, dataset.num_train_pids, loss)

    if args.load_weights:
        load_pretrained_weights(model, args.load_weights)
    checkpoint = None
    if args.resume:
        checkpoint = load_checkpoint(args.resume)
        load_model_state(model, checkpoint)
        print("Loaded checkpoint from '{}'".format(args.resume))
        if not args.evaluate:
            if 'epoch' not in checkpoint:
                raise CheckpointError("'{}' holds model weights only (no 'epoch'), so training cannot resume from "
                                      "it; start from its weights with --load-weights instead".format(args.resume))
            print('- start_epoch: {}\n- rank1: {}'.format(checkpoint['epoch'] + 1, checkpoint.get('rank1')))
    model.to(device)

    criterion_cent = None
    params = [{'params': list(model.parameters())}]
    if getattr(args, 'lambda_cent', 0) > 0:
        criterion_cent = CenterLoss(dataset.num_train_pids, model.feat_dim).to(device)
        params.append({'params': list(criterion_cent.parameters()), 'weight_decay': 0.})
    optimizer = build_optimizer(args.optim, params, args.lr, args.weight_decay)
    scheduler = build_lr_scheduler(optimizer, args.stepsize, args.gamma, warmup_epochs=args.warmup_epochs,
                                   warmup_factor=args.warmup_factor)
    fixbase_optimizer = None if args.evaluate else fixbase_optimizer_for(args, model)

    evaluator = Evaluator(query_loader, gallery_loader, device, pool=getattr(args, 'pool', 'avg'),
                          flip_test=args.flip_test, normalize_feature=args.normalize_feature,
                          dist_metric=args.dist_metric, rerank=args.rerank,
                          use_metric_cuhk03=getattr(args, 'use_metric_cuhk03', False),
                          autocast=make_autocast(args.amp, device), keep_distmat=args.visualize_ranks)
    common = dict(print_freq=args.print_freq, amp=args.amp, run_args=vars(args))
    if loss == 'xent':
        engine = SoftmaxEngine(model, optimizer, scheduler, train_loader, evaluator, device, args.save_dir,
                               criterion=CrossEntropyLoss(dataset.num_train_pids, label_smooth=args.label_smooth),
                               freeze_bn=args.freeze_bn, **common)
    else:
        engine = TripletEngine(model, optimizer, scheduler, train_loader, evaluator, device, args.save_dir,
                               criterion_xent=CrossEntropyLoss(dataset.num_train_pids, label_smooth=args.label_smooth),
                               criterion_htri=TripletLoss(margin=args.margin), lambda_xent=args.lambda_xent,
                               lambda_htri=args.lambda_htri, htri_only=args.htri_only, criterion_cent=criterion_cent,
                               lambda_cent=args.lambda_cent, find_unused_parameters=args.htri_only, **common)

    if args.evaluate:
        print('Evaluate only')
        result = engine.evaluate()
        if args.visualize_ranks and comm.is_main_process():
            from ..visualize import visualize_ranked_results
            visualize_ranked_results(result.distmat, (dataset.query, dataset.gallery),
                                     save_dir=os.path.join(args.save_dir, 'ranked_results'), topk=20,
                                     data_type=data_type)
        return result

    start_epoch = args.start_epoch
    if checkpoint is not None:
        start_epoch = engine.load_state(checkpoint, fixbase_optimizer)
    elif start_epoch > 0:
        scheduler.set_epoch(start_epoch)
    engine.run(args.max_epoch, start_epoch=start_epoch, eval_step=args.eval_step, start_eval=args.start_eval,
               fixbase_epoch=args.fixbase_epoch if fixbase_optimizer is not None else 0,
               fixbase_optimizer=fixbase_optimizer)
    return None
