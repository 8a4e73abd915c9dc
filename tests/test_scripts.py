"""End-to-end runs of the four training scripts on the generated demo data (tiny model, 64x32 inputs, CPU).

Most runs call the scripts' ``main`` in this process (the scripts are one line around it); a few run the files
themselves to check exit statuses. Runs that take more than a few seconds are marked slow.
"""
import json
import os
import re
import socket
import subprocess
import sys

import pytest
import torch

from torchreid.engine.engine import LATEST_CHECKPOINT
from torchreid.engine.runner import main
from torchreid.utils.checkpoint import load_checkpoint, save_checkpoint

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPTS = {
    ('image', 'xent'): 'train_imgreid_xent.py',
    ('image', 'xent_htri'): 'train_imgreid_xent_htri.py',
    ('video', 'xent'): 'train_vidreid_xent.py',
    ('video', 'xent_htri'): 'train_vidreid_xent_htri.py',
}
TINY = ['-a', 'osnet_x0_25', '--no-pretrained', '--height', '64', '--width', '32', '-j', '0', '--use-cpu',
        '--print-freq', '4']
VIDEO = ['-d', 'demovideo', '--seq-len', '4', '--test-batch', '16']
RESULT_LINE = re.compile(r'^(mAP|mINP|Rank-\d+ *): *([\d.]+)%$', re.M)


def num_queries(log_text):
    return int(re.search(r'Extracted features for query set, obtained (\d+)-by-', log_text).group(1))


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    """The demo datasets, generated once for this module."""
    return str(tmp_path_factory.getbasetemp() / 'demo_data')


@pytest.fixture(autouse=True)
def keep_environment(monkeypatch):
    """The scripts set CUDA_VISIBLE_DEVICES (from --gpu-devices); undo it after each test."""
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', os.environ.get('CUDA_VISIBLE_DEVICES', ''))


def run_script(data_type, loss, save_dir, data_root, *argv):
    """Run a script's main in this process; returns (exit status, log_train/log_test text)."""
    argv = ['--root', data_root, '--save-dir', str(save_dir)] + TINY + list(argv)
    status = main(data_type, loss, argv)
    log_name = 'log_test.txt' if '--evaluate' in argv else 'log_train.txt'
    log_path = os.path.join(str(save_dir), log_name)
    return status, open(log_path).read() if os.path.exists(log_path) else ''


def results(log_text):
    """The last printed result block as {'mAP': 12.3, 'Rank-1': ...} (percentages)."""
    block = log_text[log_text.rindex('Results ----------'):]
    block = block[:block.index('------------------')]
    return {name.strip(): float(value) for name, value in RESULT_LINE.findall(block)}


def query_folders(ranked_dir):
    return [name for name in os.listdir(str(ranked_dir)) if os.path.isdir(os.path.join(str(ranked_dir), name))]


def same_weights(path_a, path_b):
    a, b = load_checkpoint(path_a)['state_dict'], load_checkpoint(path_b)['state_dict']
    return a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)


# a milestone past --max-epoch (3) is a warning: the run goes on
IMAGE_XENT_ARGS = ['-d', 'demo', '--max-epoch', '2', '--eval-step', '1', '--label-smooth', '--stepsize', '1', '3']


@pytest.fixture(scope='module')
def image_xent_run(tmp_path_factory, data_root):
    save_dir = tmp_path_factory.mktemp('image_xent')
    status, log = run_script('image', 'xent', save_dir, data_root, *IMAGE_XENT_ARGS)
    assert status == 0
    return save_dir, log


@pytest.mark.slow
def test_image_xent_trains_evaluates_and_checkpoints(image_xent_run):
    save_dir, log = image_xent_run
    for expected in ('==========\nArgs:Namespace(', 'Currently using CPU', 'Initializing dataset demo',
                     'Initializing model: osnet_x0_25', '==> Start training', 'Epoch: [2][4/',
                     'Extracted features for query set, obtained ', 'Computing CMC and mAP',
                     'Results ----------', '==> Best Rank-1 ', 'Finished. Total elapsed time (h:m:s): '):
        assert expected in log
    assert re.search(r'Model size: \d+\.\d{3} M', log)
    assert log.count('Results ----------') == 2
    assert set(results(log)) == {'mAP', 'mINP', 'Rank-1', 'Rank-5', 'Rank-10', 'Rank-20'}
    assert ('Warning: --stepsize 1 3 is not below --max-epoch 2: the learning rate never decays at 3 (a step at '
            'epoch N applies from the (N+1)-th epoch on)\n') in log
    files = set(os.listdir(str(save_dir)))
    assert {'checkpoint_ep1.pth.tar', 'checkpoint_ep2.pth.tar', LATEST_CHECKPOINT, 'best_model.pth.tar',
            'curves.png', 'log_train.txt'} <= files
    assert '.lock' not in files and not [name for name in files if name.endswith('.tmp')]  # released, cleaned
    assert any(name.startswith('events.out.tfevents') for name in files)
    checkpoint = load_checkpoint(str(save_dir / 'checkpoint_ep2.pth.tar'))
    assert checkpoint['epoch'] == 1 and 0 <= checkpoint['rank1'] <= 1
    assert checkpoint['args']['dataset'] == 'demo' and checkpoint['args']['label_smooth'] is True
    assert checkpoint['scheduler']['last_epoch'] == 2
    assert checkpoint['optimizer']['param_groups'][0]['lr'] == pytest.approx(3e-5)
    best = re.search(r'==> Best Rank-1 ([\d.]+)%, achieved at epoch (\d)', log)
    assert float(best.group(1)) == pytest.approx(100 * max(checkpoint['history']['rank1']), abs=0.06)


@pytest.mark.slow
def test_evaluate_resume_reproduces_the_final_results_and_visualizes(image_xent_run, data_root, tmp_path):
    save_dir, train_log = image_xent_run
    status, log = run_script('image', 'xent', tmp_path, data_root, '-d', 'demo', '--evaluate', '--resume',
                             str(save_dir / 'checkpoint_ep2.pth.tar'), '--visualize-ranks')
    assert status == 0
    assert 'Evaluate only' in log and "Loaded checkpoint from '" in log
    assert results(log) == results(train_log)
    ranked = tmp_path / 'ranked_results'
    assert len(query_folders(ranked)) == num_queries(log)  # one folder per query
    assert '==> Start training' not in log


@pytest.mark.slow
def test_log_is_appended_per_run_and_test_options_apply(image_xent_run, data_root, tmp_path):
    weights = str(image_xent_run[0] / 'best_model.pth.tar')
    plain, options = [], ['--flip-test', '--normalize-feature', '--dist-metric', 'cosine', '--rerank']
    for extra in (plain, options):
        status, log = run_script('image', 'xent', tmp_path, data_root, '-d', 'demo', '--evaluate', '--test-batch',
                                 '200', '--load-weights', weights, *extra)
        assert status == 0
    assert log.count('==> Run started') == 2 and log.count('Results ----------') == 2
    first, second = log.split('==> Run started')[1:]
    assert 'Applying person re-ranking' in second and 'Applying person re-ranking' not in first
    assert results(first) != results(second)


@pytest.mark.slow
def test_exact_resume_and_same_seed_reproducibility(data_root, tmp_path):
    common = ['-d', 'demo', '--max-epoch', '2', '--stepsize', '1', '--train-batch', '32', '--num-instances', '4']
    _, straight_log = run_script('image', 'xent_htri', tmp_path / 'straight', data_root, *common)
    _, again_log = run_script('image', 'xent_htri', tmp_path / 'again', data_root, *common)
    run_script('image', 'xent_htri', tmp_path / 'interrupted', data_root, *common[:2], '--max-epoch', '1',
               *common[4:])
    status, resumed_log = run_script('image', 'xent_htri', tmp_path / 'resumed', data_root, *common, '--resume',
                                     str(tmp_path / 'interrupted' / LATEST_CHECKPOINT))
    assert status == 0 and '- start_epoch: 1' in resumed_log
    assert results(straight_log) == results(again_log) == results(resumed_log)
    straight = str(tmp_path / 'straight' / LATEST_CHECKPOINT)
    assert same_weights(straight, str(tmp_path / 'again' / LATEST_CHECKPOINT))
    assert same_weights(straight, str(tmp_path / 'resumed' / LATEST_CHECKPOINT))
    resumed = load_checkpoint(str(tmp_path / 'resumed' / LATEST_CHECKPOINT))
    assert resumed['history']['epoch'] == [1, 2]
    assert resumed['optimizer']['param_groups'][0]['lr'] == pytest.approx(3e-5)  # the schedule went on


@pytest.mark.slow
def test_video_xent_trains_and_visualizes_tracklets(data_root, tmp_path):
    status, log = run_script('video', 'xent', tmp_path, data_root, *VIDEO, '--max-epoch', '1', '--pool', 'max',
                             '--train-batch', '64')
    assert status == 0
    assert '==> BatchTime(s)/BatchSize(img): ' in log and '/64\n' in log  # 16 tracklets x 4 frames
    status, log = run_script('video', 'xent', tmp_path / 'eval', data_root, *VIDEO, '--evaluate', '--resume',
                             str(tmp_path / 'checkpoint_ep1.pth.tar'), '--visualize-ranks')
    assert status == 0
    ranked = tmp_path / 'eval' / 'ranked_results'
    assert len(query_folders(ranked)) == num_queries(log)  # one folder per query tracklet


@pytest.mark.slow
def test_video_htri_trains_on_clips(data_root, tmp_path):
    status, log = run_script('video', 'xent_htri', tmp_path, data_root, *VIDEO, '--max-epoch', '1', '--train-clips',
                             '--train-batch', '8', '--num-instances', '2', '--lambda-cent', '0.01')
    assert status == 0
    assert 'Epoch: [1][' in log and 'Results ----------' in log
    checkpoint = load_checkpoint(str(tmp_path / LATEST_CHECKPOINT))
    num_classes = checkpoint['state_dict']['classifier.weight'].shape[0]
    assert checkpoint['criteria']['centers'].shape == (num_classes, 512)


def test_load_weights_across_class_counts(data_root, tmp_path):
    from torchreid.models import init_model
    other = init_model('osnet_x0_25', num_classes=7, pretrained=False)  # trained elsewhere, 7 identities
    save_checkpoint({'state_dict': other.state_dict(), 'rank1': 0.5, 'epoch': 9}, fpath=str(tmp_path / 'other.pth'))
    status, log = run_script('image', 'xent', tmp_path / 'eval', data_root, '-d', 'demo', '--evaluate',
                             '--test-batch', '200', '--load-weights', str(tmp_path / 'other.pth'))
    assert status == 0
    assert re.search(r"Loaded \d+/\d+ layers from '.*other.pth'; skipped: classifier.weight \(shape \[7, 512\] in "
                     r"file vs \[\d+, 512\] in model\), classifier.bias", log)
    # the same file cannot be resumed: the classifier does not fit, and the error says what to use
    status, log = run_script('image', 'xent', tmp_path / 'resume', data_root, '-d', 'demo', '--resume',
                             str(tmp_path / 'other.pth'))
    assert status == 1 and 'mis-shaped keys' in log and '--load-weights' in log


@pytest.mark.parametrize('argv,message', [
    (['-d', 'market1501', '--max-epoch', '1'], 'market1501'),
    (['-d', 'demo', '--resume', 'no/such/checkpoint.pth.tar'], "No checkpoint file at 'no/such/checkpoint.pth.tar'"),
    (['-d', 'demo', '--load-weights', 'no/such/weights.pth'], "No checkpoint file at 'no/such/weights.pth'"),
])
def test_bad_inputs_fail_with_a_clear_message(argv, message, data_root, tmp_path, capsys):
    if argv[1] == 'market1501':
        argv = argv + ['--root', str(tmp_path / 'empty')]  # overrides the demo root: no dataset there
    status = main('image', 'xent', ['--root', data_root, '--save-dir', str(tmp_path)] + TINY + argv)
    assert status == 1
    assert message in capsys.readouterr().err


def _run_file(script, *argv, timeout=120):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, os.path.join(REPO, script)] + list(argv), cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_corrupt_checkpoint_exits_non_zero(data_root, tmp_path):
    corrupt = tmp_path / 'corrupt.pth.tar'
    corrupt.write_bytes(b'not a checkpoint at all')
    result = _run_file('train_imgreid_xent.py', '--root', data_root, '--save-dir', str(tmp_path), *TINY, '-d', 'demo',
                       '--evaluate', '--resume', str(corrupt))
    assert result.returncode == 1
    assert "Could not read checkpoint '{}'".format(corrupt) in result.stderr
    assert 'Traceback' not in result.stderr


def test_num_instances_must_divide_the_batch(tmp_path):
    result = _run_file('train_imgreid_xent_htri.py', '--save-dir', str(tmp_path), '--train-batch', '30',
                       '--num-instances', '4')
    assert result.returncode == 2
    assert '--train-batch 30 is not divisible by --num-instances 4' in result.stderr


@pytest.mark.slow
def test_torchrun_two_processes_on_cpu(data_root, tmp_path):
    """DDP with gloo: the identity sampler shards batches, evaluation gathers features, rank 0 writes alone."""
    argv = ['--root', data_root, '--save-dir', str(tmp_path / 'ddp')] + TINY + [
        '-d', 'demo', '--max-epoch', '1', '--train-batch', '16', '--num-instances', '4']
    env = dict(os.environ, OMP_NUM_THREADS='1')
    result = subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node', '2',
                             os.path.join(REPO, 'train_imgreid_xent_htri.py')] + argv, cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    log = open(str(tmp_path / 'ddp' / 'log_train.txt')).read()
    assert log.count('==> Run started') == 1 and log.count('Results ----------') == 1
    assert 'Distributed run: 2 processes' in log
    assert '.lock' not in os.listdir(str(tmp_path / 'ddp'))  # rank 0 took it and released it
    batches = int(re.search(r'Epoch: \[1\]\[\d+/(\d+)\]', log).group(1))
    single = int(re.search(r'Epoch: \[1\]\[\d+/(\d+)\]', run_script(
        'image', 'xent_htri', tmp_path / 'single', data_root, '-d', 'demo', '--max-epoch', '1', '--train-batch', '16',
        '--num-instances', '4')[1]).group(1))
    assert batches == single // 2
    # the gathered evaluation equals a single-process evaluation of the same weights
    status, eval_log = run_script('image', 'xent_htri', tmp_path / 'eval', data_root, '-d', 'demo', '--evaluate',
                                  '--resume', str(tmp_path / 'ddp' / LATEST_CHECKPOINT))
    assert status == 0 and results(eval_log) == results(log)


def test_failed_weight_download_names_no_pretrained(monkeypatch, data_root, tmp_path, capsys):
    from torchreid import models
    from torchreid.models.pretrained import PretrainedWeightsError

    def offline_model(num_classes, loss=('xent',), pretrained=True, **kwargs):
        raise PretrainedWeightsError('Could not download ImageNet weights from https://example.invalid/w.pth')

    monkeypatch.setitem(models._models, 'offline_net', offline_model)
    status = main('image', 'xent', ['--root', data_root, '--save-dir', str(tmp_path), '-d', 'demo', '-a',
                                    'offline_net', '--use-cpu', '-j', '0'])
    assert status == 1
    err = capsys.readouterr().err
    assert 'Could not download ImageNet weights' in err and 'pass --no-pretrained' in err


def test_architecture_flags_reach_the_model(tmp_path, data_root, capsys):
    """--pooling / --neck build the model with those options (their parameters appear in the checkpoint); a model
    without the option is a clear error, not a silently ignored flag."""
    status, _ = run_script('image', 'xent', tmp_path / 'gem', data_root, '-d', 'demo', '--max-epoch', '1',
                           '--pooling', 'gem', '--neck', 'bnneck', '--neck-feat', 'after')
    assert status == 0
    state_dict = load_checkpoint(str(tmp_path / 'gem' / LATEST_CHECKPOINT))['state_dict']
    assert 'global_pool.p' in state_dict
    assert 'bottleneck.running_mean' in state_dict

    status, _ = run_script('image', 'xent', tmp_path / 'bad', data_root, '-d', 'demo', '--max-epoch', '1',
                           '--last-stride', '1')
    assert status == 1
    assert '-a osnet_x0_25 does not support --last-stride' in capsys.readouterr().err


def _leave_a_killed_run_behind(save_dir):
    """What a run killed during a save leaves: its lock (pid no longer alive) and a half-written temporary file."""
    dead_pid = subprocess.Popen([sys.executable, '-c', 'pass'])
    dead_pid.wait()
    with open(os.path.join(str(save_dir), '.lock'), 'w') as f:
        json.dump({'pid': dead_pid.pid, 'host': socket.gethostname(), 'started': '2026-12-01 08:00:00',
                   'command': 'train_imgreid_xent.py (killed)'}, f)
    leftover = os.path.join(str(save_dir), '.{}.k1ll3d_x.tmp'.format(LATEST_CHECKPOINT))
    with open(leftover, 'wb') as f:
        f.write(b'half a checkpoint')
    return dead_pid.pid, os.path.basename(leftover)


@pytest.mark.slow
def test_a_run_interrupted_during_evaluation_resumes_with_nothing_lost(image_xent_run, data_root, tmp_path,
                                                                       monkeypatch, capsys):
    """Ctrl-C in the evaluation after epoch 1 of 2, then a plain --resume of checkpoint_latest in the same folder
    (left with a dead run's lock and a killed save's temporary file): the end is the uninterrupted run's."""
    from torchreid.engine.evaluation import Evaluator
    evaluate, calls = Evaluator.evaluate, []

    def interrupted_first_time(self, model):
        calls.append(len(calls))
        if len(calls) == 1:
            raise KeyboardInterrupt
        return evaluate(self, model)

    monkeypatch.setattr(Evaluator, 'evaluate', interrupted_first_time)
    save_dir = tmp_path / 'run'
    status, _ = run_script('image', 'xent', save_dir, data_root, *IMAGE_XENT_ARGS)
    assert status == 130 and calls == [0]  # Ctrl-C: the shell's status for SIGINT, no traceback
    assert 'Interrupted (Ctrl-C)' in capsys.readouterr().err
    latest = load_checkpoint(str(save_dir / LATEST_CHECKPOINT))
    assert latest['epoch'] == 0 and latest['evaluation_pending'] is True
    assert not os.path.exists(str(save_dir / '.lock'))  # released on the way out
    dead_pid, leftover = _leave_a_killed_run_behind(save_dir)

    status, log = run_script('image', 'xent', save_dir, data_root, *IMAGE_XENT_ARGS, '--resume',
                             str(save_dir / LATEST_CHECKPOINT))
    assert status == 0
    assert "Note: took over the lock of --save-dir '{}' left by a run that no longer runs (pid {} on".format(
        save_dir, dead_pid) in log
    assert "Note: removed 1 temporary file(s) of an interrupted save in '{}': {}".format(save_dir, leftover) in log
    assert 'Note: the evaluation after epoch 1 was interrupted; evaluating that epoch before training on' in log
    assert log.count('Results ----------') == 2 and calls == [0, 1, 2]
    straight_dir, straight_log = image_xent_run
    assert results(log) == results(straight_log)
    for name in (LATEST_CHECKPOINT, 'checkpoint_ep1.pth.tar', 'checkpoint_ep2.pth.tar', 'best_model.pth.tar'):
        assert same_weights(str(save_dir / name), str(straight_dir / name)), name
    resumed, straight = (load_checkpoint(str(folder / LATEST_CHECKPOINT)) for folder in (save_dir, straight_dir))
    assert resumed['history'] == straight['history'] and len(resumed['history']['rank1']) == 2
    assert load_checkpoint(str(save_dir / 'checkpoint_ep1.pth.tar'))['rank1'] == straight['history']['rank1'][0]
    assert sorted(name for name in os.listdir(str(save_dir)) if name.startswith('.')) == []


def _checkpoint_at_epoch(path, epoch):
    save_checkpoint({'state_dict': {'w': torch.zeros(1)}, 'rank1': 0.5, 'epoch': epoch}, fpath=str(path))
    return str(path)


def _errors(tmp_path):
    """(argv, message) pairs of mistakes that must stop a run before any work, in one line with exit status 1."""
    a_file = tmp_path / 'notes.txt'
    a_file.write_text('not a folder')
    with_checkpoint = tmp_path / 'old_run'
    with_checkpoint.mkdir()
    _checkpoint_at_epoch(with_checkpoint / LATEST_CHECKPOINT, 0)
    (with_checkpoint / 'best_model.pth.tar').write_bytes((with_checkpoint / LATEST_CHECKPOINT).read_bytes())
    (tmp_path / 'empty').mkdir()
    epoch3 = _checkpoint_at_epoch(tmp_path / 'epoch3.pth.tar', 2)
    return {
        'start_epoch': (['--start-epoch', '5', '--max-epoch', '1'],
                        '--start-epoch 5 is not below --max-epoch 1: nothing to train. Pass a larger --max-epoch to '
                        'train, or use --evaluate (with --resume or --load-weights) to evaluate a model'),
        'resumed_epoch': (['--resume', epoch3, '--max-epoch', '1'],
                          "--resume '{0}' has trained 3 epoch(s) and --max-epoch is 1: nothing to train. To evaluate "
                          "it, use --evaluate --resume '{0}'; to train on, pass a --max-epoch above 3".format(epoch3)),
        'resumed_all_epochs': (['--resume', epoch3, '--max-epoch', '3'], 'has trained 3 epoch(s) and --max-epoch is 3'),
        'save_dir_is_a_file': (['--save-dir', str(a_file)],
                               "--save-dir '{}' is a file, not a folder; pass a folder path".format(a_file)),
        'save_dir_under_a_file': (['--save-dir', str(a_file / 'run')],
                                  "--save-dir '{}' cannot be created: '{}' is a file, not a folder; pass another "
                                  "path".format(a_file / 'run', a_file)),
        'resume_a_directory': (['--resume', str(with_checkpoint)],
                               "--resume '{0}' is a directory, not a checkpoint file; did you mean --resume "
                               "'{0}/{1}'?".format(with_checkpoint, LATEST_CHECKPOINT)),
        'resume_an_empty_directory': (['--resume', str(tmp_path / 'empty')],
                                      "--resume '{}' is a directory, not a checkpoint file; pass a checkpoint file "
                                      "(e.g. <save-dir>/{})".format(tmp_path / 'empty', LATEST_CHECKPOINT)),
        'load_weights_a_directory': (['--evaluate', '--load-weights', str(with_checkpoint)],
                                     "did you mean --load-weights '{}/best_model.pth.tar'?".format(with_checkpoint)),
        'height_1': (['--height', '1'], 'input size 1x32 (--height x --width) is too small for -a osnet_x0_25 (Given '
                                        'input size: (64x1x8). Calculated output size: (64x0x4). Output size is too '
                                        'small); use a larger --height/--width, e.g. the default 256x128'),
        'hacnn_size': (['-a', 'hacnn'], 'HACNN needs 160x64 (height x width) input images, got 64x32'),
        'live_lock': ([], 'is in use by another run: pid {} on host {}, started 2026-12-01 08:00:00, command: '
                          'train_imgreid_xent.py (live)'.format(os.getppid(), socket.gethostname())),
    }


ERROR_CASES = ['start_epoch', 'resumed_epoch', 'resumed_all_epochs', 'save_dir_is_a_file', 'save_dir_under_a_file',
               'resume_a_directory', 'resume_an_empty_directory', 'load_weights_a_directory', 'height_1',
               'hacnn_size', 'live_lock']


@pytest.mark.parametrize('case', ERROR_CASES)
def test_mistakes_are_one_line_errors_before_any_work(case, data_root, tmp_path, capsys):
    argv, message = _errors(tmp_path)[case]
    save_dir = tmp_path / 'save'
    if case == 'live_lock':
        save_dir.mkdir()
        with open(str(save_dir / '.lock'), 'w') as f:
            json.dump({'pid': os.getppid(), 'host': socket.gethostname(), 'started': '2026-12-01 08:00:00',
                       'command': 'train_imgreid_xent.py (live)'}, f)
    status = main('image', 'xent', ['--root', data_root, '--save-dir', str(save_dir)] + TINY + ['-d', 'demo'] + argv)
    captured = capsys.readouterr()
    assert status == 1
    errors = [line for line in captured.err.splitlines() if line.strip() and not line.startswith('Warning: ')]
    assert len(errors) == 1 and errors[0].startswith('Error: ') and message in errors[0], captured.err
    assert '==> Start training' not in captured.out and 'Evaluate only' not in captured.out
    assert not [name for name in os.listdir(str(tmp_path)) if name.startswith('checkpoint')]
    if case == 'live_lock':
        assert sorted(os.listdir(str(save_dir))) == ['.lock']  # not even a log line in the other run's folder
    elif os.path.isdir(str(save_dir)):
        assert '.lock' not in os.listdir(str(save_dir))


def test_evaluating_untrained_weights_warns_and_goes_on(data_root, tmp_path, capsys):
    status, log = run_script('image', 'xent', tmp_path, data_root, '-d', 'demo', '--evaluate', '--test-batch', '200')
    captured = capsys.readouterr()
    assert status == 0 and 'Results ----------' in log
    warning = ('Warning: --evaluate without --resume or --load-weights evaluates untrained -a osnet_x0_25 weights '
               '(randomly initialised); pass --resume <checkpoint> or --load-weights <file> to evaluate a trained '
               'model')
    assert captured.err.splitlines() == [warning] and warning + '\n' in log


def test_a_save_dir_error_has_no_traceback_from_the_script(tmp_path):
    a_file = tmp_path / 'log'
    a_file.write_text('')
    result = _run_file('train_imgreid_xent.py', '--save-dir', str(a_file), '-d', 'demo', '--root', str(tmp_path))
    assert result.returncode == 1
    assert result.stderr == "Error: --save-dir '{}' is a file, not a folder; pass a folder path\n".format(a_file)
    assert result.stdout == ''
