"""PRID2011 video re-id benchmark (Hirzer et al., SCIA 2011), multi-shot, with the 10 splits of iLIDS-VID's authors."""
import os

from ..utils.iotools import read_json
from .base import BaseVideoDataset, check_required_paths, check_split_id, relabel
from .tracklets import two_camera_split

SPLITS_URL = 'http://www.eecs.qmul.ac.uk/~kz303/deep-person-reid/datasets/prid2011/splits_prid2011.json'
LAYOUT = """\
<root>/prid2011/
    splits_prid2011.json   (download by hand from {})
    prid_2011/multi_shot/cam_a/person_0001/0001.png ...
    prid_2011/multi_shot/cam_b/person_0001/0001.png ...""".format(SPLITS_URL)


class PRID2011(BaseVideoDataset):
    """PRID2011 multi-shot: the 178 persons that both cameras see with long enough sequences.

    ``splits_prid2011.json`` is a list of 10 ``{'train': [person folders], 'test': [person folders]}`` (89/89).
    Train holds both cameras' tracklets; query the cam_a tracklets (camid 0) and gallery the cam_b tracklets
    (camid 1) of the test persons. Per split: train 89 ids / 178 tracklets, query 89 / 89, gallery 89 / 89.
    Frames are in temporal order.

    Args:
        root (str): folder holding ``prid2011/``.
        split_id (int): which of the 10 splits (0..9).
        min_seq_len (int): tracklets with fewer frames are dropped.
    """
    dataset_dir = 'prid2011'
    docs_section = 'PRID2011'

    def __init__(self, root='data', split_id=0, min_seq_len=0, verbose=True, **kwargs):
        self.dataset_dir = os.path.join(root, self.dataset_dir)
        split_path = os.path.join(self.dataset_dir, 'splits_prid2011.json')
        cam_a_path = os.path.join(self.dataset_dir, 'prid_2011', 'multi_shot', 'cam_a')
        cam_b_path = os.path.join(self.dataset_dir, 'prid_2011', 'multi_shot', 'cam_b')
        check_required_paths([self.dataset_dir, cam_a_path, cam_b_path, split_path], LAYOUT, self.docs_section)

        splits = read_json(split_path)
        check_split_id(split_id, len(splits), 'PRID2011')
        split = splits[split_id]
        if not isinstance(split, dict) or set(split) != {'train', 'test'}:
            raise ValueError("'{}' must be a list of {{'train': [...], 'test': [...]}} person folder lists".format(
                split_path))
        train, query, gallery = two_camera_split(split, cam_a_path, cam_b_path, '.png', min_seq_len)
        super(PRID2011, self).__init__(relabel(train), query, gallery, verbose=verbose)
