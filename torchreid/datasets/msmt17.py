"""MSMT17 (Wei et al., CVPR 2018), version 1: 4,101 identities, 15 cameras, the official lists."""
import os

from .base import BaseImageDataset, check_required_paths, first_existing_dir, relabel

LAYOUT = """\
<root>/msmt17/MSMT17_V1/           (MSMT17_V1.tar.gz extracted in <root>/msmt17/; a bare <root>/MSMT17_V1/ works too)
    train/0000/0000_000_01_0303morning_0015_0.jpg ...
    test/0000/0000_000_01_0303morning_0035_1.jpg ...
    list_train.txt  list_val.txt  list_query.txt  list_gallery.txt"""


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
    """MSMT17_V1 from its list files: ``list_train`` -> train, ``list_query`` / ``list_gallery`` -> query / gallery.

    ``list_val.txt`` holds more images of the train identities. As in the seed and in the published benchmark
    numbers it is left out of train unless ``add_val_to_train=True``. Camids are 0..14. Train pids are relabelled
    (the list's pids are already 0..1040).

    Statistics: train 1,041 ids / 30,248 images (32,621 with val), query 3,060 / 11,659, gallery 3,060 / 82,161.

    Args:
        root (str): folder holding ``msmt17/`` (or a bare ``MSMT17_V1/``).
        add_val_to_train (bool): also train on the ``list_val.txt`` images.
    """
    dataset_dir = 'msmt17'
    raw_folder = 'MSMT17_V1'
    docs_section = 'MSMT17'

    def __init__(self, root='data', add_val_to_train=False, verbose=True, **kwargs):
        self.dataset_dir = first_existing_dir([os.path.join(root, self.dataset_dir, self.raw_folder),
                                               os.path.join(root, self.raw_folder)], marker='list_train.txt')
        train_dir = os.path.join(self.dataset_dir, 'train')
        test_dir = os.path.join(self.dataset_dir, 'test')
        lists = {name: os.path.join(self.dataset_dir, 'list_{}.txt'.format(name))
                 for name in ('train', 'val', 'query', 'gallery')}
        required = [train_dir, test_dir, lists['train'], lists['query'], lists['gallery']]
        if add_val_to_train:
            required.append(lists['val'])
        check_required_paths(required, LAYOUT, self.docs_section)

        train = read_list(lists['train'], train_dir)
        if add_val_to_train:
            train += read_list(lists['val'], train_dir)
        query = read_list(lists['query'], test_dir)
        gallery = read_list(lists['gallery'], test_dir)
        super(MSMT17, self).__init__(relabel(train), query, gallery, verbose=verbose)
