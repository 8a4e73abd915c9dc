"""The generated demo datasets: deterministic bytes, the real readers' layout and naming, statistics, and
generation only when the folder is missing (atomically)."""
import os
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from torchreid.datasets import DatasetNotFoundError, init_dataset
from torchreid.datasets.demo import DemoImageDataset, DemoVideoDataset, generate
from torchreid.datasets.demo.drawing import HEIGHT, WIDTH
from torchreid.datasets.dukemtmcvidreid import DukeMTMCVidReID
from torchreid.datasets.market1501 import Market1501

SMALL_IMAGE = {'num_train_ids': 4, 'num_test_ids': 3, 'num_distractors': 2, 'num_junk': 2}
SMALL_VIDEO = {'num_train_ids': 3, 'num_test_ids': 2, 'num_distractor_ids': 1, 'frames_per_tracklet': (2, 3), 'train_tracklets_per_id': (2, 3)}
MARKET_NAME = re.compile(r'^(-1|\d{4})_c[1-6]s1_\d{6}_00\.jpg$')
DUKE_VIDEO_NAME = re.compile(r'^(\d{4})_C([1-8])_F(\d{4})_X\d{5}\.jpg$')


def tree_contents(folder):
    """{relative path: bytes} of every file under ``folder``."""
    contents = {}
    for directory, _, files in os.walk(folder):
        for name in files:
            path = os.path.join(directory, name)
            with open(path, 'rb') as f:
                contents[os.path.relpath(path, folder)] = f.read()
    return contents


@pytest.fixture(scope='module')
def demo_root(tmp_path_factory):
    """One full-size generation of both demos, shared by the tests that only read them."""
    root = str(tmp_path_factory.mktemp('demo_root'))
    init_dataset('demo', root=root, verbose=False)
    init_dataset('demovideo', root=root, verbose=False)
    return root


@pytest.mark.parametrize('generate_fn, sizes', [(generate.generate_image_demo, SMALL_IMAGE),
                                                (generate.generate_video_demo, SMALL_VIDEO)])
def test_generation_is_deterministic(tmp_path, generate_fn, sizes):
    generate_fn(str(tmp_path / 'a'), seed=3, sizes=sizes)
    generate_fn(str(tmp_path / 'b'), seed=3, sizes=sizes)
    generate_fn(str(tmp_path / 'c'), seed=4, sizes=sizes)
    first, second, other = [tree_contents(str(tmp_path / name)) for name in 'abc']
    assert len(first) > 10
    assert first == second
    assert first != other


def test_image_demo_is_market1501_read_by_the_market_reader(demo_root, tmp_path):
    dataset = DemoImageDataset(root=demo_root, verbose=False)
    assert isinstance(dataset, Market1501)
    folder = os.path.join(demo_root, 'demo')
    assert sorted(os.listdir(folder)) == ['bounding_box_test', 'bounding_box_train', 'query']
    for subset in ('bounding_box_train', 'query', 'bounding_box_test'):
        assert all(MARKET_NAME.match(name) for name in os.listdir(os.path.join(folder, subset)))
    # the same tree under the name market1501 reads identically through the Market-1501 reader
    os.symlink(folder, str(tmp_path / 'market1501'))
    market = Market1501(root=str(tmp_path), verbose=False)
    strip = lambda samples: [(os.path.basename(path), pid, camid) for path, pid, camid in samples]
    assert strip(market.train) == strip(dataset.train)
    assert strip(market.query) == strip(dataset.query)
    assert strip(market.gallery) == strip(dataset.gallery)


def test_image_demo_statistics_and_protocol(demo_root):
    dataset = DemoImageDataset(root=demo_root, verbose=False)
    sizes = generate.IMAGE_DEMO_SIZES
    assert dataset.num_train_pids == sizes['num_train_ids']
    assert sorted({pid for _, pid, _ in dataset.train}) == list(range(sizes['num_train_ids']))
    assert dataset.num_query_pids == sizes['num_test_ids']
    assert dataset.num_gallery_pids == sizes['num_test_ids'] + 1  # test ids + the distractors' pid 0
    assert dataset.num_cams == sizes['num_cameras']
    assert 400 <= dataset.num_train_items <= 700 and 80 <= dataset.num_query_items <= 160
    gallery_names = os.listdir(os.path.join(demo_root, 'demo', 'bounding_box_test'))
    assert sum(name.startswith('-1_') for name in gallery_names) == sizes['num_junk']  # on disk, dropped on read
    assert sum(name.startswith('0000_') for name in gallery_names) == sizes['num_distractors']
    assert -1 not in {pid for _, pid, _ in dataset.gallery}
    # train and test persons are disjoint; every query has a true match in another camera
    train_names = os.listdir(os.path.join(demo_root, 'demo', 'bounding_box_train'))
    assert not {name[:4] for name in train_names} & {os.path.basename(p)[:4] for p, _, _ in dataset.query}
    gallery = {(pid, camid) for _, pid, camid in dataset.gallery}
    for _, pid, camid in dataset.query:
        assert any(g_pid == pid and g_camid != camid for g_pid, g_camid in gallery)
    image = Image.open(dataset.query[0][0])
    assert image.format == 'JPEG' and image.mode == 'RGB' and image.size == (WIDTH, HEIGHT)


def test_video_demo_is_duke_video_read_by_the_duke_video_reader(demo_root):
    dataset = DemoVideoDataset(root=demo_root, verbose=False)
    assert isinstance(dataset, DukeMTMCVidReID)
    sizes = generate.VIDEO_DEMO_SIZES
    assert dataset.num_train_pids == sizes['num_train_ids']
    assert dataset.num_query_pids == dataset.num_query_items == sizes['num_test_ids']
    assert dataset.num_gallery_pids == sizes['num_test_ids'] + sizes['num_distractor_ids']
    low, high = sizes['frames_per_tracklet']
    for frames, pid, camid in dataset.train + dataset.query + dataset.gallery:
        assert isinstance(frames, tuple) and low <= len(frames) <= high
        parsed = [DUKE_VIDEO_NAME.match(os.path.basename(path)).groups() for path in frames]
        assert {int(camera) - 1 for _, camera, _ in parsed} == {camid}
        assert [int(frame) for _, _, frame in parsed] == list(range(1, len(frames) + 1))
        assert os.path.basename(os.path.dirname(os.path.dirname(frames[0]))) == parsed[0][0]
    gallery = {(pid, camid) for _, pid, camid in dataset.gallery}
    for _, pid, camid in dataset.query:
        assert any(g_pid == pid and g_camid != camid for g_pid, g_camid in gallery)
    for subset in ('train', 'query', 'gallery'):
        assert os.path.isfile(os.path.join(demo_root, 'demovideo', 'split_{}.json'.format(subset)))


def test_identities_look_alike_across_cameras_more_than_different_people(demo_root):
    """Sanity check of the drawing: the person region's mean colour is closer within an identity."""
    dataset = DemoImageDataset(root=demo_root, verbose=False)

    def centre_colour(path):
        pixels = np.asarray(Image.open(path), dtype=np.float64)
        return pixels[HEIGHT // 4:3 * HEIGHT // 4, WIDTH // 3:2 * WIDTH // 3].reshape(-1, 3).mean(0)

    colours = np.stack([centre_colour(path) for path, _, _ in dataset.train])
    pids = np.array([pid for _, pid, _ in dataset.train])
    distances = ((colours[:, None] - colours[None]) ** 2).sum(-1)
    same = pids[:, None] == pids[None]
    off_diagonal = ~np.eye(len(pids), dtype=bool)
    assert distances[same & off_diagonal].mean() < 0.5 * distances[~same].mean()


def test_generated_only_when_missing(tmp_path, monkeypatch):
    calls = []
    real_generate = generate.generate_image_demo

    def counting(target_dir, seed, sizes):
        calls.append(target_dir)
        real_generate(target_dir, seed, dict(sizes, **SMALL_IMAGE))
    monkeypatch.setattr('torchreid.datasets.demo.generate_image_demo', counting)
    first = DemoImageDataset(root=str(tmp_path), verbose=False)
    second = DemoImageDataset(root=str(tmp_path), verbose=False)
    assert len(calls) == 1 and second.train == first.train
    # the tree was written elsewhere and renamed into place; no temporary folder is left behind
    assert os.path.basename(calls[0]).startswith('.demo.') and sorted(os.listdir(str(tmp_path))) == ['demo']
    os.remove(second.query[0][0])
    DemoImageDataset(root=str(tmp_path), verbose=False)  # an existing folder is never rewritten
    assert len(calls) == 1
    shutil.rmtree(str(tmp_path / 'demo' / 'query'))
    with pytest.raises(DatasetNotFoundError, match='delete the folder to regenerate it'):
        DemoImageDataset(root=str(tmp_path), verbose=False)
    shutil.rmtree(str(tmp_path / 'demo'))
    DemoImageDataset(root=str(tmp_path), verbose=False)
    assert len(calls) == 2


def test_interrupted_generation_leaves_nothing_behind(tmp_path):
    def interrupted(target_dir, seed, sizes):
        generate.generate_image_demo(target_dir, seed, dict(sizes, **SMALL_IMAGE))
        raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        generate.ensure_generated(str(tmp_path / 'demo'), interrupted, 0, generate.IMAGE_DEMO_SIZES)
    assert os.listdir(str(tmp_path)) == []


def test_concurrent_generation_keeps_the_first_complete_tree(tmp_path):
    target = str(tmp_path / 'demo')

    def raced(target_dir, seed, sizes):
        # another process finishes first while this one is still writing
        generate.generate_image_demo(target, seed, dict(sizes, **SMALL_IMAGE))
        generate.generate_image_demo(target_dir, seed, dict(sizes, **SMALL_IMAGE))
    generate.ensure_generated(target, raced, 0, generate.IMAGE_DEMO_SIZES)
    assert sorted(os.listdir(str(tmp_path))) == ['demo']
    assert sorted(os.listdir(target)) == ['bounding_box_test', 'bounding_box_train', 'query']
