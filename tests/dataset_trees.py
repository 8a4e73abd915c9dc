"""Builders of tiny dataset trees in the official layouts and file naming, for the dataset reader tests.

Every builder writes a few small images under ``root`` exactly where the real dataset keeps them and returns
the dataset folder. The .mat files have the same variables and nesting as the real ones: MATLAB v7.3 (HDF5,
written with h5py: object-reference cells, arrays stored transposed) for cuhk-03.mat, old-format (scipy.io.savemat)
for the others.
"""
import io
import os
import shutil
import tarfile
import zipfile

import numpy as np
from PIL import Image

_ENCODED = {}


def write_image(path, size=(4, 8)):
    """Write a tiny (width, height) = ``size`` image at ``path``; the format follows the extension."""
    extension = os.path.splitext(path)[1].lower()
    key = (extension, size)
    if key not in _ENCODED:
        buffer = io.BytesIO()
        fmt = {'.jpg': 'JPEG', '.jpeg': 'JPEG', '.png': 'PNG', '.bmp': 'BMP'}[extension]
        Image.new('RGB', size, (120, 60, 30)).save(buffer, format=fmt)
        _ENCODED[key] = buffer.getvalue()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'wb') as f:
        f.write(_ENCODED[key])


def write_images(folder, names):
    for name in names:
        write_image(os.path.join(folder, name))


def write_file(path, text=''):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)


def make_zip(src_dir, zip_path, arc_root=None):
    """Zip the tree ``src_dir`` into ``zip_path``; entries are named ``<arc_root or basename(src_dir)>/...``."""
    arc_root = arc_root if arc_root is not None else os.path.basename(src_dir.rstrip('/'))
    os.makedirs(os.path.dirname(zip_path), exist_ok=True)
    with zipfile.ZipFile(zip_path, 'w') as archive:
        for folder, _, files in os.walk(src_dir):
            for name in sorted(files):
                path = os.path.join(folder, name)
                archive.write(path, os.path.join(arc_root, os.path.relpath(path, src_dir)))
    return zip_path


def make_tar(src_dirs, tar_path):
    """Tar the folders ``src_dirs`` (each stored under its base name) into ``tar_path``."""
    os.makedirs(os.path.dirname(tar_path), exist_ok=True)
    with tarfile.open(tar_path, 'w') as archive:
        for src_dir in src_dirs:
            archive.add(src_dir, arcname=os.path.basename(src_dir.rstrip('/')))
    return tar_path


def move_tree(src, dst):
    shutil.move(src, dst)
    return dst


# ---------------------------------------------------------------------------------------------------------------
# Market-style datasets

MARKET_TRAIN = ['0002_c1s1_000451_03.jpg', '0002_c2s1_000551_01.jpg', '0007_c3s3_000123_02.jpg',
                '0007_c6s1_000001_01.jpg', '0010_c1s2_000100_01.jpg']
MARKET_QUERY = ['0001_c1s1_001051_00.jpg', '0001_c3s1_000951_00.jpg', '0003_c2s1_000301_00.jpg']
MARKET_GALLERY = ['0001_c2s1_000301_01.jpg', '0001_c5s1_001176_02.jpg', '0003_c4s2_000226_01.jpg',
                  '0000_c1s1_000151_01.jpg', '0000_c6s4_000000_02.jpg']
MARKET_JUNK = ['-1_c1s1_000401_03.jpg', '-1_c3s1_000001_04.jpg']


def build_market1501(root, folder='market1501'):
    """Market-1501 under ``root/folder`` (e.g. 'market1501', 'market1501/Market-1501-v15.09.15')."""
    data_dir = os.path.join(root, folder)
    write_images(os.path.join(data_dir, 'bounding_box_train'), MARKET_TRAIN)
    write_images(os.path.join(data_dir, 'query'), MARKET_QUERY)
    write_images(os.path.join(data_dir, 'bounding_box_test'), MARKET_GALLERY + MARKET_JUNK)
    write_file(os.path.join(data_dir, 'bounding_box_test', 'Thumbs.db'), 'not an image')
    write_images(os.path.join(data_dir, 'gt_bbox'), ['0001_c1s1_001051_00.jpg'])
    write_file(os.path.join(data_dir, 'readme.txt'), 'Market-1501')
    return data_dir


DUKE_TRAIN = ['0001_c2_f0046182.jpg', '0001_c5_f0051271.jpg', '0003_c8_f0000001.jpg']
DUKE_QUERY = ['0005_c2_f0046985.jpg']
DUKE_GALLERY = ['0005_c5_f0054324.jpg', '0009_c7_f0100000.jpg']


def build_dukemtmcreid(root, folder='dukemtmc-reid/DukeMTMC-reID'):
    data_dir = os.path.join(root, folder)
    write_images(os.path.join(data_dir, 'bounding_box_train'), DUKE_TRAIN)
    write_images(os.path.join(data_dir, 'query'), DUKE_QUERY)
    write_images(os.path.join(data_dir, 'bounding_box_test'), DUKE_GALLERY)
    return data_dir


MSMT_LISTS = {
    'train': [('0000/0000_000_01_0303morning_0015_0.jpg', 0), ('0000/0000_002_03_0303morning_0020_0.jpg', 0),
              ('0001/0001_000_15_0303noon_0001_1.jpg', 1)],
    'val': [('0000/0000_001_01_0303morning_0016_0.jpg', 0), ('0001/0001_001_11_0303noon_0009_0.jpg', 1)],
    'query': [('0000/0000_000_02_0303morning_0035_1.jpg', 0), ('0001/0001_000_05_0303afternoon_0101_0.jpg', 1)],
    'gallery': [('0000/0000_001_07_0303morning_0040_0.jpg', 0), ('0001/0001_001_05_0303afternoon_0120_1.jpg', 1),
                ('0001/0001_002_09_0304morning_0005_0.jpg', 1)],
}


def build_msmt17(root, folder='msmt17/MSMT17_V1'):
    data_dir = os.path.join(root, folder)
    for name, lines in MSMT_LISTS.items():
        images_dir = os.path.join(data_dir, 'train' if name in ('train', 'val') else 'test')
        write_images(images_dir, [path for path, _ in lines])
        write_file(os.path.join(data_dir, 'list_{}.txt'.format(name)),
                   ''.join('{} {}\n'.format(path, pid) for path, pid in lines))
    return data_dir


# ---------------------------------------------------------------------------------------------------------------
# Two-camera datasets with random splits


def build_viper(root, num_persons=6):
    """viper/VIPeR/{cam_a,cam_b}: person i is the i-th name of both sorted lists."""
    data_dir = os.path.join(root, 'viper', 'VIPeR')
    numbers = [0, 1, 2, 4, 5, 7, 8, 10, 11, 12][:num_persons]
    write_images(os.path.join(data_dir, 'cam_a'), ['{:03d}_45.bmp'.format(n) for n in numbers])
    write_images(os.path.join(data_dir, 'cam_b'), ['{:03d}_90.bmp'.format(n) for n in numbers])
    return os.path.join(root, 'viper')


def cuhk01_names(num_persons=4):
    return ['{:04d}{:03d}.png'.format(person, camera) for person in range(1, num_persons + 1)
            for camera in range(1, 5)]


def build_cuhk01(root, num_persons=4, zipped=True):
    """cuhk01/CUHK01.zip holding campus/PPPPCCC.png (or the extracted campus/ with ``zipped=False``)."""
    dataset_dir = os.path.join(root, 'cuhk01')
    campus_dir = os.path.join(dataset_dir, 'campus')
    write_images(campus_dir, cuhk01_names(num_persons))
    if zipped:
        make_zip(campus_dir, os.path.join(dataset_dir, 'CUHK01.zip'))
        shutil.rmtree(campus_dir)
    return dataset_dir


def build_prid450s(root, num_persons=6, folder='prid450s'):
    """prid450s/{cam_a,cam_b}/img_XXXX.png (ids 1..num_persons) with the man_XXXX.png masks and readme.txt."""
    dataset_dir = os.path.join(root, folder)
    for camera in ('cam_a', 'cam_b'):
        write_images(os.path.join(dataset_dir, camera),
                     ['{}_{:04d}.png'.format(kind, i) for i in range(1, num_persons + 1) for kind in ('img', 'man')])
    write_file(os.path.join(dataset_dir, 'readme.txt'), 'PRID 450S')
    return dataset_dir


# ---------------------------------------------------------------------------------------------------------------
# Datasets with .mat split files


GRID_PROBE = ['0001_1_25004_107_32_130.jpeg', '0002_2_25010_90_40_120.jpeg', '0003_3_25020_80_33_140.jpeg',
              '0004_8_25030_70_30_110.jpeg']
GRID_GALLERY = ['0001_5_25002_153_37_129.jpeg', '0002_4_25012_60_41_121.jpeg', '0003_6_25021_81_34_141.jpeg',
                '0004_7_25031_71_31_111.jpeg', '0000_1_25100_10_20_100.jpeg', '0000_2_25200_11_21_101.jpeg',
                '0000_8_25300_12_22_102.jpeg']
# Training ids (1-based) of the 10 partitions.
GRID_TRAIN_IDS = [[1, 2], [3, 4], [1, 3], [2, 4], [1, 4], [2, 3], [1, 2], [3, 4], [1, 3], [2, 4]]


def write_grid_mat(path, train_ids_per_partition):
    """features_and_partitions.mat: ``trainIdxAll`` is a 1 x P cell; each cell a 1 x 1 struct whose third field is the
    1 x N row of training ids."""
    from scipy.io import savemat
    dtype = [('idx_probe', 'O'), ('idx_gallery', 'O'), ('idx_train', 'O')]
    cells = np.empty((1, len(train_ids_per_partition)), dtype=object)
    for k, ids in enumerate(train_ids_per_partition):
        record = np.zeros((1, 1), dtype=dtype)
        record[0, 0]['idx_probe'] = np.arange(1, 5, dtype=np.float64).reshape(1, -1)
        record[0, 0]['idx_gallery'] = np.arange(1, 5, dtype=np.float64).reshape(1, -1)
        record[0, 0]['idx_train'] = np.asarray(ids, dtype=np.float64).reshape(1, -1)
        cells[0, k] = record
    os.makedirs(os.path.dirname(path), exist_ok=True)
    savemat(path, {'trainIdxAll': cells, 'featuresProbe': np.zeros((4, 3)), 'featuresGallery': np.zeros((7, 3))})


def build_grid(root):
    data_dir = os.path.join(root, 'grid', 'underground_reid')
    write_images(os.path.join(data_dir, 'probe'), GRID_PROBE)
    write_images(os.path.join(data_dir, 'gallery'), GRID_GALLERY)
    write_grid_mat(os.path.join(data_dir, 'features_and_partitions.mat'), GRID_TRAIN_IDS)
    return os.path.join(root, 'grid')


ILIDS_PERSONS = ['person001', 'person002', 'person004', 'person005']
# Each row: 1-based indices into the sorted cam1 person folders; first half test, second half train.
ILIDS_LS_SET = [[3, 1, 4, 2], [2, 4, 1, 3], [1, 2, 3, 4], [4, 3, 2, 1], [1, 3, 2, 4],
                [2, 3, 1, 4], [4, 1, 2, 3], [3, 4, 1, 2], [1, 4, 2, 3], [2, 1, 3, 4]]


def write_ilids_split_mat(path, ls_set):
    """train_test_splits_ilidsvid.mat: ``ls_set`` is (num_splits x num_persons) doubles, 1-based indices."""
    from scipy.io import savemat
    os.makedirs(os.path.dirname(path), exist_ok=True)
    savemat(path, {'ls_set': np.asarray(ls_set, dtype=np.float64)})


def build_ilids(root, persons=ILIDS_PERSONS, ls_set=ILIDS_LS_SET, with_sequences=False):
    """ilids-vid/{i-LIDS-VID/images/cam{1,2}/<person>/cam<k>_<person>.png, train-test people splits/...mat}.

    ``with_sequences`` also writes three frames per person under i-LIDS-VID/sequences/ (the video part).
    """
    dataset_dir = os.path.join(root, 'ilids-vid')
    for camera in ('cam1', 'cam2'):
        for person in persons:
            write_image(os.path.join(dataset_dir, 'i-LIDS-VID', 'images', camera, person,
                                     '{}_{}.png'.format(camera, person)))
            if with_sequences:
                write_images(os.path.join(dataset_dir, 'i-LIDS-VID', 'sequences', camera, person),
                             ['{}_{}_{:05d}.png'.format(camera, person, frame) for frame in (317, 318, 319)])
    write_ilids_split_mat(os.path.join(dataset_dir, 'train-test people splits', 'train_test_splits_ilidsvid.mat'),
                          ls_set)
    return dataset_dir


SENSEREID_QUERY = ['0012_1.jpg', '0012_2.jpg', '0040_0.jpg']
SENSEREID_GALLERY = ['0012_0.jpg', '0040_1.jpg', '0077_0.jpg', '0077_2.jpg']


def build_sensereid(root, folder='sensereid/SenseReID'):
    data_dir = os.path.join(root, folder)
    write_images(os.path.join(data_dir, 'test_probe'), SENSEREID_QUERY)
    write_images(os.path.join(data_dir, 'test_gallery'), SENSEREID_GALLERY)
    return data_dir


# ---------------------------------------------------------------------------------------------------------------
# CUHK03: cuhk-03.mat (MATLAB v7.3) and the new-protocol config files

# Persons per camera pair (the real file has 843/440/77/58/49) and, per person, which of the 10 cells hold an
# image (the others are empty cells). Cells 0-4 are view 1, 5-9 view 2.
CUHK03_PERSONS = [3, 2, 1, 1, 1]
CUHK03_CELLS = {
    'detected': lambda pair, person: [0, 1, 5, 6] if (pair + person) % 2 else [0, 5, 7],
    'labeled': lambda pair, person: [0, 1, 2, 5, 6],
}
# Classic test sets: (pair, person), 1-based.
CUHK03_TESTSETS = [[(1, 1), (2, 2)], [(1, 3), (5, 1)], [(3, 1), (4, 1)]]


def cuhk03_pixels(pair, person, cell, height=6, width=4):
    """A (height, width, 3) uint8 image whose values encode where it comes from (checks orientation on read-back)."""
    base = (pair * 50 + person * 10 + cell) % 200
    values = base + np.arange(height * width * 3).reshape(height, width, 3) % 50
    return values.astype(np.uint8)


def cuhk03_images(image_type):
    """[(pair, person, [(cell, file name)])] as the reader should name them."""
    persons = []
    for pair, num_persons in enumerate(CUHK03_PERSONS, 1):
        for person in range(1, num_persons + 1):
            cells = CUHK03_CELLS[image_type](pair, person)
            names = [(cell, '{}_{:03d}_{}_{:02d}.png'.format(pair, person, 1 if cell < 5 else 2, cell + 1))
                     for cell in cells]
            persons.append((pair, person, names))
    return persons


def _write_matlab_header(path):
    """The 128-byte text header of the 512-byte user block that MATLAB puts before the HDF5 data of a v7.3 file."""
    text = b'MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2018 HDF5 schema 1.00 .'
    header = text.ljust(116, b' ') + b'\x00' * 8 + b'\x00\x02' + b'IM'
    with open(path, 'r+b') as f:
        f.write(header)


def write_cuhk03_mat(path, testsets=CUHK03_TESTSETS):
    """cuhk-03.mat: 'detected' and 'labeled' are 5 x 1 cells (HDF5 shape (1, 5)) of persons x 10 cells (HDF5 shape
    (10, persons)) of H x W x 3 uint8 images (HDF5 shape (3, W, H)); 'testsets' is a 20 x 1 cell (here fewer) of
    100 x 2 double [pair, person] matrices (HDF5 shape (2, 100))."""
    import h5py
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with h5py.File(path, 'w', userblock_size=512) as mat:
        refs = mat.create_group('#refs#')
        counter = [0]

        def new_dataset(data, matlab_class, empty=False):
            counter[0] += 1
            dataset = refs.create_dataset('r{}'.format(counter[0]), data=data)
            dataset.attrs['MATLAB_class'] = np.bytes_(matlab_class)
            if empty:
                dataset.attrs['MATLAB_empty'] = np.uint8(1)
            return dataset.ref

        def cell_dataset(parent, name, ref_array):
            dataset = parent.create_dataset(name, data=ref_array, dtype=h5py.ref_dtype)
            dataset.attrs['MATLAB_class'] = np.bytes_('cell')
            return dataset

        for image_type in ('detected', 'labeled'):
            pair_refs = np.empty((1, len(CUHK03_PERSONS)), dtype=object)
            for pair, num_persons in enumerate(CUHK03_PERSONS, 1):
                person_cells = np.empty((num_persons, 10), dtype=object)   # MATLAB's persons x 10
                for person in range(1, num_persons + 1):
                    cells = CUHK03_CELLS[image_type](pair, person)
                    for cell in range(10):
                        if cell in cells:
                            person_cells[person - 1, cell] = new_dataset(cuhk03_pixels(pair, person, cell).T, 'uint8')
                        else:
                            person_cells[person - 1, cell] = new_dataset(np.zeros(2, dtype=np.uint64), 'double',
                                                                         empty=True)
                pair_dataset = refs.create_dataset('p{}{}'.format(image_type, pair), data=person_cells.T,
                                                   dtype=h5py.ref_dtype)
                pair_dataset.attrs['MATLAB_class'] = np.bytes_('cell')
                pair_refs[0, pair - 1] = pair_dataset.ref
            cell_dataset(mat, image_type, pair_refs)

        test_refs = np.empty((1, len(testsets)), dtype=object)
        for k, testset in enumerate(testsets):
            test_refs[0, k] = new_dataset(np.asarray(testset, dtype=np.float64).T, 'double')
        cell_dataset(mat, 'testsets', test_refs)
    _write_matlab_header(path)


def cuhk03_new_protocol(image_type):
    """(filelist, labels, train_idx, query_idx, gallery_idx) of the tiny new-protocol config.

    Persons are numbered 1..8 in file order (the label); persons 1-4 train, persons 5-8 test with the first image of
    each view as query and the other images as gallery. Indices are 1-based into filelist.
    """
    filelist, labels = [], []
    for label, (_, _, names) in enumerate(cuhk03_images(image_type), 1):
        for _, name in names:
            filelist.append(name)
            labels.append(label)
    train_idx, query_idx, gallery_idx = [], [], []
    seen_views = set()
    for index, (name, label) in enumerate(zip(filelist, labels), 1):
        view = name.split('_')[2]
        if label <= 4:
            train_idx.append(index)
        elif (label, view) not in seen_views:
            seen_views.add((label, view))
            query_idx.append(index)
        else:
            gallery_idx.append(index)
    return filelist, labels, train_idx, query_idx, gallery_idx


def write_cuhk03_new_protocol_mat(path, image_type):
    """cuhk03_new_protocol_config_<type>.mat as savemat writes it: filelist a N x 1 cellstr, labels/camId N x 1
    doubles, train_idx/query_idx/gallery_idx K x 1 doubles (1-based)."""
    from scipy.io import savemat
    filelist, labels, train_idx, query_idx, gallery_idx = cuhk03_new_protocol(image_type)
    cells = np.empty((len(filelist), 1), dtype=object)
    for i, name in enumerate(filelist):
        cells[i, 0] = name

    def column(values):
        return np.asarray(values, dtype=np.float64).reshape(-1, 1)
    savemat(path, {'filelist': cells, 'labels': column(labels),
                   'camId': column([int(name.split('_')[2]) for name in filelist]),
                   'train_idx': column(train_idx), 'query_idx': column(query_idx), 'gallery_idx': column(gallery_idx)})


def build_cuhk03(root, new_protocol=True):
    dataset_dir = os.path.join(root, 'cuhk03')
    write_cuhk03_mat(os.path.join(dataset_dir, 'cuhk03_release', 'cuhk-03.mat'))
    write_file(os.path.join(dataset_dir, 'cuhk03_release', 'README.md'), 'CUHK03')
    if new_protocol:
        for image_type in ('detected', 'labeled'):
            write_cuhk03_new_protocol_mat(
                os.path.join(dataset_dir, 'cuhk03_new_protocol_config_{}.mat'.format(image_type)), image_type)
    return dataset_dir
