"""Find every unreadable image of a dataset in one pass, so that one bad file among thousands is not found one run
at a time (``tools/check_images.py`` is the command line around it).
"""
import sys
from concurrent.futures import ThreadPoolExecutor

from tqdm import tqdm

from .image_io import ImageReadError, read_image_tensor


def image_paths(samples):
    """The image files of ``(path, pid, camid)`` samples in order, each once; a tracklet's path is its frames."""
    seen = set()
    paths = []
    for sample in samples:
        path = sample[0]
        for frame in (path if isinstance(path, (tuple, list)) else (path,)):
            if frame not in seen:
                seen.add(frame)
                paths.append(frame)
    return paths


def describe(error):
    """'reason (detail)' of an ImageReadError, e.g. 'truncated (image file is truncated (138 bytes not processed))'."""
    if error.reason is None:
        return str(error)
    return error.reason + (' ({})'.format(error.detail) if error.detail else '')


def image_problem(path):
    """None if ``path`` decodes fully (the reader the training pipelines use), else what is wrong with it."""
    try:
        read_image_tensor(path)
    except ImageReadError as error:
        return describe(error)
    return None


def find_unreadable_images(samples, num_threads=1, progress=False):
    """Fully decode every image of ``samples`` and return ``[(path, reason), ...]`` for those that fail, in order.

    Args:
        samples (list): ``(path, pid, camid)`` samples (a tracklet's path is a tuple of frames) or plain paths;
            images shared by several samples (e.g. query and gallery) are read once.
        num_threads (int): images decoded at the same time (decoding releases the GIL, so threads scale).
        progress (bool): show a progress bar (tqdm, on stderr).
    """
    paths = image_paths([sample if isinstance(sample, (tuple, list)) else (sample,) for sample in samples])
    if num_threads < 1:
        raise ValueError('num_threads must be >= 1, got {}'.format(num_threads))
    bar = tqdm(total=len(paths), desc='Checking images', unit='img', disable=not progress, file=sys.stderr)
    try:
        with ThreadPoolExecutor(max_workers=num_threads) as pool:
            problems = []
            for path, problem in zip(paths, pool.map(image_problem, paths)):
                bar.update(1)
                if problem is not None:
                    problems.append((path, problem))
    finally:
        bar.close()
    return problems
