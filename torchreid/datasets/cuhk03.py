"""CUHK03 (Li et al., CVPR 2014): 1,467 identities seen by 5 camera pairs, hand-labeled and detected boxes.

Two protocols: the new 767/700 split of Zhong et al. (CVPR 2017, the default) and the 20 classic splits of the
original paper (``cuhk03_classic_split=True``).
"""
import os

import numpy as np

from .base import BaseImageDataset, check_required_paths, load_or_make_split, relabel

LAYOUT = """\
<root>/cuhk03/
    cuhk03_release/cuhk-03.mat                    (cuhk03_release.zip extracted here; a MATLAB v7.3 file)
    cuhk03_new_protocol_config_detected.mat       (both from zhunzhong07/person-re-ranking,
    cuhk03_new_protocol_config_labeled.mat         evaluation/data/CUHK03; used by the default new split)
    images_detected/ images_labeled/              (written on first use, e.g. 1_001_1_01.png)
    splits_{classic,new}_{detected,labeled}.json   (written on first use)"""

# <camera pair 1..5>_<person in the pair, 1-based>_<view 1|2>_<image 1..10>.png
IMAGE_NAME = '{}_{:03d}_{}_{:02d}.png'


def view_of(image_name):
    """0-based camid of a CUHK03 image name: its view (1 or 2) minus 1."""
    return int(image_name.split('_')[2]) - 1


def _is_empty(dataset):
    """True for an empty MATLAB cell (stored as a [0 0] uint64 vector with the attribute MATLAB_empty)."""
    return bool(dataset.attrs.get('MATLAB_empty', 0)) or dataset.ndim != 3 or dataset.size == 0


def _save_png(image, path):
    """Write ``image`` (H, W, 3) uint8 as a PNG via a temporary file, so an interrupted run leaves no broken file."""
    from PIL import Image
    tmp_path = path + '.tmp'
    Image.fromarray(np.ascontiguousarray(image)).save(tmp_path, format='PNG')
    os.replace(tmp_path, path)


def extract_images(mat, image_type, images_dir):
    """Write the ``image_type`` ('detected' or 'labeled') images of the opened cuhk-03.mat as PNGs (once).

    The variable is a 5 x 1 cell (one per camera pair) of (persons x 10) cells of H x W x 3 uint8 images; columns
    0-4 are view 1 and 5-9 view 2, and persons with fewer images have empty cells. HDF5 stores MATLAB arrays
    transposed, hence the ``.T``. Images already on disk are not written again.

    Returns:
        list of ``(pair, person, [image names])``, pair and person 1-based, in file order.
    """
    os.makedirs(images_dir, exist_ok=True)
    persons = []
    for pair_index, pair_ref in enumerate(mat[image_type][()].ravel()):
        person_cells = mat[pair_ref][()].T
        for person_index in range(person_cells.shape[0]):
            names = []
            for image_index, image_ref in enumerate(person_cells[person_index]):
                image = mat[image_ref]
                if _is_empty(image):
                    continue
                view = 1 if image_index < 5 else 2
                name = IMAGE_NAME.format(pair_index + 1, person_index + 1, view, image_index + 1)
                path = os.path.join(images_dir, name)
                if not os.path.exists(path):
                    _save_png(image[()].T, path)
                names.append(name)
            if not names:
                raise ValueError('CUHK03 {} person {} of camera pair {} has no image'.format(
                    image_type, person_index + 1, pair_index + 1))
            persons.append((pair_index + 1, person_index + 1, names))
    return persons


def classic_splits(mat, persons, images_dir):
    """The classic splits: one per entry of ``testsets`` (a 20 x 1 cell of 100 x 2 [pair, person] matrices).

    The listed persons form the test set (pids 0..99 in file order, query = gallery = test); every other person of
    all 5 pairs is train (relabelled in file order, 1,367 ids), as in the seed.
    """
    known = {(pair, person) for pair, person, _ in persons}
    splits = []
    for test_ref in mat['testsets'][()].ravel():
        test_keys = {(int(pair), int(person)) for pair, person in mat[test_ref][()].T}
        unknown = test_keys - known
        if unknown:
            raise ValueError('cuhk-03.mat testsets name (pair, person) {} that have no images'.format(sorted(unknown)))
        train, test = [], []
        num_train_pids = num_test_pids = 0
        for pair, person, names in persons:
            if (pair, person) in test_keys:
                test.extend((os.path.join(images_dir, name), num_test_pids, view_of(name)) for name in names)
                num_test_pids += 1
            else:
                train.extend((os.path.join(images_dir, name), num_train_pids, view_of(name)) for name in names)
                num_train_pids += 1
        splits.append({'train': train, 'query': test, 'gallery': test})
    return splits


def new_protocol_split(config_path, images_dir):
    """The 767/700 split from a ``cuhk03_new_protocol_config_*.mat`` file (an old-format .mat: scipy reads it).

    ``filelist`` names the images, ``labels`` their pids, and ``train_idx`` / ``query_idx`` / ``gallery_idx`` are
    1-based indices into both. Train is relabelled in sorted pid order; query and gallery keep the labels.
    """
    from scipy.io import loadmat
    config = loadmat(config_path)
    filelist = [str(np.asarray(item).ravel()[0]) for item in config['filelist'].ravel()]
    labels = np.asarray(config['labels']).ravel().astype(np.int64)
    on_disk = set(os.listdir(images_dir))
    missing = [name for name in filelist if name not in on_disk]
    if missing:
        raise ValueError("'{}' lists {} images that '{}' does not hold (e.g. '{}'): the file does not match this "
                         "cuhk-03.mat".format(config_path, len(missing), images_dir, missing[0]))

    def subset(key):
        indices = np.asarray(config[key]).ravel().astype(np.int64) - 1
        return [(os.path.join(images_dir, filelist[i]), int(labels[i]), view_of(filelist[i])) for i in indices]
    return {'train': relabel(subset('train_idx')), 'query': subset('query_idx'), 'gallery': subset('gallery_idx')}


class CUHK03(BaseImageDataset):
    """CUHK03 with the detected (default) or labeled boxes and the new (default) or classic protocol.

    On first use the boxes of ``cuhk-03.mat`` are written as PNGs to ``images_<type>/`` and the splits to
    ``splits_<protocol>_<type>.json`` (paths relative to ``cuhk03/``). Camids are the view, 0-based.

    Statistics (new protocol): detected train 767 ids / 7,365 images, query 700 / 1,400, gallery 700 / 5,332;
    labeled train 767 / 7,368, query 700 / 1,400, gallery 700 / 5,328. Classic: 1,367 train ids and 100 test ids
    per split, query = gallery. "total" counts train + query images.

    Args:
        root (str): folder holding ``cuhk03/``.
        split_id (int): split index (new protocol: 0 only; classic: 0..19).
        cuhk03_labeled (bool): use the hand-labeled boxes instead of the detected ones.
        cuhk03_classic_split (bool): use the 20 classic splits; evaluate them with ``--use-metric-cuhk03``.
    """
    dataset_dir = 'cuhk03'
    docs_section = 'CUHK03'

    def __init__(self, root='data', split_id=0, cuhk03_labeled=False, cuhk03_classic_split=False, verbose=True,
                 **kwargs):
        self.dataset_dir = os.path.join(root, self.dataset_dir)
        self.image_type = 'labeled' if cuhk03_labeled else 'detected'
        self.protocol = 'classic' if cuhk03_classic_split else 'new'
        images_dir = os.path.join(self.dataset_dir, 'images_' + self.image_type)
        split_path = os.path.join(self.dataset_dir, 'splits_{}_{}.json'.format(self.protocol, self.image_type))

        split = load_or_make_split(split_path, self.dataset_dir, lambda: self.prepare(images_dir), split_id,
                                   'CUHK03 ({} protocol)'.format(self.protocol), verbose)
        super(CUHK03, self).__init__(split['train'], split['query'], split['gallery'], verbose=verbose,
                                     total_images=len(split['train']) + len(split['query']))

    @property
    def name(self):
        return 'CUHK03 ({})'.format(self.image_type)

    def prepare(self, images_dir):
        """Write the images (where missing) and build this protocol's splits from the .mat files."""
        import h5py
        raw_mat_path = os.path.join(self.dataset_dir, 'cuhk03_release', 'cuhk-03.mat')
        config_path = os.path.join(self.dataset_dir, 'cuhk03_new_protocol_config_{}.mat'.format(self.image_type))
        required = [raw_mat_path] if self.protocol == 'classic' else [raw_mat_path, config_path]
        check_required_paths(required, LAYOUT, self.docs_section)
        print("Preparing CUHK03 ({}, {} protocol) in '{}' (first use only)".format(
            self.image_type, self.protocol, self.dataset_dir))
        with h5py.File(raw_mat_path, 'r') as mat:
            persons = extract_images(mat, self.image_type, images_dir)
            if self.protocol == 'classic':
                return classic_splits(mat, persons, images_dir)
        return [new_protocol_split(config_path, images_dir)]
