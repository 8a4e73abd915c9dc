"""Feature-extraction images/s of each model: plain fp32 eager beside torchreid's inference path, with the error the
faster paths put on the features.

Paths, all on the same model weights, timed in interleaved rounds (order alternating) and reported as the median:
    fp32 eager    model.eval(), torch.no_grad(), NCHW input: what the seed did
    cl fp32       prepare_for_inference (channels_last) + extract_batch_features: inference_mode, fp32
    cl bf16       the same with bf16 autocast (dtype=torch.bfloat16)
    compiled      (with --compile) torch.compile of the channels_last model, fp32 and bf16
"ours" is the fastest path whose features stay within the tolerance of the fp32 eager features: minimum cosine
similarity >= --min-cosine over all images (the fp32 paths always qualify). The feature error columns give the
bf16 path's minimum cosine similarity and maximum relative error ``||f_bf16 - f_fp32|| / ||f_fp32||``.

Weights are random (no downloads); BatchNorm statistics are set from one batch of the benchmark images so that
activations have realistic scales. Images are crops of a real photograph (matplotlib's sample image), resized to
the input size and normalised with the ImageNet mean/std.

    python benchmarks/model_speed.py [--models osnet_x1_0,resnet50,mobilenetv2,densenet121] [--batch-size 16]
                                     [--batches 2] [--rounds 5] [--threads N] [--min-cosine 0.999] [--compile]

Caveat: random weights are not trained ones. bf16 errors measured here (cosine 0.94-0.997) are likely larger than
a trained network's, which is better conditioned; check trained weights with feature_agreement before using bf16.
"""
import argparse
import copy
import os
import statistics
import sys
import time
import warnings

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from torchreid.models import init_model  # noqa: E402
from torchreid.models.inference import extract_batch_features, feature_agreement, prepare_for_inference  # noqa

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def photo_crops(count, height, width, seed=0):
    """(count, 3, height, width) normalised crops of a real photograph (random smooth images if it is missing)."""
    rng = np.random.default_rng(seed)
    try:
        import matplotlib.cbook
        from PIL import Image
        with matplotlib.cbook.get_sample_data('grace_hopper.jpg') as f:
            photo = torch.from_numpy(np.array(Image.open(f).convert('RGB'))).permute(2, 0, 1).float() / 255
    except (ImportError, OSError, ValueError):
        photo = torch.nn.functional.interpolate(torch.rand(1, 3, 16, 8), size=(600, 500), mode='bicubic')[0]
    crops = []
    for _ in range(count):
        crop_width = int(rng.integers(photo.shape[2] // 5, photo.shape[2] // 2))
        crop_height = min(2 * crop_width, photo.shape[1])
        top = int(rng.integers(0, photo.shape[1] - crop_height + 1))
        left = int(rng.integers(0, photo.shape[2] - crop_width + 1))
        crop = photo[:, top:top + crop_height, left:left + crop_width]
        if rng.random() < 0.5:
            crop = crop.flip(-1)
        crops.append(torch.nn.functional.interpolate(crop[None], size=(height, width), mode='bilinear',
                                                     antialias=True, align_corners=False)[0])
    images = torch.stack(crops).clamp(0, 1)
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    return (images - mean) / std


def build_model(name, calibration_images):
    """``name`` with random weights and BatchNorm statistics of ``calibration_images``; eval mode, NCHW."""
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = init_model(name, num_classes=751, pretrained=False)
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.momentum = None  # cumulative average over the calibration batches
    model.train()
    with torch.no_grad():
        for batch in calibration_images.split(16):
            model(batch)
    return model.eval()


def eager_fp32(model):
    def run(images):
        with torch.no_grad():
            return model(images)
    return run


def fast_path(model, dtype):
    def run(images):
        return extract_batch_features(model, images, dtype=dtype)
    return run


def images_per_second(run, batches):
    start = time.perf_counter()
    for images in batches:
        run(images)
    return sum(len(images) for images in batches) / (time.perf_counter() - start)


def benchmark_model(name, images, batch_size, num_batches, rounds, min_cosine, compile_model):
    """Median images/s per path, the features of each path, and compile seconds (if any)."""
    baseline = build_model(name, images)
    fast = prepare_for_inference(copy.deepcopy(baseline))
    paths = [('fp32 eager', eager_fp32(baseline)), ('cl fp32', fast_path(fast, None)),
             ('cl bf16', fast_path(fast, torch.bfloat16))]
    compile_seconds = None
    if compile_model:
        compiled = torch.compile(fast)
        start = time.perf_counter()
        for dtype in (None, torch.bfloat16):
            fast_path(compiled, dtype)(images[:batch_size])  # compiles (fp32 and bf16 graphs)
        compile_seconds = time.perf_counter() - start
        paths += [('compiled fp32', fast_path(compiled, None)), ('compiled bf16', fast_path(compiled, torch.bfloat16))]

    features = {label: torch.cat([run(batch).float() for batch in images.split(batch_size)]) for label, run in paths}
    agreement = {label: feature_agreement(features['fp32 eager'], features[label]) for label, _ in paths}

    batches = list(images[:batch_size * num_batches].split(batch_size))
    speeds = {label: [] for label, _ in paths}
    for round_index in range(rounds):
        for label, run in (paths if round_index % 2 == 0 else paths[::-1]):
            speeds[label].append(images_per_second(run, batches))
    medians = {label: statistics.median(values) for label, values in speeds.items()}
    eligible = [label for label in medians if agreement[label][0] >= min_cosine]
    ours = max(eligible, key=medians.get)
    return medians, agreement, ours, compile_seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--models', default='osnet_x1_0,resnet50,mobilenetv2,densenet121')
    parser.add_argument('--height', type=int, default=256)
    parser.add_argument('--width', type=int, default=128)
    parser.add_argument('--batch-size', type=int, default=16)
    parser.add_argument('--batches', type=int, default=2, help='timed batches per round')
    parser.add_argument('--rounds', type=int, default=5, help='interleaved rounds; the median is reported')
    parser.add_argument('--threads', type=int, default=None,
                        help='torch threads (default: torch\'s choice, one per core); on a shared machine 1 thread '
                             'gives steadier figures (a descheduled thread stalls every multi-threaded kernel)')
    parser.add_argument('--min-cosine', type=float, default=0.999,
                        help='a path counts as "ours" only if every feature has at least this cosine similarity '
                             'to its fp32 eager feature')
    parser.add_argument('--compile', action='store_true', help='also time torch.compile of the fast path')
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    images = photo_crops(max(args.batch_size * args.batches, 32), args.height, args.width)
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    print('{}x{} input, batch {}, {} batches x {} rounds, {} torch threads, {} CPUs, load average {:.1f}, '
          'torch {}'.format(args.height, args.width, args.batch_size, args.batches, args.rounds,
                            torch.get_num_threads(), os.cpu_count(), load, torch.__version__))
    print('"ours" = fastest path with min cosine similarity >= {} to the fp32 eager features\n'.format(
        args.min_cosine))
    paths = ['fp32 eager', 'cl fp32', 'cl bf16'] + (['compiled fp32', 'compiled bf16'] if args.compile else [])
    print(('{:<13}' + '{:>15}' * len(paths) + '{:>15}{:>8}{:>10}{:>10}').format(
        'model', *paths, 'ours', 'ratio', 'bf16 cos', 'bf16 rel'))
    for name in args.models.split(','):
        medians, agreement, ours, compile_seconds = benchmark_model(
            name, images, args.batch_size, args.batches, args.rounds, args.min_cosine, args.compile)
        cosine, relative = agreement['cl bf16']
        line = ('{:<13}' + '{:>15.1f}' * len(paths) + '{:>15}{:>7.2f}x{:>10.5f}{:>10.4f}').format(
            name, *[medians[path] for path in paths], ours, medians[ours] / medians['fp32 eager'], cosine, relative)
        if compile_seconds is not None:
            line += '  (compile {:.0f} s)'.format(compile_seconds)
        print(line, flush=True)
    print('\nimages/s, median of the rounds; load average at the end {:.1f}'.format(
        os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')))


if __name__ == '__main__':
    main()
