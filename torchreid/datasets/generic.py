"""Your own data, no code needed: folders of images named the Market-1501 way (``<pid>_c<camera>...``).

    python train_imgreid_xent.py -d market_style --root path/to/my_data ...

reads ``path/to/my_data/{bounding_box_train, query, bounding_box_test}``. Market-1501 and DukeMTMC-reID use the
same file-name reader.
"""
import os
import re

from .base import BaseImageDataset, check_required_paths, relabel

# '<pid>_c<camera>' at the start of the name, e.g. 0002_c1s1_000451_03.jpg (Market) or 0005_c2_f0046985.jpg (Duke).
MARKET_STYLE_NAME = re.compile(r'^(-?\d+)_c(\d+)')
IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp')


def read_market_style_folder(folder, extensions=IMAGE_EXTENSIONS, drop_junk=True):
    """``(path, pid, camera number)`` of the image files of ``folder``, sorted by name.

    Files with other extensions (e.g. ``Thumbs.db``) are skipped. The camera number is the one written in the name
    (1-based in Market and Duke). With ``drop_junk`` the pid -1 images (junk boxes) are left out.
    """
    samples = []
    for name in sorted(os.listdir(folder)):
        if not name.lower().endswith(extensions):
            continue
        match = MARKET_STYLE_NAME.match(name)
        if match is None:
            raise ValueError("cannot read pid and camera from '{}': names must start with '<pid>_c<camera>', "
                             "e.g. '0002_c1_0001.jpg'".format(os.path.join(folder, name)))
        pid, camera = int(match.group(1)), int(match.group(2))
        if drop_junk and pid == -1:
            continue
        samples.append((os.path.join(folder, name), pid, camera))
    return samples


class MarketStyleDataset(BaseImageDataset):
    """Any dataset laid out like Market-1501: a train, a query and a gallery folder of ``<pid>_c<camera>...`` images.

    pid -1 images are junk and dropped; pid 0 (or any pid) in the gallery that no query has acts as a distractor.
    Camera numbers are mapped, in sorted order over the three folders, to camids 0..C-1 (so c1..c6 -> 0..5, and
    c0..c5 -> 0..5 too). Train pids are relabelled 0..N-1 in sorted order; query and gallery keep theirs. A query
    is only matched against gallery images of the same pid from *another* camera, so every query identity needs
    gallery images from a different camera.

    Args:
        root (str): --root. The dataset folder is ``root/dataset_dir``.
        dataset_dir (str): the dataset folder under ``root``; '' (the default) is ``root`` itself.
        train_dir, query_dir, gallery_dir (str): names of the three sub-folders. ``train_dir=None`` builds an
            evaluation-only dataset (like SenseReID): ``train`` is then a relabelled copy of ``query``, only there so
            a model and loaders can be built, and is not printed.
    """
    docs_section = 'Your own data (market_style)'

    def __init__(self, root='data', dataset_dir='', train_dir='bounding_box_train', query_dir='query',
                 gallery_dir='bounding_box_test', verbose=True, **kwargs):
        self.dataset_dir = os.path.join(root, dataset_dir) if dataset_dir else root
        self.evaluation_only = train_dir is None
        names = [query_dir, gallery_dir] if self.evaluation_only else [train_dir, query_dir, gallery_dir]
        folders = [os.path.join(self.dataset_dir, name) for name in names]
        layout = '{}/\n{}'.format(self.dataset_dir, '\n'.join(
            '    {}/<pid>_c<camera>_<anything>.jpg (or .png, .jpeg, .bmp)'.format(name) for name in names))
        check_required_paths(folders, layout, self.docs_section)

        subsets = [read_market_style_folder(folder) for folder in folders]
        for folder, samples in zip(folders, subsets):
            if not samples:
                raise ValueError("'{}' holds no images named '<pid>_c<camera>...' (pid -1 images are dropped)".format(
                    folder))
        cameras = sorted({camera for samples in subsets for _, _, camera in samples})
        camera_to_camid = {camera: camid for camid, camera in enumerate(cameras)}
        subsets = [[(path, pid, camera_to_camid[camera]) for path, pid, camera in samples] for samples in subsets]
        if self.evaluation_only:
            query, gallery = subsets
            train = relabel(query)
            total_ids = len({pid for _, pid, _ in query + gallery})
            super(MarketStyleDataset, self).__init__(train, query, gallery, verbose=verbose, total_ids=total_ids,
                                                     total_images=len(query) + len(gallery))
        else:
            train, query, gallery = subsets
            super(MarketStyleDataset, self).__init__(relabel(train), query, gallery, verbose=verbose)

    @property
    def name(self):
        return "market_style dataset '{}'".format(self.dataset_dir)

    def statistics_rows(self):
        rows = super(MarketStyleDataset, self).statistics_rows()
        return rows[1:] if self.evaluation_only else rows
