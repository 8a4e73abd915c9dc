"""CUHK01 (Li et al., ACCV 2012): 971 identities, 2 images in each of 2 views, 10 random partitions x 2 = 20 splits."""
import os
import re

from .base import BaseImageDataset, check_required_paths, load_or_make_split
from .download import extract_archive
from .viper import two_view_splits

LAYOUT = """\
<root>/cuhk01/
    CUHK01.zip                     (placed by hand; extracted automatically into campus/)
    campus/0001001.png 0001002.png 0001003.png 0001004.png 0002001.png ...   (3,884 images)
    splits.json                    (written on first use)"""

# 'PPPPCCC.png': 4-digit person number (1-based) and 3-digit camera number 1..4.
CUHK01_NAME = re.compile(r'^(\d{4})(\d{3})\.png$')


class CUHK01(BaseImageDataset):
    """CUHK01 (the "campus" images): cameras 1-2 are view A (camid 0) and 3-4 view B (camid 1).

    Splits (made once from a fixed seed, kept in ``splits.json`` with paths relative to ``cuhk01/``): 10 random
    partitions into 485 train and 486 test persons; split 2k uses view A as query and view B as gallery, split 2k+1
    the reverse. pid = person number - 1 for query and gallery. Per split: train 485 ids / 1,940 images,
    query 486 / 972, gallery 486 / 972; "total" counts train + query images.

    Args:
        root (str): folder holding ``cuhk01/``.
        split_id (int): which of the 20 splits (0..19).
    """
    dataset_dir = 'cuhk01'
    docs_section = 'CUHK01'

    def __init__(self, root='data', split_id=0, verbose=True, **kwargs):
        self.dataset_dir = os.path.join(root, self.dataset_dir)
        campus_dir = os.path.join(self.dataset_dir, 'campus')
        zip_path = os.path.join(self.dataset_dir, 'CUHK01.zip')
        if not os.path.isdir(campus_dir):
            check_required_paths([zip_path], LAYOUT, self.docs_section)
            extract_archive(zip_path, self.dataset_dir)
        check_required_paths([campus_dir], LAYOUT, self.docs_section)

        split_path = os.path.join(self.dataset_dir, 'splits.json')
        split = load_or_make_split(split_path, self.dataset_dir, lambda: two_view_splits(self.read_images(campus_dir)),
                                   split_id, 'CUHK01', verbose)
        super(CUHK01, self).__init__(split['train'], split['query'], split['gallery'], verbose=verbose,
                                     total_images=len(split['train']) + len(split['query']))

    @staticmethod
    def read_images(campus_dir):
        """``(path, person number - 1, view)`` of every ``campus/*.png`` image, sorted by name."""
        samples = []
        for name in sorted(os.listdir(campus_dir)):
            if not name.lower().endswith('.png'):
                continue
            match = CUHK01_NAME.match(name)
            if match is None or not 1 <= int(match.group(2)) <= 4:
                raise ValueError("'{}' is not a CUHK01 image name ('PPPPCCC.png', camera CCC 001..004)".format(
                    os.path.join(campus_dir, name)))
            samples.append((os.path.join(campus_dir, name), int(match.group(1)) - 1, (int(match.group(2)) - 1) // 2))
        if not samples:
            raise ValueError("'{}' holds no CUHK01 images".format(campus_dir))
        return samples
