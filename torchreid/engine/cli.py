"""Command-line arguments of the four training scripts: the seed's flags and defaults (SPEC 4) plus the additions.

    >>> parser = build_parser(data_type='image', loss='xent')
    >>> args = parse_args(parser, ['-d', 'demo', '-a', 'osnet_x0_25'])

Flags differ by script exactly as in the seed: image scripts have the CUHK03 options, video scripts --seq-len and
--pool (and now --split-id), cross-entropy scripts the fixbase/freeze-bn options, triplet scripts the triplet ones.
"""
import argparse

from .. import datasets, models
from ..optim import LR_SCHEDULER_NAMES, OPTIMIZER_NAMES

SCRIPTS = {
    ('image', 'xent'): 'train_imgreid_xent.py',
    ('image', 'xent_htri'): 'train_imgreid_xent_htri.py',
    ('video', 'xent'): 'train_vidreid_xent.py',
    ('video', 'xent_htri'): 'train_vidreid_xent_htri.py',
}


def script_defaults(data_type, loss):
    """The defaults that differ between the four seed scripts."""
    video = data_type == 'video'
    if video:
        max_epoch = 500 if loss == 'xent_htri' else 15
    else:
        max_epoch = 60
    return {
        'dataset': 'mars' if video else 'market1501',
        'max_epoch': max_epoch,
        'test_batch': 5 if video else 100,
        'stepsize': [300, 400] if (video and loss == 'xent_htri') else [20, 40],
    }


def build_parser(data_type, loss):
    """The argparse parser of the script for ``data_type`` ('image' | 'video') and ``loss`` ('xent' | 'xent_htri')."""
    if (data_type, loss) not in SCRIPTS:
        raise ValueError('unknown script: data_type={!r}, loss={!r}'.format(data_type, loss))
    defaults = script_defaults(data_type, loss)
    video = data_type == 'video'
    parser = argparse.ArgumentParser(
        prog=SCRIPTS[data_type, loss],
        description='Train {} person re-identification with {}; evaluate with --evaluate.'.format(
            data_type, 'cross entropy' if loss == 'xent' else 'cross entropy and hard-mining triplet loss'),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)

    group = parser.add_argument_group('Datasets (more than the seed: --split-id for video, demo data)')
    group.add_argument('--root', type=str, default='data', help='root path to data directory')
    names = datasets.get_video_names() if video else datasets.get_image_names()
    group.add_argument('-d', '--dataset', type=str, default=defaults['dataset'], choices=names,
                       help="dataset key ('demo' / 'demovideo' are generated on first use); short for -s X -t X, "
                            "so it cannot be combined with -s/-t")
    group.add_argument('-s', '--source-names', type=str, nargs='+', default=None, choices=names, metavar='NAME',
                       help='train on these datasets, merged into one training set (pids and camera ids offset '
                            'per source; the classifier has their total number of identities); replaces -d')
    group.add_argument('-t', '--target-names', type=str, nargs='+', default=None, choices=names, metavar='NAME',
                       help='evaluate on each of these datasets (its own query/gallery protocol and result '
                            'block, then a table of all); default: the sources; needs -s')
    group.add_argument('--best-target', type=str, default=None, metavar='NAME',
                       help='the target whose Rank-1 picks best_model.pth.tar (default: the first target)')
    group.add_argument('--combineall', action='store_true',
                       help="train on train + query + gallery of every source (each dataset's junk ids left out), "
                            'for deployment; a source that is also a target then gives numbers not comparable to '
                            'papers (a warning says so)')
    group.add_argument('-j', '--workers', default=4, type=int, help='number of data loading workers')
    group.add_argument('--height', type=int, default=256, help='height of an image')
    group.add_argument('--width', type=int, default=128, help='width of an image')
    group.add_argument('--split-id', type=int, default=0, help='split index (datasets with several splits)')
    if video:
        group.add_argument('--seq-len', type=int, default=15, help='number of frames sampled per tracklet')
        group.add_argument('--pool', type=str, default='avg', choices=['avg', 'max'],
                           help='temporal pooling of frame features into a tracklet feature')
        group.add_argument('--train-clips', action='store_true',
                           help='train on clips of --seq-len random frames (their outputs averaged) instead of '
                                'single frames (the seed); --train-batch then counts clips')
    else:
        group.add_argument('--cuhk03-labeled', action='store_true',
                           help='use labeled images, if false, use detected images')
        group.add_argument('--cuhk03-classic-split', action='store_true', help='use classic split by Li et al. CVPR14')
        group.add_argument('--use-metric-cuhk03', action='store_true', help='use cuhk03-metric (default: False)')
        group.add_argument('--market1501-500k', action='store_true',
                           help="add Market-1501's 500k distractor images to its gallery (market1501 only)")
    group.add_argument('--random-erase', action='store_true', help='random erasing augmentation in training')
    group.add_argument('--color-jitter', action='store_true', help='colour jitter augmentation in training')

    group = parser.add_argument_group('Optimization')
    group.add_argument('--optim', type=str, default='adam', choices=OPTIMIZER_NAMES,
                       help='optimization algorithm')
    group.add_argument('--max-epoch', default=defaults['max_epoch'], type=int, help='maximum epochs to run')
    group.add_argument('--start-epoch', default=0, type=int,
                       help='manual epoch number (useful on restarts; --resume overrides it)')
    group.add_argument('--train-batch', default=32, type=int, help='train batch size (per process under torchrun)')
    group.add_argument('--test-batch', default=defaults['test_batch'], type=int,
                       help='test batch size' + (' (number of tracklets)' if video else ''))
    group.add_argument('--lr', '--learning-rate', default=0.0003, type=float, help='initial learning rate')
    group.add_argument('--stepsize', default=defaults['stepsize'], nargs='+', type=int,
                       help='epochs at which the learning rate decays (multi_step), or its one period (single_step)')
    group.add_argument('--lr-scheduler', default='multi_step', choices=LR_SCHEDULER_NAMES,
                       help='learning-rate schedule: multi_step (decay by --gamma at each --stepsize epoch), '
                            'single_step (every --stepsize epochs) or cosine (anneal to 0 over --max-epoch)')
    group.add_argument('--gamma', default=0.1, type=float, help='learning rate decay')
    group.add_argument('--weight-decay', default=5e-04, type=float, help='weight decay')
    group.add_argument('--warmup-epochs', default=0, type=int,
                       help='linear learning-rate warm-up over this many epochs (0: none, as the seed)')
    group.add_argument('--warmup-factor', default=0.1, type=float,
                       help='the warm-up starts at this fraction of --lr')
    if loss == 'xent':
        group.add_argument('--fixbase-epoch', default=0, type=int,
                           help='extra epochs that first train only the classifier, base network frozen')
        group.add_argument('--fixbase-lr', default=0.0003, type=float, help='learning rate of those epochs')
        group.add_argument('--freeze-bn', action='store_true',
                           help='freeze running statistics of BatchNorm layers during training')

    group = parser.add_argument_group('Losses')
    group.add_argument('--label-smooth', action='store_true', help='use label smoothing regularizer in cross entropy')
    if loss == 'xent_htri':
        group.add_argument('--margin', type=float, default=0.3, help='margin for triplet loss')
        group.add_argument('--num-instances', type=int, default=4, help='number of instances per identity')
        group.add_argument('--htri-only', action='store_true', help='only use hard triplet loss (no cross entropy)')
        group.add_argument('--lambda-xent', type=float, default=1, help='weight of the cross entropy term')
        group.add_argument('--lambda-htri', type=float, default=1, help='weight of the triplet term')
        group.add_argument('--lambda-cent', type=float, default=0,
                           help='weight of a center-loss term on the features (0: off)')

    group = parser.add_argument_group('Architecture')
    group.add_argument('-a', '--arch', type=str, default='resnet50', choices=models.get_names())
    group.add_argument('--no-pretrained', action='store_true',
                       help='do not initialise from ImageNet weights (needed offline; they are downloaded otherwise)')
    group.add_argument('--last-stride', type=int, default=None, choices=[1, 2],
                       help='stride of the last stage (1 doubles the final feature map; ResNet family)')
    group.add_argument('--pooling', type=str, default=None, choices=['avg', 'gem'],
                       help='global pooling of the last feature map (gem: generalized mean with a learnable p)')
    group.add_argument('--neck', type=str, default=None, choices=['none', 'bnneck'],
                       help='bnneck: BatchNorm between the pooled feature and the classifier')
    group.add_argument('--neck-feat', type=str, default=None, choices=['before', 'after'],
                       help='with --neck bnneck: evaluate on the feature before or after the BatchNorm')

    group = parser.add_argument_group('Evaluation')
    group.add_argument('--evaluate', action='store_true', help='evaluation only')
    group.add_argument('--eval-step', type=int, default=-1,
                       help='run evaluation every N epochs (-1: only after the last epoch)')
    group.add_argument('--start-eval', type=int, default=0, help='start to evaluate after this number of epochs')
    group.add_argument('--dist-metric', type=str, default='euclidean', choices=['euclidean', 'cosine'],
                       help='query-gallery distance (euclidean is squared, as the seed)')
    group.add_argument('--normalize-feature', action='store_true', help='L2-normalise features before the distance')
    group.add_argument('--flip-test', action='store_true',
                       help='average each test feature with that of the horizontally flipped image')
    group.add_argument('--rerank', action='store_true', help='k-reciprocal re-ranking (Zhong et al., CVPR17)')
    group.add_argument('--visualize-ranks', action='store_true',
                       help='with --evaluate: save the top-20 ranked gallery items of every query in '
                            '<save-dir>/ranked_results')

    group = parser.add_argument_group('Miscs')
    group.add_argument('--print-freq', type=int, default=10, help='print frequency (batches)')
    group.add_argument('--seed', type=int, default=1, help='manual seed (python, numpy, torch, loader workers)')
    group.add_argument('--resume', type=str, default='', metavar='PATH',
                       help='continue training (or, with --evaluate, evaluate) this checkpoint')
    group.add_argument('--load-weights', type=str, default='',
                       help='start from the weights of this checkpoint (a classifier of another size is left out, '
                            'e.g. another dataset); any other layer that does not fit is an error')
    group.add_argument('--allow-partial-load', action='store_true',
                       help='with --load-weights: load the layers that fit even when others do not (they keep '
                            'their initialisation)')
    group.add_argument('--save-dir', type=str, default='log', help='folder of logs and checkpoints')
    group.add_argument('--use-cpu', action='store_true', help='use cpu')
    group.add_argument('--gpu-devices', default='0', type=str,
                       help='gpu device ids for CUDA_VISIBLE_DEVICES (several ids: DataParallel, or one '
                            'process each under torchrun)')
    group.add_argument('--use-avai-gpus', action='store_true',
                       help='use available gpus instead of specified devices (this is useful when using managed '
                            'clusters)')
    group.add_argument('--amp', nargs='?', const='bf16', default=None, choices=['bf16', 'fp16'],
                       help='mixed precision: bf16 (the default with a bare --amp; CPU or GPU) or fp16 (GPU)')
    return parser


def validate_args(parser, args):
    """Reject combinations that cannot run, with a message that says what to change (exits like argparse)."""
    from ..data.samplers import check_pk_batch

    positive = ['max_epoch', 'train_batch', 'test_batch', 'print_freq', 'height', 'width']
    if hasattr(args, 'seq_len'):
        positive.append('seq_len')
    for name in positive:
        if getattr(args, name) < 1:
            parser.error('--{} must be at least 1, got {}'.format(name.replace('_', '-'), getattr(args, name)))
    if args.workers < 0:
        parser.error('--workers must be >= 0, got {}'.format(args.workers))
    if hasattr(args, 'num_instances'):
        try:
            check_pk_batch(args.train_batch, args.num_instances)
        except ValueError as error:
            parser.error(str(error))
    if args.lr_scheduler == 'single_step' and (len(args.stepsize) != 1 or args.stepsize[0] < 1):
        parser.error('--lr-scheduler single_step takes one positive --stepsize (its period), got {}'.format(
            ' '.join(map(str, args.stepsize))))
    if sorted(args.stepsize) != args.stepsize:
        parser.error('--stepsize must be increasing, got {}'.format(args.stepsize))
    if args.amp == 'fp16' and args.use_cpu:
        parser.error('--amp fp16 needs a GPU; use --amp bf16 with --use-cpu')
    if args.visualize_ranks and not args.evaluate:
        parser.error('--visualize-ranks works together with --evaluate (e.g. --evaluate --resume <checkpoint>)')
    return args


def explicit_options(parser, argv=None):
    """The destinations of the options given on the command line ``argv`` (not left at their defaults): argparse
    fills in a default only for an attribute the namespace does not have yet, so a namespace pre-filled with a
    marker keeps the marker exactly where nothing was given."""
    unset = object()
    namespace = argparse.Namespace(**{action.dest: unset for action in parser._actions
                                      if action.dest != argparse.SUPPRESS})
    parser.parse_args(argv, namespace)
    return sorted(dest for dest, value in vars(namespace).items() if value is not unset)


def resolve_datasets(parser, args):
    """Set ``args.sources``, ``args.targets`` (lists of names) and ``args.best_target`` from -d or -s/-t.

    ``-d X`` means ``-s X -t X``; -d given together with -s or -t is an error (which one was meant is unclear), as
    is -t without -s. -t defaults to the sources. A name listed twice and a --best-target that is not a target are
    errors. With -s/-t, ``args.dataset`` is None (no single dataset).
    """
    if args.source_names or args.target_names:
        if 'dataset' in args.explicit_options:
            parser.error('-d/--dataset X is short for -s X -t X: give either -d or -s/-t, not both')
        if not args.source_names:
            parser.error('-t/--target-names needs -s/--source-names (the training datasets); -d X is short for '
                         '-s X -t X')
        args.sources = list(args.source_names)
        args.targets = list(args.target_names or args.source_names)
        args.dataset = None
    else:
        args.sources, args.targets = [args.dataset], [args.dataset]
    for flag, names in (('-s/--source-names', args.sources), ('-t/--target-names', args.targets)):
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            parser.error('{} lists {} more than once'.format(flag, ', '.join(duplicates)))
    if args.best_target is None:
        args.best_target = args.targets[0]
    elif args.best_target not in args.targets:
        parser.error('--best-target {} is not a target; the targets are {}'.format(args.best_target,
                                                                                 ' '.join(args.targets)))
    return args


def parse_args(parser, argv=None):
    """Parse and validate ``argv`` (default: sys.argv[1:]). ``args.explicit_options`` lists the options given
    explicitly (e.g. to tell ``-a resnet50`` from the default when it is checked against a checkpoint's record);
    ``args.sources`` / ``args.targets`` are the training and test datasets (:func:`resolve_datasets`)."""
    args = validate_args(parser, parser.parse_args(argv))
    args.explicit_options = explicit_options(parser, argv)
    unused = [name for name in ('stepsize', 'gamma') if name in args.explicit_options]
    if args.lr_scheduler == 'cosine' and unused:
        parser.error('{} do(es) not apply to --lr-scheduler cosine (it anneals over --max-epoch)'.format(
            ', '.join('--' + name for name in unused)))
    return resolve_datasets(parser, args)
