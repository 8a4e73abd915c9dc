"""read_image, Image/Video datasets, frame sampling, collation and the loader builders."""
import os
from collections import Counter

import numpy as np
import pytest
import torch
from PIL import Image

import torchreid.data.image_io as image_io
from torchreid.data import (ImageSampleDataset, TrackletSampleDataset, VideoClipDataset, build_test_loader,
                            build_train_loader, build_transforms, collate_with_paths, read_image, read_image_tensor,
                            sample_frame_indices, tracklets_to_frames)
from torchreid.data.image_io import jpeg_size

REAL_OPEN = Image.open


def write_image(path, size=(16, 32), value=None, seed=0, mode='RGB', fmt=None):
    """Write a (width, height) = size image: constant ``value`` if given, else smooth random content."""
    if value is not None:
        array = np.full((size[1], size[0], 3), value, dtype=np.uint8)
    else:
        rng = np.random.default_rng(seed)
        coarse = Image.fromarray(rng.integers(0, 256, (4, 2, 3), dtype=np.uint8))
        array = np.asarray(coarse.resize(size, Image.BILINEAR))
    Image.fromarray(array).convert(mode).save(path, format=fmt)
    return str(path)


# ---------------------------------------------------------------- read_image

def test_read_image_gives_rgb_for_any_mode(tmp_path):
    for mode, name in [('RGB', 'a.jpg'), ('L', 'b.png'), ('RGBA', 'c.png'), ('P', 'd.bmp')]:
        img = read_image(write_image(tmp_path / name, mode=mode))
        assert img.mode == 'RGB' and img.size == (16, 32)
        assert np.asarray(img).shape == (32, 16, 3)


def test_read_image_missing_file_names_it(tmp_path):
    missing = str(tmp_path / 'nope.jpg')
    with pytest.raises(FileNotFoundError, match='nope.jpg'):
        read_image(missing)


def test_read_image_retries_transient_errors(tmp_path, monkeypatch):
    path = write_image(tmp_path / 'a.jpg')
    calls = []

    def flaky_open(fp, *args, **kwargs):
        calls.append(fp)
        if len(calls) < image_io.READ_ATTEMPTS:
            raise OSError('stale file handle')
        return REAL_OPEN(fp, *args, **kwargs)

    monkeypatch.setattr(image_io, 'RETRY_DELAY_S', 0)
    monkeypatch.setattr(Image, 'open', flaky_open)
    img = read_image(path)
    assert len(calls) == image_io.READ_ATTEMPTS == 3
    assert img.mode == 'RGB' and img.size == (16, 32)


def test_read_image_gives_up_with_an_error_naming_the_file(tmp_path, monkeypatch):
    path = write_image(tmp_path / 'broken.jpg')
    calls = []

    def failing_open(fp, *args, **kwargs):
        calls.append(fp)
        raise OSError('I/O error {}'.format(len(calls)))

    monkeypatch.setattr(image_io, 'RETRY_DELAY_S', 0)
    monkeypatch.setattr(Image, 'open', failing_open)
    with pytest.raises(OSError, match="could not read image '.*broken.jpg' after 3 attempts; last error: I/O error 3"):
        read_image(path)
    assert len(calls) == 3


def test_read_image_corrupt_file_is_an_error_not_a_hang(tmp_path, monkeypatch):
    path = tmp_path / 'corrupt.jpg'
    path.write_bytes(b'not a jpeg at all')
    monkeypatch.setattr(image_io, 'RETRY_DELAY_S', 0)
    with pytest.raises(OSError, match='corrupt.jpg'):
        read_image(str(path))


def test_read_image_decodes_large_jpegs_at_reduced_scale(tmp_path):
    path = write_image(tmp_path / 'big.jpg', size=(600, 1200), seed=3)
    assert read_image(path).size == (600, 1200)
    # 1200 // 288 = 600 // 144 = 4: libjpeg decodes at 1/4 scale, still >= (288, 144).
    assert read_image(path, decode_size=(288, 144)).size == (150, 300)
    # Not twice as large as asked: full decode.
    assert read_image(path, decode_size=(700, 400)).size == (600, 1200)
    # PNG has no reduced-scale decoding.
    png = write_image(tmp_path / 'big.png', size=(600, 1200), seed=3)
    assert read_image(png, decode_size=(288, 144)).size == (600, 1200)


def test_reduced_scale_decoding_changes_the_network_input_only_slightly(tmp_path):
    path = write_image(tmp_path / 'big.jpg', size=(600, 1200), seed=4)
    test_transform = build_transforms(256, 128)[1]
    full = test_transform(read_image(path))
    reduced = test_transform(read_image(path, test_transform.decode_size))
    grey_levels = (full - reduced).abs() * 255 * 0.224
    assert grey_levels.mean().item() < 1.0


def test_jpeg_size_reads_the_frame_header(tmp_path):
    img = Image.open(write_image(tmp_path / 'a.jpg', size=(40, 90), seed=1))
    for name, kwargs in [('baseline.jpg', {}), ('progressive.jpg', {'progressive': True}),
                         ('exif.jpg', {'exif': b'Exif\x00\x00' + b'\x00' * 64})]:
        img.save(tmp_path / name, **kwargs)
        assert jpeg_size((tmp_path / name).read_bytes()) == (90, 40)
    img.convert('L').save(tmp_path / 'grey.jpg')
    assert jpeg_size((tmp_path / 'grey.jpg').read_bytes()) == (90, 40)
    assert jpeg_size(open(write_image(tmp_path / 'a.png'), 'rb').read()) is None
    assert jpeg_size(b'\xff\xd8\xff\xe0\x00') is None  # truncated


def test_read_image_tensor_gives_the_same_pixels_as_read_image(tmp_path):
    for name, mode in [('rgb.jpg', 'RGB'), ('grey.jpg', 'L'), ('cmyk.jpg', 'CMYK'), ('rgba.png', 'RGBA')]:
        path = write_image(tmp_path / name, size=(20, 44), seed=2, mode=mode)
        tensor = read_image_tensor(path)
        assert tensor.dtype == torch.uint8 and tensor.shape == (3, 44, 20)
        assert np.array_equal(tensor.permute(1, 2, 0).numpy(), np.asarray(read_image(path)))
    big = write_image(tmp_path / 'big.jpg', size=(600, 1200), seed=3)
    assert read_image_tensor(big, decode_size=(288, 144)).shape == (3, 300, 150)
    assert torch.equal(read_image_tensor(big, decode_size=(288, 144)),
                       torch.from_numpy(np.array(read_image(big, decode_size=(288, 144)))).permute(2, 0, 1))
    assert read_image_tensor(big, decode_size=(700, 400)).shape == (3, 1200, 600)


def test_read_image_tensor_without_torchvision_decoder_falls_back_to_pil(tmp_path, monkeypatch):
    path = write_image(tmp_path / 'a.jpg', size=(20, 44), seed=5)
    expected = read_image_tensor(path)
    monkeypatch.setattr(image_io, 'decode_jpeg', None)
    assert torch.equal(read_image_tensor(path), expected)


def test_read_image_tensor_errors_name_the_file(tmp_path, monkeypatch):
    monkeypatch.setattr(image_io, 'RETRY_DELAY_S', 0)
    with pytest.raises(FileNotFoundError, match='missing.jpg'):
        read_image_tensor(str(tmp_path / 'missing.jpg'))
    good = (tmp_path / 'good.jpg')
    write_image(good, size=(20, 44))
    header_only = tmp_path / 'truncated.jpg'
    header_only.write_bytes(good.read_bytes()[:200])  # a readable header, then the data stops
    with pytest.raises(OSError, match="could not read image '.*truncated.jpg' after 3 attempts"):
        read_image_tensor(str(header_only))


# ---------------------------------------------------------------- frame sampling

def test_evenly_drops_the_tail_and_strides():
    assert sample_frame_indices(20, 5, 'evenly').tolist() == [0, 4, 8, 12, 16]
    assert sample_frame_indices(23, 5, 'evenly').tolist() == [0, 4, 8, 12, 16]  # 23 mod 5 = 3 frames dropped
    assert sample_frame_indices(5, 5, 'evenly').tolist() == [0, 1, 2, 3, 4]
    assert sample_frame_indices(31, 15, 'evenly').tolist() == list(range(0, 30, 2))


def test_evenly_pads_short_tracklets_with_the_last_frame():
    assert sample_frame_indices(3, 5, 'evenly').tolist() == [0, 1, 2, 2, 2]
    assert sample_frame_indices(1, 4, 'evenly').tolist() == [0, 0, 0, 0]


def test_random_is_sorted_and_without_replacement_unless_short():
    rng = np.random.default_rng(0)
    for _ in range(20):
        indices = sample_frame_indices(10, 6, 'random', rng).tolist()
        assert indices == sorted(indices) and len(set(indices)) == 6 and 0 <= min(indices) and max(indices) < 10
    short = [sample_frame_indices(3, 8, 'random', rng).tolist() for _ in range(5)]
    assert all(s == sorted(s) and len(s) == 8 and set(s) <= {0, 1, 2} for s in short)
    assert sample_frame_indices(10, 6, 'random', np.random.default_rng(1)).tolist() == \
        sample_frame_indices(10, 6, 'random', np.random.default_rng(1)).tolist()


def test_all_and_unknown_methods():
    assert sample_frame_indices(7, 15, 'all').tolist() == list(range(7))
    with pytest.raises(ValueError, match="unknown video sample method 'uniform'; valid methods: evenly, random, all"):
        sample_frame_indices(7, 15, 'uniform')
    with pytest.raises(ValueError, match='valid methods: evenly, random, all'):
        TrackletSampleDataset([(('a.jpg',), 0, 0)], sample='dense')


# ---------------------------------------------------------------- datasets and collation

@pytest.fixture
def tracklet(tmp_path):
    """One tracklet of 7 frames; frame i is a constant image of grey level 30 * i."""
    return tuple(write_image(tmp_path / 'f{}.png'.format(i), value=30 * i) for i in range(7))


def test_image_dataset_items(tmp_path):
    paths = [write_image(tmp_path / '{}.jpg'.format(i), seed=i) for i in range(3)]
    samples = [(paths[0], 0, 1), (paths[1], 1, 0), (paths[2], 1, 2)]
    test_transform = build_transforms(32, 16)[1]
    img, pid, camid, path = ImageSampleDataset(samples, test_transform)[2]
    assert img.shape == (3, 32, 16) and img.dtype == torch.float32
    assert (pid, camid, path) == (1, 2, paths[2])
    # Pipelines read through read_image_tensor; the result equals the pipeline applied to the PIL image.
    assert torch.equal(img, test_transform(read_image(paths[2])))
    raw, _, _, _ = ImageSampleDataset(samples)[0]
    assert isinstance(raw, Image.Image) and raw.mode == 'RGB'
    with pytest.raises(ValueError, match='ImageSampleDataset got tracklets'):
        ImageSampleDataset([(tuple(paths), 0, 0)])


def test_video_dataset_loads_the_sampled_frames_in_order(tracklet):
    samples = [(tracklet, 4, 1)]
    imgs, pid, camid, paths = TrackletSampleDataset(samples, seq_len=3, sample='evenly')[0]
    assert imgs.shape == (3, 3, 32, 16) and imgs.dtype == torch.uint8
    # 7 frames, seq_len 3: drop 1, stride 2 -> frames 0, 2, 4.
    assert imgs[:, 0, 0, 0].tolist() == [0, 60, 120]
    assert (pid, camid, paths) == (4, 1, tracklet)
    padded, _, _, _ = TrackletSampleDataset(samples, seq_len=9, sample='evenly')[0]
    assert padded[:, 0, 0, 0].tolist() == [0, 30, 60, 90, 120, 150, 180, 180, 180]
    everything, _, _, _ = TrackletSampleDataset(samples, sample='all', transform=build_transforms(32, 16)[1])[0]
    assert everything.shape == (7, 3, 32, 16) and everything.dtype == torch.float32


def test_video_clip_dataset_augments_every_frame_of_a_clip_alike(tmp_path):
    frame = write_image(tmp_path / 'frame.jpg', size=(24, 48), seed=5)
    copies = []
    for i in range(6):
        copy = tmp_path / 'copy{}.jpg'.format(i)
        copy.write_bytes(open(frame, 'rb').read())
        copies.append(str(copy))
    train_transform = build_transforms(32, 16, random_erase=True)[0]
    dataset = VideoClipDataset([(tuple(copies), 0, 0)], seq_len=4, transform=train_transform)
    torch.manual_seed(0)
    clips = [dataset[0][0] for _ in range(8)]
    for clip in clips:
        assert clip.shape == (4, 3, 32, 16)
        assert all(torch.equal(clip[0], clip[t]) for t in range(1, 4))  # same crop, flip and erasing
    assert len({clip[0].numpy().tobytes() for clip in clips}) > 1  # but different between draws


def test_tracklets_to_frames():
    samples = [(('a0', 'a1'), 3, 0), (('b0',), 5, 1)]
    assert tracklets_to_frames(samples) == [('a0', 3, 0), ('a1', 3, 0), ('b0', 5, 1)]


def test_collate_keeps_paths():
    batch = [(torch.full((3, 4, 2), float(i)), i, 10 + i, 'img{}.jpg'.format(i)) for i in range(3)]
    imgs, pids, camids, paths = collate_with_paths(batch)
    assert imgs.shape == (3, 3, 4, 2) and imgs[2, 0, 0, 0].item() == 2.0
    assert pids.tolist() == [0, 1, 2] and pids.dtype == torch.int64
    assert camids.tolist() == [10, 11, 12]
    assert paths == ['img0.jpg', 'img1.jpg', 'img2.jpg']
    video_batch = [(torch.zeros(2, 3, 4, 2), 0, 0, ('f0', 'f1')), (torch.ones(2, 3, 4, 2), 1, 1, ('g0',))]
    imgs, _, _, paths = collate_with_paths(video_batch)
    assert imgs.shape == (2, 2, 3, 4, 2) and paths == [('f0', 'f1'), ('g0',)]


# ---------------------------------------------------------------- loaders

@pytest.fixture
def image_samples(tmp_path):
    """6 identities x 5 images, 32 x 16 JPEGs."""
    samples = []
    for pid in range(6):
        for k in range(5):
            path = write_image(tmp_path / '{}_{}.jpg'.format(pid, k), seed=10 * pid + k)
            samples.append((path, pid, k % 2))
    return samples


def test_identity_train_loader_batches(image_samples):
    train_transform = build_transforms(32, 16)[0]
    loader = build_train_loader(image_samples, train_transform, batch_size=8, workers=0, sampler='identity',
                                num_instances=4, seed=1)
    for epoch in range(2):
        loader.sampler.set_epoch(epoch)
        batches = list(loader)
        assert len(batches) == len(loader) > 0
        for imgs, pids, camids, paths in batches:
            assert imgs.shape == (8, 3, 32, 16)
            assert sorted(Counter(pids.tolist()).values()) == [4, 4]
            assert [image_samples[[s[0] for s in image_samples].index(p)][1] for p in paths] == pids.tolist()


def test_random_train_loader_drops_the_last_batch(image_samples):
    loader = build_train_loader(image_samples, build_transforms(32, 16)[0], batch_size=7, workers=0, seed=0)
    batches = list(loader)
    assert len(batches) == len(loader) == 4  # 30 images -> 4 batches of 7, 2 dropped
    assert len({p for _, _, _, paths in batches for p in paths}) == 28


def test_train_loader_on_tracklets(tracklet):
    tracklets = [(tracklet, 0, 0), (tracklet[:4], 1, 1), (tracklet[2:], 2, 0)]
    transform = build_transforms(32, 16)[0]
    frames = build_train_loader(tracklets, transform, batch_size=4, workers=0)
    assert len(frames.dataset) == 7 + 4 + 5  # frame-level training, as the seed
    imgs, _, _, paths = next(iter(frames))
    assert imgs.shape == (4, 3, 32, 16) and isinstance(paths[0], str)
    clips = build_train_loader(tracklets, transform, batch_size=2, workers=0, sampler='identity', num_instances=1,
                               video_clip_len=3)
    imgs, pids, _, paths = next(iter(clips))
    assert imgs.shape == (2, 3, 3, 32, 16) and isinstance(paths[0], tuple)
    assert pids[0] != pids[1]


def test_test_loaders_keep_order_and_every_item(image_samples, tracklet):
    loader = build_test_loader(image_samples, build_transforms(32, 16)[1], batch_size=8, workers=0)
    paths = [p for _, _, _, batch_paths in loader for p in batch_paths]
    assert paths == [s[0] for s in image_samples]  # 30 items: 3 batches of 8 and one of 6
    tracklets = [(tracklet, 0, 0), (tracklet[:2], 1, 1), (tracklet[1:], 2, 0)]
    video = build_test_loader(tracklets, build_transforms(32, 16)[1], batch_size=2, workers=0, video=True, seq_len=4)
    shapes = [imgs.shape for imgs, _, _, _ in video]
    assert shapes == [(2, 4, 3, 32, 16), (1, 4, 3, 32, 16)]
    with pytest.raises(ValueError, match="'all' .* use a test batch size of 1"):
        build_test_loader(tracklets, None, batch_size=2, workers=0, video=True, sample='all')


def test_worker_seeding_makes_augmentation_reproducible(image_samples):
    train_transform = build_transforms(32, 16)[0]

    def first_epoch(seed):
        loader = build_train_loader(image_samples[:12], train_transform, batch_size=4, workers=2, seed=seed)
        loader.sampler.set_epoch(0)
        return [(imgs, paths) for imgs, _, _, paths in loader]

    first, again, other = first_epoch(3), first_epoch(3), first_epoch(4)
    assert [paths for _, paths in first] == [paths for _, paths in again]
    assert all(torch.equal(a, b) for (a, _), (b, _) in zip(first, again))
    assert [paths for _, paths in first] != [paths for _, paths in other]
    assert os.path.exists(first[0][1][0])
