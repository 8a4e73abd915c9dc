"""DataLoader builders for training and evaluation (SPEC 5 and 8): datasets, samplers, seeding and collation in one
place. Device-agnostic: the only accelerator-related option is ``pin_memory``."""
import numpy as np
import torch
from torch.utils.data import DataLoader

from ..utils.seeding import seed_worker
from .datasets import (ImageSampleDataset, TrackletSampleDataset, VideoClipDataset, collate_with_paths,
                       is_tracklet_list, tracklets_to_frames)
from .samplers import build_train_sampler


def _worker_generator(seed, rank):
    # Seeds the workers' base seed (hence their python/numpy/torch streams): reproducible, and different per rank.
    generator = torch.Generator()
    generator.manual_seed(int(np.random.SeedSequence([seed, rank]).generate_state(1)[0]))
    return generator


def build_train_loader(samples, transform, batch_size, workers, sampler='random', num_instances=4, seed=0,
                       pin_memory=False, num_replicas=1, rank=0, video_clip_len=None):
    """The training loader: batches ``(imgs, pids, camids, paths)``, the last incomplete batch dropped.

    Args:
        samples (list): ``(path, pid, camid)`` training samples. Tracklets (tuples of frame paths) are broken into
            frames for frame-level image training (the seed's video training) unless ``video_clip_len`` is set.
        transform: the train transform (e.g. ``build_transforms(...)[0]``).
        batch_size (int): images (or clips) per batch on this rank.
        workers (int): DataLoader worker processes. They are started afresh every epoch, seeded from the loader's
            generator, so an epoch's augmentations depend only on (seed, epoch) and ``--resume`` is exact.
        sampler (str): 'random' (shuffle; softmax training) or 'identity' (P x K; triplet training).
        num_instances (int): K for the identity sampler.
        seed (int): seeds the sampler's shuffles and the workers' random streams.
        pin_memory (bool): page-locked batches for faster host-to-GPU copies.
        num_replicas, rank (int): distributed sharding; each rank gets a disjoint part of every epoch.
        video_clip_len (int, optional): clip-level video training: each item is one random clip of this many
            frames per tracklet (:class:`VideoClipDataset`), batches (B, S, C, H, W).

    Call ``loader.sampler.set_epoch(epoch)`` before each epoch for a new, reproducible shuffle.
    """
    if video_clip_len is not None:
        if not is_tracklet_list(samples):
            raise ValueError('video_clip_len={} needs tracklets (samples whose path is a tuple of frame paths)'
                             .format(video_clip_len))
        dataset = VideoClipDataset(samples, seq_len=video_clip_len, transform=transform)
    else:
        if is_tracklet_list(samples):
            samples = tracklets_to_frames(samples)
        dataset = ImageSampleDataset(samples, transform)
    train_sampler = build_train_sampler(dataset.samples, sampler, batch_size, num_instances=num_instances, seed=seed,
                                        num_replicas=num_replicas, rank=rank)
    return DataLoader(
        dataset, batch_size=batch_size, sampler=train_sampler, num_workers=workers, pin_memory=pin_memory,
        drop_last=True, collate_fn=collate_with_paths, worker_init_fn=seed_worker,
        generator=_worker_generator(seed, rank), persistent_workers=False)


def build_test_loader(samples, transform, batch_size, workers, video=False, seq_len=15, sample='evenly',
                      pin_memory=False):
    """A query or gallery loader: samples in order, nothing dropped; batches ``(imgs, pids, camids, paths)``.

    Images give imgs (B, C, H, W). With ``video=True`` each item is a tracklet sampled by ``sample``
    ('evenly', 'random' or 'all', see :func:`torchreid.data.datasets.sample_frame_indices`), imgs (B, S, C, H, W);
    'all' gives tracklets of different lengths, so it needs batch_size 1.
    """
    if video:
        if sample == 'all' and batch_size != 1:
            raise ValueError("video sample method 'all' returns every frame, so tracklets differ in length: use a "
                             "test batch size of 1 (got {})".format(batch_size))
        dataset = TrackletSampleDataset(samples, seq_len=seq_len, sample=sample, transform=transform)
    else:
        dataset = ImageSampleDataset(samples, transform)
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=False, num_workers=workers, pin_memory=pin_memory, drop_last=False,
        collate_fn=collate_with_paths, worker_init_fn=seed_worker, persistent_workers=workers > 0)
