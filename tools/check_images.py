"""Find every unreadable image (missing, empty, truncated, corrupt, not an image) of a dataset in one go.

    python tools/check_images.py -d market1501 --root data
    python tools/check_images.py -d mars --root data -j 8

Fully decodes every image of the train, query and gallery sets (as training does) and prints one line per bad file
with what is wrong with it, then a summary. Exit status: 0 when every image reads, 1 when any does not (or the
dataset cannot be loaded). Replace or delete the files it lists, then run it again.
"""
import argparse
import os
import sys
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from torchreid import datasets  # noqa: E402
from torchreid.data.image_check import find_unreadable_images, image_paths  # noqa: E402


def build_parser():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('-d', '--dataset', required=True, choices=datasets.get_names(),
                        help='dataset key (image or video)')
    parser.add_argument('--root', default='data', help='root path to data directory (default: data)')
    parser.add_argument('--split-id', type=int, default=0, help='split index (default: 0)')
    parser.add_argument('--cuhk03-labeled', action='store_true',
                        help='cuhk03: the labeled images instead of the detected ones')
    parser.add_argument('--cuhk03-classic-split', action='store_true', help='cuhk03: the classic split')
    parser.add_argument('-j', '--workers', type=int, default=4,
                        help='images decoded at the same time (threads, default: 4)')
    return parser


def load_dataset(args):
    """The dataset of the arguments, as the training scripts load it (the cuhk03 options only when given)."""
    options = {'split_id': args.split_id}
    if args.cuhk03_labeled:
        options['cuhk03_labeled'] = True
    if args.cuhk03_classic_split:
        options['cuhk03_classic_split'] = True
    return datasets.init_dataset(args.dataset, root=args.root, verbose=False, **options)


def main(argv=None):
    """Returns the exit status: 0 if every image reads, 1 otherwise."""
    args = build_parser().parse_args(argv)
    if args.workers < 1:
        print('Error: -j/--workers must be >= 1, got {}'.format(args.workers), file=sys.stderr)
        return 1
    try:
        dataset = load_dataset(args)
    except (FileNotFoundError, ValueError) as error:
        print('Error: {}'.format(error), file=sys.stderr)
        return 1
    samples = list(dataset.train) + list(dataset.query) + list(dataset.gallery)
    num_images = len(image_paths(samples))
    problems = find_unreadable_images(samples, num_threads=args.workers, progress=sys.stderr.isatty())
    for path, problem in problems:
        print('{}: {}'.format(path, problem))
    if not problems:
        print('Checked {} images of {}: all readable'.format(num_images, args.dataset))
        return 0
    reasons = Counter(problem.split(' (')[0] for _, problem in problems)
    print('Checked {} images of {}: {} unreadable ({}); replace or delete them, then check again'.format(
        num_images, args.dataset, len(problems), ', '.join('{} {}'.format(count, reason)
                                                           for reason, count in reasons.most_common())))
    return 1


if __name__ == '__main__':
    sys.exit(main())
