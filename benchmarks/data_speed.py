"""Images/s of decode + transforms per data-loader worker: ours beside the seed's PIL + torchvision pipeline.

Both pipelines read the same JPEG files in the same process with one torch thread (as a DataLoader worker runs),
in interleaved rounds; the median round is reported. The seed's item is ``Image.open(path).convert('RGB')`` then
Random2DTranslation (PIL resizes), RandomHorizontalFlip, ToTensor, Normalize (``build_seed_transforms``). Ours is
``ImageSampleDataset(samples, build_transforms(...)[i])[index]``: JPEG decoded straight to a uint8 tensor (large ones at
reduced DCT scale), uint8 resize, fused normalisation.

Sources are crops of a real photograph (matplotlib's sample image; smooth random images if it is missing),
resized to each source size and saved as quality-90 JPEGs. 128x64 is Market-1501's size (upsampled to the 256x128
input); larger sources show the reduced-scale decoding.

    python benchmarks/data_speed.py [--num-images 200] [--rounds 5] [--sources 128x64,256x128,512x256,1024x512]
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
from PIL import Image, features

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from torchreid.data import ImageSampleDataset, build_seed_transforms, build_transforms  # noqa: E402


def source_photo():
    """A real RGB photograph to crop pedestrians-shaped patches from, or None."""
    try:
        import matplotlib.cbook
        with matplotlib.cbook.get_sample_data('grace_hopper.jpg') as f:
            return Image.open(f).convert('RGB')
    except (ImportError, OSError, ValueError):
        return None


def make_jpegs(folder, height, width, count, seed=0):
    """Write ``count`` (height x width) JPEGs to ``folder``; returns their paths."""
    rng = np.random.default_rng(seed)
    photo = source_photo()
    paths = []
    for i in range(count):
        if photo is not None:
            crop_width = int(rng.integers(100, 250))
            crop_height = 2 * crop_width
            left = int(rng.integers(0, photo.width - crop_width + 1))
            top = int(rng.integers(0, photo.height - crop_height + 1))
            img = photo.crop((left, top, left + crop_width, top + crop_height)).resize((width, height), Image.BICUBIC)
        else:
            coarse = Image.fromarray(rng.integers(0, 256, (16, 8, 3), dtype=np.uint8))
            img = coarse.resize((width, height), Image.BICUBIC)
        path = os.path.join(folder, '{}x{}_{:04d}.jpg'.format(height, width, i))
        img.save(path, quality=90)
        paths.append(path)
    return paths


def seed_item(path, transform):
    """What the seed's ImageSampleDataset did per item."""
    return transform(Image.open(path).convert('RGB'))


def images_per_second(paths, load):
    start = time.perf_counter()
    for path in paths:
        load(path)
    return len(paths) / (time.perf_counter() - start)


def compare(paths, pipelines, rounds):
    """Median images/s of each (name, load) pipeline over interleaved rounds (order alternating)."""
    for _, load in pipelines:  # warm-up: file cache, lazy imports, allocator
        images_per_second(paths[:20], load)
    speeds = {name: [] for name, _ in pipelines}
    for round_index in range(rounds):
        order = pipelines if round_index % 2 == 0 else pipelines[::-1]
        for name, load in order:
            speeds[name].append(images_per_second(paths, load))
    return {name: statistics.median(values) for name, values in speeds.items()}


def parse_sizes(text):
    sizes = []
    for item in text.split(','):
        height, width = item.lower().split('x')
        sizes.append((int(height), int(width)))
    return sizes


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--num-images', type=int, default=200, help='JPEG files per source size')
    parser.add_argument('--rounds', type=int, default=5, help='interleaved timing rounds (median reported)')
    parser.add_argument('--height', type=int, default=256)
    parser.add_argument('--width', type=int, default=128)
    parser.add_argument('--sources', default='128x64,256x128,512x256,1024x512',
                        help='comma-separated source sizes HEIGHTxWIDTH')
    args = parser.parse_args()

    torch.set_num_threads(1)
    seed_train, seed_test = build_seed_transforms(args.height, args.width)
    fast_train, fast_test = build_transforms(args.height, args.width)
    print('torch {}, Pillow {} (libjpeg-turbo: {}), 1 thread, {} images x {} rounds, input {}x{}'.format(
        torch.__version__, Image.__version__, features.check_feature('libjpeg_turbo'), args.num_images,
        args.rounds, args.height, args.width))
    print('{:<10} {:<6} {:>12} {:>12} {:>7}'.format('source', 'stage', 'seed img/s', 'ours img/s', 'ratio'))
    with tempfile.TemporaryDirectory() as folder:
        for height, width in parse_sizes(args.sources):
            paths = make_jpegs(folder, height, width, args.num_images)
            index_of = {path: index for index, path in enumerate(paths)}
            for stage, seed_transform, fast_transform in [('train', seed_train, fast_train),
                                                          ('test', seed_test, fast_test)]:
                dataset = ImageSampleDataset([(path, 0, 0) for path in paths], fast_transform)
                speeds = compare(paths, [
                    ('seed', lambda path: seed_item(path, seed_transform)),
                    ('ours', lambda path: dataset[index_of[path]]),
                ], args.rounds)
                print('{:<10} {:<6} {:>12.0f} {:>12.0f} {:>6.2f}x'.format(
                    '{}x{}'.format(height, width), stage, speeds['seed'], speeds['ours'],
                    speeds['ours'] / speeds['seed']))


if __name__ == '__main__':
    main()
