"""Image dataset readers on tiny trees in each dataset's official layout (see tests/dataset_trees.py)."""
import json
import os
import socket

import numpy as np
import pytest
from PIL import Image

import dataset_trees as trees
from torchreid.datasets import get_image_names, init_imgreid_dataset
from torchreid.datasets.base import DatasetNotFoundError
from torchreid.datasets.cuhk01 import CUHK01
from torchreid.datasets.cuhk03 import CUHK03
from torchreid.datasets.download import DatasetDownloadError, download_dataset, extract_archive
from torchreid.datasets.dukemtmcreid import DukeMTMCreID
from torchreid.datasets.generic import MarketStyleDataset
from torchreid.datasets.grid import GRID
from torchreid.datasets.ilids import iLIDS
from torchreid.datasets.market1501 import Market1501
from torchreid.datasets.msmt17 import MSMT17
from torchreid.datasets.prid450s import PRID450S
from torchreid.datasets.sensereid import SenseReID
from torchreid.datasets.viper import VIPeR

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def names(samples):
    return [os.path.basename(path) for path, _, _ in samples]


def triples(samples):
    return [(os.path.basename(path), pid, camid) for path, pid, camid in samples]


def assert_train_relabelled(dataset):
    assert sorted({pid for _, pid, _ in dataset.train}) == list(range(dataset.num_train_pids))


def assert_paths_exist(dataset):
    for subset in (dataset.train, dataset.query, dataset.gallery):
        for path, _, _ in subset:
            assert os.path.isfile(path), path


def closed_port_url(name):
    """A URL on 127.0.0.1 whose port nobody listens on: connecting fails at once, with no real network."""
    sock = socket.socket()
    sock.bind(('127.0.0.1', 0))
    port = sock.getsockname()[1]
    sock.close()
    return 'http://127.0.0.1:{}/{}'.format(port, name)


# ---------------------------------------------------------------------------------------------------------------
# Market-1501, DukeMTMC-reID, MSMT17, SenseReID, market_style


@pytest.mark.parametrize('folder', ['market1501', 'market1501/Market-1501-v15.09.15', 'Market-1501-v15.09.15'])
def test_market1501_layouts_junk_and_relabel(tmp_path, folder):
    root = str(tmp_path)
    data_dir = trees.build_market1501(root, folder)
    dataset = Market1501(root=root, verbose=False)
    assert dataset.dataset_dir == data_dir
    assert triples(dataset.train) == [('0002_c1s1_000451_03.jpg', 0, 0), ('0002_c2s1_000551_01.jpg', 0, 1),
                                      ('0007_c3s3_000123_02.jpg', 1, 2), ('0007_c6s1_000001_01.jpg', 1, 5),
                                      ('0010_c1s2_000100_01.jpg', 2, 0)]
    assert triples(dataset.query) == [('0001_c1s1_001051_00.jpg', 1, 0), ('0001_c3s1_000951_00.jpg', 1, 2),
                                      ('0003_c2s1_000301_00.jpg', 3, 1)]
    # pid -1 junk dropped, pid 0 distractors kept (and counted as one gallery identity), Thumbs.db skipped.
    assert sorted(triples(dataset.gallery)) == sorted([
        ('0001_c2s1_000301_01.jpg', 1, 1), ('0001_c5s1_001176_02.jpg', 1, 4), ('0003_c4s2_000226_01.jpg', 3, 3),
        ('0000_c1s1_000151_01.jpg', 0, 0), ('0000_c6s4_000000_02.jpg', 0, 5)])
    assert (dataset.num_train_pids, dataset.num_query_pids, dataset.num_gallery_pids) == (3, 2, 3)
    assert (dataset.total_ids, dataset.total_images, dataset.num_cams) == (5, 13, 6)
    assert_paths_exist(dataset)


def test_market1501_prints_statistics_table(tmp_path, capsys):
    trees.build_market1501(str(tmp_path))
    init_imgreid_dataset('market1501', root=str(tmp_path))
    rule = '  ' + '-' * 40
    assert capsys.readouterr().out.splitlines() == [
        '=> Market1501 loaded', 'Dataset statistics:', rule,
        '  subset   | # ids |    # images | # cameras', rule,
        '  train    |     3 |           5 |         4',
        '  query    |     2 |           3 |         3',
        '  gallery  |     3 |           5 |         5', rule,
        '  total    |     5 |          13 |         6', rule]


def test_market1501_rejects_foreign_file_names(tmp_path):
    trees.build_market1501(str(tmp_path))
    trees.write_image(str(tmp_path / 'market1501' / 'query' / 'person1.jpg'))
    with pytest.raises(ValueError, match='person1.jpg'):
        Market1501(root=str(tmp_path), verbose=False)
    os.remove(str(tmp_path / 'market1501' / 'query' / 'person1.jpg'))
    trees.write_image(str(tmp_path / 'market1501' / 'query' / '0001_c7s1_000001_00.jpg'))
    with pytest.raises(ValueError, match='camera c1..c6'):
        Market1501(root=str(tmp_path), verbose=False)


@pytest.mark.parametrize('folder', ['dukemtmc-reid/DukeMTMC-reID', 'DukeMTMC-reID'])
def test_dukemtmcreid(tmp_path, folder):
    trees.build_dukemtmcreid(str(tmp_path), folder)
    dataset = DukeMTMCreID(root=str(tmp_path), verbose=False)
    assert triples(dataset.train) == [('0001_c2_f0046182.jpg', 0, 1), ('0001_c5_f0051271.jpg', 0, 4),
                                      ('0003_c8_f0000001.jpg', 1, 7)]
    assert triples(dataset.query) == [('0005_c2_f0046985.jpg', 5, 1)]
    assert triples(dataset.gallery) == [('0005_c5_f0054324.jpg', 5, 4), ('0009_c7_f0100000.jpg', 9, 6)]
    assert (dataset.num_train_pids, dataset.num_query_pids, dataset.num_gallery_pids) == (2, 1, 2)
    assert (dataset.total_ids, dataset.total_images) == (3, 6)


@pytest.mark.parametrize('folder', ['msmt17/MSMT17_V1', 'MSMT17_V1'])
def test_msmt17_lists_camids_and_val_option(tmp_path, folder):
    data_dir = trees.build_msmt17(str(tmp_path), folder)
    dataset = MSMT17(root=str(tmp_path), verbose=False)
    assert [(os.path.relpath(path, data_dir), pid, camid) for path, pid, camid in dataset.train] == [
        ('train/0000/0000_000_01_0303morning_0015_0.jpg', 0, 0),
        ('train/0000/0000_002_03_0303morning_0020_0.jpg', 0, 2),
        ('train/0001/0001_000_15_0303noon_0001_1.jpg', 1, 14)]
    assert triples(dataset.query) == [('0000_000_02_0303morning_0035_1.jpg', 0, 1),
                                      ('0001_000_05_0303afternoon_0101_0.jpg', 1, 4)]
    assert [camid for _, _, camid in dataset.gallery] == [6, 4, 8]
    assert (len(dataset.train), len(dataset.query), len(dataset.gallery)) == (3, 2, 3)
    assert_paths_exist(dataset)

    with_val = MSMT17(root=str(tmp_path), add_val_to_train=True, verbose=False)
    assert len(with_val.train) == 5 and with_val.num_train_pids == 2
    assert triples(with_val.train)[3:] == [('0000_001_01_0303morning_0016_0.jpg', 0, 0),
                                           ('0001_001_11_0303noon_0009_0.jpg', 1, 10)]


def test_msmt17_bad_list_line(tmp_path):
    data_dir = trees.build_msmt17(str(tmp_path))
    trees.write_file(os.path.join(data_dir, 'list_query.txt'), '0000/0000_000_02_0303morning_0035_1.jpg\n')
    with pytest.raises(ValueError, match=r'list_query.txt:1'):
        MSMT17(root=str(tmp_path), verbose=False)


@pytest.mark.parametrize('folder', ['sensereid/SenseReID', 'SenseReID'])
def test_sensereid_is_evaluation_only(tmp_path, capsys, folder):
    trees.build_sensereid(str(tmp_path), folder)
    dataset = SenseReID(root=str(tmp_path))
    # camera numbers 0, 1, 2 of the names -> camids 0, 1, 2 (sorted over both folders)
    assert triples(dataset.query) == [('0012_1.jpg', 12, 1), ('0012_2.jpg', 12, 2), ('0040_0.jpg', 40, 0)]
    assert triples(dataset.gallery) == [('0012_0.jpg', 12, 0), ('0040_1.jpg', 40, 1), ('0077_0.jpg', 77, 0),
                                        ('0077_2.jpg', 77, 2)]
    assert triples(dataset.train) == [('0012_1.jpg', 0, 1), ('0012_2.jpg', 0, 2), ('0040_0.jpg', 1, 0)]
    assert dataset.num_train_pids == dataset.num_query_pids == 2
    assert (dataset.total_ids, dataset.total_images) == (3, 7)
    table = capsys.readouterr().out
    assert '  train ' not in table
    assert '  query    |     2 |           3 |         3' in table
    assert '  total    |     3 |           7 |         3' in table


def test_market_style_generic_dataset(tmp_path, capsys):
    data_dir = tmp_path / 'my_cameras'
    trees.write_images(str(data_dir / 'bounding_box_train'), ['0010_c0_0001.png', '0010_c3_0002.png', '0004_c0_x.png'])
    trees.write_images(str(data_dir / 'query'), ['0100_c0_0001.jpg', '-1_c3_0001.jpg'])
    trees.write_images(str(data_dir / 'bounding_box_test'), ['0100_c3_0009.jpeg', '0000_c3_0001.bmp'])
    trees.write_file(str(data_dir / 'query' / 'notes.txt'), 'ignored')
    # Read the way the scripts call it: -d market_style --root <the folder>
    dataset = init_imgreid_dataset('market_style', root=str(data_dir))
    assert 'market_style' in get_image_names()
    assert triples(dataset.train) == [('0004_c0_x.png', 0, 0), ('0010_c0_0001.png', 1, 0), ('0010_c3_0002.png', 1, 1)]
    assert triples(dataset.query) == [('0100_c0_0001.jpg', 100, 0)]          # pid -1 dropped
    assert triples(dataset.gallery) == [('0000_c3_0001.bmp', 0, 1), ('0100_c3_0009.jpeg', 100, 1)]
    assert "=> market_style dataset '{}' loaded".format(data_dir) in capsys.readouterr().out

    # dataset_dir under root and other folder names
    trees.write_images(str(tmp_path / 'set2' / 'tr'), ['0001_c1_a.jpg'])
    trees.write_images(str(tmp_path / 'set2' / 'q'), ['0002_c1_a.jpg'])
    trees.write_images(str(tmp_path / 'set2' / 'g'), ['0002_c2_a.jpg'])
    other = MarketStyleDataset(root=str(tmp_path), dataset_dir='set2', train_dir='tr', query_dir='q', gallery_dir='g',
                               verbose=False)
    assert (triples(other.train), triples(other.gallery)) == ([('0001_c1_a.jpg', 0, 0)], [('0002_c2_a.jpg', 2, 1)])

    # evaluation only: no training folder
    evaluation = MarketStyleDataset(root=str(tmp_path), dataset_dir='set2', train_dir=None, query_dir='q',
                                    gallery_dir='g')
    assert triples(evaluation.train) == [('0002_c1_a.jpg', 0, 0)]
    assert '  train ' not in capsys.readouterr().out


def test_market_style_errors(tmp_path):
    with pytest.raises(DatasetNotFoundError) as error:
        init_imgreid_dataset('market_style', root=str(tmp_path / 'nowhere'))
    message = str(error.value)
    assert "'{}' is not available".format(tmp_path / 'nowhere' / 'bounding_box_train') in message
    assert "'Your own data (market_style)' section of DATASETS.md" in message
    for folder in ('bounding_box_train', 'query', 'bounding_box_test'):
        trees.write_images(str(tmp_path / folder), ['0001_c1_a.jpg'])
    trees.write_images(str(tmp_path / 'query'), ['frame_0001.jpg'])
    with pytest.raises(ValueError, match="must start with '<pid>_c<camera>'"):
        MarketStyleDataset(root=str(tmp_path), verbose=False)
    os.remove(str(tmp_path / 'query' / 'frame_0001.jpg'))
    os.remove(str(tmp_path / 'query' / '0001_c1_a.jpg'))
    with pytest.raises(ValueError, match='holds no images'):
        MarketStyleDataset(root=str(tmp_path), verbose=False)


# ---------------------------------------------------------------------------------------------------------------
# Random splits: VIPeR, CUHK01, PRID450S


def stored_splits(split_path):
    with open(split_path) as f:
        return json.load(f)


def check_two_view_splits(dataset_class, root, num_splits, num_train, images_per_view):
    """Every split: train relabelled with both views, query/gallery = opposite views of the other persons."""
    first = None
    for split_id in range(num_splits):
        dataset = dataset_class(root=root, split_id=split_id, verbose=False)
        assert_train_relabelled(dataset)
        assert dataset.num_train_pids == num_train
        assert len(dataset.train) == 2 * num_train * images_per_view
        query_view, gallery_view = (0, 1) if split_id % 2 == 0 else (1, 0)
        assert {camid for _, _, camid in dataset.query} == {query_view}
        assert {camid for _, _, camid in dataset.gallery} == {gallery_view}
        assert {pid for _, pid, _ in dataset.query} == {pid for _, pid, _ in dataset.gallery}
        train_paths = {path for path, _, _ in dataset.train}
        assert not train_paths & {path for path, _, _ in dataset.query + dataset.gallery}
        assert dataset.total_images == len(dataset.train) + len(dataset.query)
        if split_id % 2 == 0:
            first = dataset
        else:  # splits 2k and 2k+1 share the training set and swap query and gallery
            assert dataset.train == first.train
            assert (dataset.query, dataset.gallery) == (first.gallery, first.query)
        assert_paths_exist(dataset)
    with pytest.raises(ValueError, match='has {} splits'.format(num_splits)):
        dataset_class(root=root, split_id=num_splits, verbose=False)


def test_viper_splits(tmp_path):
    root = str(tmp_path)
    trees.build_viper(root, num_persons=6)
    check_two_view_splits(VIPeR, root, num_splits=20, num_train=3, images_per_view=1)
    dataset = VIPeR(root=root, split_id=0, verbose=False)
    # person i is the i-th name of both cameras; query/gallery pids are the person index
    names_a = sorted(os.listdir(os.path.join(root, 'viper', 'VIPeR', 'cam_a')))
    for path, pid, camid in dataset.query:
        assert camid == 0 and os.path.basename(path) == names_a[pid]
    partitions = {tuple(sorted(pid for _, pid, _ in VIPeR(root=root, split_id=2 * k, verbose=False).query))
                  for k in range(10)}
    assert len(partitions) > 1        # the 10 partitions are not all the same


def test_random_splits_are_seeded_relative_and_survive_moving_root(tmp_path):
    first_root, second_root = str(tmp_path / 'a'), str(tmp_path / 'b')
    for root in (first_root, second_root):
        trees.build_viper(root)
        VIPeR(root=root, verbose=False)
    first_file = os.path.join(first_root, 'viper', 'splits.json')
    stored = stored_splits(first_file)
    # same splits on two independent builds, paths stored relative to viper/
    assert stored == stored_splits(os.path.join(second_root, 'viper', 'splits.json'))
    assert len(stored) == 20
    for split in stored:
        for key in ('train', 'query', 'gallery'):
            for path, _, _ in split[key]:
                assert not os.path.isabs(path) and path.startswith('VIPeR/cam_')

    before = VIPeR(root=first_root, split_id=5, verbose=False)
    moved_root = trees.move_tree(first_root, str(tmp_path / 'moved'))
    after = VIPeR(root=moved_root, split_id=5, verbose=False)
    assert stored_splits(os.path.join(moved_root, 'viper', 'splits.json')) == stored   # not rewritten
    assert triples(after.train) == triples(before.train)
    assert all(path.startswith(moved_root) for path, _, _ in after.train + after.query + after.gallery)
    assert_paths_exist(after)
    assert all(isinstance(sample, tuple) for sample in after.train + after.query + after.gallery)


def test_split_file_with_absolute_paths_is_regenerated(tmp_path, capsys):
    root = str(tmp_path)
    trees.build_viper(root)
    split_path = os.path.join(root, 'viper', 'splits.json')
    legacy = [{'train': [['/old/root/viper/VIPeR/cam_a/000_45.bmp', 0, 0]], 'query': [], 'gallery': [],
               'num_train_pids': 1}]
    with open(split_path, 'w') as f:
        json.dump(legacy, f)
    dataset = VIPeR(root=root, verbose=False)
    assert 'older version' in capsys.readouterr().out
    assert dataset.num_train_pids == 3 and len(stored_splits(split_path)) == 20


def test_cuhk01_extracts_zip_and_splits(tmp_path):
    root = str(tmp_path)
    dataset_dir = trees.build_cuhk01(root, num_persons=4, zipped=True)
    assert not os.path.exists(os.path.join(dataset_dir, 'campus'))
    check_two_view_splits(CUHK01, root, num_splits=20, num_train=2, images_per_view=2)
    assert sorted(os.listdir(os.path.join(dataset_dir, 'campus'))) == trees.cuhk01_names(4)
    dataset = CUHK01(root=root, split_id=1, verbose=False)
    # query/gallery pid = person number - 1; cameras 1-2 -> view 0, 3-4 -> view 1
    for path, pid, camid in dataset.query + dataset.gallery:
        name = os.path.basename(path)
        assert pid == int(name[:4]) - 1 and camid == (int(name[4:7]) - 1) // 2
    assert len(dataset.query) == len(dataset.gallery) == 4
    assert [split['query'] for split in stored_splits(os.path.join(dataset_dir, 'splits.json'))][0][0][0] \
        .startswith('campus/')


def test_cuhk01_missing_zip(tmp_path):
    with pytest.raises(DatasetNotFoundError) as error:
        CUHK01(root=str(tmp_path), verbose=False)
    assert "'{}' is not available".format(tmp_path / 'cuhk01' / 'CUHK01.zip') in str(error.value)
    assert "'CUHK01' section of DATASETS.md" in str(error.value)


def test_prid450s_splits_use_ids_1_to_n(tmp_path):
    root = str(tmp_path)
    trees.build_prid450s(root, num_persons=6)
    train_ids_seen = set()
    for split_id in range(10):
        dataset = PRID450S(root=root, split_id=split_id, verbose=False)
        assert_train_relabelled(dataset)
        assert (dataset.num_train_pids, len(dataset.train)) == (3, 6)
        assert dataset.query == dataset.gallery and len(dataset.query) == 6
        assert {camid for _, _, camid in dataset.query} == {0, 1}
        test_ids = {pid for _, pid, _ in dataset.query}
        train_ids = {int(name[4:8]) for name in names(dataset.train)}
        assert len(test_ids) == 3 and test_ids | train_ids == set(range(1, 7)) and not test_ids & train_ids
        for path, pid, _ in dataset.query:
            assert os.path.basename(path) == 'img_{:04d}.png'.format(pid)   # masks man_XXXX.png ignored
        train_ids_seen |= train_ids
        assert (dataset.total_ids, dataset.total_images) == (6, 12)
    assert train_ids_seen == set(range(1, 7))   # the highest id can be a training id (seed off-by-one fixed)
    with pytest.raises(ValueError, match='has 10 splits'):
        PRID450S(root=root, split_id=10, verbose=False)


def test_prid450s_cameras_must_hold_the_same_ids(tmp_path):
    dataset_dir = trees.build_prid450s(str(tmp_path), num_persons=4)
    os.remove(os.path.join(dataset_dir, 'cam_b', 'img_0004.png'))
    with pytest.raises(ValueError, match='same ids'):
        PRID450S(root=str(tmp_path), verbose=False)


# ---------------------------------------------------------------------------------------------------------------
# GRID and iLIDS (.mat split files)


def test_grid_splits_from_mat(tmp_path):
    root = str(tmp_path)
    trees.build_grid(root)
    for split_id, train_ids in enumerate(trees.GRID_TRAIN_IDS):
        dataset = GRID(root=root, split_id=split_id, verbose=False)
        test_ids = sorted({1, 2, 3, 4} - set(train_ids))
        assert_train_relabelled(dataset)
        assert sorted(int(name[:4]) for name in names(dataset.train)) == sorted(train_ids * 2)
        assert sorted(pid for _, pid, _ in dataset.query) == test_ids
        assert sorted(pid for _, pid, _ in dataset.gallery) == [0, 0, 0] + test_ids
        # 3 distractors are 3 distinct people: gallery ids = 2 + 3
        assert (dataset.num_train_pids, dataset.num_query_pids, dataset.num_gallery_pids) == (2, 2, 5)
        assert (dataset.total_ids, dataset.total_images) == (7, 11)
    dataset = GRID(root=root, split_id=0, verbose=False)
    assert triples(dataset.query) == [('0003_3_25020_80_33_140.jpeg', 3, 2), ('0004_8_25030_70_30_110.jpeg', 4, 7)]
    assert ('0001_5_25002_153_37_129.jpeg', 0, 4) in triples(dataset.train)
    with pytest.raises(ValueError, match='GRID has 10 splits'):
        GRID(root=root, split_id=10, verbose=False)


def test_ilids_splits_from_mat(tmp_path):
    root = str(tmp_path)
    trees.build_ilids(root)
    dataset = iLIDS(root=root, split_id=0, verbose=False)
    # row [3, 1, 4, 2]: test = sorted persons 1, 3 (person001, person004); train = 2, 4 (person002, person005)
    assert triples(dataset.train) == [('cam1_person002.png', 0, 0), ('cam2_person002.png', 0, 1),
                                      ('cam1_person005.png', 1, 0), ('cam2_person005.png', 1, 1)]
    assert triples(dataset.query) == [('cam1_person001.png', 0, 0), ('cam1_person004.png', 1, 0)]
    assert triples(dataset.gallery) == [('cam2_person001.png', 0, 1), ('cam2_person004.png', 1, 1)]
    assert (dataset.total_ids, dataset.total_images) == (4, 6)
    for split_id in range(10):
        assert_train_relabelled(iLIDS(root=root, split_id=split_id, verbose=False))
    with pytest.raises(ValueError, match='iLIDS has 10 splits'):
        iLIDS(root=root, split_id=-1, verbose=False)


def test_ilids_person_folder_needs_one_image(tmp_path):
    dataset_dir = trees.build_ilids(str(tmp_path))
    trees.write_image(os.path.join(dataset_dir, 'i-LIDS-VID', 'images', 'cam2', 'person002', 'extra.png'))
    with pytest.raises(ValueError, match='exactly one .png image, found 2'):
        iLIDS(root=str(tmp_path), verbose=False)


# ---------------------------------------------------------------------------------------------------------------
# CUHK03


def test_cuhk03_writes_images_once_in_matlab_orientation(tmp_path):
    root = str(tmp_path)
    dataset_dir = trees.build_cuhk03(root)
    dataset = CUHK03(root=root, verbose=False)
    for image_type, loaded in (('detected', dataset), ('labeled', CUHK03(root=root, cuhk03_labeled=True,
                                                                       verbose=False))):
        images_dir = os.path.join(dataset_dir, 'images_' + image_type)
        expected = trees.cuhk03_images(image_type)
        assert sorted(os.listdir(images_dir)) == sorted(name for _, _, cells in expected for _, name in cells)
        pair, person, cells = expected[1]
        cell, name = cells[-1]
        pixels = np.asarray(Image.open(os.path.join(images_dir, name)))
        np.testing.assert_array_equal(pixels, trees.cuhk03_pixels(pair, person, cell))   # (H, W, 3)
        assert all(os.path.dirname(path) == images_dir for path, _, _ in loaded.train)

    images_dir = os.path.join(dataset_dir, 'images_detected')
    mtimes = {name: os.stat(os.path.join(images_dir, name)).st_mtime_ns for name in os.listdir(images_dir)}
    CUHK03(root=root, cuhk03_classic_split=True, verbose=False)     # opens the .mat again, writes nothing
    assert {name: os.stat(os.path.join(images_dir, name)).st_mtime_ns for name in os.listdir(images_dir)} == mtimes


def test_cuhk03_new_protocol(tmp_path, capsys):
    root = str(tmp_path)
    dataset_dir = trees.build_cuhk03(root)
    for image_type, labeled in (('detected', False), ('labeled', True)):
        dataset = CUHK03(root=root, cuhk03_labeled=labeled)
        filelist, labels, train_idx, query_idx, gallery_idx = trees.cuhk03_new_protocol(image_type)
        assert names(dataset.train) == [filelist[i - 1] for i in train_idx]
        assert names(dataset.query) == [filelist[i - 1] for i in query_idx]
        assert names(dataset.gallery) == [filelist[i - 1] for i in gallery_idx]
        assert [pid for _, pid, _ in dataset.train] == [labels[i - 1] - 1 for i in train_idx]   # labels 1..4 -> 0..3
        assert [pid for _, pid, _ in dataset.query] == [labels[i - 1] for i in query_idx]        # raw labels kept
        for path, _, camid in dataset.train + dataset.query + dataset.gallery:
            assert camid == int(os.path.basename(path).split('_')[2]) - 1                       # view 1/2 -> 0/1
        assert (dataset.num_train_pids, dataset.num_query_pids, dataset.num_gallery_pids) == (4, 4, 4)
        assert dataset.total_images == len(dataset.train) + len(dataset.query)
        out = capsys.readouterr().out
        assert '=> CUHK03 ({}) loaded'.format(image_type) in out and 'Split index = 0' in out
        split_file = os.path.join(dataset_dir, 'splits_new_{}.json'.format(image_type))
        stored = stored_splits(split_file)
        assert len(stored) == 1 and stored[0]['train'][0][0].startswith('images_{}/'.format(image_type))
    with pytest.raises(ValueError, match=r'CUHK03 \(new protocol\) has 1 splits'):
        CUHK03(root=root, split_id=1, verbose=False)


def test_cuhk03_classic_splits(tmp_path):
    root = str(tmp_path)
    trees.build_cuhk03(root, new_protocol=False)     # the classic protocol needs only cuhk-03.mat
    persons = trees.cuhk03_images('detected')
    for split_id, testset in enumerate(trees.CUHK03_TESTSETS):
        dataset = CUHK03(root=root, split_id=split_id, cuhk03_classic_split=True, verbose=False)
        test_persons = [p for p in persons if (p[0], p[1]) in testset]
        train_persons = [p for p in persons if (p[0], p[1]) not in testset]
        assert names(dataset.query) == [name for _, _, cells in test_persons for _, name in cells]
        assert dataset.query == dataset.gallery
        assert [pid for _, pid, _ in dataset.query] == [k for k, (_, _, cells) in enumerate(test_persons)
                                                        for _ in cells]
        assert [pid for _, pid, _ in dataset.train] == [k for k, (_, _, cells) in enumerate(train_persons)
                                                        for _ in cells]
        assert (dataset.num_train_pids, dataset.num_query_pids) == (6, 2)   # all 5 pairs' other persons train
        assert {camid for _, _, camid in dataset.train} == {0, 1}
    with pytest.raises(ValueError, match=r'CUHK03 \(classic protocol\) has 3 splits'):
        CUHK03(root=root, split_id=3, cuhk03_classic_split=True, verbose=False)
    with pytest.raises(DatasetNotFoundError, match='cuhk03_new_protocol_config_detected.mat'):
        CUHK03(root=root, verbose=False)


def test_cuhk03_split_files_survive_moving_root(tmp_path):
    trees.build_cuhk03(str(tmp_path / 'a'))
    before = CUHK03(root=str(tmp_path / 'a'), verbose=False)
    moved = trees.move_tree(str(tmp_path / 'a'), str(tmp_path / 'b'))
    os.remove(os.path.join(moved, 'cuhk03', 'cuhk03_release', 'cuhk-03.mat'))   # proves the JSON is used
    after = CUHK03(root=moved, verbose=False)
    assert triples(after.train) == triples(before.train) and triples(after.gallery) == triples(before.gallery)
    assert_paths_exist(after)


def test_cuhk03_new_protocol_file_must_match_images(tmp_path):
    dataset_dir = trees.build_cuhk03(str(tmp_path))
    trees.write_cuhk03_new_protocol_mat(os.path.join(dataset_dir, 'cuhk03_new_protocol_config_detected.mat'),
                                        'labeled')
    with pytest.raises(ValueError, match='does not match this cuhk-03.mat'):
        CUHK03(root=str(tmp_path), verbose=False)


# ---------------------------------------------------------------------------------------------------------------
# Missing data, downloads


NOT_DOWNLOADED = [
    (Market1501, 'market1501/bounding_box_train', 'Market1501'),
    (MSMT17, 'msmt17/MSMT17_V1/train', 'MSMT17'),
    (CUHK03, 'cuhk03/cuhk03_release/cuhk-03.mat', 'CUHK03'),
    (SenseReID, 'sensereid/SenseReID/test_probe', 'SenseReID'),
]


@pytest.mark.parametrize('dataset_class,missing,section', NOT_DOWNLOADED)
def test_missing_dataset_names_path_layout_and_docs(tmp_path, dataset_class, missing, section):
    with pytest.raises(DatasetNotFoundError) as error:
        dataset_class(root=str(tmp_path), verbose=False)
    message = str(error.value)
    assert "'{}' is not available".format(os.path.join(str(tmp_path), *missing.split('/'))) in message
    assert 'Expected layout:' in message
    assert "See the '{}' section of DATASETS.md".format(section) in message


DOWNLOADED = [(DukeMTMCreID, 'DukeMTMC-reID.zip'), (VIPeR, 'VIPeR.v1.0.zip'), (GRID, 'underground_reid.zip'),
              (PRID450S, 'prid_450s.zip'), (iLIDS, 'iLIDS-VID.tar')]


@pytest.mark.parametrize('dataset_class,archive', DOWNLOADED)
def test_failed_download_explains_manual_steps(tmp_path, monkeypatch, dataset_class, archive):
    url = closed_port_url(archive)
    monkeypatch.setattr(dataset_class, 'dataset_url', url)
    with pytest.raises(DatasetDownloadError) as error:
        dataset_class(root=str(tmp_path), verbose=False)
    message = str(error.value)
    dataset_dir = os.path.join(str(tmp_path), dataset_class.dataset_dir)
    assert 'Downloading {} failed'.format(url) in message
    assert os.path.join(dataset_dir, archive) in message          # where to put the file by hand
    assert "See the '{}' section of DATASETS.md".format(dataset_class.docs_section) in message
    assert os.listdir(dataset_dir) == []                          # no partial download left behind


def test_download_from_file_url_extracts_zip_and_dataset_loads(tmp_path, monkeypatch):
    source = str(tmp_path / 'source')
    trees.build_viper(source)
    zip_path = trees.make_zip(os.path.join(source, 'viper', 'VIPeR'), str(tmp_path / 'server' / 'VIPeR.v1.0.zip'))
    monkeypatch.setattr(VIPeR, 'dataset_url', 'file://' + zip_path)
    root = str(tmp_path / 'data')
    dataset = VIPeR(root=root, verbose=False)
    assert sorted(os.listdir(os.path.join(root, 'viper'))) == ['VIPeR', 'VIPeR.v1.0.zip', 'splits.json']
    assert dataset.num_train_pids == 3
    assert_paths_exist(dataset)


def test_download_dataset_extracts_tar_and_keeps_existing_files(tmp_path):
    source = str(tmp_path / 'source')
    dataset_dir = trees.build_ilids(source)
    tar_path = trees.make_tar([os.path.join(dataset_dir, 'i-LIDS-VID'), os.path.join(dataset_dir,
                                                                                    'train-test people splits')],
                              str(tmp_path / 'server' / 'iLIDS-VID.tar'))
    target = str(tmp_path / 'data' / 'ilids-vid')
    trees.write_file(os.path.join(target, 'i-LIDS-VID', 'notes.txt'), 'mine')
    archive = download_dataset(target, 'file://' + tar_path)
    assert archive == os.path.join(target, 'iLIDS-VID.tar')
    assert sorted(os.listdir(target)) == ['i-LIDS-VID', 'iLIDS-VID.tar', 'train-test people splits']
    assert open(os.path.join(target, 'i-LIDS-VID', 'notes.txt')).read() == 'mine'
    dataset = iLIDS(root=str(tmp_path / 'data'), verbose=False)
    assert len(dataset.train) == 4


def test_archive_placed_by_hand_is_extracted_without_download(tmp_path):
    source = str(tmp_path / 'source')
    trees.build_prid450s(source, num_persons=4, folder='prid_450s')
    root = str(tmp_path / 'data')
    trees.make_zip(os.path.join(source, 'prid_450s'), os.path.join(root, 'prid450s', 'prid_450s.zip'), arc_root='')
    dataset = PRID450S(root=root, verbose=False)      # the real URL is never contacted: the zip is there
    assert dataset.num_train_pids == 2


def test_downloaded_file_that_is_not_an_archive(tmp_path):
    page = tmp_path / 'server' / 'DukeMTMC-reID.zip'
    trees.write_file(str(page), '<html>moved</html>')
    with pytest.raises(DatasetDownloadError, match='not a zip or tar archive'):
        download_dataset(str(tmp_path / 'data'), 'file://' + str(page), docs_section='DukeMTMC-reID')
    with pytest.raises(DatasetDownloadError, match='not a zip or tar archive'):
        extract_archive(str(page), str(tmp_path / 'out'))
    with pytest.raises(ValueError, match='archive_name'):
        download_dataset(str(tmp_path / 'data'), 'https://example.org/')


def test_tar_member_outside_the_folder_is_refused(tmp_path):
    import io
    import tarfile
    tar_path = str(tmp_path / 'server' / 'evil.tar')
    os.makedirs(os.path.dirname(tar_path))
    with tarfile.open(tar_path, 'w') as archive:
        member = tarfile.TarInfo('../escaped.txt')
        member.size = 3
        archive.addfile(member, io.BytesIO(b'bad'))
    with pytest.raises(DatasetDownloadError, match='evil.tar'):
        download_dataset(str(tmp_path / 'data' / 'x'), 'file://' + tar_path)
    assert not os.path.exists(str(tmp_path / 'data' / 'escaped.txt'))
    assert os.listdir(str(tmp_path / 'data' / 'x')) == ['evil.tar']    # the temporary folder is cleaned up


# ---------------------------------------------------------------------------------------------------------------
# DATASETS.md


def test_datasets_md_has_a_section_per_docs_section():
    with open(os.path.join(REPO_ROOT, 'DATASETS.md')) as f:
        headings = {line.lstrip('#').strip() for line in f if line.startswith('#')}
    sections = [cls.docs_section for cls in (Market1501, CUHK03, DukeMTMCreID, MSMT17, VIPeR, GRID, CUHK01, PRID450S,
                                             iLIDS, SenseReID, MarketStyleDataset)]
    sections += ['MARS', 'iLIDS-VID', 'PRID2011', 'DukeMTMC-VideoReID', 'Demo datasets']
    assert [section for section in sections if section not in headings] == []


def python_blocks(markdown_path, section):
    """The ```python code blocks of one '## <section>' of a markdown file."""
    with open(markdown_path) as f:
        text = f.read()
    body = text.split('## {}\n'.format(section), 1)[1].split('\n## ', 1)[0]
    return [block.split('```', 1)[0] for block in body.split('```python\n')[1:]]


def test_datasets_md_registration_examples_run(tmp_path, monkeypatch):
    import torchreid.datasets as datasets
    monkeypatch.setattr(datasets, '_image_datasets', datasets._image_datasets.copy())   # keep the registry clean
    class_example, partial_example = python_blocks(os.path.join(REPO_ROOT, 'DATASETS.md'),
                                                   'Writing and registering a dataset class')
    exec(compile(class_example, 'DATASETS.md', 'exec'), {})
    trees.write_images(str(tmp_path / 'my_cameras' / 'train'), ['7_0.jpg', '7_1.jpg', '9_1.jpg'])
    trees.write_images(str(tmp_path / 'my_cameras' / 'cam0'), ['3_0.jpg'])
    trees.write_images(str(tmp_path / 'my_cameras' / 'cam1'), ['3_1.jpg', '4_1.jpg'])
    dataset = init_imgreid_dataset('my_cameras', root=str(tmp_path), split_id=0, verbose=False)
    assert triples(dataset.train) == [('7_0.jpg', 0, 0), ('7_1.jpg', 0, 1), ('9_1.jpg', 1, 1)]
    assert (dataset.num_query_pids, dataset.num_gallery_pids) == (1, 2)

    exec(compile(partial_example, 'DATASETS.md', 'exec'), {})
    trees.write_images(str(tmp_path / 'my_cameras' / 'query'), ['0003_c1_a.jpg'])
    trees.write_images(str(tmp_path / 'my_cameras' / 'bounding_box_test'), ['0003_c2_a.jpg'])
    probe_set = init_imgreid_dataset('my_probe_set', root=str(tmp_path), split_id=0, verbose=False)
    assert triples(probe_set.query) == [('0003_c1_a.jpg', 3, 0)] and probe_set.num_train_pids == 1
