"""DukeMTMC-reID (Ristani et al., ECCVW 2016; Zheng et al., ICCV 2017): 1,812 identities, 8 cameras."""
import os

from .base import BaseImageDataset, check_required_paths, first_existing_dir, relabel
from .download import download_dataset
from .generic import read_market_style_folder

LAYOUT = """\
<root>/dukemtmc-reid/              (downloaded and extracted automatically from DukeMTMC-reID.zip)
    DukeMTMC-reID/                 (a bare <root>/DukeMTMC-reID/ works too)
        bounding_box_train/0001_c2_f0046182.jpg ...
        query/0005_c2_f0046985.jpg ...
        bounding_box_test/0002_c1_f0044158.jpg ..."""

SUBSETS = ('bounding_box_train', 'query', 'bounding_box_test')


class DukeMTMCreID(BaseImageDataset):
    """DukeMTMC-reID: Market-style file names ``<pid>_c<camera>_f<frame>.jpg``; one fixed split.

    There are no junk images. Cameras c1..c8 become camids 0..7; train pids are relabelled 0..701. The gallery's
    408 extra identities are distractors (they appear in no query).

    Statistics: train 702 ids / 16,522 images, query 702 / 2,228, gallery 1,110 / 17,661.

    Args:
        root (str): folder holding ``dukemtmc-reid/`` (or a bare ``DukeMTMC-reID/``); downloaded there if missing.
    """
    dataset_dir = 'dukemtmc-reid'
    raw_folder = 'DukeMTMC-reID'
    dataset_url = 'http://vision.cs.duke.edu/DukeMTMC/data/misc/DukeMTMC-reID.zip'
    docs_section = 'DukeMTMC-reID'

    def __init__(self, root='data', verbose=True, **kwargs):
        self.dataset_dir = os.path.join(root, self.dataset_dir)
        candidates = [os.path.join(self.dataset_dir, self.raw_folder), os.path.join(root, self.raw_folder),
                      self.dataset_dir]
        self.data_dir = first_existing_dir(candidates, marker=SUBSETS[0])
        if not os.path.isdir(os.path.join(self.data_dir, SUBSETS[0])):
            download_dataset(self.dataset_dir, self.dataset_url, layout=LAYOUT, docs_section=self.docs_section)
            self.data_dir = candidates[0]
        subset_dirs = [os.path.join(self.data_dir, name) for name in SUBSETS]
        check_required_paths(subset_dirs, LAYOUT, self.docs_section)

        train, query, gallery = [self.read_subset(folder) for folder in subset_dirs]
        super(DukeMTMCreID, self).__init__(relabel(train), query, gallery, verbose=verbose)

    @staticmethod
    def read_subset(folder):
        samples = read_market_style_folder(folder, extensions=('.jpg',), drop_junk=False)
        for path, pid, camera in samples:
            if not 1 <= camera <= 8:
                raise ValueError("'{}' is not a DukeMTMC-reID image name (camera c1..c8)".format(path))
        return [(path, pid, camera - 1) for path, pid, camera in samples]
