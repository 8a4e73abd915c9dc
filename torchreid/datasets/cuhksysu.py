"""CUHK-SYSU (Xiao et al., CVPR 2017) cropped persons: 11,934 identities, a training source only."""
import os

from .base import BaseImageDataset, check_required_paths, relabel

LAYOUT = """\
<root>/cuhksysu/
    cropped_images/p11422_s16929_1.jpg ...     (<person>_<scene>_<box>.jpg, 34,574 images)"""


class CUHKSYSU(BaseImageDataset):
    """CUHK-SYSU's cropped person boxes, for training only (``-s cuhksysu``; it cannot be a target).

    The person is the name's first field (``p11422``); persons are relabelled 0..N-1 in sorted order. The
    dataset has no camera information, so every image gets camid 0. There is no query or gallery: both are empty
    by design (``train_only = True``), so the statistics table has only the train row.

    Statistics: train 11,934 ids / 34,574 images.

    Args:
        root (str): folder holding ``cuhksysu/``.
    """
    dataset_dir = 'cuhksysu'
    docs_section = 'CUHK-SYSU'
    train_only = True

    def __init__(self, root='data', verbose=True, **kwargs):
        self.dataset_dir = os.path.join(root, self.dataset_dir)
        image_dir = os.path.join(self.dataset_dir, 'cropped_images')
        check_required_paths([image_dir], LAYOUT, self.docs_section)

        samples = []
        for name in sorted(os.listdir(image_dir)):
            if not name.lower().endswith('.jpg'):
                continue
            fields = name.split('_')
            if len(fields) < 2 or not (fields[0].startswith('p') and fields[0][1:].isdigit()):
                raise ValueError("'{}' is not a CUHK-SYSU crop name ('p<person>_s<scene>_<box>.jpg')".format(
                    os.path.join(image_dir, name)))
            samples.append((os.path.join(image_dir, name), fields[0]))
        if not samples:
            raise ValueError("'{}' holds no .jpg images".format(image_dir))
        train = relabel([(path, person, 0) for path, person in samples])
        super(CUHKSYSU, self).__init__(train, [], [], verbose=verbose)

    def statistics_rows(self):
        return super(CUHKSYSU, self).statistics_rows()[:1]
