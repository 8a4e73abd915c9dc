"""The datasets of the seed's descendants on tiny official-layout trees: Market-1501+500k, MSMT17 V2, CUHK02,
CUHK-SYSU, and the second demo domain (demo_duke)."""
import hashlib
import os

import pytest

import dataset_trees as trees
from torchreid.datasets import get_image_names, init_imgreid_dataset
from torchreid.datasets.base import DatasetNotFoundError
from torchreid.datasets.combine import combine_all
from torchreid.datasets.cuhk02 import CUHK02
from torchreid.datasets.cuhksysu import CUHKSYSU
from torchreid.datasets.demo import DemoDukeDataset
from torchreid.datasets.dukemtmcreid import DukeMTMCreID
from torchreid.datasets.market1501 import Market1501
from torchreid.datasets.msmt17 import MSMT17

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def triples(samples):
    return [(os.path.basename(path), pid, camid) for path, pid, camid in samples]


def test_new_keys_are_registered():
    names = get_image_names()
    for key in ('cuhk02', 'cuhksysu', 'demo_duke'):
        assert key in names


# ---------------------------------------------------------------------------------------------- Market-1501+500k

DISTRACTORS_500K = ['0000_c1s1_000001_00.jpg', '0000_c4s2_000002_00.jpg', '-1_c6s1_000003_00.jpg']


@pytest.mark.parametrize('folder', ['market1501', 'market1501/Market-1501-v15.09.15'])
def test_market1501_500k_appends_the_distractor_folder_to_the_gallery(tmp_path, folder):
    data_dir = trees.build_market1501(str(tmp_path), folder)
    trees.write_images(os.path.join(data_dir, 'images'), DISTRACTORS_500K)
    plain = Market1501(root=str(tmp_path), verbose=False)
    dataset = Market1501(root=str(tmp_path), market1501_500k=True, verbose=False)
    assert dataset.train == plain.train and dataset.query == plain.query
    assert dataset.gallery[:len(plain.gallery)] == plain.gallery
    assert triples(dataset.gallery[len(plain.gallery):]) == [
        ('-1_c6s1_000003_00.jpg', 0, 5), ('0000_c1s1_000001_00.jpg', 0, 0), ('0000_c4s2_000002_00.jpg', 0, 3)]
    assert (dataset.num_gallery_items, dataset.num_gallery_pids) == (5 + 3, 3)
    assert dataset.name == 'Market1501+500k'
    # combineall leaves every distractor out
    assert len(combine_all(dataset, verbose=False).train) == len(combine_all(plain, verbose=False).train) == 11


def test_market1501_500k_missing_folder_and_bad_names(tmp_path):
    data_dir = trees.build_market1501(str(tmp_path))
    with pytest.raises(DatasetNotFoundError) as error:
        Market1501(root=str(tmp_path), market1501_500k=True, verbose=False)
    assert "'{}' is not available".format(os.path.join(data_dir, 'images')) in str(error.value)
    assert "See the 'Market1501' section of DATASETS.md" in str(error.value)
    trees.write_images(os.path.join(data_dir, 'images'), ['0001_c1s1_000001_00.jpg'])
    with pytest.raises(ValueError, match=r'0001_c1s1_000001_00.jpg.*not a Market-1501\+500k distractor name'):
        Market1501(root=str(tmp_path), market1501_500k=True, verbose=False)


# -------------------------------------------------------------------------------------------------- MSMT17 V2

def build_msmt17_v2(root, folder='msmt17/MSMT17_V2'):
    """MSMT17_V2: the V1 lists, the images under mask_train_v2/ and mask_test_v2/."""
    data_dir = os.path.join(root, folder)
    for name, lines in trees.MSMT_LISTS.items():
        images_dir = os.path.join(data_dir, 'mask_train_v2' if name in ('train', 'val') else 'mask_test_v2')
        trees.write_images(images_dir, [path for path, _ in lines])
        trees.write_file(os.path.join(data_dir, 'list_{}.txt'.format(name)),
                         ''.join('{} {}\n'.format(path, pid) for path, pid in lines))
    return data_dir


@pytest.mark.parametrize('folder', ['msmt17/MSMT17_V2', 'MSMT17_V2'])
def test_msmt17_v2_folder_and_list_names(tmp_path, folder):
    data_dir = build_msmt17_v2(str(tmp_path), folder)
    dataset = MSMT17(root=str(tmp_path), verbose=False)
    assert dataset.version == 'MSMT17_V2'
    assert [os.path.relpath(path, data_dir).replace(os.sep, '/') for path, _, _ in dataset.train] == [
        'mask_train_v2/0000/0000_000_01_0303morning_0015_0.jpg',
        'mask_train_v2/0000/0000_002_03_0303morning_0020_0.jpg',
        'mask_train_v2/0001/0001_000_15_0303noon_0001_1.jpg']
    assert os.path.relpath(dataset.gallery[0][0], data_dir).startswith('mask_test_v2' + os.sep)
    assert [(pid, camid) for _, pid, camid in dataset.train] == [(0, 0), (0, 2), (1, 14)]
    assert (len(dataset.query), len(dataset.gallery)) == (2, 3)
    assert all(os.path.isfile(path) for path, _, _ in dataset.train + dataset.query + dataset.gallery)
    assert len(combine_all(dataset, verbose=False).train) == 10  # list_val under mask_train_v2 too


def test_msmt17_prefers_v1_when_both_versions_are_there(tmp_path):
    trees.build_msmt17(str(tmp_path))
    build_msmt17_v2(str(tmp_path))
    assert MSMT17(root=str(tmp_path), verbose=False).version == 'MSMT17_V1'


def test_msmt17_v2_missing_image_folder(tmp_path):
    data_dir = build_msmt17_v2(str(tmp_path))
    os.rename(os.path.join(data_dir, 'mask_test_v2'), os.path.join(data_dir, 'test'))
    with pytest.raises(DatasetNotFoundError, match="'{}' is not available".format(
            os.path.join(data_dir, 'mask_test_v2').replace('\\', '\\\\'))):
        MSMT17(root=str(tmp_path), verbose=False)


# ------------------------------------------------------------------------------------------------------ CUHK02

# pair -> {camera: [file names]}; P2's person 001 is not P1's person 001 (every pair has its own people)
CUHK02_TREE = {
    'P1': {'cam1': ['001_1.png', '001_2.png', '002_1.png'], 'cam2': ['001_3.png', '002_3.png', '002_4.png']},
    'P2': {'cam1': ['001_1.png'], 'cam2': ['001_2.png']},
    'P3': {'cam1': ['005_1.png'], 'cam2': ['005_2.png']},
    'P4': {'cam1': ['007_1.png', '008_1.png'], 'cam2': ['007_2.png', '008_2.png']},
    'P5': {'cam1': ['010_1.png', '011_1.png'], 'cam2': ['010_2.png', '011_2.png', '011_3.png']},
}


def build_cuhk02(root, tree=CUHK02_TREE):
    dataset_dir = os.path.join(root, 'cuhk02', 'Dataset')
    for pair, cameras in tree.items():
        for camera, names in cameras.items():
            trees.write_images(os.path.join(dataset_dir, pair, camera), names)
    trees.write_file(os.path.join(dataset_dir, 'P1', 'cam1', 'Thumbs.db'), 'not an image')
    return dataset_dir


def test_cuhk02_protocol_pids_and_camids(tmp_path):
    dataset_dir = build_cuhk02(str(tmp_path))
    dataset = init_imgreid_dataset('cuhk02', root=str(tmp_path), verbose=False)
    assert isinstance(dataset, CUHK02)
    assert [(os.path.relpath(path, dataset_dir), pid, camid) for path, pid, camid in dataset.train] == [
        (os.path.join('P1', 'cam1', '001_1.png'), 0, 0), (os.path.join('P1', 'cam1', '001_2.png'), 0, 0),
        (os.path.join('P1', 'cam1', '002_1.png'), 1, 0), (os.path.join('P1', 'cam2', '001_3.png'), 0, 1),
        (os.path.join('P1', 'cam2', '002_3.png'), 1, 1), (os.path.join('P1', 'cam2', '002_4.png'), 1, 1),
        (os.path.join('P2', 'cam1', '001_1.png'), 2, 2), (os.path.join('P2', 'cam2', '001_2.png'), 2, 3),
        (os.path.join('P3', 'cam1', '005_1.png'), 3, 4), (os.path.join('P3', 'cam2', '005_2.png'), 3, 5),
        (os.path.join('P4', 'cam1', '007_1.png'), 4, 6), (os.path.join('P4', 'cam1', '008_1.png'), 5, 6),
        (os.path.join('P4', 'cam2', '007_2.png'), 4, 7), (os.path.join('P4', 'cam2', '008_2.png'), 5, 7)]
    assert triples(dataset.query) == [('010_1.png', 10, 8), ('011_1.png', 11, 8)]
    assert triples(dataset.gallery) == [('010_2.png', 10, 9), ('011_2.png', 11, 9), ('011_3.png', 11, 9)]
    assert (dataset.num_train_pids, dataset.num_query_pids, dataset.num_gallery_pids) == (6, 2, 2)
    assert (dataset.num_train_cams, dataset.num_cams) == (8, 10)


def test_cuhk02_missing_pair_and_bad_names(tmp_path):
    dataset_dir = build_cuhk02(str(tmp_path), {pair: cams for pair, cams in CUHK02_TREE.items() if pair != 'P3'})
    with pytest.raises(DatasetNotFoundError) as error:
        CUHK02(root=str(tmp_path), verbose=False)
    assert "'{}' is not available".format(os.path.join(dataset_dir, 'P3', 'cam1')) in str(error.value)
    assert "See the 'CUHK02' section of DATASETS.md" in str(error.value)
    trees.write_images(os.path.join(dataset_dir, 'P3', 'cam1'), ['005_1.png'])
    trees.write_images(os.path.join(dataset_dir, 'P3', 'cam2'), ['0051.png'])
    with pytest.raises(ValueError, match=r"0051.png' is not a CUHK02 image name"):
        CUHK02(root=str(tmp_path), verbose=False)


# ---------------------------------------------------------------------------------------------------- CUHK-SYSU

CUHKSYSU_NAMES = ['p00017_s00042_1.jpg', 'p00017_s00101_0.jpg', 'p11422_s16929_1.jpg', 'p00350_s00002_3.jpg']


def build_cuhksysu(root, names=CUHKSYSU_NAMES):
    image_dir = os.path.join(root, 'cuhksysu', 'cropped_images')
    trees.write_images(image_dir, names)
    return image_dir


def test_cuhksysu_is_a_train_only_source(tmp_path, capsys):
    build_cuhksysu(str(tmp_path))
    dataset = init_imgreid_dataset('cuhksysu', root=str(tmp_path))  # the registry's empty-set check allows it
    assert isinstance(dataset, CUHKSYSU) and dataset.train_only
    assert triples(dataset.train) == [('p00017_s00042_1.jpg', 0, 0), ('p00017_s00101_0.jpg', 0, 0),
                                      ('p00350_s00002_3.jpg', 1, 0), ('p11422_s16929_1.jpg', 2, 0)]
    assert dataset.query == [] and dataset.gallery == []
    assert (dataset.num_train_pids, dataset.total_ids, dataset.total_images) == (3, 3, 4)
    table = capsys.readouterr().out
    assert '  train    |     3 |           4 |         1' in table
    assert 'query' not in table and 'gallery' not in table
    assert len(combine_all(dataset, verbose=False).train) == 4


def test_cuhksysu_errors(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="See the 'CUHK-SYSU' section of DATASETS.md"):
        CUHKSYSU(root=str(tmp_path), verbose=False)
    build_cuhksysu(str(tmp_path), ['p00017_s00042_1.jpg', 'person_3.jpg'])
    with pytest.raises(ValueError, match=r"person_3.jpg' is not a CUHK-SYSU crop name"):
        CUHKSYSU(root=str(tmp_path), verbose=False)


def test_docs_sections_exist():
    with open(os.path.join(REPO_ROOT, 'DATASETS.md')) as f:
        headings = {line[3:].strip() for line in f if line.startswith('## ')}
    for dataset_class in (CUHK02, CUHKSYSU, MSMT17, Market1501, DemoDukeDataset):
        assert dataset_class.docs_section in headings


# -------------------------------------------------------------------------------------------- the second domain

def tree_digest(folder):
    digest = hashlib.sha256()
    for root, _, files in sorted(os.walk(folder)):
        for name in sorted(files):
            digest.update(name.encode())
            with open(os.path.join(root, name), 'rb') as f:
                digest.update(f.read())
    return digest.hexdigest()


def test_demo_duke_is_generated_deterministically_in_dukes_layout(tmp_path):
    first = init_imgreid_dataset('demo_duke', root=str(tmp_path / 'a'), verbose=False)
    assert isinstance(first, DukeMTMCreID)
    assert (first.num_train_pids, first.num_train_items, first.num_train_cams) == (75, 559, 8)
    assert (first.num_query_pids, first.num_query_items) == (40, 117)
    assert (first.num_gallery_pids, first.num_gallery_items, first.num_cams) == (60, 284, 8)
    name = os.path.basename(first.query[0][0])
    assert name[4:6] == '_c' and name[7:9] == '_f' and len(name) == len('0001_c1_f0000001.jpg')
    assert first.query[0][0].startswith(os.path.join(str(tmp_path / 'a'), 'demo_duke', 'DukeMTMC-reID', 'query'))
    init_imgreid_dataset('demo_duke', root=str(tmp_path / 'b'), verbose=False)
    assert tree_digest(str(tmp_path / 'a' / 'demo_duke')) == tree_digest(str(tmp_path / 'b' / 'demo_duke'))
    # gallery-only identities are distractors, no query has them
    query_pids = {pid for _, pid, _ in first.query}
    assert len({pid for _, pid, _ in first.gallery} - query_pids) == 20
