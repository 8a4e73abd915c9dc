"""CUHK02 (Li and Wang, CVPR 2013): 1,816 identities in five camera pairs P1..P5; P1-P4 train, P5 test."""
import os

from .base import BaseImageDataset, check_required_paths

LAYOUT = """\
<root>/cuhk02/Dataset/
    P1/cam1/<pid>_<image>.png  P1/cam2/<pid>_<image>.png    (971 persons; P1 is CUHK01)
    P2/cam1/ P2/cam2/  ...  P5/cam1/ P5/cam2/                  (306, 107, 193 and 239 persons)"""

CAMERA_PAIRS = ('P1', 'P2', 'P3', 'P4', 'P5')
TEST_PAIR = 'P5'


def read_camera_folder(folder):
    """``(path, person id string)`` of the ``<id>_<anything>.png`` images of ``folder``, sorted by name."""
    samples = []
    for name in sorted(os.listdir(folder)):
        if not name.lower().endswith('.png'):
            continue
        person = name.split('_')[0]
        if '_' not in name or not person:
            raise ValueError("'{}' is not a CUHK02 image name ('<person id>_<image>.png')".format(
                os.path.join(folder, name)))
        samples.append((os.path.join(folder, name), person))
    if not samples:
        raise ValueError("'{}' holds no CUHK02 .png images".format(folder))
    return samples


class CUHK02(BaseImageDataset):
    """CUHK02 with the usual protocol: the camera pairs P1-P4 are the training set, P5 the test set.

    Every camera has its own camid: P1 cam1/cam2 -> 0/1, P2 -> 2/3, P3 -> 4/5, P4 -> 6/7, and P5's cam1 (the
    query) -> 8, cam2 (the gallery) -> 9. A person is the name's prefix before ``_``; persons of different pairs
    are different people, so train pids are numbered pair after pair (0..N-1, sorted within a pair). Query and
    gallery pids are the P5 prefixes as numbers.

    Statistics: train 1,577 ids (P1-P4), query 239 / gallery 239 ids (P5). P1 is CUHK01: don't test on CUHK01
    after training on CUHK02.

    Args:
        root (str): folder holding ``cuhk02/``.
    """
    dataset_dir = 'cuhk02'
    docs_section = 'CUHK02'

    def __init__(self, root='data', verbose=True, **kwargs):
        self.dataset_dir = os.path.join(root, self.dataset_dir, 'Dataset')
        camera_dirs = [os.path.join(self.dataset_dir, pair, camera) for pair in CAMERA_PAIRS
                       for camera in ('cam1', 'cam2')]
        check_required_paths([self.dataset_dir] + camera_dirs, LAYOUT, self.docs_section)

        train, query, gallery = [], [], []
        camid = 0
        for pair in CAMERA_PAIRS:
            cameras = [read_camera_folder(os.path.join(self.dataset_dir, pair, camera)) for camera in ('cam1', 'cam2')]
            if pair == TEST_PAIR:
                for subset, images in zip((query, gallery), cameras):
                    for path, person in images:
                        if not person.isdigit():
                            raise ValueError("'{}': test person ids must be numbers".format(path))
                        subset.append((path, int(person), camid))
                    camid += 1
                continue
            label_offset = len({pid for _, pid, _ in train})
            persons = sorted({person for images in cameras for _, person in images})
            label_of = {person: label_offset + label for label, person in enumerate(persons)}
            for images in cameras:
                train += [(path, label_of[person], camid) for path, person in images]
                camid += 1
        super(CUHK02, self).__init__(train, query, gallery, verbose=verbose)
