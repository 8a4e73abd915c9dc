"""GRID (Loy et al., CVPR 2009): 250 paired identities + 775 gallery distractors, 8 cameras, 10 official splits."""
import os

import numpy as np

from .base import BaseImageDataset, check_required_paths, check_split_id
from .download import download_dataset

LAYOUT = """\
<root>/grid/                       (downloaded and extracted automatically from underground_reid.zip)
    underground_reid/probe/0001_1_25004_107_32_130.jpeg ...      (250 images, ids 1..250)
    underground_reid/gallery/0001_5_25002_153_37_129.jpeg ...    (1,025 images; id 0000 = unpaired person)
    underground_reid/features_and_partitions.mat                 (variable trainIdxAll: 1 x 10 cell)"""


def read_grid_folder(folder):
    """``(path, id, camid)`` of the ``<id>_<camera>_...jpeg`` images of ``folder``; cameras 1..8 -> camids 0..7."""
    samples = []
    for name in sorted(os.listdir(folder)):
        if not name.lower().endswith('.jpeg'):
            continue
        fields = name.split('_')
        if len(fields) < 2 or not (fields[0].isdigit() and fields[1].isdigit()) or not 1 <= int(fields[1]) <= 8:
            raise ValueError("'{}' is not a GRID image name ('<id>_<camera 1..8>_....jpeg')".format(
                os.path.join(folder, name)))
        samples.append((os.path.join(folder, name), int(fields[0]), int(fields[1]) - 1))
    return samples


def read_train_ids(split_mat_path):
    """The training ids of each partition of ``features_and_partitions.mat``, as a list of lists.

    ``trainIdxAll`` is a 1 x 10 cell; each cell holds a 1 x 1 struct whose third field is the 1 x 125 row of
    training ids (1..250). The field is read by position, as the seed did.
    """
    from scipy.io import loadmat
    partitions = loadmat(split_mat_path)['trainIdxAll']
    train_ids = []
    for cell in partitions.ravel():
        record = np.asarray(cell).ravel()[0]
        train_ids.append([int(i) for i in np.asarray(record[2]).ravel()])
    return train_ids


class GRID(BaseImageDataset):
    """GRID: the probe folder holds one image of each of 250 persons, the gallery folder one of each of them plus 775
    images of unpaired people (id 0).

    Split k takes the 125 training ids of partition k: their probe and gallery images form train (relabelled in
    sorted id order). The other probe images are the query and the other gallery images, distractors included,
    the gallery; both keep their ids. Camids are 0-based (cameras 1..8 -> 0..7).

    Every distractor image is a different person, so the gallery counts 125 + 775 = 900 identities (as the seed
    printed), although the distractors share id 0 (they match no query either way). Per split: train 125 ids /
    250 images, query 125 / 125, gallery 900 / 900; total ids = train + gallery = 1,025.

    Args:
        root (str): folder holding ``grid/``; the dataset is downloaded there when missing.
        split_id (int): which of the 10 splits (0..9).
    """
    dataset_dir = 'grid'
    dataset_url = 'http://personal.ie.cuhk.edu.hk/~ccloy/files/datasets/underground_reid.zip'
    docs_section = 'GRID'
    distractor_id = 0
    combineall_junk_pids = (0,)  # the unpaired gallery persons

    def __init__(self, root='data', split_id=0, verbose=True, **kwargs):
        self.dataset_dir = os.path.join(root, self.dataset_dir)
        data_dir = os.path.join(self.dataset_dir, 'underground_reid')
        probe_dir = os.path.join(data_dir, 'probe')
        gallery_dir = os.path.join(data_dir, 'gallery')
        split_mat_path = os.path.join(data_dir, 'features_and_partitions.mat')
        required = [probe_dir, gallery_dir, split_mat_path]
        if not all(os.path.exists(path) for path in required):
            download_dataset(self.dataset_dir, self.dataset_url, layout=LAYOUT, docs_section=self.docs_section)
        check_required_paths(required, LAYOUT, self.docs_section)

        partitions = read_train_ids(split_mat_path)
        check_split_id(split_id, len(partitions), 'GRID')
        train_ids = set(partitions[split_id])
        label_of = {pid: label for label, pid in enumerate(sorted(train_ids))}
        probe = read_grid_folder(probe_dir)
        gallery_images = read_grid_folder(gallery_dir)
        train = [(path, label_of[pid], camid) for path, pid, camid in probe + gallery_images if pid in train_ids]
        query = [sample for sample in probe if sample[1] not in train_ids]
        gallery = [sample for sample in gallery_images if sample[1] not in train_ids]

        num_distractors = sum(1 for _, pid, _ in gallery if pid == self.distractor_id)
        num_gallery_pids = len({pid for _, pid, _ in gallery if pid != self.distractor_id}) + num_distractors
        num_train_pids = len({pid for _, pid, _ in train})
        if verbose:
            print('Split index = {}'.format(split_id))
        super(GRID, self).__init__(train, query, gallery, verbose=verbose, num_gallery_pids=num_gallery_pids,
                                   total_ids=num_train_pids + num_gallery_pids)
