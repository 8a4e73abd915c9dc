"""The four scripts' command lines: every seed flag with its seed default (SPEC 4), per script, and the checks."""
import pytest

from torchreid.engine.cli import build_parser, parse_args

SHARED_DEFAULTS = {
    'root': 'data', 'workers': 4, 'height': 256, 'width': 128, 'optim': 'adam', 'start_epoch': 0, 'train_batch': 32,
    'lr': 0.0003, 'gamma': 0.1, 'weight_decay': 5e-04, 'label_smooth': False, 'arch': 'resnet50', 'print_freq': 10,
    'seed': 1, 'resume': '', 'load_weights': '', 'evaluate': False, 'eval_step': -1, 'start_eval': 0,
    'save_dir': 'log', 'use_cpu': False, 'gpu_devices': '0', 'use_avai_gpus': False, 'visualize_ranks': False,
    'split_id': 0,
}
IMAGE_DEFAULTS = {'dataset': 'market1501', 'test_batch': 100, 'max_epoch': 60, 'stepsize': [20, 40],
                  'cuhk03_labeled': False, 'cuhk03_classic_split': False, 'use_metric_cuhk03': False}
VIDEO_DEFAULTS = {'dataset': 'mars', 'test_batch': 5, 'seq_len': 15, 'pool': 'avg'}
XENT_DEFAULTS = {'fixbase_epoch': 0, 'fixbase_lr': 0.0003, 'freeze_bn': False}
HTRI_DEFAULTS = {'margin': 0.3, 'num_instances': 4, 'htri_only': False, 'lambda_xent': 1, 'lambda_htri': 1}
ADDED_DEFAULTS = {'no_pretrained': False, 'amp': None, 'warmup_epochs': 0, 'flip_test': False,
                  'normalize_feature': False, 'dist_metric': 'euclidean', 'rerank': False, 'random_erase': False,
                  'color_jitter': False}

SCRIPT_DEFAULTS = {
    ('image', 'xent'): dict(IMAGE_DEFAULTS, **XENT_DEFAULTS),
    ('image', 'xent_htri'): dict(IMAGE_DEFAULTS, **HTRI_DEFAULTS),
    ('video', 'xent'): dict(VIDEO_DEFAULTS, max_epoch=15, stepsize=[20, 40], **XENT_DEFAULTS),
    ('video', 'xent_htri'): dict(VIDEO_DEFAULTS, max_epoch=500, stepsize=[300, 400], **HTRI_DEFAULTS),
}


@pytest.mark.parametrize('script', sorted(SCRIPT_DEFAULTS))
def test_seed_defaults(script):
    args = vars(build_parser(*script).parse_args([]))
    expected = dict(SHARED_DEFAULTS, **ADDED_DEFAULTS, **SCRIPT_DEFAULTS[script])
    assert {key: args[key] for key in expected} == expected


def test_flags_belong_to_their_scripts():
    image_xent = vars(build_parser('image', 'xent').parse_args([]))
    video_htri = vars(build_parser('video', 'xent_htri').parse_args([]))
    assert 'margin' not in image_xent and 'seq_len' not in image_xent
    assert 'fixbase_epoch' not in video_htri and 'cuhk03_labeled' not in video_htri
    assert 'split_id' in video_htri and 'train_clips' in video_htri


def test_seed_spellings_parse():
    parser = build_parser('image', 'xent_htri')
    args = parser.parse_args(['-d', 'cuhk03', '-j', '0', '-a', 'densenet121', '--learning-rate', '0.1',
                              '--stepsize', '5', '10', '15', '--htri-only', '--amp'])
    assert (args.dataset, args.workers, args.arch, args.lr, args.stepsize, args.htri_only, args.amp) == (
        'cuhk03', 0, 'densenet121', 0.1, [5, 10, 15], True, 'bf16')
    assert build_parser('video', 'xent').parse_args(['--amp', 'fp16']).amp == 'fp16'


@pytest.mark.parametrize('script,argv,message', [
    (('image', 'xent_htri'), ['--train-batch', '30', '--num-instances', '4'], 'not divisible by --num-instances'),
    (('image', 'xent'), ['--max-epoch', '0'], '--max-epoch must be at least 1'),
    (('image', 'xent'), ['--stepsize', '40', '20'], '--stepsize must be increasing'),
    (('image', 'xent'), ['--amp', 'fp16', '--use-cpu'], 'use --amp bf16'),
    (('image', 'xent'), ['--visualize-ranks'], 'together with --evaluate'),
    (('video', 'xent'), ['--seq-len', '0'], '--seq-len must be at least 1'),
    (('video', 'xent'), ['-d', 'market1501'], "invalid choice: 'market1501'"),
    (('image', 'xent'), ['-d', 'mars'], "invalid choice: 'mars'"),
])
def test_bad_arguments_exit_with_a_message(script, argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(build_parser(*script), argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
