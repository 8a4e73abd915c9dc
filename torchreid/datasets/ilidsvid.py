"""iLIDS-VID video re-id benchmark (Wang et al., ECCV 2014), with its 10 official train/test splits."""
import os

import numpy as np

from .base import BaseVideoDataset, check_required_paths, check_split_id, relabel
from .tracklets import list_subfolders, two_camera_split

LAYOUT = """\
<root>/ilids-vid/            (downloaded and extracted automatically from iLIDS-VID.tar)
    i-LIDS-VID/sequences/cam1/person001/cam1_person001_00317.png ...
    i-LIDS-VID/sequences/cam2/person001/cam2_person001_00317.png ...
    train-test people splits/train_test_splits_ilidsvid.mat   (variable ls_set, 10 x 300)"""


class iLIDSVID(BaseVideoDataset):
    """iLIDS-VID: 300 persons, one tracklet per person in each of 2 cameras (23 to 192 frames).

    Split ``k`` is row ``k`` of ``ls_set`` in ``train_test_splits_ilidsvid.mat``: 1-based indices into the sorted
    person folders of cam1; the first half are the test persons, the second half the train persons (following
    Wang et al.). Train holds both cameras' tracklets; query the cam1 tracklets (camid 0) and gallery the cam2
    tracklets (camid 1) of the test persons. Per split: train 150 ids / 300 tracklets, query 150 / 150,
    gallery 150 / 150. Frames are in temporal order.

    Args:
        root (str): folder holding ``ilids-vid/``; the dataset is downloaded there when missing.
        split_id (int): which of the 10 splits (0..9).
        min_seq_len (int): tracklets with fewer frames are dropped.
    """
    dataset_dir = 'ilids-vid'
    dataset_url = 'http://www.eecs.qmul.ac.uk/~xiatian/iLIDS-VID/iLIDS-VID.tar'
    docs_section = 'iLIDS-VID'

    def __init__(self, root='data', split_id=0, min_seq_len=0, verbose=True, **kwargs):
        self.dataset_dir = os.path.join(root, self.dataset_dir)
        sequences_dir = os.path.join(self.dataset_dir, 'i-LIDS-VID', 'sequences')
        cam1_path = os.path.join(sequences_dir, 'cam1')
        cam2_path = os.path.join(sequences_dir, 'cam2')
        split_mat_path = os.path.join(self.dataset_dir, 'train-test people splits', 'train_test_splits_ilidsvid.mat')
        required = [cam1_path, cam2_path, split_mat_path]
        if not all(os.path.exists(path) for path in required):
            self.download()
        check_required_paths(required, LAYOUT, self.docs_section)

        splits = read_splits(split_mat_path, list_subfolders(cam1_path))
        check_split_id(split_id, len(splits), 'iLIDS-VID')
        train, query, gallery = two_camera_split(splits[split_id], cam1_path, cam2_path, '.png', min_seq_len)
        super(iLIDSVID, self).__init__(relabel(train), query, gallery, verbose=verbose)

    def download(self):
        """Download and extract iLIDS-VID.tar into the dataset folder (a clear error with manual steps offline)."""
        from .download import download_dataset
        download_dataset(self.dataset_dir, self.dataset_url, layout=LAYOUT, docs_section=self.docs_section)


def read_splits(split_mat_path, person_names):
    """The splits of ``train_test_splits_ilidsvid.mat`` as ``[{'train': [person names], 'test': [...]}]``.

    Args:
        split_mat_path (str): the .mat file; its ``ls_set`` is (num_splits, num_persons) 1-based person indices.
        person_names (list of str): the sorted person folder names the indices point into.
    """
    from scipy.io import loadmat
    ls_set = np.asarray(loadmat(split_mat_path)['ls_set']).astype(np.int64)
    if ls_set.ndim != 2 or ls_set.shape[1] % 2 != 0:
        raise ValueError("'ls_set' in '{}' must be a (num_splits, even number of persons) matrix, got shape {}".format(
            split_mat_path, ls_set.shape))
    if ls_set.min() < 1 or ls_set.max() > len(person_names):
        raise ValueError("'{}' indexes persons {}..{}, but {} person folders exist".format(
            split_mat_path, ls_set.min(), ls_set.max(), len(person_names)))
    num_test = ls_set.shape[1] // 2
    splits = []
    for row in ls_set:
        splits.append({'train': [person_names[i - 1] for i in sorted(row[num_test:])],
                       'test': [person_names[i - 1] for i in sorted(row[:num_test])]})
    return splits
