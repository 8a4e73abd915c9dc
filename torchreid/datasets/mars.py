"""MARS video re-id benchmark (Zheng et al., ECCV 2016), with the official split from MARS-evaluation."""
import os

import numpy as np

from .base import BaseVideoDataset, check_required_paths, relabel
from .tracklets import drop_short_tracklets, frame_order_key

LAYOUT = """\
<root>/mars/
    bbox_train/<pid 4 digits>/<pid>C<cam>T<tracklet>F<frame>.jpg   e.g. bbox_train/0001/0001C1T0001F001.jpg
    bbox_test/<pid 4 digits>/...                                    (0000 = distractors, 00-1 = junk)
    info/    (from github.com/liangzheng06/MARS-evaluation)
        train_name.txt  test_name.txt  tracks_train_info.mat  tracks_test_info.mat  query_IDX.mat"""


class Mars(BaseVideoDataset):
    """MARS: 1,261 identities, 20,715 tracklets from 6 cameras.

    Tracklets come from ``info/tracks_{train,test}_info.mat``: each row is ``[start, end, pid, camera]`` where
    start..end (1-based, inclusive) are line numbers into ``info/{train,test}_name.txt``. Query tracklets are the
    test rows listed (1-based) in ``info/query_IDX.mat``; the gallery is every other test row. Junk tracklets
    (pid -1) are dropped; distractors (pid 0) stay in the gallery. Camera 1..6 becomes camid 0..5.

    Printed statistics: train 625 ids / 8,298 tracklets, query 626 / 1,980, gallery 621 / 9,330 (the seed printed
    622 because it also counted the junk pid -1), 2 to 920 frames per tracklet.

    Args:
        root (str): folder holding ``mars/``.
        min_seq_len (int): tracklets with fewer frames are dropped from every subset.
    """
    dataset_dir = 'mars'
    docs_section = 'MARS'
    combineall_junk_pids = (0,)  # the distractor tracklets of bbox_test/0000

    def __init__(self, root='data', min_seq_len=0, verbose=True, **kwargs):
        self.dataset_dir = os.path.join(root, self.dataset_dir)
        info_dir = os.path.join(self.dataset_dir, 'info')
        train_name_path = os.path.join(info_dir, 'train_name.txt')
        test_name_path = os.path.join(info_dir, 'test_name.txt')
        track_train_path = os.path.join(info_dir, 'tracks_train_info.mat')
        track_test_path = os.path.join(info_dir, 'tracks_test_info.mat')
        query_idx_path = os.path.join(info_dir, 'query_IDX.mat')
        check_required_paths([self.dataset_dir, os.path.join(self.dataset_dir, 'bbox_train'),
                              os.path.join(self.dataset_dir, 'bbox_test'), train_name_path, test_name_path,
                              track_train_path, track_test_path, query_idx_path], LAYOUT, self.docs_section)

        train_names = read_name_list(train_name_path)
        test_names = read_name_list(test_name_path)
        track_train = load_track_info(track_train_path, 'track_train_info')
        track_test = load_track_info(track_test_path, 'track_test_info')
        query_rows = load_query_rows(query_idx_path, len(track_test))
        gallery_rows = np.setdiff1d(np.arange(len(track_test)), query_rows)

        train = self.build_tracklets(train_names, track_train, 'bbox_train', train_name_path)
        query = self.build_tracklets(test_names, track_test[query_rows], 'bbox_test', test_name_path)
        gallery = self.build_tracklets(test_names, track_test[gallery_rows], 'bbox_test', test_name_path)

        train = relabel(drop_short_tracklets(train, min_seq_len))
        query = drop_short_tracklets(query, min_seq_len)
        gallery = drop_short_tracklets(gallery, min_seq_len)
        super(Mars, self).__init__(train, query, gallery, verbose=verbose)

    def build_tracklets(self, names, track_info, image_folder, name_list_path):
        """``(frames, pid, camid)`` per row of ``track_info``, junk (pid -1) rows skipped.

        Frames are sorted by frame number; all frames of a row must show one person from one camera.
        """
        tracklets = []
        for start, end, pid, camera in track_info.tolist():
            if pid == -1:
                continue
            if not (1 <= start <= end <= len(names)):
                raise ValueError('track rows point at lines {}..{}, but {} has {} lines: the info/ files do not '
                                 'belong together'.format(start, end, name_list_path, len(names)))
            if not 1 <= camera <= 6:
                raise ValueError('MARS has cameras 1..6, but a track row has camera {}'.format(camera))
            frame_names = sorted(names[start - 1:end], key=frame_order_key)
            # A name is <pid 4 chars>C<camera>T<tracklet>F<frame>.jpg, e.g. 0001C1T0001F001.jpg.
            if len({name[:4] for name in frame_names}) != 1 or len({name[5] for name in frame_names}) != 1:
                raise ValueError('lines {}..{} of {} mix persons or cameras ({} ... {}): the info/ files do not '
                                 'belong together'.format(start, end, name_list_path, frame_names[0],
                                                          frame_names[-1]))
            frames = tuple(os.path.join(self.dataset_dir, image_folder, name[:4], name) for name in frame_names)
            tracklets.append((frames, pid, camera - 1))
        return tracklets


def read_name_list(path):
    """The frame names of a MARS name list, one per line, in file order."""
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def load_track_info(path, key):
    """The ``(num_tracklets, 4)`` int array ``[start, end, pid, camera]`` stored under ``key`` in a .mat file."""
    from scipy.io import loadmat
    content = loadmat(path)
    if key not in content:
        raise KeyError("'{}' has no variable '{}' (found {})".format(
            path, key, sorted(k for k in content if not k.startswith('__'))))
    track_info = np.asarray(content[key]).astype(np.int64)
    if track_info.ndim != 2 or track_info.shape[1] != 4:
        raise ValueError("'{}' in '{}' must be a (num_tracklets, 4) matrix, got shape {}".format(
            key, path, track_info.shape))
    return track_info


def load_query_rows(path, num_test_tracklets):
    """0-based test-track rows of the query tracklets, from the 1-based ``query_IDX`` vector."""
    from scipy.io import loadmat
    query_idx = np.asarray(loadmat(path)['query_IDX']).astype(np.int64).ravel()
    if query_idx.min() < 1 or query_idx.max() > num_test_tracklets:
        raise ValueError("'{}' holds rows {}..{}, outside the {} test tracklets".format(
            path, query_idx.min(), query_idx.max(), num_test_tracklets))
    return query_idx - 1
