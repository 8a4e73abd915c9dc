"""Helpers the video readers share: temporal frame order, min_seq_len filtering, two-camera tracklets.

iLIDS-VID and PRID2011 have the same structure (one folder per person and camera, a list of splits naming the
person folders), so they share :func:`two_camera_split`.
"""
import os
import re

_DIGITS = re.compile(r'(\d+)')


def frame_order_key(name):
    """Sort key that orders frame file names by the numbers they contain (``F9`` before ``F10``).

    Frame names of one tracklet share a prefix and differ in a frame number (``0001C1T0001F001.jpg``,
    ``cam1_person001_00317.png``, ``0001.png``, ``0001_C6_F0099_X30823.jpg``), so this is temporal order.
    """
    return [int(part) if part.isdigit() else part for part in _DIGITS.split(name)]


def list_frames(folder, extension):
    """Paths of the ``*<extension>`` files in ``folder``, in temporal order (see :func:`frame_order_key`)."""
    names = [name for name in os.listdir(folder) if name.endswith(extension) and not name.startswith('.')]
    return [os.path.join(folder, name) for name in sorted(names, key=frame_order_key)]


def list_subfolders(folder):
    """Names of the sub-folders of ``folder``, sorted, skipping hidden entries such as ``.DS_Store``."""
    return sorted(name for name in os.listdir(folder)
                  if not name.startswith('.') and os.path.isdir(os.path.join(folder, name)))


def drop_short_tracklets(tracklets, min_seq_len):
    """Keep the ``(frames, pid, camid)`` tracklets that have at least ``min_seq_len`` frames."""
    if min_seq_len < 0:
        raise ValueError('min_seq_len must be >= 0, got {}'.format(min_seq_len))
    return [tracklet for tracklet in tracklets if len(tracklet[0]) >= min_seq_len]


def two_camera_split(person_dirs, cam_a_path, cam_b_path, extension, min_seq_len=0):
    """Train, query and gallery tracklets of one split of a two-camera video dataset (iLIDS-VID, PRID2011).

    Args:
        person_dirs (dict): ``{'train': [person folder names], 'test': [...]}``.
        cam_a_path, cam_b_path (str): the folders holding one sub-folder of frames per person.
        extension (str): frame file extension, e.g. ``'.png'``.
        min_seq_len (int): tracklets with fewer frames are dropped.

    Returns:
        (train, query, gallery): train holds both cameras' tracklets of the train persons; query the camera-a
        tracklets (camid 0) and gallery the camera-b tracklets (camid 1) of the test persons. A person's pid is
        its position in its list, so train pids are already 0..N-1 (relabelled again if min_seq_len drops some).
    """
    def tracklets_of(names, camera_paths):
        tracklets = []
        for pid, name in enumerate(names):
            for camid, camera_path in camera_paths:
                person_dir = os.path.join(camera_path, name)
                if not os.path.isdir(person_dir):
                    raise FileNotFoundError("the split names person '{}', but '{}' does not exist".format(
                        name, person_dir))
                frames = list_frames(person_dir, extension)
                if not frames:
                    raise FileNotFoundError("'{}' holds no {} frames".format(person_dir, extension))
                tracklets.append((tuple(frames), pid, camid))
        return drop_short_tracklets(tracklets, min_seq_len)

    train = tracklets_of(person_dirs['train'], [(0, cam_a_path), (1, cam_b_path)])
    query = tracklets_of(person_dirs['test'], [(0, cam_a_path)])
    gallery = tracklets_of(person_dirs['test'], [(1, cam_b_path)])
    return train, query, gallery
