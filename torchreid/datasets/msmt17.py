"""MSMT17 (Wei et al., CVPR 2018): 4,101 identities, 15 cameras, the official lists; version 1 or 2."""
import os

from .base import BaseImageDataset, check_required_paths, first_existing_dir

LAYOUT = """\
<root>/msmt17/MSMT17_V1/           (MSMT17_V1.tar.gz extracted in <root>/msmt17/; a bare <root>/MSMT17_V1/ works too)
    train/0000/0000_000_01_0303morning_0015_0.jpg ...
    test/0000/0000_000_01_0303morning_0035_1.jpg ...
    list_train.txt  list_val.txt  list_query.txt  list_gallery.txt
or, for version 2 (faces blurred), <root>/msmt17/MSMT17_V2/:
    mask_train_v2/0000/...  mask_test_v2/0000/...
    list_train.txt  list_val.txt  list_query.txt  list_gallery.txt"""

# version folder -> (train image folder, test image folder); V1 is used when both are present.
VERSIONS = (('MSMT17_V1', 'train', 'test'), ('MSMT17_V2', 'mask_train_v2', 'mask_test_v2'))


def read_list(list_path, images_dir):
    """``(path, pid, camid)`` of the lines ``<relative path> <pid>`` of an MSMT17 list file.

    The camera is the third ``_``-separated field of the name (01..15), made 0-based.
    """
    samples = []
    with open(list_path) as f:
        for line_number, line in enumerate(f, 1):
            line = line.strip()
            if not line:
                continue
            fields = line.split()
            name_fields = fields[0].split('_')
            if len(fields) != 2 or len(name_fields) < 3 or not (fields[1].isdigit() and name_fields[2].isdigit()):
                raise ValueError("{}:{}: expected '<pid folder>/<pid>_<index>_<camera>_... <pid>', got '{}'".format(
                    list_path, line_number, line))
            samples.append((os.path.join(images_dir, *fields[0].split('/')), int(fields[1]), int(name_fields[2]) - 1))
    return samples


class MSMT17(BaseImageDataset):
    """MSMT17 from its list files: ``list_train`` -> train, ``list_query`` / ``list_gallery`` -> query / gallery.

    Version 1 (``MSMT17_V1/{train,test}``) or version 2 (``MSMT17_V2/{mask_train_v2,mask_test_v2}``, the same
    images with blurred faces and the same list files); V1 is read when both are there. ``version`` says which.

    ``list_val.txt`` holds more images of the train identities. As in the seed and in the published benchmark
    numbers it is left out of train unless ``add_val_to_train=True``; combineall adds it. Camids are 0..14.
    Train pids are relabelled (the list's pids are already 0..1040).

    Statistics: train 1,041 ids / 30,248 images (32,621 with val), query 3,060 / 11,659, gallery 3,060 / 82,161.

    Args:
        root (str): folder holding ``msmt17/`` (or a bare ``MSMT17_V1/`` or ``MSMT17_V2/``).
        add_val_to_train (bool): also train on the ``list_val.txt`` images.
    """
    dataset_dir = 'msmt17'
    docs_section = 'MSMT17'

    def __init__(self, root='data', add_val_to_train=False, verbose=True, **kwargs):
        candidates = [os.path.join(parent, version) for version, _, _ in VERSIONS
                      for parent in (os.path.join(root, self.dataset_dir), root)]
        self.dataset_dir = first_existing_dir(candidates, marker='list_train.txt')
        self.version, train_folder, test_folder = [entry for entry in VERSIONS
                                                   if entry[0] == os.path.basename(self.dataset_dir)][0]
        self.train_dir = os.path.join(self.dataset_dir, train_folder)
        test_dir = os.path.join(self.dataset_dir, test_folder)
        self.lists = {name: os.path.join(self.dataset_dir, 'list_{}.txt'.format(name))
                      for name in ('train', 'val', 'query', 'gallery')}
        required = [self.train_dir, test_dir, self.lists['train'], self.lists['query'], self.lists['gallery']]
        if add_val_to_train:
            required.append(self.lists['val'])
        check_required_paths(required, LAYOUT, self.docs_section)

        train = read_list(self.lists['train'], self.train_dir)
        if add_val_to_train:
            train += read_list(self.lists['val'], self.train_dir)
        self.val_in_train = add_val_to_train
        self.label_of = {pid: label for label, pid in enumerate(sorted({pid for _, pid, _ in train}))}
        query = read_list(self.lists['query'], test_dir)
        gallery = read_list(self.lists['gallery'], test_dir)
        train = [(path, self.label_of[pid], camid) for path, pid, camid in train]
        super(MSMT17, self).__init__(train, query, gallery, verbose=verbose)

    def combineall_extra_train(self):
        """The ``list_val.txt`` images (train identities), labelled like train; none if already in train."""
        if self.val_in_train:
            return []
        check_required_paths([self.lists['val']], LAYOUT, self.docs_section)
        samples = read_list(self.lists['val'], self.train_dir)
        unknown = sorted({pid for _, pid, _ in samples} - set(self.label_of))
        if unknown:
            raise ValueError("'{}' has pids that list_train.txt does not have (e.g. {}): the list files do not "
                             "belong together".format(self.lists['val'], unknown[0]))
        return [(path, self.label_of[pid], camid) for path, pid, camid in samples]
