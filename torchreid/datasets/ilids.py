"""iLIDS single-shot: the still images of iLIDS-VID (one per person and camera), 300 persons, 10 official splits."""
import os

from .base import BaseImageDataset, check_required_paths, check_split_id
from .download import download_dataset
from .ilidsvid import read_splits
from .tracklets import list_subfolders

LAYOUT = """\
<root>/ilids-vid/                  (downloaded and extracted automatically from iLIDS-VID.tar; shared with iLIDS-VID)
    i-LIDS-VID/images/cam1/person001/cam1_person001.png ...   (one image per person folder)
    i-LIDS-VID/images/cam2/person001/cam2_person001.png ...
    train-test people splits/train_test_splits_ilidsvid.mat   (variable ls_set, 10 x 300)"""


class iLIDS(BaseImageDataset):
    """iLIDS single-shot, read from the ``images`` folders of iLIDS-VID.

    Split ``k`` is row ``k`` of ``ls_set``: 1-based indices into the sorted person folders of cam1, the first half
    test persons and the second half train persons (the same splits as the iLIDS-VID video reader). A person's pid
    is its position in its (sorted) list, so train pids are 0..149. Train holds both cameras' images; query the cam1
    images (camid 0) and gallery the cam2 images (camid 1) of the test persons. Per split: train 150 ids / 300
    images, query 150 / 150, gallery 150 / 150; "total" counts train + query images.

    Args:
        root (str): folder holding ``ilids-vid/``; the dataset is downloaded there when missing.
        split_id (int): which of the 10 splits (0..9).
    """
    dataset_dir = 'ilids-vid'
    dataset_url = 'http://www.eecs.qmul.ac.uk/~xiatian/iLIDS-VID/iLIDS-VID.tar'
    docs_section = 'iLIDS'

    def __init__(self, root='data', split_id=0, verbose=True, **kwargs):
        self.dataset_dir = os.path.join(root, self.dataset_dir)
        images_dir = os.path.join(self.dataset_dir, 'i-LIDS-VID', 'images')
        cam_dirs = [os.path.join(images_dir, 'cam1'), os.path.join(images_dir, 'cam2')]
        split_mat_path = os.path.join(self.dataset_dir, 'train-test people splits', 'train_test_splits_ilidsvid.mat')
        required = cam_dirs + [split_mat_path]
        if not all(os.path.exists(path) for path in required):
            download_dataset(self.dataset_dir, self.dataset_url, layout=LAYOUT, docs_section=self.docs_section)
        check_required_paths(required, LAYOUT, self.docs_section)

        splits = read_splits(split_mat_path, list_subfolders(cam_dirs[0]))
        check_split_id(split_id, len(splits), 'iLIDS')
        split = splits[split_id]
        cameras = list(enumerate(cam_dirs))
        train = self.read_persons(split['train'], cameras)
        query = self.read_persons(split['test'], cameras[:1])
        gallery = self.read_persons(split['test'], cameras[1:])
        if verbose:
            print('Split index = {}'.format(split_id))
        super(iLIDS, self).__init__(train, query, gallery, verbose=verbose, total_images=len(train) + len(query))

    @staticmethod
    def read_persons(person_names, cameras):
        """``(path, position in person_names, camid)`` of the single image of each person in each camera.

        ``cameras`` is a list of ``(camid, camera folder)``.
        """
        samples = []
        for pid, person in enumerate(person_names):
            for camid, cam_dir in cameras:
                person_dir = os.path.join(cam_dir, person)
                images = sorted(name for name in os.listdir(person_dir) if name.lower().endswith('.png')) \
                    if os.path.isdir(person_dir) else []
                if len(images) != 1:
                    raise ValueError("'{}' must hold exactly one .png image, found {}".format(person_dir, len(images)))
                samples.append((os.path.join(person_dir, images[0]), pid, camid))
        return samples
