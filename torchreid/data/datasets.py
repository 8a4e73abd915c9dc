"""Torch datasets over lists of ``(path, pid, camid)`` samples, and the collate function that keeps the paths.

Image items are ``(img, pid, camid, path)``. Video items are ``(imgs, pid, camid, paths)`` where ``imgs`` stacks the
sampled frames to (S, C, H, W) and ``paths`` is the tracklet's tuple of frame paths as stored in the sample.
"""
import random

import numpy as np
import torch
from torch.utils.data import Dataset
from torch.utils.data.dataloader import default_collate

from .image_io import read_image, read_image_tensor
from .transforms import ImagePipeline

VIDEO_SAMPLE_METHODS = ('evenly', 'random', 'all')


def is_tracklet_list(samples):
    """True if the samples are tracklets (their path is a tuple or list of frame paths)."""
    return len(samples) > 0 and isinstance(samples[0][0], (tuple, list))


def tracklets_to_frames(samples):
    """Break every tracklet into its frames: one ``(frame_path, pid, camid)`` sample per frame, in order.

    This is how the seed trains on video data (frame-level image training, SPEC 8).
    """
    return [(frame, pid, camid) for frames, pid, camid in samples for frame in frames]


def sample_frame_indices(num_frames, seq_len, method, rng=np.random):
    """Indices of the frames of a tracklet that one item uses (SPEC 8.1).

    Args:
        num_frames (int): length n of the tracklet (>= 1).
        seq_len (int): number of frames to return (ignored by 'all').
        method (str): 'evenly': if n >= seq_len, drop the last n mod seq_len frames and take every
            (n - n mod seq_len) / seq_len-th frame from 0; if n < seq_len, all frames, then the last one repeated up
            to seq_len. 'random': seq_len indices drawn without replacement (with replacement if n < seq_len), sorted
            to keep temporal order. 'all': every frame.
        rng: numpy random generator or the ``np.random`` module (the default, seeded per DataLoader worker).

    Returns:
        int64 numpy array of frame indices.
    """
    if method == 'evenly':
        if num_frames >= seq_len:
            usable = num_frames - num_frames % seq_len
            return np.arange(0, usable, usable // seq_len, dtype=np.int64)
        padding = np.full(seq_len - num_frames, num_frames - 1, dtype=np.int64)
        return np.concatenate([np.arange(num_frames, dtype=np.int64), padding])
    if method == 'random':
        indices = rng.choice(num_frames, size=seq_len, replace=num_frames < seq_len)
        return np.sort(indices).astype(np.int64)
    if method == 'all':
        return np.arange(num_frames, dtype=np.int64)
    raise ValueError("unknown video sample method '{}'; valid methods: {}".format(
        method, ', '.join(VIDEO_SAMPLE_METHODS)))


def _load(path, transform):
    """Read and transform one image. Pipelines from build_transforms get a uint8 tensor (fast decoding, see
    read_image_tensor); any other transform gets the PIL image, as the seed's."""
    if isinstance(transform, ImagePipeline):
        return transform(read_image_tensor(path, transform.decode_size))
    img = read_image(path)
    return img if transform is None else transform(img)


class ImageSampleDataset(Dataset):
    """Items ``(transform(image), pid, camid, path)``; without a transform the image is the PIL RGB image."""

    def __init__(self, samples, transform=None):
        if is_tracklet_list(samples):
            raise ValueError('ImageSampleDataset got tracklets (tuples of frame paths); use TrackletSampleDataset, '
                             'or tracklets_to_frames(samples) for frame-level training')
        self.samples = samples
        self.transform = transform

    def __len__(self):
        return len(self.samples)

    def __getitem__(self, index):
        path, pid, camid = self.samples[index]
        return _load(path, self.transform), pid, camid, path


class TrackletSampleDataset(Dataset):
    """Items ``(imgs, pid, camid, paths)`` with ``imgs`` (S, C, H, W): the sampled frames of one tracklet, each
    transformed. S = seq_len, or the tracklet length for sample='all' (then use batch size 1).

    See :func:`sample_frame_indices` for the sampling methods. Without a transform the frames are uint8 tensors.
    """

    def __init__(self, samples, seq_len=15, sample='evenly', transform=None):
        if sample not in VIDEO_SAMPLE_METHODS:
            raise ValueError("unknown video sample method '{}'; valid methods: {}".format(
                sample, ', '.join(VIDEO_SAMPLE_METHODS)))
        if seq_len < 1:
            raise ValueError('seq_len must be >= 1, got {}'.format(seq_len))
        if len(samples) > 0 and not is_tracklet_list(samples):
            raise ValueError('TrackletSampleDataset needs tracklets: samples whose path is a tuple of frame paths, '
                             'got {!r}'.format(samples[0][0]))
        self.samples = samples
        self.seq_len = seq_len
        self.sample = sample
        self.transform = transform

    def __len__(self):
        return len(self.samples)

    def _load_frame(self, path):
        if self.transform is None:
            return read_image_tensor(path)
        return _load(path, self.transform)

    def _load_frames(self, paths):
        return [self._load_frame(path) for path in paths]

    def __getitem__(self, index):
        paths, pid, camid = self.samples[index]
        indices = sample_frame_indices(len(paths), self.seq_len, self.sample)
        frames = self._load_frames([paths[i] for i in indices])
        return torch.stack(frames), pid, camid, paths


class VideoClipDataset(TrackletSampleDataset):
    """Clip-level training on tracklets: each item is one random clip of ``seq_len`` frames per tracklet.

    The frames are drawn like sample='random' (sorted, without replacement unless the tracklet is shorter), and
    every frame of a clip is transformed with the same random draws (same crop, flip, jitter and erasing), so that a
    clip stays temporally coherent. Items are ``(imgs (seq_len, C, H, W), pid, camid, paths)``.
    """

    def __init__(self, samples, seq_len=15, transform=None):
        super().__init__(samples, seq_len=seq_len, sample='random', transform=transform)

    def _load_frames(self, paths):
        python_state = random.getstate()
        torch_state = torch.get_rng_state()
        frames = []
        for path in paths:
            random.setstate(python_state)
            torch.set_rng_state(torch_state)
            frames.append(self._load_frame(path))
        return frames


def collate_with_paths(batch):
    """DataLoader collate: default-collates images, pids and camids; keeps the paths as a python list.

    Returns (imgs (B, ...), pids (B,) int64, camids (B,) int64, paths list of B str or frame-path tuples).
    """
    imgs, pids, camids, paths = zip(*batch)
    return default_collate(imgs), default_collate(pids), default_collate(camids), list(paths)
