"""One command that checks the CUDA paths of the toolkit and measures them, for the first short window with a GPU.

    python benchmarks/gpu_check.py --out gpu_check                     # on a CUDA machine: under 8 minutes, offline
    python benchmarks/gpu_check.py --dry-run --out /tmp/gpu_check      # the same code paths on the CPU, toy sizes
    python benchmarks/gpu_check.py --out gpu_check --stages train,ddp  # rerun some stages only

Stages, in this order. Each runs in its own process under its own time limit: a stage that fails, crashes or runs
out of time is reported FAIL with a one-line error, and the others still run. The limits add up to 450 s.

  cuda_tests  the tests that skip without CUDA (a skipif marker whose reason names CUDA or a GPU, or 'cuda' in the
              test's name), run by pytest: passed / failed / skipped counts
  train       SoftmaxEngine.forward_backward steps of resnet50 and osnet_x1_0 (random init) at 256x128, batch 32,
              on generated learnable data (a smooth template per class plus noise), in fp32, --amp bf16 and --amp
              fp16 (with the engine's gradient scaler): same initial weights, same batches, same number of steps.
              images/s, and the loss after the first step and averaged over the last tenth of the steps
  extract     torchreid.models.inference: images/s of fp32 eager, channels_last fp32, channels_last bf16 and fp16,
              batch 128, and the minimum cosine similarity of each path's features to the fp32 eager ones
  evaluate    torchreid.metrics.evaluate_features (block-wise) from features on the GPU at MSMT17 size (11,659
              queries x 82,161 gallery, 2048-d), beside the full matrix on the GPU + evaluate_rank: time, GPU memory,
              the metrics of both
  loader      images/s of the toolkit's train loader (demo JPEGs, train transforms, -j 4 and -j 8, pinned memory,
              copy to the GPU); the report sets them beside the training images/s: does the GPU starve?
  ddp         a 1-process DistributedDataParallel run over NCCL through the engine (the process group is joined
              directly: torchrun with one process is a plain run for the scripts): the same losses as without DDP,
              the collective helpers, a checkpoint
  script      train_imgreid_xent.py on the demo data on cuda with --amp fp16: one epoch with evaluation and
              checkpoint, then --resume for a second one

Tolerances (the train stage FAILs outside them):
  * first-step loss, relative to fp32: 2% for bf16, 0.5% for fp16. The first loss comes from the same weights and
    batch, so only rounding differs: bf16 keeps 8 significand bits (unit roundoff 2^-9), fp16 11 (2^-12), and the
    rounding of some fifty layers with BatchNorm renormalising each shows in the loss at a few 1e-3 for bf16
    (measured with CPU bf16 autocast at 256x128, batch 32: resnet50 0.31%, osnet_x1_0 0.005%), about eight times
    less for fp16.
  * mean loss over the last tenth of the steps: within 10% of the first-step loss (ln 64 = 4.16 for 64 classes),
    i.e. 0.42. Later steps cannot agree to rounding: the trajectories diverge, as two fp32 runs of different seeds
    do. What must hold is that mixed precision learns as fast as fp32; a broken path (no learning, NaN, steps
    skipped by the scaler) stays near its first loss. fp32 itself must lower its loss by at least a quarter (1.04
    for 64 classes, more than the tolerance), so that the comparison means something; measured on the CPU at
    128x64 after 40 steps: resnet50 4.19 -> 1.0, osnet_x1_0 4.15 -> 2.5 (the real run has up to 200 steps).
The evaluate stage FAILs when the block-wise and full-matrix metrics differ by more than 1e-4 (mAP, mINP) or 0.1
percentage point (Rank-1): they come from different GEMM calls, whose float32 rounding may swap items whose
distances tie to rounding, which moves these by far less; a real bug moves them by whole points.

--dry-run runs every stage on the CPU at toy sizes (a test runs it). There the fp16 rows run the engine's
gradient-scaler path with a CPU scaler under bf16 autocast (the engine allows --amp fp16 on CUDA only, and CPU
fp16 convolutions are some 20x slower); toy batches of 4 images magnify rounding in BatchNorm (4.5% measured), so
the first-step tolerance is 10%, and the last losses of 3 steps are reported, not checked. DDP uses gloo, the
script runs --amp bf16, and the CUDA tests are collected and skipped.

Output, in --out: gpu_check.md (one table: every figure, the GPU, the versions), gpu_check.json (the same
figures as numbers), <stage>.json and <stage>.log (each stage's figures and console output). Exit status 0 when
every stage passed. Only the first visible GPU is used (CUDA_VISIBLE_DEVICES defaults to 0).
"""
import argparse
import copy
import datetime
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
import xml.etree.ElementTree as ElementTree
from functools import partial

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
sys.path.insert(0, REPO)
sys.path.insert(0, HERE)

STAGES = ('cuda_tests', 'train', 'extract', 'evaluate', 'loader', 'ddp', 'script')
STAGE_LIMITS = {'cuda_tests': 45, 'train': 130, 'extract': 40, 'evaluate': 70, 'loader': 35, 'ddp': 45,
                'script': 85}  # seconds, process start included; 450 in all

# Sizes of the real run ('gpu') and of --dry-run ('dry').
SIZES = {
    'gpu': dict(height=256, width=128, train_models=('resnet50', 'osnet_x1_0'), train_batch=32, train_classes=64,
                train_steps=200, train_warmup=10, fp32_seconds=15, extract_batch=128, extract_batches=8,
                extract_rounds=3, eval_size=(11659, 82161, 3060, 15), eval_dim=2048, loader_workers=(4, 8),
                loader_batches=120, loader_repeats=20, ddp_arch='resnet50', ddp_steps=12,
                script_args=['-a', 'resnet50', '--height', '256', '--width', '128', '--train-batch', '32',
                             '--test-batch', '100', '-j', '4', '--gpu-devices', '0', '--amp', 'fp16']),
    'dry': dict(height=64, width=32, train_models=('resnet50', 'osnet_x1_0'), train_batch=4, train_classes=8,
                train_steps=3, train_warmup=1, fp32_seconds=20, extract_batch=4, extract_batches=1, extract_rounds=1,
                eval_size=(300, 2000, 100, 6), eval_dim=64, loader_workers=(1,), loader_batches=4, loader_repeats=1,
                ddp_arch='osnet_x0_25', ddp_steps=3,
                script_args=['-a', 'osnet_x0_25', '--height', '32', '--width', '16', '--train-batch', '16',
                             '--test-batch', '64', '-j', '0', '--use-cpu', '--amp', 'bf16']),
}
FIRST_LOSS_TOLERANCE = {'bf16': 0.02, 'fp16': 0.005}  # relative to the fp32 loss after the same first step
DRY_RUN_FIRST_LOSS_TOLERANCE = 0.1  # toy batches: BatchNorm over a few values magnifies rounding (measured 4.5%)
FINAL_LOSS_TOLERANCE = 0.1  # times the fp32 first-step loss
FP32_LEARNS = 0.75  # fp32's mean loss over the last tenth of the steps must be at most this times its first loss
EVAL_METRIC_TOLERANCE = 1e-4  # mAP and mINP, block-wise vs full matrix
EVAL_RANK1_TOLERANCE = 1e-3  # Rank-1 (a fraction), block-wise vs full matrix


# ------------------------------------------------------------------------------------------------- stage plumbing

class StageContext(object):
    """What a stage records: figures (numbers, for the JSON), rows (for the table) and checks; written to
    ``<out>/<stage>.json`` after every change, so a stage that is killed keeps what it measured."""

    def __init__(self, name, out_dir, dry_run, data_root):
        self.name = name
        self.out_dir = out_dir
        self.dry_run = dry_run
        self.data_root = data_root
        self.sizes = SIZES['dry' if dry_run else 'gpu']
        self.device = torch.device('cpu') if dry_run else torch.device('cuda', 0)
        self.figures = {}
        self.rows = []
        self.failures = []
        self.error = None

    def record(self, key, value):
        self.figures[key] = value
        self.dump()

    def row(self, item, text, status='INFO'):
        self.rows.append({'item': item, 'figures': text, 'status': status})
        self.dump()

    def check(self, item, ok, text):
        """A row whose status is PASS or FAIL; a FAIL fails the stage."""
        if not ok:
            self.failures.append('{}: {}'.format(item, text))
        self.row(item, text, 'PASS' if ok else 'FAIL')

    def dump(self):
        status = 'FAIL' if (self.failures or self.error) else 'PASS'
        error = self.error or ('; '.join(self.failures) if self.failures else None)
        write_json(stage_json_path(self.out_dir, self.name),
                   {'status': status, 'error': error, 'figures': self.figures, 'rows': self.rows})


def stage_json_path(out_dir, name):
    return os.path.join(out_dir, name + '.json')


def write_json(path, obj):
    """Write ``obj`` as JSON atomically (a reader never sees half a file)."""
    partial_path = path + '.partial'
    with open(partial_path, 'w') as f:
        json.dump(obj, f, indent=1)
    os.replace(partial_path, path)


def one_line(error):
    """An exception as one line: 'TypeName: first line of the message'."""
    message = str(error).strip().splitlines()
    return '{}: {}'.format(type(error).__name__, message[0] if message else '').rstrip(': ')


def run_stage_here(name, out_dir, dry_run, data_root):
    """Body of a stage process: run the stage, record an exception as its one-line error; exit status 0."""
    ctx = StageContext(name, out_dir, dry_run, data_root)
    ctx.dump()
    try:
        STAGE_FUNCTIONS[name](ctx)
    except Exception as error:  # noqa: B902 - any failure of a stage is reported, not raised
        ctx.error = one_line(error)
        import traceback
        traceback.print_exc()
    ctx.dump()
    print('{}: {}'.format(name, 'FAIL: ' + (ctx.error or '; '.join(ctx.failures)) if ctx.error or ctx.failures
                          else 'PASS'))


EXCEPTION_LINE = re.compile(r'^[\w.]+(Error|Exception|Exit|Interrupt)\b')


def crash_line(path):
    """A crashed stage's error from its log: the last line that names an exception (a traceback's last line may
    be the message's second line), else the last non-empty line ('' if none)."""
    try:
        with open(path, errors='replace') as f:
            lines = [line.strip() for line in f if line.strip()]
    except OSError:
        return ''
    named = [line for line in lines if EXCEPTION_LINE.match(line)]
    return named[-1] if named else (lines[-1] if lines else '')


def run_isolated(name, command, timeout, out_dir, env=None):
    """Run one stage's ``command`` in a new process group, output to ``<out>/<name>.log``, killed (with its
    children) after ``timeout`` seconds. Returns the stage record: the JSON the stage wrote, with 'seconds',
    and status FAIL plus a one-line error when it crashed, timed out or wrote nothing."""
    json_path = stage_json_path(out_dir, name)
    log_path = os.path.join(out_dir, name + '.log')
    if os.path.exists(json_path):
        os.remove(json_path)
    start = time.perf_counter()
    timed_out = False
    with open(log_path, 'w') as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env=env,
                                   start_new_session=True)
        try:
            returncode = process.wait(timeout=max(timeout, 1))
        except subprocess.TimeoutExpired:
            timed_out = True
            os.killpg(process.pid, signal.SIGKILL)
            returncode = process.wait()
    seconds = time.perf_counter() - start
    record = {'status': 'FAIL', 'error': None, 'figures': {}, 'rows': []}
    if os.path.exists(json_path):
        with open(json_path) as f:
            record = json.load(f)
    if timed_out:
        record['status'] = 'FAIL'
        record['error'] = 'timed out after {:.0f} s (its limit); figures so far are kept'.format(timeout)
    elif returncode != 0 or not os.path.exists(json_path):
        record['status'] = 'FAIL'
        reason = 'killed by signal {}'.format(-returncode) if returncode < 0 else 'exit status {}'.format(returncode)
        record['error'] = record.get('error') or '{}: {}'.format(reason, crash_line(log_path))
    record['seconds'] = seconds
    return record


def stage_command(name, out_dir, dry_run, data_root):
    command = [sys.executable, os.path.abspath(__file__), '--stage', name, '--out', out_dir, '--data-root',
               data_root]
    return command + (['--dry-run'] if dry_run else [])


def synchronize(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def quietly(fn, *args, **kwargs):
    """``fn(*args, **kwargs)`` without its warnings (e.g. models warning that no pretrained weights are used)."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return fn(*args, **kwargs)


# ------------------------------------------------------------------------------------------------- cuda_tests

CUDA_WORDS = re.compile(r'cuda|gpu', re.I)


def is_cuda_test(item):
    """True for a test that needs CUDA: a skipif marker whose reason names CUDA or a GPU, or 'cuda' in its name."""
    for marker in item.iter_markers(name='skipif'):
        if CUDA_WORDS.search(str(marker.kwargs.get('reason', ''))):
            return True
    return 'cuda' in item.name.lower()


def pytest_collection_modifyitems(config, items):
    """pytest hook (this module is passed as ``-p gpu_check``): keep only the CUDA tests."""
    selected = [item for item in items if is_cuda_test(item)]
    deselected = [item for item in items if not is_cuda_test(item)]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
    items[:] = selected


def cuda_test_files():
    """The test files that mention CUDA at all (only they are collected), but this check's own."""
    folder = os.path.join(REPO, 'tests')
    files = []
    for name in sorted(os.listdir(folder)):
        if name.startswith('test_') and name.endswith('.py') and name != 'test_gpu_check.py':
            with open(os.path.join(folder, name)) as f:
                if 'cuda' in f.read().lower():
                    files.append(os.path.join('tests', name))
    return files


def stage_cuda_tests(ctx):
    files = cuda_test_files()
    ctx.record('files', files)
    junit = os.path.join(tempfile.mkdtemp(), 'cuda_tests.xml')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([HERE, REPO, os.environ.get('PYTHONPATH', '')]))
    command = [sys.executable, '-m', 'pytest', '-q', '-rs', '-p', 'no:cacheprovider', '-p', 'gpu_check',
               '--junitxml', junit] + files
    completed = subprocess.run(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               universal_newlines=True)
    print(completed.stdout)
    suite = ElementTree.parse(junit).getroot()
    suite = suite if suite.tag == 'testsuite' else suite.find('testsuite')
    counts = {key: int(suite.get(key, 0)) for key in ('tests', 'failures', 'errors', 'skipped')}
    counts['passed'] = counts['tests'] - counts['failures'] - counts['errors'] - counts['skipped']
    deselected = re.search(r'(\d+) deselected', completed.stdout)
    counts['deselected'] = int(deselected.group(1)) if deselected else 0
    counts['names'] = [case.get('name') for case in suite.iter('testcase')]
    counts['failed_names'] = [case.get('name') for case in suite.iter('testcase')
                              if case.find('failure') is not None or case.find('error') is not None]
    ctx.record('counts', counts)
    text = '{passed} passed, {failures} failed, {errors} errors, {skipped} skipped ({deselected} non-CUDA tests ' \
           'deselected): {names}'.format(**dict(counts, names=', '.join(counts['names']) or 'none'))
    ok = counts['tests'] > 0 and counts['failures'] == 0 and counts['errors'] == 0 and completed.returncode in (0, 5)
    if not ctx.dry_run and counts['skipped']:
        text += ' (skipped on a GPU machine: see the log)'
    ctx.check('pytest: tests that skip without CUDA', ok, text)


# ------------------------------------------------------------------------------------------------- train

def template_batches(num_batches, batch_size, num_classes, height, width, device, seed=0):
    """Learnable generated data: [(imgs (B, 3, H, W), pids (B,))] on ``device``; an image is its class's smooth
    random template plus pixel noise, so the loss of a working training falls well below ln(num_classes)."""
    generator = torch.Generator().manual_seed(seed)
    coarse = torch.randn(num_classes, 3, 8, 4, generator=generator)
    templates = torch.nn.functional.interpolate(coarse, size=(height, width), mode='bilinear', align_corners=False)
    batches = []
    for _ in range(num_batches):
        pids = torch.randint(num_classes, (batch_size,), generator=generator)
        imgs = templates[pids] + 0.5 * torch.randn(batch_size, 3, height, width, generator=generator)
        batches.append((imgs.to(device), pids.to(device)))
    return batches


def build_engine(arch, num_classes, precision, device, dry_run, optimizer_name='adam', lr=3e-4):
    """A SoftmaxEngine on a freshly initialised ``arch`` (seed 0: the same weights every time)."""
    from torchreid.engine.engine import SoftmaxEngine
    from torchreid.losses import CrossEntropyLoss
    from torchreid.models import init_model
    from torchreid.optim import make_lr_scheduler, make_optimizer

    torch.manual_seed(0)
    model = quietly(init_model, arch, num_classes=num_classes, loss={'xent'}, pretrained=False).to(device)
    optimizer = make_optimizer(optimizer_name, model.parameters(), lr, 5e-4)
    scheduler = make_lr_scheduler(optimizer, 'multi_step', [1000])
    amp = None if precision == 'fp32' else precision
    cpu_fp16 = dry_run and precision == 'fp16'
    engine = SoftmaxEngine(model, optimizer, scheduler, None, None, device, os.devnull,
                           criterion=CrossEntropyLoss(num_classes, label_smooth=False),
                           amp='bf16' if cpu_fp16 else amp)
    if cpu_fp16:  # the dry run's stand-in for CUDA fp16: the engine's gradient-scaler path, with bf16 autocast
        engine.grad_scaler = torch.amp.GradScaler('cpu')  # (CPU fp16 convolutions are some 20x slower)
    return engine


def train_steps(engine, batches, steps, warmup, device, seconds=None):
    """``steps`` engine steps over ``batches`` (cycled), stopping early after ``seconds`` of timed steps.
    Returns (losses per step, images/s over the steps after ``warmup``)."""
    losses = []
    synchronize(device)
    timed_start = time.perf_counter()
    for step in range(steps):
        if step == warmup:
            synchronize(device)
            timed_start = time.perf_counter()
        imgs, pids = batches[step % len(batches)]
        losses.append(engine.forward_backward(imgs, pids, engine.optimizer)['loss'])
        if seconds is not None and step > warmup and time.perf_counter() - timed_start > seconds:
            break
    synchronize(device)
    elapsed = time.perf_counter() - timed_start
    timed_images = (len(losses) - warmup) * batches[0][1].numel()
    return [float(loss) for loss in torch.stack(losses).float().cpu()], timed_images / elapsed


def loss_agreement(reference, candidate, first_tolerance):
    """Compare a mixed-precision loss curve with the fp32 one over the same steps -> figures (a dict).

    The first-step losses must agree to ``first_tolerance`` (relative; 'first_ok'), the means over the last tenth
    of the steps (at least one step) to FINAL_LOSS_TOLERANCE times the fp32 first loss ('final_ok'), and every
    loss must be finite ('finite'); see the module docstring."""
    window = max(1, len(reference) // 10)
    first_relative = abs(candidate[0] - reference[0]) / abs(reference[0])
    last_reference, last_candidate = float(np.mean(reference[-window:])), float(np.mean(candidate[-window:]))
    final_difference = abs(last_candidate - last_reference)
    final_tolerance = FINAL_LOSS_TOLERANCE * abs(reference[0])
    return {'first_loss': candidate[0], 'first_relative_difference': first_relative,
            'first_tolerance': first_tolerance, 'first_ok': first_relative <= first_tolerance,
            'last_mean_loss': last_candidate, 'last_mean_difference': final_difference, 'window': window,
            'final_tolerance': final_tolerance, 'final_ok': final_difference <= final_tolerance,
            'finite': all(math.isfinite(loss) for loss in candidate)}


def precisions_for(device):
    """The precisions to compare, and why one is left out (bf16 needs an Ampere or newer GPU)."""
    if device.type == 'cuda' and not torch.cuda.is_bf16_supported():
        return ['fp32', 'fp16'], 'bf16: not supported by this GPU'
    return ['fp32', 'bf16', 'fp16'], None


def stage_train(ctx):
    sizes, device = ctx.sizes, ctx.device
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True  # as the scripts
    batches = template_batches(8, sizes['train_batch'], sizes['train_classes'], sizes['height'], sizes['width'],
                               device)
    precisions, left_out = precisions_for(device)
    if left_out:
        ctx.row('precisions', left_out)
    speeds = {}
    for arch in sizes['train_models']:
        reference, steps = None, sizes['train_steps']
        for precision in precisions:
            if device.type == 'cuda':
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(device)
            engine = build_engine(arch, sizes['train_classes'], precision, device, ctx.dry_run)
            seconds = sizes['fp32_seconds'] if precision == 'fp32' else None
            losses, speed = train_steps(engine, batches, steps, sizes['train_warmup'], device, seconds)
            figures = {'images_per_s': speed, 'steps': len(losses), 'losses': losses}
            if device.type == 'cuda':
                figures['peak_gpu_mb'] = torch.cuda.max_memory_allocated(device) / 2 ** 20
            if engine.grad_scaler is not None:
                figures['final_loss_scale'] = float(engine.grad_scaler.get_scale())
            speeds.setdefault(arch, {})[precision] = speed
            item = '{} {}{}'.format(arch, precision, ' + GradScaler' if engine.grad_scaler is not None else '')
            memory = ', peak {:.1f} GB'.format(figures['peak_gpu_mb'] / 1024) if 'peak_gpu_mb' in figures else ''
            if precision == 'fp32':
                reference, steps = losses, len(losses)
                window = max(1, len(losses) // 10)
                last = float(np.mean(losses[-window:]))
                learns = last <= FP32_LEARNS * losses[0] and all(math.isfinite(loss) for loss in losses)
                figures.update(first_loss=losses[0], last_mean_loss=last)
                text = '{:,.1f} img/s; loss {:.4f} after step 1, {:.4f} over steps {}-{}{}'.format(
                    speed, losses[0], last, len(losses) - window + 1, len(losses), memory)
                if ctx.dry_run:
                    ctx.row(item, text + ' (learning not checked in a dry run)', 'PASS')
                else:
                    ctx.check(item, learns, text + ('' if learns else ': fp32 does not lower its loss by a quarter'))
            else:
                agreement = loss_agreement(reference, losses, DRY_RUN_FIRST_LOSS_TOLERANCE if ctx.dry_run
                                           else FIRST_LOSS_TOLERANCE[precision])
                figures.update(agreement)
                # a dry run's few toy steps diverge at once: there the final loss is reported, not checked
                ok = agreement['finite'] and agreement['first_ok'] and (agreement['final_ok'] or ctx.dry_run)
                text = ('{:,.1f} img/s ({:.2f}x fp32); loss {:.4f} after step 1 ({:+.2%} vs fp32, tolerance '
                        '{:.1%}), {:.4f} over the last {} steps (difference {:.4f}, tolerance {:.3f}{}){}{}').format(
                    speed, speed / speeds[arch]['fp32'], agreement['first_loss'],
                    (agreement['first_loss'] - reference[0]) / reference[0], agreement['first_tolerance'],
                    agreement['last_mean_loss'], agreement['window'], agreement['last_mean_difference'],
                    agreement['final_tolerance'], ', not checked in a dry run' if ctx.dry_run else '', memory,
                    ', final loss scale {:g}'.format(figures['final_loss_scale']) if 'final_loss_scale' in figures
                    else '')
                if not agreement['finite']:
                    text += ': non-finite loss'
                ctx.check(item, ok, text)
            ctx.record('{}_{}'.format(arch, precision), figures)
            print('{:<28} {}'.format(item, ctx.rows[-1]['figures']), flush=True)
            del engine


# ------------------------------------------------------------------------------------------------- extract

def stage_extract(ctx):
    from model_speed import build_model, photo_crops
    from torchreid.models.inference import extract_batch_features, feature_agreement, prepare_for_inference

    sizes, device = ctx.sizes, ctx.device
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True
    batch_size = sizes['extract_batch']
    images = photo_crops(batch_size, sizes['height'], sizes['width'])
    images_on_device = images.to(device)
    for arch in sizes['train_models']:
        baseline = quietly(build_model, arch, images[:min(32, batch_size)])  # BatchNorm statistics of real crops
        eager = copy.deepcopy(baseline).to(device).eval()
        fast = prepare_for_inference(copy.deepcopy(baseline), device)

        def eager_fp32(batch):
            with torch.no_grad():
                return eager(batch)
        paths = [('fp32 eager', eager_fp32), ('channels_last fp32', partial(extract_batch_features, fast)),
                 ('channels_last bf16', partial(extract_batch_features, fast, dtype=torch.bfloat16)),
                 ('channels_last fp16', partial(extract_batch_features, fast, dtype=torch.float16))]
        if device.type == 'cuda' and not torch.cuda.is_bf16_supported():
            paths = [path for path in paths if 'bf16' not in path[0]]
        features = {label: run(images_on_device).float() for label, run in paths}
        speeds = {label: [] for label, _ in paths}
        for round_index in range(sizes['extract_rounds']):
            for label, run in (paths if round_index % 2 == 0 else paths[::-1]):
                run(images_on_device)  # warm-up (cuDNN autotuning on the first round)
                synchronize(device)
                start = time.perf_counter()
                for _ in range(sizes['extract_batches']):
                    run(images_on_device)
                synchronize(device)
                speeds[label].append(batch_size * sizes['extract_batches'] / (time.perf_counter() - start))
        figures = {}
        parts = []
        for label, _ in paths:
            cosine, relative = feature_agreement(features['fp32 eager'], features[label])
            speed = statistics.median(speeds[label])
            figures[label] = {'images_per_s': speed, 'min_cosine': cosine, 'max_relative_error': relative}
            parts.append('{} {:,.0f} img/s{}'.format(
                label, speed, '' if label == 'fp32 eager' else ' ({:.2f}x, min cosine {:.4f})'.format(
                    speed / statistics.median(speeds['fp32 eager']), cosine)))
        ctx.record(arch, figures)
        finite = all(torch.isfinite(f).all().item() for f in features.values())
        fp32_same = figures['channels_last fp32']['min_cosine'] >= 0.9999
        ctx.check('{} features, batch {}'.format(arch, batch_size), finite and fp32_same,
                  '; '.join(parts) + ('' if fp32_same else ': channels_last fp32 differs from fp32 eager')
                  + ('' if finite else ': non-finite features'))
        print(ctx.rows[-1]['figures'], flush=True)
        del baseline, eager, fast


# ------------------------------------------------------------------------------------------------- evaluate

def generated_features(pids, camids, centres, camera_bias, noise, generator):
    """(N, d) features on the centres' device: identity centre + camera bias + noise."""
    device = centres.device
    pids, camids = torch.as_tensor(pids, device=device), torch.as_tensor(camids, device=device)
    noise_part = torch.randn(len(pids), centres.shape[1], generator=generator, device=device)
    return centres[pids] + camera_bias[camids] + noise * noise_part


def stage_evaluate(ctx):
    from eval_speed import generate_ids
    from torchreid.metrics import compute_distance_matrix, evaluate_features, evaluate_rank

    device = ctx.device
    num_q, num_g, num_ids, num_cams = ctx.sizes['eval_size']
    dim = ctx.sizes['eval_dim']
    ids = generate_ids(num_q, num_g, num_ids, num_cams, 0, np.random.default_rng(0))
    generator = torch.Generator(device=device).manual_seed(0)
    centres = torch.randn(num_ids + 1, dim, generator=generator, device=device)
    camera_bias = 0.3 * torch.randn(num_cams, dim, generator=generator, device=device)
    noise = 1.95 * (dim / 512.) ** 0.25  # the distance gap over its spread goes as sqrt(d) / noise^2
    query_features = generated_features(ids[0], ids[2], centres, camera_bias, noise, generator)
    gallery_features = generated_features(ids[1], ids[3], centres, camera_bias, noise, generator)
    problem = '{:,} x {:,}, {}-d on {}'.format(num_q, num_g, dim, device.type)
    ctx.record('problem', {'queries': num_q, 'gallery': num_g, 'dim': dim, 'device': device.type})

    def timed(fn):
        if device.type == 'cuda':
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats(device)
            base = torch.cuda.memory_allocated(device)
        synchronize(device)
        start = time.perf_counter()
        result = fn()
        synchronize(device)
        seconds = time.perf_counter() - start
        peak = (torch.cuda.max_memory_allocated(device) - base) / 2 ** 20 if device.type == 'cuda' else None
        return result, seconds, peak

    def summary(result, seconds, peak):
        return {'seconds': seconds, 'peak_gpu_mb_beyond_features': peak, 'rank1': float(result.cmc[0]),
                'mAP': float(result.mAP), 'mINP': float(result.mINP)}

    blockwise, seconds, peak = timed(lambda: evaluate_features(query_features, gallery_features, *ids))
    ctx.record('blockwise', summary(blockwise, seconds, peak))
    memory = lambda mb: '' if mb is None else ', {:,.0f} MB GPU'.format(mb)  # noqa: E731
    ctx.row('block-wise evaluate_features, ' + problem, '{:.2f} s{}; Rank-1 {:.4f}, mAP {:.4f}, mINP {:.4f}'.format(
        seconds, memory(peak), blockwise.cmc[0], blockwise.mAP, blockwise.mINP), 'PASS')

    def full_matrix():
        distmat = compute_distance_matrix(query_features, gallery_features).cpu()
        return evaluate_rank(distmat, *ids)
    try:
        matrix, seconds, peak = timed(full_matrix)
    except torch.cuda.OutOfMemoryError as error:
        ctx.row('full matrix + evaluate_rank', 'not run: {}'.format(one_line(error)))
        return
    ctx.record('full_matrix', summary(matrix, seconds, peak))
    differences = {'rank1': abs(float(blockwise.cmc[0] - matrix.cmc[0])), 'mAP': abs(blockwise.mAP - matrix.mAP),
                   'mINP': abs(blockwise.mINP - matrix.mINP)}
    ctx.record('differences', differences)
    ok = (differences['rank1'] <= EVAL_RANK1_TOLERANCE and differences['mAP'] <= EVAL_METRIC_TOLERANCE
          and differences['mINP'] <= EVAL_METRIC_TOLERANCE)
    ctx.check('full matrix on {} + evaluate_rank'.format(device.type),
              ok, '{:.2f} s{}; differences to block-wise: Rank-1 {:.1e}, mAP {:.1e}, mINP {:.1e}'.format(
                  seconds, memory(peak), differences['rank1'], differences['mAP'], differences['mINP']))
    print('\n'.join(row['item'] + ': ' + row['figures'] for row in ctx.rows), flush=True)


# ------------------------------------------------------------------------------------------------- loader

def demo_dataset(data_root):
    from torchreid.datasets import init_imgreid_dataset
    return quietly(init_imgreid_dataset, 'demo', root=data_root, verbose=False)


def stage_loader(ctx):
    from torchreid.data import build_train_loader, build_transforms

    sizes, device = ctx.sizes, ctx.device
    dataset = demo_dataset(ctx.data_root)
    samples = list(dataset.train) * sizes['loader_repeats']  # an epoch of Market-1501's size from the demo JPEGs
    train_transform, _ = build_transforms(sizes['height'], sizes['width'])
    batch_size, num_batches = sizes['train_batch'], sizes['loader_batches']
    warmup = max(1, num_batches // 10)
    for workers in sizes['loader_workers']:
        loader = build_train_loader(samples, train_transform, batch_size, workers, pin_memory=device.type == 'cuda')
        start = time.perf_counter()
        count = 0
        for index, batch in enumerate(loader):
            batch[0].to(device, non_blocking=True)
            if index == warmup:  # workers started and their first batches made
                synchronize(device)
                start = time.perf_counter()
            elif index > warmup:
                count += batch[0].shape[0]
            if index == warmup + num_batches:
                break
        synchronize(device)
        speed = count / (time.perf_counter() - start)
        ctx.record('workers_{}'.format(workers), {'images_per_s': speed, 'batches': num_batches,
                                                  'batch_size': batch_size})
        ctx.row('train loader -j {}, demo JPEGs to {}x{}'.format(workers, sizes['height'], sizes['width']),
                '{:,.0f} img/s, to {}{}'.format(speed, device.type, ' (pinned memory)' if device.type == 'cuda'
                                                else ''), 'PASS')
        print(ctx.rows[-1]['item'], ctx.rows[-1]['figures'], flush=True)
        del loader


# ------------------------------------------------------------------------------------------------- ddp

def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def stage_ddp(ctx):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel
    from torchreid.engine import comm

    sizes, device = ctx.sizes, ctx.device
    backend = 'nccl' if device.type == 'cuda' else 'gloo'
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True  # so that the two runs may agree to rounding
    arch, steps = sizes['ddp_arch'], sizes['ddp_steps']
    batches = template_batches(4, sizes['train_batch'], sizes['train_classes'], sizes['height'], sizes['width'],
                               device, seed=1)
    # SGD: Adam would magnify into lr-sized steps the rounding-level gradient noise of nondeterministic kernels
    plain = build_engine(arch, sizes['train_classes'], 'fp32', device, ctx.dry_run, 'sgd', 0.01)
    plain_losses, plain_speed = train_steps(plain, batches, steps, 1, device)
    del plain
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(free_port()), RANK='0', WORLD_SIZE='1',
                      LOCAL_RANK='0')
    dist.init_process_group(backend, rank=0, world_size=1)
    try:
        engine = build_engine(arch, sizes['train_classes'], 'fp32', device, ctx.dry_run, 'sgd', 0.01)
        wrapped = isinstance(engine.train_model, DistributedDataParallel)
        ddp_losses, ddp_speed = train_steps(engine, batches, steps, 1, device)
        gathered = comm.all_gather_object({'rank': comm.get_rank()})
        broadcast = comm.broadcast_object('from rank 0')
        comm.broadcast_buffers(engine.model)
        reduced = torch.ones(3, device=device)
        dist.all_reduce(reduced)
        save_dir = tempfile.mkdtemp()
        engine.save_dir = save_dir
        engine.save(0)
        from torchreid.utils.checkpoint import load_checkpoint
        from torchreid.engine.engine import LATEST_CHECKPOINT
        checkpoint = load_checkpoint(os.path.join(save_dir, LATEST_CHECKPOINT))
        shutil.rmtree(save_dir, ignore_errors=True)
    finally:
        comm.cleanup()
    relative = max(abs(a - b) / abs(a) for a, b in zip(plain_losses, ddp_losses))
    figures = {'backend': backend, 'arch': arch, 'steps': steps, 'plain_losses': plain_losses,
               'ddp_losses': ddp_losses, 'max_relative_loss_difference': relative, 'plain_images_per_s': plain_speed,
               'ddp_images_per_s': ddp_speed}
    ctx.record('ddp', figures)
    helpers_ok = (gathered == [{'rank': 0}] and broadcast == 'from rank 0' and reduced.tolist() == [1., 1., 1.]
                  and len(checkpoint['rng_states']) == 1)
    ok = wrapped and relative <= 1e-3 and helpers_ok
    ctx.check('1-process DDP over {}, {} steps of {}'.format(backend, steps, arch), ok,
              'DDP-wrapped: {}; loss difference to the plain run at most {:.1e} (tolerance 1e-3); {:,.1f} img/s vs '
              '{:,.1f} plain; gather/broadcast/all_reduce/checkpoint {}'.format(
                  wrapped, relative, ddp_speed, plain_speed, 'ok' if helpers_ok else 'WRONG'))
    print(ctx.rows[-1]['figures'], flush=True)


# ------------------------------------------------------------------------------------------------- script

RESULT_LINE = re.compile(r'^(mAP|Rank-1) *: *([\d.]+)%$', re.M)


def run_script(argv, log_path, timeout):
    """Run train_imgreid_xent.py with ``argv``; returns (exit status, console text, seconds)."""
    start = time.perf_counter()
    completed = subprocess.run([sys.executable, os.path.join(REPO, 'train_imgreid_xent.py')] + argv, cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                               timeout=timeout)
    with open(log_path, 'w') as f:
        f.write(completed.stdout)
    return completed.returncode, completed.stdout, time.perf_counter() - start


def stage_script(ctx):
    from torchreid.engine.engine import LATEST_CHECKPOINT
    from torchreid.utils.checkpoint import load_checkpoint

    save_dir = tempfile.mkdtemp()
    deadline = time.perf_counter() + STAGE_LIMITS['script'] - 10
    common = ['-d', 'demo', '--root', ctx.data_root, '--no-pretrained', '--eval-step', '1', '--print-freq', '5',
              '--save-dir', save_dir] + ctx.sizes['script_args']
    amp = common[common.index('--amp') + 1]
    device_line = 'Currently using CPU' if ctx.dry_run else 'Currently using GPU'
    try:
        for epoch, extra in ((1, []), (2, ['--resume', os.path.join(save_dir, LATEST_CHECKPOINT)])):
            status, text, seconds = run_script(common + ['--max-epoch', str(epoch)] + extra,
                                               os.path.join(ctx.out_dir, 'script_epoch{}.log'.format(epoch)),
                                               timeout=max(deadline - time.perf_counter(), 1))
            checkpoint_path = os.path.join(save_dir, 'checkpoint_ep{}.pth.tar'.format(epoch))
            checkpoint = load_checkpoint(checkpoint_path) if os.path.exists(checkpoint_path) else {}
            metrics = dict(RESULT_LINE.findall(text))
            figures = {'exit_status': status, 'seconds': seconds, 'rank1': float(metrics.get('Rank-1', 'nan')),
                       'mAP': float(metrics.get('mAP', 'nan')), 'checkpoint_epoch': checkpoint.get('epoch'),
                       'grad_scaler_saved': 'grad_scaler' in checkpoint}
            ctx.record('epoch{}'.format(epoch), figures)
            problems = []
            if status != 0:
                problems.append('exit status {}: {}'.format(status, (text.strip().splitlines() or [''])[-1]))
            if device_line not in text:
                problems.append("no '{}' line".format(device_line))
            if 'Results ----------' not in text:
                problems.append('no evaluation result block')
            if checkpoint.get('epoch') != epoch - 1:
                problems.append('checkpoint_ep{}.pth.tar missing or of the wrong epoch'.format(epoch))
            if amp == 'fp16' and not figures['grad_scaler_saved']:
                problems.append('the gradient scaler is not in the checkpoint')
            if epoch == 2 and ("Loaded checkpoint from '" not in text or 'Epoch: [1]' in text):
                problems.append('did not resume at epoch 2')
            what = ('epoch 1 (train, evaluate, checkpoint)' if epoch == 1 else 'epoch 2 after --resume')
            ctx.check('train_imgreid_xent.py --amp {}, {}'.format(amp, what), not problems,
                      '{:.1f} s; Rank-1 {}%, mAP {}%{}'.format(seconds, metrics.get('Rank-1', '?'),
                                                               metrics.get('mAP', '?'),
                                                               ('; ' + '; '.join(problems)) if problems else ''))
            print(ctx.rows[-1]['item'], ctx.rows[-1]['figures'], flush=True)
            if status != 0:
                break
    finally:
        shutil.rmtree(save_dir, ignore_errors=True)


STAGE_FUNCTIONS = {'cuda_tests': stage_cuda_tests, 'train': stage_train, 'extract': stage_extract,
                   'evaluate': stage_evaluate, 'loader': stage_loader, 'ddp': stage_ddp, 'script': stage_script}


# ------------------------------------------------------------------------------------------------- the report

def nccl_version():
    """NCCL's version as text (torch gives a tuple, older versions an int), or None without NCCL."""
    try:
        version = torch.cuda.nccl.version()
    except (AttributeError, RuntimeError):
        return None
    return '.'.join(str(part) for part in version) if isinstance(version, tuple) else str(version)


def environment(dry_run):
    """The machine and versions: GPU name, memory, capability, torch / CUDA / cuDNN / NCCL, the commit."""
    info = {'date_utc': datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M'),
            'dry_run': dry_run, 'python': platform.python_version(), 'torch': torch.__version__,
            'cuda': torch.version.cuda, 'cudnn': torch.backends.cudnn.version(), 'cpu_count': os.cpu_count(),
            'float32_matmul_precision': torch.get_float32_matmul_precision(),
            'command': ' '.join(['python', 'benchmarks/gpu_check.py'] + sys.argv[1:])}
    if torch.cuda.is_available() and not dry_run:
        properties = torch.cuda.get_device_properties(0)
        info.update(gpu=properties.name, gpu_memory_gb=round(properties.total_memory / 2 ** 30, 1),
                    compute_capability='{}.{}'.format(properties.major, properties.minor),
                    bf16_supported=torch.cuda.is_bf16_supported(),
                    nccl=nccl_version())
    else:
        info['gpu'] = 'none (dry run on the CPU)' if dry_run else 'none'
    try:
        info['commit'] = subprocess.run(['git', 'rev-parse', '--short', 'HEAD'], cwd=REPO, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, universal_newlines=True).stdout.strip() or None
    except OSError:
        info['commit'] = None
    return info


def starvation_rows(stages):
    """Rows setting the loader's images/s beside each training images/s (from the loader and train stages)."""
    loader = stages.get('loader', {}).get('figures', {})
    train = stages.get('train', {}).get('figures', {})
    rows = []
    for key in sorted(loader, key=lambda k: int(k.split('_')[1])):
        supply = loader[key]['images_per_s']
        parts = []
        for run, figures in sorted(train.items()):
            demand = figures['images_per_s']
            parts.append('{} {:,.0f} ({})'.format(' '.join(run.rsplit('_', 1)), demand,
                                                  'starves' if supply < demand else '{:.1f}x headroom'.format(
                                                      supply / demand)))
        if parts:
            rows.append({'item': 'loader -j {} ({:,.0f} img/s) vs training img/s'.format(key.split('_')[1], supply),
                         'figures': '; '.join(parts), 'status': 'INFO'})
    return rows


def markdown_report(info, stages, total_seconds):
    """gpu_check.md: a header with the machine and one table of every stage's rows."""
    lines = ['# GPU check', '',
             'GPU: {gpu}{memory_text}; torch {torch}, CUDA {cuda}, cuDNN {cudnn}{nccl_text}; Python {python}, '
             '{cpu_count} CPUs; commit {commit}; {date_utc} UTC.'.format(
                 memory_text=' ({} GB, compute capability {})'.format(info['gpu_memory_gb'],
                                                                     info['compute_capability'])
                 if 'gpu_memory_gb' in info else '',
                 nccl_text=', NCCL {}'.format(info['nccl']) if 'nccl' in info else '', **info),
             '', '`{}` ({:.0f} s in all{}).'.format(info['command'], total_seconds,
                                                   ', dry run: toy sizes on the CPU, figures mean nothing'
                                                   if info['dry_run'] else ''),
             '', '| stage | item | figures | status |', '|---|---|---|---|']
    for name, record in stages.items():
        rows = list(record.get('rows', []))
        if name == 'loader':
            rows += starvation_rows(stages)
        if record['status'] == 'FAIL' and record.get('error') and not any(row['status'] == 'FAIL' for row in rows):
            rows.append({'item': 'error', 'figures': record['error'], 'status': 'FAIL'})
        rows.append({'item': 'stage', 'figures': '{:.0f} s'.format(record.get('seconds', 0)),
                     'status': record['status']})
        for row in rows:
            lines.append('| {} | {} | {} | {} |'.format(name, row['item'], row['figures'].replace('|', '/'),
                                                        row['status']))
    return '\n'.join(lines) + '\n'


def run_all(args):
    """The parent: every stage in its own process, then gpu_check.md and gpu_check.json; returns the exit status."""
    os.makedirs(args.out, exist_ok=True)
    info = environment(args.dry_run)
    print('GPU check: {}, torch {}, CUDA {}; output in {}'.format(info['gpu'], info['torch'], info['cuda'],
                                                                  args.out), flush=True)
    data_root = tempfile.mkdtemp(prefix='gpu_check_data_')
    stages = {}
    start = time.perf_counter()
    try:
        for name in args.stages:
            record = run_isolated(name, stage_command(name, args.out, args.dry_run, data_root), STAGE_LIMITS[name],
                                  args.out)
            stages[name] = record
            print('[{:>5.0f} s] {:<10} {} ({:.0f} s){}'.format(
                time.perf_counter() - start, name, record['status'], record['seconds'],
                ': ' + record['error'] if record.get('error') else ''), flush=True)
            for row in record.get('rows', []):
                print('    {}: {} [{}]'.format(row['item'], row['figures'], row['status']), flush=True)
    finally:
        shutil.rmtree(data_root, ignore_errors=True)
    total_seconds = time.perf_counter() - start
    report = {'environment': info, 'total_seconds': total_seconds, 'stages': stages,
              'loader_vs_training': starvation_rows(stages)}
    write_json(os.path.join(args.out, 'gpu_check.json'), report)
    markdown = markdown_report(info, stages, total_seconds)
    with open(os.path.join(args.out, 'gpu_check.md'), 'w') as f:
        f.write(markdown)
    print('\n' + markdown)
    failed = [name for name, record in stages.items() if record['status'] != 'PASS']
    print('{} of {} stages passed{}; {:.0f} s'.format(len(stages) - len(failed), len(stages),
                                                       ' (FAIL: {})'.format(', '.join(failed)) if failed else '',
                                                       total_seconds))
    return 1 if failed else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--out', required=True, help='folder for gpu_check.md, gpu_check.json and the stage logs')
    parser.add_argument('--dry-run', action='store_true', help='every stage on the CPU at toy sizes')
    parser.add_argument('--stages', default=','.join(STAGES),
                        help='comma-separated stages to run (default: all): {}'.format(','.join(STAGES)))
    parser.add_argument('--stage', choices=STAGES, help='run one stage in this process (what the parent starts)')
    parser.add_argument('--data-root', help='with --stage: where the demo data is generated')
    args = parser.parse_args(argv)
    args.out = os.path.abspath(args.out)
    os.environ.setdefault('CUDA_VISIBLE_DEVICES', '0')  # one GPU (before anything asks CUDA about devices)
    if args.stage is not None:
        if args.data_root is None:
            parser.error('--stage needs --data-root')
        run_stage_here(args.stage, args.out, args.dry_run, args.data_root)
        return 0
    args.stages = [name.strip() for name in args.stages.split(',') if name.strip()]
    unknown = [name for name in args.stages if name not in STAGES]
    if unknown or not args.stages:
        parser.error('unknown stage(s) {}; choose from {}'.format(', '.join(unknown) or '(none)', ', '.join(STAGES)))
    if not args.dry_run and not torch.cuda.is_available():
        print('Error: no CUDA device is visible, so there is nothing to check; run with --dry-run to exercise the '
              'same code paths on the CPU', file=sys.stderr)
        return 1
    return run_all(args)


if __name__ == '__main__':
    sys.exit(main())
