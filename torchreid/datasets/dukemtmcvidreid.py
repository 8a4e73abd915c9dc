"""DukeMTMC-VideoReID video re-id benchmark (Wu et al., CVPR 2018; Ristani et al., ECCVW 2016)."""
import os
import re

from ..utils.iotools import read_json, write_json
from .base import BaseVideoDataset, check_required_paths, relabel
from .tracklets import drop_short_tracklets, list_subfolders

SUBSETS = ('train', 'query', 'gallery')
CACHE_VERSION = 1
# Frame names: new format 0001_C6_F0099_X30823.jpg or old format 0001C6F0099X30823.jpg (pid, camera, frame).
FRAME_NAME = re.compile(r'^(-?\d+)_?C(\d+)_?F(\d+)')

LAYOUT = """\
<root>/dukemtmc-vidreid/     (downloaded and extracted automatically from DukeMTMC-VideoReID.zip)
    DukeMTMC-VideoReID/{train,query,gallery}/<pid>/<tracklet id>/<frame>.jpg
        e.g. DukeMTMC-VideoReID/train/0001/0001/0001_C6_F0001_X30823.jpg (or 0001C6F0001X30823.jpg)
    split_train.json split_query.json split_gallery.json   (written on first use)"""


class DukeMTMCVidReID(BaseVideoDataset):
    """DukeMTMC-VideoReID: 1,812 identities (702 train, 702 test, 408 distractors), 8 cameras.

    Each ``<subset>/<pid>/<tracklet id>/`` folder is one tracklet; its frames are ordered by their frame number
    ``F<k>`` and its camera (C1..C8 -> camid 0..7) is read from the frame names. Scanning the folders is slow, so
    the result is cached in ``split_<subset>.json`` next to the data, with paths relative to the dataset folder
    (the folder can move) and before min_seq_len filtering (one cache serves every min_seq_len).

    Printed statistics: train 702 ids / 2,196 tracklets, query 702 / 702, gallery 1,110 / 2,636.

    Args:
        root (str): folder holding ``dukemtmc-vidreid/``; the dataset is downloaded there when missing.
        min_seq_len (int): tracklets with fewer frames are dropped from every subset.
    """
    dataset_dir = 'dukemtmc-vidreid'
    data_folder = 'DukeMTMC-VideoReID'
    dataset_url = 'http://vision.cs.duke.edu/DukeMTMC/data/misc/DukeMTMC-VideoReID.zip'
    docs_section = 'DukeMTMC-VideoReID'
    layout = LAYOUT

    def __init__(self, root='data', min_seq_len=0, verbose=True, **kwargs):
        self.dataset_dir = os.path.join(root, self.dataset_dir)
        subset_dirs = [os.path.join(self.dataset_dir, self.data_folder, subset) for subset in SUBSETS]
        if not all(os.path.isdir(path) for path in subset_dirs):
            self.fetch_missing_data()
        check_required_paths(subset_dirs, self.layout, self.docs_section)

        train, query, gallery = [drop_short_tracklets(self.load_subset(subset), min_seq_len) for subset in SUBSETS]
        super(DukeMTMCVidReID, self).__init__(relabel(train), query, gallery, verbose=verbose)

    def fetch_missing_data(self):
        """Download and extract the zip into the dataset folder (a clear error with manual steps offline)."""
        from .download import download_dataset
        download_dataset(self.dataset_dir, self.dataset_url, layout=self.layout, docs_section=self.docs_section)

    def load_subset(self, subset):
        """``(frames, pid, camid)`` of every tracklet of ``subset`` (raw pids), from the cache or a fresh scan."""
        cache_path = os.path.join(self.dataset_dir, 'split_{}.json'.format(subset))
        tracklets = self.read_cache(cache_path)
        if tracklets is None:
            print('=> Scanning {} to build {} (only done once)'.format(subset, cache_path))
            tracklets = self.scan_subset(subset)
            write_json({'cache_version': CACHE_VERSION,
                        'tracklets': tracklets,
                        'num_tracklets': len(tracklets),
                        'num_pids': len({pid for _, pid, _ in tracklets}),
                        'num_imgs_per_tracklet': [len(frames) for frames, _, _ in tracklets]}, cache_path)
        return [(tuple(os.path.join(self.dataset_dir, *frame.split('/')) for frame in frames), pid, camid)
                for frames, pid, camid in tracklets]

    def read_cache(self, cache_path):
        """Cached ``[relative frame paths, pid, camid]`` list, or None when missing or stale (e.g. the seed's
        absolute-path caches, or a cache whose frames are gone)."""
        if not os.path.exists(cache_path):
            return None
        content = read_json(cache_path)
        if not isinstance(content, dict) or content.get('cache_version') != CACHE_VERSION:
            print('=> {} was written by another version; rebuilding it'.format(cache_path))
            return None
        tracklets = content['tracklets']
        if not tracklets:
            return None
        first_frame = os.path.join(self.dataset_dir, *tracklets[0][0][0].split('/'))
        if not os.path.exists(first_frame):
            print("=> {} lists '{}', which does not exist; rebuilding it".format(cache_path, first_frame))
            return None
        return tracklets

    def scan_subset(self, subset):
        """``[relative frame paths, pid, camid]`` per tracklet folder of ``subset``, frames in frame-number order."""
        subset_dir = os.path.join(self.dataset_dir, self.data_folder, subset)
        tracklets = []
        for pid_name in list_subfolders(subset_dir):
            if not re.match(r'^-?\d+$', pid_name):
                raise ValueError("'{}' is not a person folder (expected <pid>/, e.g. 0001/)".format(
                    os.path.join(subset_dir, pid_name)))
            for tracklet_name in list_subfolders(os.path.join(subset_dir, pid_name)):
                tracklet_dir = os.path.join(subset_dir, pid_name, tracklet_name)
                frames = [parse_frame_name(name, tracklet_dir) + (name,)
                          for name in os.listdir(tracklet_dir) if name.endswith('.jpg')]
                if not frames:
                    print("Warning: '{}' holds no .jpg frames; skipped".format(tracklet_dir))
                    continue
                cameras = {camera for camera, _, _ in frames}
                if len(cameras) != 1:
                    raise ValueError("'{}' mixes cameras {}".format(tracklet_dir, sorted(cameras)))
                relative_dir = '/'.join([self.data_folder, subset, pid_name, tracklet_name])
                paths = [relative_dir + '/' + name for _, _, name in sorted(frames)]
                tracklets.append([paths, int(pid_name), cameras.pop() - 1])
        return tracklets


def parse_frame_name(name, folder):
    """(camera, frame number) of a frame name in either DukeMTMC-VideoReID format."""
    match = FRAME_NAME.match(name)
    if match is None:
        raise ValueError("cannot parse frame '{}' in '{}': expected <pid>_C<camera>_F<frame>_X<n>.jpg "
                         "(e.g. 0001_C6_F0099_X30823.jpg) or <pid>C<camera>F<frame>X<n>.jpg".format(name, folder))
    return int(match.group(2)), int(match.group(3))
