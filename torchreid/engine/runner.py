"""What the four scripts do: build dataset, loaders, model, losses and optimizer from the parsed arguments, then
train or evaluate with the engine. Each script is one call: ``sys.exit(main('image', 'xent'))``.
"""
import os
import sys

import torch
import torch.nn as nn

from .. import data, models
from ..data.datamanager import build_reid_data, check_dataset_options, combineall_warning
from ..losses import CenterLoss, CrossEntropyLoss, TripletLoss
from ..data.transforms import IMAGENET_MEAN, IMAGENET_STD
from ..models.loading import load_weights
from ..models.model_record import build_model_from_record, make_model_record, model_record_of, resolve_model_config
from ..models.pretrained import PretrainedWeightsError
from ..optim import make_lr_scheduler, make_optimizer
from ..utils.checkpoint import BEST_MODEL_NAME, CheckpointError, load_checkpoint
from ..utils.seeding import set_random_seed
from ..utils.torchtools import count_num_param
from . import comm
from .cli import build_parser, parse_args
from .engine import LATEST_CHECKPOINT, SoftmaxEngine, TripletEngine, make_autocast
from .evaluation import MultiTargetEvaluator
from .logging import install_logger, log_to_file_only, uninstall_logger, warn
from .run_lock import SaveDirError, claim_save_dir

# Errors caused by the command line or the files it names: reported in one line, exit status 1.
USER_ERRORS = (FileNotFoundError, CheckpointError, PretrainedWeightsError, ValueError)


def main(data_type, loss, argv=None):
    """Entry point of a training script; returns the exit status (0 on success, 1 on a reported error)."""
    args = parse_args(build_parser(data_type, loss), argv)
    try:
        run(args, data_type, loss)
    except USER_ERRORS as error:
        print('Error: {}'.format(data.worker_error_message(error)), file=sys.stderr)  # not a worker's traceback
        return 1
    except KeyboardInterrupt:
        latest = os.path.join(args.save_dir, LATEST_CHECKPOINT)
        hint = ' To continue, run the same command with --resume {}'.format(latest) if (
            os.path.isfile(latest) and not args.evaluate) else ''
        print('Interrupted (Ctrl-C); the checkpoints written so far are kept.' + hint, file=sys.stderr)
        return 130  # the shell's status for a SIGINT
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
    logger = lock = None
    try:
        lock, notes = claim_save_dir_on_main(args.save_dir)  # before the log: a second run must not append to it
        if comm.is_main_process():
            logger = install_logger(os.path.join(args.save_dir, 'log_test.txt' if args.evaluate else 'log_train.txt'))
        else:
            sys.stdout = open(os.devnull, 'w')  # one process speaks
        for note in notes:
            print(note)
        try:
            return _run(args, data_type, loss, device)
        except USER_ERRORS as error:
            log_to_file_only('Error: {}'.format(data.worker_error_message(error)))  # main() prints it on the console
            raise
    finally:
        if logger is not None:
            uninstall_logger(logger)
        elif sys.stdout is not stdout:
            sys.stdout.close()
            sys.stdout = stdout
        if lock is not None:
            lock.release()
        comm.cleanup()


def claim_save_dir_on_main(save_dir):
    """Rank 0 checks and locks ``save_dir`` (:func:`~torchreid.engine.run_lock.claim_save_dir`); under torchrun
    the other processes learn whether it failed, so that none goes on alone. Returns ``(lock or None, notes)``."""
    lock, notes, failure = None, [], None
    if comm.is_main_process():
        try:
            lock, notes = claim_save_dir(save_dir)
        except Exception as error:  # every process must reach the broadcast below
            failure = error
    message = comm.broadcast_object(None if failure is None else str(failure))
    if failure is not None:
        raise failure
    if message is not None:
        raise SaveDirError(message)
    return lock, notes


def dataset_options(args):
    """The dataset options of the command line, as dataset constructor keywords (image scripts only)."""
    return {name: getattr(args, name) for name in ('cuhk03_labeled', 'cuhk03_classic_split', 'market1501_500k')
            if hasattr(args, name)}


# the flags of the dataset options, for errors about an option no named dataset takes
DATASET_FLAGS = {'split_id': '--split-id', 'cuhk03_labeled': '--cuhk03-labeled',
                 'cuhk03_classic_split': '--cuhk03-classic-split', 'market1501_500k': '--market1501-500k'}


def build_data(args, data_type, loss, pin_memory, training):
    """The datasets and loaders of -s/-t (or -d) through :func:`torchreid.data.datamanager.build_reid_data`, the
    path the data managers take: sources merged (pids and camids offset), one query/gallery loader pair per
    target. The train loader is built only when ``training``. Returns the :class:`ReidData`."""
    names = args.sources + [name for name in args.targets if name not in args.sources]
    check_dataset_flags(names, args)
    train_transform, test_transform = data.build_transforms(args.height, args.width, random_erase=args.random_erase,
                                                            color_jitter=args.color_jitter)
    video = data_type == 'video'
    seq_len = args.seq_len if video else 15
    reid_data = build_reid_data(
        data_type, args.root, args.sources, args.targets, train_transform, test_transform, split_id=args.split_id,
        combineall=args.combineall, dataset_options=dataset_options(args), batch_size_train=args.train_batch,
        batch_size_test=args.test_batch, workers=args.workers,
        train_sampler='identity' if loss == 'xent_htri' else 'random',
        num_instances=getattr(args, 'num_instances', 4), seed=args.seed, pin_memory=pin_memory,
        num_replicas=comm.get_world_size(), rank=comm.get_rank(),
        train_clip_len=seq_len if getattr(args, 'train_clips', False) else None, seq_len=seq_len,
        build_train_loader=training)
    for name in reid_data.combined_targets:
        warn(combineall_warning(name))
    return reid_data


def check_dataset_flags(names, args):
    """A dataset option (--split-id, --cuhk03-labeled, ...) that none of the named datasets takes is an error."""
    try:
        check_dataset_options(names, args.split_id, dataset_options(args))
    except ValueError:
        options = dict(dataset_options(args), split_id=args.split_id)
        given = [DATASET_FLAGS[name] for name, value in sorted(options.items()) if value]
        raise ValueError('{} given, but none of the datasets {} takes {}'.format(
            ' '.join(given), ', '.join(names), 'it' if len(given) == 1 else 'them')) from None


def check_resume_sources(args, checkpoint):
    """Training on from a checkpoint needs its sources (in order) and --combineall: they fix the classes of the
    classifier. Checkpoints that do not record them (the seed's, 1.x's) are not checked; ones written before the
    sources were recorded name their -d in 'args'. Different targets are fine."""
    recorded = checkpoint.get('sources')
    if recorded is None and isinstance(checkpoint.get('args'), dict) and checkpoint['args'].get('dataset'):
        recorded = [checkpoint['args']['dataset']]
    if recorded is None:
        return
    recorded_combineall = bool(checkpoint.get('combineall', False))
    if list(recorded) == list(args.sources) and recorded_combineall == args.combineall:
        return
    raise ValueError("--resume '{}' was trained with {}, not {}: its classifier would not fit these classes. Resume "
                     'with the same sources (in the same order), or start from its weights with --load-weights'
                     .format(args.resume, _sources_flags(recorded, recorded_combineall),
                             _sources_flags(args.sources, args.combineall)))


def _sources_flags(sources, combineall):
    return '-s {}{}'.format(' '.join(sources), ' --combineall' if combineall else '')


# architecture flags passed to the model constructor when given (--last-stride, --pooling, --neck, --neck-feat)
MODEL_OPTIONS = ('last_stride', 'pooling', 'neck', 'neck_feat')


def model_options(args):
    """The architecture options given on the command line, as constructor keywords."""
    return {name: getattr(args, name) for name in MODEL_OPTIONS if getattr(args, name, None) is not None}


def apply_model_record(args, checkpoint):
    """For --resume of a checkpoint that records its model: take -a, the architecture options and --height /
    --width from the record, so that the model is rebuilt as it was trained. An option given explicitly that
    contradicts the record is a CheckpointError; one equal to it is fine. Returns the record, or None for a
    checkpoint without one (the seed's, torchreid 1.x's): the command line then says what to build, as before."""
    source = "--resume '{}'".format(args.resume)
    record = model_record_of(checkpoint, source)
    if record is None:
        return None
    given = set(getattr(args, 'explicit_options', ()))
    explicit = {name: value for name, value in model_options(args).items() if name in given}
    name, options, (height, width) = resolve_model_config(
        record, args.arch if 'arch' in given else None, explicit,
        (args.height if 'height' in given else None, args.width if 'width' in given else None), source=source)
    if (list(record['norm_mean']), list(record['norm_std'])) != (list(IMAGENET_MEAN), list(IMAGENET_STD)):
        raise CheckpointError('{} was trained with the normalisation mean {} std {}; the scripts normalise with the '
                              'ImageNet statistics {} {}. Extract its features with FeatureExtractor, which applies '
                              'the recorded normalisation'.format(source, record['norm_mean'], record['norm_std'],
                                                                  list(IMAGENET_MEAN), list(IMAGENET_STD)))
    args.arch, args.height, args.width = name, height, width
    for option in MODEL_OPTIONS:
        if option in options:
            setattr(args, option, options[option])
    print("Model from the record of '{}': -a {} {}, input {}x{}".format(args.resume, name, options, height, width))
    return record


def model_record_for(args, num_classes, loss, model, record=None):
    """The record stored in every checkpoint of this run (:mod:`torchreid.models.model_record`)."""
    options = dict(record['options']) if record is not None else model_options(args)
    return make_model_record(args.arch, num_classes, {'xent'} if loss == 'xent' else {'xent', 'htri'}, options,
                             (args.height, args.width), IMAGENET_MEAN, IMAGENET_STD, getattr(model, 'feat_dim', None))


def build_model(args, num_classes, loss, record=None):
    """The model of -a and the architecture options; with the ``record`` of a --resume checkpoint, the recorded
    model (no ImageNet weights: the checkpoint's replace them)."""
    print('Initializing model: {}'.format(args.arch))
    model_loss = {'xent'} if loss == 'xent' else {'xent', 'htri'}
    if record is not None:
        model = build_model_from_record(record, num_classes=num_classes, loss=model_loss)
        print('Model size: {:.3f} M'.format(count_num_param(model)))
        return model
    options = model_options(args)
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
        warn("-a {} has no attribute 'classifier', so --fixbase-epoch {} cannot train it alone: fixbase_epoch is "
             "reset to 0 (no warm-up)".format(args.arch, args.fixbase_epoch))
        return None
    return make_optimizer(args.optim, classifier.parameters(), args.fixbase_lr, args.weight_decay)


def check_args_before_work(args):
    """The mistakes the arguments show on their own: one-line errors before anything is loaded, and loud warnings
    where the run may be meant (it goes on)."""
    for flag, path, suggestions in (('--resume', args.resume, (LATEST_CHECKPOINT,)),
                                    ('--load-weights', args.load_weights, (BEST_MODEL_NAME, LATEST_CHECKPOINT))):
        if path and os.path.isdir(path):
            inside = [os.path.join(path, name) for name in suggestions if os.path.isfile(os.path.join(path, name))]
            hint = ("; did you mean {} '{}'?".format(flag, inside[0]) if inside else
                    '; pass a checkpoint file (e.g. <save-dir>/{})'.format(suggestions[0]))
            raise ValueError("{} '{}' is a directory, not a checkpoint file{}".format(flag, path, hint))
    if args.evaluate:
        if not args.resume and not args.load_weights:
            weights = 'randomly initialised' if args.no_pretrained else 'ImageNet-pretrained (not re-id trained)'
            warn('--evaluate without --resume or --load-weights evaluates untrained -a {} weights ({}); pass '
                 '--resume <checkpoint> or --load-weights <file> to evaluate a trained model'.format(args.arch,
                                                                                                  weights))
        return
    if not args.resume and args.start_epoch >= args.max_epoch:
        raise ValueError('--start-epoch {} is not below --max-epoch {}: nothing to train. Pass a larger --max-epoch '
                         'to train, or use --evaluate (with --resume or --load-weights) to evaluate a model'.format(
                             args.start_epoch, args.max_epoch))
    late = [milestone for milestone in args.stepsize
            if milestone >= args.max_epoch] if args.lr_scheduler == 'multi_step' else []
    if late:
        warn('--stepsize {} is not below --max-epoch {}: the learning rate never decays at {} (a step at epoch N '
             'applies from the (N+1)-th epoch on)'.format(' '.join(map(str, args.stepsize)), args.max_epoch,
                                                          ', '.join(map(str, late))))


def check_epochs_left(args, checkpoint):
    """--resume must leave an epoch to train (or the interrupted evaluation of its last epoch to finish)."""
    if args.evaluate or checkpoint.get('epoch') is None:
        return
    epochs_done = checkpoint['epoch'] + 1
    if epochs_done < args.max_epoch or (epochs_done == args.max_epoch and checkpoint.get('evaluation_pending')):
        return
    raise ValueError("--resume '{0}' has trained {1} epoch(s) and --max-epoch is {2}: nothing to train. To evaluate "
                     "it, use --evaluate --resume '{0}'; to train on, pass a --max-epoch above {1}".format(
                         args.resume, epochs_done, args.max_epoch))


def check_input_size(model, args, device):
    """Run one blank image of --height x --width through ``model`` (eval mode, no gradients), so that an input
    the architecture cannot take is a one-line error before any work, not a traceback in the first batch.

    Models that know their size limits say so themselves (ValueError); any other failure at this size is taken
    as the input being too small only when the default 256x128 passes (else the original error is raised).
    """
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(torch.zeros(1, 3, args.height, args.width, device=device))
    except torch.OutOfMemoryError:
        raise
    except RuntimeError as error:
        try:
            with torch.no_grad():
                model(torch.zeros(1, 3, 256, 128, device=device))
        except Exception:
            raise error from None
        problem = 'is too small for' if args.height < 256 or args.width < 128 else 'does not fit'
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        raise ValueError('input size {}x{} (--height x --width) {} -a {} ({}); use a larger --height/--width, e.g. '
                         'the default 256x128'.format(args.height, args.width, problem, args.arch, reason)) from None
    finally:
        model.train(was_training)


def _run(args, data_type, loss, device):
    check_args_before_work(args)
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

    checkpoint = load_checkpoint(args.resume) if args.resume else None
    if checkpoint is not None:
        check_epochs_left(args, checkpoint)
        if not args.evaluate:
            check_resume_sources(args, checkpoint)
    record = apply_model_record(args, checkpoint) if checkpoint is not None else None  # sets -a, sizes, options
    reid_data = build_data(args, data_type, loss, pin_memory=device.type == 'cuda', training=not args.evaluate)
    # evaluating a recorded checkpoint: its own classifier size, whatever the dataset (the classifier is unused)
    num_classes = reid_data.num_train_pids
    if record is not None and args.evaluate and record['num_classes']:
        num_classes = record['num_classes']
    model = build_model(args, num_classes, loss, record)
    run_model_record = model_record_for(args, num_classes, loss, model, record)

    if args.load_weights:
        load_weights(model, args.load_weights, allow_partial=args.allow_partial_load)  # 1.x names mapped
    if checkpoint is not None:
        load_weights(model, checkpoint, strict=True)
        print("Loaded checkpoint from '{}'".format(args.resume))
        if not args.evaluate:
            if 'epoch' not in checkpoint:
                raise CheckpointError("'{}' holds model weights only (no 'epoch'), so training cannot resume from "
                                      "it; start from its weights with --load-weights instead".format(args.resume))
            print('- start_epoch: {}\n- rank1: {}'.format(checkpoint['epoch'] + 1, checkpoint.get('rank1')))
    model.to(device)
    check_input_size(model, args, device)

    criterion_cent = None
    params = [{'params': list(model.parameters())}]
    if getattr(args, 'lambda_cent', 0) > 0:
        criterion_cent = CenterLoss(reid_data.num_train_pids, model.feat_dim).to(device)
        params.append({'params': list(criterion_cent.parameters()), 'weight_decay': 0.})
    optimizer = make_optimizer(args.optim, params, args.lr, args.weight_decay)
    scheduler = make_lr_scheduler(optimizer, args.lr_scheduler, args.stepsize, args.gamma,
                                  max_epoch=args.max_epoch, warmup_epochs=args.warmup_epochs,
                                  warmup_factor=args.warmup_factor)
    fixbase_optimizer = None if args.evaluate else fixbase_optimizer_for(args, model)

    evaluator = MultiTargetEvaluator.from_test_loaders(
        reid_data.test_loader, args.targets, device, best_target=args.best_target, pool=getattr(args, 'pool', 'avg'),
        flip_test=args.flip_test, normalize_feature=args.normalize_feature, dist_metric=args.dist_metric,
        rerank=args.rerank, use_metric_cuhk03=getattr(args, 'use_metric_cuhk03', False),
        autocast=make_autocast(args.amp, device), keep_distmat=args.visualize_ranks)
    common = dict(print_freq=args.print_freq, amp=args.amp, run_args=vars(args), model_record=run_model_record,
                  datasets_record={'sources': list(args.sources), 'targets': list(args.targets),
                                   'best_target': args.best_target, 'combineall': args.combineall})
    train_loader = reid_data.train_loader
    if loss == 'xent':
        engine = SoftmaxEngine(model, optimizer, scheduler, train_loader, evaluator, device, args.save_dir,
                               criterion=CrossEntropyLoss(reid_data.num_train_pids, label_smooth=args.label_smooth),
                               freeze_bn=args.freeze_bn, **common)
    else:
        engine = TripletEngine(model, optimizer, scheduler, train_loader, evaluator, device, args.save_dir,
                               criterion_xent=CrossEntropyLoss(reid_data.num_train_pids, label_smooth=args.label_smooth),
                               criterion_htri=TripletLoss(margin=args.margin), lambda_xent=args.lambda_xent,
                               lambda_htri=args.lambda_htri, htri_only=args.htri_only, criterion_cent=criterion_cent,
                               lambda_cent=args.lambda_cent, find_unused_parameters=args.htri_only, **common)

    if args.evaluate:
        print('Evaluate only')
        result = engine.evaluate()
        if args.visualize_ranks and comm.is_main_process():
            from ..visualize import visualize_ranked_results
            for name in args.targets:  # one folder per target when there are several
                save_dir = os.path.join(args.save_dir, 'ranked_results', *([name] if len(args.targets) > 1 else []))
                visualize_ranked_results(result.per_target[name].distmat,
                                         (reid_data.test_dataset[name]['query'],
                                          reid_data.test_dataset[name]['gallery']),
                                         save_dir=save_dir, topk=20, data_type=data_type)
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
