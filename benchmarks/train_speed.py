"""Training images/s of the engine beside a bare loop (forward, loss, zero_grad, backward, step), same model and batch.

Both loops train the same model (re-initialised from the same seed) on the same pre-made batch, already on the
device, so data loading is left out and the difference is what the engine adds per batch: autocast and device
transfer calls, loss bookkeeping, progress lines, sampler hooks. Rounds alternate between the two, and the median
round of each is reported with the overhead (target: under 5%). ``--clock cpu`` times with this process's CPU time
instead of the wall clock: on a CPU shared with other jobs, with ``--threads 1``, that ignores their load.

    python benchmarks/train_speed.py [--arch osnet_x0_25] [--loss xent|xent_htri] [--batch 32] [--height 256]
        [--width 128] [--iters 20] [--rounds 5] [--device cpu|cuda] [--amp bf16|fp16] [--threads N]
        [--clock wall|cpu]
"""
import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from torchreid.engine.engine import SoftmaxEngine, TripletEngine, make_autocast  # noqa: E402
from torchreid.losses import CrossEntropyLoss, TripletLoss  # noqa: E402
from torchreid.models import init_model  # noqa: E402
from torchreid.optim import make_lr_scheduler, make_optimizer  # noqa: E402


class RepeatedBatch(object):
    """A stand-in train loader: the same (imgs, pids, camids, paths) batch ``length`` times."""

    def __init__(self, imgs, pids, length):
        self.batch = (imgs, pids, torch.zeros_like(pids), [''] * len(pids))
        self.batch_size = len(pids)
        self.length = length

    def __len__(self):
        return self.length

    def __iter__(self):
        return iter([self.batch] * self.length)


CLOCKS = {'wall': time.perf_counter, 'cpu': time.process_time}


def synchronize(device):
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def build(args, device, num_classes):
    torch.manual_seed(0)
    loss = {'xent'} if args.loss == 'xent' else {'xent', 'htri'}
    model = init_model(args.arch, num_classes=num_classes, loss=loss, pretrained=False).to(device)
    optimizer = make_optimizer('adam', model.parameters(), 3e-4, 5e-4)
    return model, optimizer


def bare_round(args, device, imgs, pids, num_classes):
    """Seconds for ``iters`` steps of the plainest loop."""
    model, optimizer = build(args, device, num_classes)
    model.train()
    criterion_xent = CrossEntropyLoss(num_classes, label_smooth=False)
    criterion_htri = TripletLoss()
    autocast = make_autocast(args.amp, device)
    clock = CLOCKS[args.clock]
    synchronize(device)
    start = clock()
    for _ in range(args.iters):
        with autocast():
            outputs = model(imgs)
            if args.loss == 'xent':
                loss = criterion_xent(outputs, pids)
            else:
                loss = criterion_xent(outputs[0], pids) + criterion_htri(outputs[1], pids)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    synchronize(device)
    return clock() - start


def engine_round(args, device, imgs, pids, num_classes):
    """Seconds for one engine epoch of ``iters`` batches (progress lines every 10 batches, as the default)."""
    model, optimizer = build(args, device, num_classes)
    scheduler = make_lr_scheduler(optimizer, 'multi_step', [100])
    loader = RepeatedBatch(imgs, pids, args.iters)
    common = dict(print_freq=10, amp=args.amp)
    if args.loss == 'xent':
        engine = SoftmaxEngine(model, optimizer, scheduler, loader, None, device, os.devnull,
                               criterion=CrossEntropyLoss(num_classes, label_smooth=False), **common)
    else:
        engine = TripletEngine(model, optimizer, scheduler, loader, None, device, os.devnull,
                               criterion_xent=CrossEntropyLoss(num_classes, label_smooth=False),
                               criterion_htri=TripletLoss(), **common)
    stdout, sys.stdout = sys.stdout, open(os.devnull, 'w')  # the progress lines are part of the cost, not the report
    clock = CLOCKS[args.clock]
    try:
        synchronize(device)
        start = clock()
        engine.train_one_epoch(0)
        synchronize(device)
        return clock() - start
    finally:
        sys.stdout.close()
        sys.stdout = stdout


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--arch', default='osnet_x0_25')
    parser.add_argument('--loss', default='xent', choices=['xent', 'xent_htri'])
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--height', type=int, default=256)
    parser.add_argument('--width', type=int, default=128)
    parser.add_argument('--iters', type=int, default=20, help='batches per round')
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--amp', default=None, choices=['bf16', 'fp16'])
    parser.add_argument('--threads', type=int, default=None, help='torch CPU threads (default: torch decides)')
    parser.add_argument('--clock', default='wall', choices=sorted(CLOCKS),
                        help="'cpu': this process's CPU time (CPU device; robust to other jobs on the machine)")
    args = parser.parse_args(argv)
    if args.clock == 'cpu' and args.device != 'cpu':
        parser.error('--clock cpu measures CPU time, which does not include GPU work; use --clock wall')
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == 'cuda':
        torch.backends.cudnn.benchmark = True

    num_classes = max(2, args.batch // 4)
    generator = torch.Generator().manual_seed(0)
    imgs = torch.randn(args.batch, 3, args.height, args.width, generator=generator).to(device)
    pids = (torch.arange(args.batch) // 4 % num_classes).to(device)  # P x K batch, as the triplet sampler gives

    print('{} {} on {} ({} threads), batch {} of {}x{}, amp {}, {} batches x {} rounds, {} clock'.format(
        args.arch, args.loss, torch.cuda.get_device_name(device) if device.type == 'cuda' else 'CPU',
        torch.get_num_threads(), args.batch, args.height, args.width, args.amp, args.iters, args.rounds, args.clock))
    bare_round(args, device, imgs, pids, num_classes)  # warm-up (allocator, cudnn autotuning)
    engine_round(args, device, imgs, pids, num_classes)
    bare_times, engine_times = [], []
    for _ in range(args.rounds):
        bare_times.append(bare_round(args, device, imgs, pids, num_classes))
        engine_times.append(engine_round(args, device, imgs, pids, num_classes))
    images = args.batch * args.iters
    bare_speed = images / statistics.median(bare_times)
    engine_speed = images / statistics.median(engine_times)
    print('{:<12} {:>10}'.format('loop', 'images/s'))
    print('{:<12} {:>10.1f}'.format('bare', bare_speed))
    print('{:<12} {:>10.1f}'.format('engine', engine_speed))
    print('engine / bare = {:.3f} (overhead {:+.1%})'.format(engine_speed / bare_speed, bare_speed / engine_speed - 1))


if __name__ == '__main__':
    main()
