"""PRID450S (Roth et al., 2014): 450 identities, one image in each of 2 cameras, 10 random splits."""
import os
import re

from .base import BaseImageDataset, check_required_paths, load_or_make_split, relabel
from .download import download_dataset
from .viper import random_train_pids

LAYOUT = """\
<root>/prid450s/                   (downloaded and extracted automatically from prid_450s.zip)
    cam_a/img_0001.png ... img_0450.png   (the man_XXXX.png masks next to them are ignored)
    cam_b/img_0001.png ... img_0450.png
    readme.txt
    splits.json                    (written on first use)"""

PRID450S_NAME = re.compile(r'^img_(\d+)\.png$')


class PRID450S(BaseImageDataset):
    """PRID450S: ``img_<id>.png`` in ``cam_a`` (camid 0) and ``cam_b`` (camid 1) show person ``id`` (1..450).

    Splits (made once from a fixed seed, kept in ``splits.json`` with paths relative to ``prid450s/``): 10 random
    partitions of the ids into 225 train ids (relabelled 0..224, both cameras) and 225 test ids. Query and gallery
    are both all test images of both cameras with their raw id; the cross-camera rule of the evaluation turns this
    into a two-way cross-view test. Per split: train 225 ids / 450 images, query 225 / 450, gallery 225 / 450;
    "total" counts train + query images. (The seed drew train indices from 0..449 but matched them against ids
    1..450, so id 450 was never in train; here the ids themselves are drawn.)

    Args:
        root (str): folder holding ``prid450s/``; the dataset is downloaded there when missing.
        split_id (int): which of the 10 splits (0..9).
    """
    dataset_dir = 'prid450s'
    dataset_url = 'https://files.icg.tugraz.at/f/8c709245bb/?raw=1'
    archive_name = 'prid_450s.zip'
    docs_section = 'PRID450S'

    def __init__(self, root='data', split_id=0, verbose=True, **kwargs):
        self.dataset_dir = os.path.join(root, self.dataset_dir)
        cam_dirs = [os.path.join(self.dataset_dir, camera) for camera in ('cam_a', 'cam_b')]
        if not all(os.path.isdir(path) for path in cam_dirs):
            download_dataset(self.dataset_dir, self.dataset_url, archive_name=self.archive_name, layout=LAYOUT,
                             docs_section=self.docs_section)
        check_required_paths(cam_dirs, LAYOUT, self.docs_section)

        split_path = os.path.join(self.dataset_dir, 'splits.json')
        split = load_or_make_split(split_path, self.dataset_dir, lambda: make_splits(self.read_images(*cam_dirs)),
                                   split_id, 'PRID450S', verbose)
        super(PRID450S, self).__init__(split['train'], split['query'], split['gallery'], verbose=verbose,
                                       total_images=len(split['train']) + len(split['query']))

    @staticmethod
    def read_images(cam_a_dir, cam_b_dir):
        """``(path, id, camid)`` of the ``img_<id>.png`` images of both cameras; both must hold the same ids."""
        samples = []
        ids_per_camera = []
        for camid, folder in enumerate((cam_a_dir, cam_b_dir)):
            ids = set()
            for name in sorted(os.listdir(folder)):
                match = PRID450S_NAME.match(name)
                if match is not None:
                    samples.append((os.path.join(folder, name), int(match.group(1)), camid))
                    ids.add(int(match.group(1)))
            ids_per_camera.append(ids)
        if not ids_per_camera[0] or ids_per_camera[0] != ids_per_camera[1]:
            raise ValueError("'{}' and '{}' must hold img_<id>.png images of the same ids (got {} and {} ids, {} in "
                             "common)".format(cam_a_dir, cam_b_dir, len(ids_per_camera[0]), len(ids_per_camera[1]),
                                              len(ids_per_camera[0] & ids_per_camera[1])))
        return samples


def make_splits(samples, num_partitions=10):
    """10 splits: train = the images of a random half of the ids (relabelled), query = gallery = all the others."""
    splits = []
    for train_pids in random_train_pids({pid for _, pid, _ in samples}, num_partitions):
        train = relabel([sample for sample in samples if sample[1] in train_pids])
        test = [sample for sample in samples if sample[1] not in train_pids]
        splits.append({'train': train, 'query': test, 'gallery': test})
    return splits
