"""VIPeR (Gray et al., PETS 2007): 632 identities, one image in each of 2 cameras, 10 random partitions x 2 = 20 splits.

Also home of the random two-view split protocol that CUHK01 and PRID450S follow.
"""
import os

import numpy as np

from .base import BaseImageDataset, check_required_paths, load_or_make_split, relabel
from .download import download_dataset

LAYOUT = """\
<root>/viper/                      (downloaded and extracted automatically from VIPeR.v1.0.zip)
    VIPeR/cam_a/000_45.bmp ...     (632 images; the i-th files of cam_a and cam_b show the same person)
    VIPeR/cam_b/000_45.bmp ...
    splits.json                    (written on first use)"""

# The random partitions are drawn from this seed, so every machine makes the same splits.
SPLIT_SEED = 0


def random_train_pids(pids, num_partitions, seed=SPLIT_SEED):
    """``num_partitions`` random halves of ``pids``: a list of sets of train pids (``len(pids) // 2`` each).

    Drawn with ``np.random.RandomState(seed)`` over the sorted pids, so the result is the same on every run.
    """
    pids = sorted(pids)
    rng = np.random.RandomState(seed)
    return [{pids[i] for i in rng.permutation(len(pids))[:len(pids) // 2]} for _ in range(num_partitions)]


def two_view_splits(samples, num_partitions=10, seed=SPLIT_SEED):
    """Random train/test splits of a two-view dataset, two per partition (VIPeR, CUHK01).

    Args:
        samples (list): ``(path, pid, view)`` of every image, view 0 or 1.

    Returns:
        list of ``{'train', 'query', 'gallery'}`` dicts: for each partition, the train half relabelled 0..N-1 in
        sorted pid order (both views), then query = view-0 test images / gallery = view-1 test images, followed by
        the same partition with the views swapped. Splits 2k and 2k+1 share a training set.
    """
    splits = []
    for train_pids in random_train_pids({pid for _, pid, _ in samples}, num_partitions, seed):
        train = relabel([sample for sample in samples if sample[1] in train_pids])
        test_views = [[sample for sample in samples if sample[1] not in train_pids and sample[2] == view]
                      for view in (0, 1)]
        splits.append({'train': train, 'query': test_views[0], 'gallery': test_views[1]})
        splits.append({'train': train, 'query': test_views[1], 'gallery': test_views[0]})
    return splits


class VIPeR(BaseImageDataset):
    """VIPeR: person ``i`` is the i-th image (sorted by name) of ``cam_a`` (camid 0) and of ``cam_b`` (camid 1).

    Splits (made once from a fixed seed, kept in ``splits.json`` with paths relative to ``viper/``): 10 random
    partitions into 316 train and 316 test persons; split 2k uses cam_a as query and cam_b as gallery, split 2k+1
    the reverse. Query and gallery pids are the person's index (0..631). Per split: train 316 ids / 632 images,
    query 316 / 316, gallery 316 / 316; "total" counts train + query images (query and gallery are symmetric).

    Args:
        root (str): folder holding ``viper/``; the dataset is downloaded there when missing.
        split_id (int): which of the 20 splits (0..19).
    """
    dataset_dir = 'viper'
    dataset_url = 'http://users.soe.ucsc.edu/~manduchi/VIPeR.v1.0.zip'
    docs_section = 'VIPeR'

    def __init__(self, root='data', split_id=0, verbose=True, **kwargs):
        self.dataset_dir = os.path.join(root, self.dataset_dir)
        cam_dirs = [os.path.join(self.dataset_dir, 'VIPeR', camera) for camera in ('cam_a', 'cam_b')]
        if not all(os.path.isdir(path) for path in cam_dirs):
            download_dataset(self.dataset_dir, self.dataset_url, layout=LAYOUT, docs_section=self.docs_section)
        check_required_paths(cam_dirs, LAYOUT, self.docs_section)

        split_path = os.path.join(self.dataset_dir, 'splits.json')
        split = load_or_make_split(split_path, self.dataset_dir, lambda: two_view_splits(self.read_images(*cam_dirs)),
                                   split_id, 'VIPeR', verbose)
        super(VIPeR, self).__init__(split['train'], split['query'], split['gallery'], verbose=verbose,
                                    total_images=len(split['train']) + len(split['query']))

    @staticmethod
    def read_images(cam_a_dir, cam_b_dir):
        """``(path, person index, view)`` of both cameras: the i-th names of the sorted lists are person i."""
        cam_a = sorted(name for name in os.listdir(cam_a_dir) if name.lower().endswith('.bmp'))
        cam_b = sorted(name for name in os.listdir(cam_b_dir) if name.lower().endswith('.bmp'))
        if len(cam_a) != len(cam_b) or not cam_a:
            raise ValueError("'{}' and '{}' must hold the same (non-zero) number of .bmp images, got {} and {}".format(
                cam_a_dir, cam_b_dir, len(cam_a), len(cam_b)))
        samples = []
        for pid, (name_a, name_b) in enumerate(zip(cam_a, cam_b)):
            samples.append((os.path.join(cam_a_dir, name_a), pid, 0))
            samples.append((os.path.join(cam_b_dir, name_b), pid, 1))
        return samples
