"""benchmarks/gpu_check.py: the dry run writes its table and JSON; stages are isolated and time-boxed; the loss
comparison and the report on hand-made figures."""
import json
import os
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, 'benchmarks'))

import gpu_check  # noqa: E402


# ------------------------------------------------------------------------------------------------- the dry run

@pytest.fixture(scope='module')
def dry_run(tmp_path_factory):
    out = str(tmp_path_factory.mktemp('gpu_check'))
    env = dict(os.environ, OMP_NUM_THREADS='1')
    completed = subprocess.run([sys.executable, os.path.join(REPO, 'benchmarks', 'gpu_check.py'), '--dry-run',
                                '--out', out], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               universal_newlines=True, timeout=900)
    with open(os.path.join(out, 'gpu_check.json')) as f:
        report = json.load(f)
    with open(os.path.join(out, 'gpu_check.md')) as f:
        markdown = f.read()
    return completed, report, markdown, out


@pytest.mark.slow
def test_dry_run_passes_every_stage_and_writes_the_json(dry_run):
    completed, report, _, out = dry_run
    assert completed.returncode == 0, completed.stdout[-3000:]
    assert '7 of 7 stages passed' in completed.stdout
    environment = report['environment']
    assert environment['dry_run'] is True and environment['gpu'] == 'none (dry run on the CPU)'
    assert environment['torch'] == torch.__version__ and 'cuda' in environment and 'cudnn' in environment
    assert list(report['stages']) == list(gpu_check.STAGES)
    for name, stage in report['stages'].items():
        assert stage['status'] == 'PASS' and stage['error'] is None, name
        assert 0 < stage['seconds'] <= gpu_check.STAGE_LIMITS[name]
        assert os.path.exists(os.path.join(out, name + '.log'))
    assert sum(gpu_check.STAGE_LIMITS.values()) <= 450  # the real run stays under 8 minutes


@pytest.mark.slow
def test_dry_run_figures_are_sane(dry_run):
    stages = dry_run[1]['stages']
    counts = stages['cuda_tests']['figures']['counts']
    assert 'test_hacnn_runs_on_cuda' in counts['names'] and counts['deselected'] > 0
    assert counts['skipped'] == counts['tests'] and counts['failures'] == counts['errors'] == 0  # no CUDA here

    train = stages['train']['figures']
    assert sorted(train) == sorted('{}_{}'.format(arch, precision) for arch in ('resnet50', 'osnet_x1_0')
                                   for precision in ('fp32', 'bf16', 'fp16'))
    for arch in ('resnet50', 'osnet_x1_0'):
        fp32 = train[arch + '_fp32']
        assert fp32['steps'] == 3 and len(fp32['losses']) == 3 and fp32['images_per_s'] > 0
        assert 1.5 < fp32['first_loss'] < 3.0  # ln(8) = 2.08 for the 8 toy classes at random init
        for precision in ('bf16', 'fp16'):
            run = train['{}_{}'.format(arch, precision)]
            assert len(run['losses']) == 3 and run['finite'] and run['first_ok']
            assert run['first_relative_difference'] == pytest.approx(
                abs(run['losses'][0] - fp32['losses'][0]) / fp32['losses'][0])
        assert train[arch + '_fp16']['final_loss_scale'] > 0 and 'final_loss_scale' not in train[arch + '_bf16']

    for arch in ('resnet50', 'osnet_x1_0'):
        paths = stages['extract']['figures'][arch]
        assert set(paths) == {'fp32 eager', 'channels_last fp32', 'channels_last bf16', 'channels_last fp16'}
        assert paths['fp32 eager']['min_cosine'] == pytest.approx(1.0)
        assert paths['channels_last fp32']['min_cosine'] >= 0.9999
        assert all(path['images_per_s'] > 0 for path in paths.values())

    evaluate = stages['evaluate']['figures']
    assert evaluate['problem'] == {'queries': 300, 'gallery': 2000, 'dim': 64, 'device': 'cpu'}
    assert 0 < evaluate['blockwise']['mAP'] < 1 and 0 < evaluate['blockwise']['rank1'] <= 1
    assert evaluate['differences']['mAP'] <= gpu_check.EVAL_METRIC_TOLERANCE

    assert stages['loader']['figures']['workers_1']['images_per_s'] > 0
    ddp = stages['ddp']['figures']['ddp']
    assert ddp['backend'] == 'gloo' and ddp['max_relative_loss_difference'] <= 1e-3 and len(ddp['ddp_losses']) == 3

    script = stages['script']['figures']
    assert script['epoch1']['exit_status'] == 0 and script['epoch1']['checkpoint_epoch'] == 0
    assert script['epoch2']['exit_status'] == 0 and script['epoch2']['checkpoint_epoch'] == 1
    assert 0 <= script['epoch2']['rank1'] <= 100 and 0 <= script['epoch2']['mAP'] <= 100


@pytest.mark.slow
def test_dry_run_writes_one_markdown_table(dry_run):
    markdown = dry_run[2]
    lines = markdown.splitlines()
    assert lines[0] == '# GPU check'
    assert 'GPU: none (dry run on the CPU); torch {}'.format(torch.__version__) in markdown
    assert '`python benchmarks/gpu_check.py --dry-run --out ' in markdown
    header = lines.index('| stage | item | figures | status |')
    table = lines[header + 2:]
    assert lines[header + 1] == '|---|---|---|---|' and all(line.startswith('| ') for line in table)
    assert all(line.count(' | ') == 3 for line in table)
    for name in gpu_check.STAGES:
        assert sum(line.startswith('| {} | stage | '.format(name)) and line.endswith(' | PASS |')
                   for line in table) == 1
    assert any(line.startswith('| train | resnet50 fp16 + GradScaler | ') for line in table)
    assert any(line.startswith('| loader | loader -j 1 (') and 'headroom' in line for line in table)


# ------------------------------------------------------------------------------------------------- isolation

def python_command(code):
    return [sys.executable, '-c', code]


def test_run_isolated_reports_a_crash_in_one_line(tmp_path):
    record = gpu_check.run_isolated('boom', python_command("raise RuntimeError('bad thing\\nmore detail')"), 60,
                                    str(tmp_path))
    assert record['status'] == 'FAIL'
    assert record['error'].startswith('exit status 1: RuntimeError: bad thing')
    assert os.path.exists(str(tmp_path / 'boom.log'))


def test_run_isolated_kills_a_stage_past_its_limit_with_its_children(tmp_path):
    marker = str(tmp_path / 'child_alive')
    code = ('import subprocess, sys, time; subprocess.Popen([sys.executable, "-c", "import time; time.sleep(3); '
            'open({!r}, \'w\').close()"]); time.sleep(30)').format(marker)
    start = time.perf_counter()
    record = gpu_check.run_isolated('slow', python_command(code), 1, str(tmp_path))
    assert time.perf_counter() - start < 10
    assert record['status'] == 'FAIL' and record['error'].startswith('timed out after 1 s')
    time.sleep(4)
    assert not os.path.exists(marker)  # the grandchild was killed with the stage


def test_run_isolated_keeps_the_stage_record(tmp_path):
    path = gpu_check.stage_json_path(str(tmp_path), 'fine')
    code = 'import json; json.dump({{"status": "PASS", "error": None, "figures": {{"x": 2}}, "rows": []}}, ' \
           'open({!r}, "w"))'.format(path)
    record = gpu_check.run_isolated('fine', python_command(code), 60, str(tmp_path))
    assert record['status'] == 'PASS' and record['figures'] == {'x': 2} and 0 < record['seconds'] < 60


def test_a_stage_that_raises_keeps_what_it_recorded(tmp_path, monkeypatch):
    def failing_stage(ctx):
        ctx.record('measured', 1.5)
        ctx.row('first part', 'fine', 'PASS')
        raise ValueError('the second part broke\nwith a long explanation')

    monkeypatch.setitem(gpu_check.STAGE_FUNCTIONS, 'train', failing_stage)
    gpu_check.run_stage_here('train', str(tmp_path), True, str(tmp_path))
    with open(gpu_check.stage_json_path(str(tmp_path), 'train')) as f:
        record = json.load(f)
    assert record['status'] == 'FAIL' and record['error'] == 'ValueError: the second part broke'
    assert record['figures'] == {'measured': 1.5} and record['rows'][0]['item'] == 'first part'


def test_a_failed_check_fails_the_stage(tmp_path):
    ctx = gpu_check.StageContext('train', str(tmp_path), True, str(tmp_path))
    ctx.check('a', True, 'ok')
    ctx.check('b', False, 'too far')
    with open(gpu_check.stage_json_path(str(tmp_path), 'train')) as f:
        record = json.load(f)
    assert record['status'] == 'FAIL' and record['error'] == 'b: too far'
    assert [row['status'] for row in record['rows']] == ['PASS', 'FAIL']


def test_main_refuses_a_real_run_without_a_gpu(tmp_path, capsys, monkeypatch):
    if torch.cuda.is_available():
        pytest.skip('a CUDA device is visible')
    monkeypatch.delenv('CUDA_VISIBLE_DEVICES', raising=False)  # main sets it; restored after the test
    assert gpu_check.main(['--out', str(tmp_path)]) == 1
    assert capsys.readouterr().err.startswith('Error: no CUDA device is visible')
    with pytest.raises(SystemExit):
        gpu_check.main(['--out', str(tmp_path), '--dry-run', '--stages', 'train,nothing'])


# ------------------------------------------------------------------------------------------------- figures

def test_loss_agreement_on_hand_made_curves():
    reference = [4.0] * 18 + [1.0, 1.0]  # 20 steps: the last tenth is 2 steps, mean 1.0
    close = [4.04] + [4.0] * 17 + [1.2, 1.5]  # first +1%, last mean 1.35 (difference 0.35 <= 0.1 x 4.0)
    figures = gpu_check.loss_agreement(reference, close, 0.02)
    assert figures['first_relative_difference'] == pytest.approx(0.01)
    assert figures['window'] == 2 and figures['last_mean_loss'] == pytest.approx(1.35)
    assert figures['last_mean_difference'] == pytest.approx(0.35) and figures['final_tolerance'] == pytest.approx(0.4)
    assert figures['first_ok'] and figures['final_ok'] and figures['finite']
    assert not gpu_check.loss_agreement(reference, close, 0.005)['first_ok']  # fp16's tolerance
    slow_learner = [4.0] * 18 + [1.2, 1.7]  # last mean 1.45: 0.45 from fp32
    assert not gpu_check.loss_agreement(reference, slow_learner, 0.02)['final_ok']
    assert not gpu_check.loss_agreement(reference, [4.0] * 19 + [float('nan')], 0.02)['finite']
    assert gpu_check.loss_agreement([2.0], [2.0], 0.02)['window'] == 1  # a dry run's short curves


def test_template_batches_are_reproducible_and_learnable_shapes():
    first = gpu_check.template_batches(2, 4, 3, 8, 4, torch.device('cpu'))
    second = gpu_check.template_batches(2, 4, 3, 8, 4, torch.device('cpu'))
    assert [imgs.shape for imgs, _ in first] == [torch.Size([4, 3, 8, 4])] * 2
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, second))
    assert all(0 <= int(pids.min()) and int(pids.max()) < 3 for _, pids in first)


def test_report_rows_for_a_failed_stage_and_the_loader_comparison():
    stages = {
        'train': {'status': 'FAIL', 'error': 'RuntimeError: CUDA error', 'seconds': 3.2,
                  'figures': {'resnet50_fp32': {'images_per_s': 800.0}, 'resnet50_bf16': {'images_per_s': 1600.0}},
                  'rows': []},
        'loader': {'status': 'PASS', 'error': None, 'seconds': 9.0,
                   'figures': {'workers_8': {'images_per_s': 1200.0}, 'workers_4': {'images_per_s': 600.0}},
                   'rows': [{'item': 'train loader -j 4', 'figures': '600 img/s', 'status': 'PASS'}]},
    }
    rows = gpu_check.starvation_rows(stages)
    assert [row['item'] for row in rows] == ['loader -j 4 (600 img/s) vs training img/s',
                                             'loader -j 8 (1,200 img/s) vs training img/s']
    assert rows[0]['figures'] == 'resnet50 bf16 1,600 (starves); resnet50 fp32 800 (starves)'
    assert rows[1]['figures'] == 'resnet50 bf16 1,600 (starves); resnet50 fp32 800 (1.5x headroom)'
    info = dict(gpu='NVIDIA X', gpu_memory_gb=80.0, compute_capability='9.0', nccl='2.21.5', torch='2.9',
                cuda='12.8', cudnn=91000, python='3.11', cpu_count=16, commit='abc', date_utc='2026-12-01 10:00',
                command='python benchmarks/gpu_check.py --out x', dry_run=False)
    markdown = gpu_check.markdown_report(info, stages, 12.3)
    assert 'GPU: NVIDIA X (80.0 GB, compute capability 9.0); torch 2.9, CUDA 12.8, cuDNN 91000, NCCL 2.21.5' \
        in markdown
    assert '| train | error | RuntimeError: CUDA error | FAIL |' in markdown
    assert '| train | stage | 3 s | FAIL |' in markdown
    assert '| loader | loader -j 8 (1,200 img/s) vs training img/s | ' in markdown
    assert '(12 s in all)' in markdown


def test_gpu_tests_are_selected_by_skip_reason_or_name():
    def item(name, reasons):
        markers = [SimpleNamespace(kwargs={'reason': reason}) for reason in reasons]
        return SimpleNamespace(name=name, iter_markers=lambda name: markers)
    assert gpu_check.is_cuda_test(item('test_hacnn_runs_on_cuda', ['needs a CUDA device']))
    assert gpu_check.is_cuda_test(item('test_amp_fp16', ['needs a GPU']))
    assert gpu_check.is_cuda_test(item('test_runs_on_cuda_device', []))
    assert not gpu_check.is_cuda_test(item('test_amp_bf16', ['needs scipy']))
    files = gpu_check.cuda_test_files()
    assert 'tests/test_models_seed_fixes.py' in files and 'tests/test_gpu_check.py' not in files  # no recursion
