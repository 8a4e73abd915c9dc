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


def _args(*argv, script=('image', 'xent')):
    return parse_args(build_parser(*script), ['-a', 'osnet_x0_25'] + list(argv))


@pytest.mark.parametrize('argv,warning', [
    (['--max-epoch', '2', '--stepsize', '1', '2'],
     'Warning: --stepsize 1 2 is not below --max-epoch 2: the learning rate never decays at 2 (a step at epoch N '
     'applies from the (N+1)-th epoch on)'),
    (['--max-epoch', '3', '--stepsize', '1', '2'], None),
    (['--evaluate'], 'Warning: --evaluate without --resume or --load-weights evaluates untrained -a osnet_x0_25 '
                     'weights (ImageNet-pretrained (not re-id trained)); pass --resume <checkpoint> or --load-weights '
                     '<file> to evaluate a trained model'),
    (['--evaluate', '--load-weights', 'w.pth'], None),
    (['--evaluate', '--resume', 'c.pth.tar', '--max-epoch', '1'], None),  # nothing is trained: no stepsize warning
])
def test_warnings_of_the_arguments(argv, warning, capsys):
    from torchreid.engine.runner import check_args_before_work
    check_args_before_work(_args(*argv))
    captured = capsys.readouterr()
    assert captured.err.splitlines() == ([warning] if warning else []) and captured.out == ''


@pytest.mark.parametrize('checkpoint,max_epoch,allowed', [
    ({'epoch': 0}, 2, True),
    ({'epoch': 1}, 2, False),  # 2 epochs trained of 2
    ({'epoch': 1, 'evaluation_pending': True}, 2, True),  # the last epoch's evaluation is still to do
    ({'epoch': 1, 'evaluation_pending': False}, 2, False),
    ({'epoch': 2, 'evaluation_pending': True}, 2, False),  # past --max-epoch: nothing to do either
    ({'epoch': -1, 'fixbase_epochs_done': 1}, 1, True),  # a warm-up checkpoint
])
def test_resume_must_leave_something_to_do(checkpoint, max_epoch, allowed):
    from torchreid.engine.runner import check_epochs_left
    args = _args('--resume', 'ck.pth.tar', '--max-epoch', str(max_epoch))
    if allowed:
        check_epochs_left(args, checkpoint)
    else:
        with pytest.raises(ValueError, match="^--resume 'ck.pth.tar' has trained {} epoch.s. and --max-epoch is {}: "
                                             "nothing to train".format(checkpoint['epoch'] + 1, max_epoch)):
            check_epochs_left(args, checkpoint)
    check_epochs_left(_args('--resume', 'ck.pth.tar', '--max-epoch', '1', '--evaluate'), {'epoch': 5})  # evaluates


def test_fixbase_without_a_classifier_is_a_loud_warning(capsys):
    import torch.nn as nn
    from torchreid.engine.runner import fixbase_optimizer_for
    args = _args('--fixbase-epoch', '2', '-a', 'hacnn')
    assert fixbase_optimizer_for(args, nn.Sequential(nn.Linear(2, 2))) is None
    assert capsys.readouterr().err == ("Warning: -a hacnn has no attribute 'classifier', so --fixbase-epoch 2 cannot "
                                       "train it alone: fixbase_epoch is reset to 0 (no warm-up)\n")
    model = nn.Module()
    model.classifier = nn.Linear(2, 2)
    optimizer = fixbase_optimizer_for(args, model)
    assert optimizer.param_groups[0]['params'] == list(model.classifier.parameters())
    assert optimizer.param_groups[0]['lr'] == args.fixbase_lr and capsys.readouterr().err == ''
