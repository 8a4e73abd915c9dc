"""Market-1501 (Zheng et al., ICCV 2015): 1,501 identities, 6 cameras, one fixed split."""
import os

from .base import BaseImageDataset, check_required_paths, first_existing_dir, relabel
from .generic import read_market_style_folder

LAYOUT = """\
<root>/market1501/                 (or market1501/Market-1501-v15.09.15/, or <root>/Market-1501-v15.09.15/)
    bounding_box_train/0002_c1s1_000451_03.jpg ...
    query/0001_c1s1_001051_00.jpg ...
    bounding_box_test/-1_c1s1_000401_03.jpg, 0000_c1s1_000151_01.jpg, 0001_c1s1_001051_03.jpg ...
    images/0000_c1s1_000000_00.jpg ...    (only with market1501_500k: distractors_500k.zip extracted here)"""


class Market1501(BaseImageDataset):
    """Market-1501: ``bounding_box_train`` / ``query`` / ``bounding_box_test`` folders of Market-style file names.

    Junk boxes (pid -1) are dropped from every subset; distractors (pid 0) stay in the gallery and count as one
    gallery identity. Cameras c1..c6 become camids 0..5. Train pids are relabelled 0..750.

    Statistics: train 751 ids / 12,936 images, query 750 / 3,368, gallery 751 / 15,913 (750 test ids + pid 0);
    total 1,501 ids / 32,217 images.

    Market-1501+500k: ``market1501_500k=True`` appends the images of the authors' distractor set
    (``distractors_500k.zip``, extracted next to ``bounding_box_test/`` as ``images/``) to the gallery. They are
    read with the Market-1501 name rule and all count as background (pid 0), so they match no query.
    combineall leaves pid 0 (and -1) out of train.

    Args:
        root (str): folder holding ``market1501/`` (or the extracted ``Market-1501-v15.09.15/``).
        market1501_500k (bool): add the 500k distractors to the gallery.
    """
    combineall_junk_pids = (0, -1)
    dataset_dir = 'market1501'
    raw_folder = 'Market-1501-v15.09.15'
    docs_section = 'Market1501'

    def __init__(self, root='data', market1501_500k=False, verbose=True, **kwargs):
        self.dataset_dir = first_existing_dir([
            os.path.join(root, self.dataset_dir),
            os.path.join(root, self.dataset_dir, self.raw_folder),
            os.path.join(root, self.raw_folder),
        ], marker='bounding_box_train')
        subset_dirs = [os.path.join(self.dataset_dir, name) for name in ('bounding_box_train', 'query',
                                                                         'bounding_box_test')]
        distractor_dir = os.path.join(self.dataset_dir, 'images')
        check_required_paths(subset_dirs + ([distractor_dir] if market1501_500k else []), LAYOUT, self.docs_section)

        train, query, gallery = [self.read_subset(folder) for folder in subset_dirs]
        self.market1501_500k = market1501_500k
        if market1501_500k:
            gallery = gallery + self.read_distractors(distractor_dir)
        super(Market1501, self).__init__(relabel(train), query, gallery, verbose=verbose)

    @property
    def name(self):
        return self.__class__.__name__ + ('+500k' if self.market1501_500k else '')

    @staticmethod
    def read_distractors(folder):
        """The images of the 500k distractor folder, all as background (pid 0): names with pid 0 or -1 are taken
        (so either naming of the archive works); any other pid is an error, since it could match a query."""
        samples = read_market_style_folder(folder, extensions=('.jpg',), drop_junk=False)
        if not samples:
            raise ValueError("'{}' holds no Market-1501 style .jpg images: extract distractors_500k.zip there".format(
                folder))
        for path, pid, camera in samples:
            if pid not in (0, -1) or not 1 <= camera <= 6:
                raise ValueError("'{}' is not a Market-1501+500k distractor name (pid 0000 or -1, camera c1..c6)"
                                 .format(path))
        return [(path, 0, camera - 1) for path, _, camera in samples]

    @staticmethod
    def read_subset(folder):
        samples = read_market_style_folder(folder, extensions=('.jpg',))
        for path, pid, camera in samples:
            if not (0 <= pid <= 1501 and 1 <= camera <= 6):
                raise ValueError("'{}' is not a Market-1501 image name (pid 0..1501, camera c1..c6)".format(path))
        return [(path, pid, camera - 1) for path, pid, camera in samples]
