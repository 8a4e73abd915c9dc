"""Video dataset readers on tiny trees built in each dataset's exact official layout and naming.

The frame files are empty (the readers never open them); the .mat files use the real variable names and shapes.
"""
import json
import os
import shutil
import tarfile
import zipfile

import numpy as np
import pytest
from scipy.io import savemat

from torchreid.datasets import DatasetNotFoundError, init_vidreid_dataset
from torchreid.datasets import download
from torchreid.datasets.dukemtmcvidreid import DukeMTMCVidReID
from torchreid.datasets.ilidsvid import iLIDSVID
from torchreid.datasets.mars import Mars
from torchreid.datasets.prid2011 import PRID2011
from torchreid.datasets.tracklets import frame_order_key


def touch(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, 'wb').close()


def names_of(tracklet):
    return [os.path.basename(path) for path in tracklet[0]]


@pytest.fixture
def offline(monkeypatch):
    """No network: every download attempt fails the way a missing connection does."""
    def refuse(url, fpath, timeout=60):
        raise OSError('[Errno -3] Temporary failure in name resolution')
    monkeypatch.setattr(download, 'fetch_url', refuse)


def test_frame_order_key_is_numeric():
    names = ['0001C1T0001F010.jpg', '0001C1T0001F9.jpg', '0001C1T0001F100.jpg']
    assert sorted(names, key=frame_order_key) == ['0001C1T0001F9.jpg', '0001C1T0001F010.jpg',
                                                   '0001C1T0001F100.jpg']


# ------------------------------------------------------------------------------------------------------- MARS

def mars_names(pid_text, camera, tracklet, frames):
    return ['{}C{}T{:04d}F{:03d}.jpg'.format(pid_text, camera, tracklet, frame) for frame in frames]


def make_mars(root):
    """bbox_train/, bbox_test/ and info/ as in MARS + MARS-evaluation.

    Train: pid 1 in cameras 1 and 2, pid 5 in camera 3 (frames listed out of order in the name list).
    Test rows: 1 pid 2 cam 1 (query) | 2 pid 2 cam 4 | 3 pid 7 cam 2 (query) | 4 pid 7 cam 6 | 5 pid 0 cam 3
    (distractor) | 6 pid -1 cam 1 (junk).
    """
    base = os.path.join(root, 'mars')
    train_tracklets = [('0001', 1, 1, [3, 1, 2]), ('0001', 2, 2, [1, 2]), ('0005', 3, 1, [10, 2, 1, 9])]
    test_tracklets = [('0002', 1, 1, [1, 2, 3]), ('0002', 4, 2, [1, 2]), ('0007', 2, 1, [1]),
                      ('0007', 6, 2, [1, 2, 3, 4, 5]), ('0000', 3, 1, [1, 2]), ('00-1', 1, 1, [1, 2])]

    def write(folder, tracklets, name_file):
        names, rows = [], []
        for pid_text, camera, tracklet, frames in tracklets:
            tracklet_names = mars_names(pid_text, camera, tracklet, frames)
            pid = -1 if pid_text == '00-1' else int(pid_text)
            rows.append([len(names) + 1, len(names) + len(tracklet_names), pid, camera])
            names += tracklet_names
            for name in tracklet_names:
                touch(os.path.join(base, folder, pid_text, name))
        with open(os.path.join(base, 'info', name_file), 'w') as f:
            f.write('\n'.join(names) + '\n')
        return np.array(rows, dtype=np.float64)

    os.makedirs(os.path.join(base, 'info'))
    savemat(os.path.join(base, 'info', 'tracks_train_info.mat'),
            {'track_train_info': write('bbox_train', train_tracklets, 'train_name.txt')})
    savemat(os.path.join(base, 'info', 'tracks_test_info.mat'),
            {'track_test_info': write('bbox_test', test_tracklets, 'test_name.txt')})
    savemat(os.path.join(base, 'info', 'query_IDX.mat'), {'query_IDX': np.array([[1, 3]], dtype=np.float64)})
    return base


def test_mars_subsets_camids_and_order(tmp_path):
    base = make_mars(str(tmp_path))
    dataset = init_vidreid_dataset('mars', root=str(tmp_path), verbose=False)
    assert isinstance(dataset, Mars)
    assert [(names_of(t), t[1], t[2]) for t in dataset.train] == [
        (mars_names('0001', 1, 1, [1, 2, 3]), 0, 0),
        (mars_names('0001', 2, 2, [1, 2]), 0, 1),
        (mars_names('0005', 3, 1, [1, 2, 9, 10]), 1, 2),
    ]
    assert [(t[1], t[2], len(t[0])) for t in dataset.query] == [(2, 0, 3), (7, 1, 1)]
    # the query rows and the junk row are not in the gallery; the distractor (pid 0) is
    assert [(t[1], t[2], len(t[0])) for t in dataset.gallery] == [(2, 3, 2), (7, 5, 5), (0, 2, 2)]
    assert dataset.train[0][0][0] == os.path.join(base, 'bbox_train', '0001', '0001C1T0001F001.jpg')
    assert all(isinstance(t[0], tuple) and all(os.path.isfile(p) for p in t[0])
               for t in dataset.train + dataset.query + dataset.gallery)
    assert (dataset.num_train_pids, dataset.num_query_pids, dataset.num_gallery_pids) == (2, 2, 3)
    assert (dataset.num_train_items, dataset.num_query_items, dataset.num_gallery_items) == (3, 2, 3)
    assert 'number of images per tracklet: 1 ~ 5, average 2.8' in dataset.statistics_table()


def test_mars_min_seq_len_drops_short_tracklets_and_relabels(tmp_path):
    make_mars(str(tmp_path))
    dataset = Mars(root=str(tmp_path), min_seq_len=4, verbose=False)
    assert [(t[1], t[2]) for t in dataset.train] == [(0, 2)]  # only pid 5's tracklet is left, relabelled to 0
    assert dataset.query == []
    assert [(t[1], len(t[0])) for t in dataset.gallery] == [(7, 5)]


def test_mars_missing_info_names_path_layout_and_docs(tmp_path):
    base = make_mars(str(tmp_path))
    os.remove(os.path.join(base, 'info', 'query_IDX.mat'))
    with pytest.raises(DatasetNotFoundError) as error:
        Mars(root=str(tmp_path), verbose=False)
    message = str(error.value)
    assert os.path.join(base, 'info', 'query_IDX.mat') in message
    assert 'MARS-evaluation' in message and "'MARS' section of DATASETS.md" in message


def test_mars_track_rows_beyond_the_name_list_are_an_error(tmp_path):
    base = make_mars(str(tmp_path))
    savemat(os.path.join(base, 'info', 'tracks_train_info.mat'),
            {'track_train_info': np.array([[1, 99, 1, 1]], dtype=np.float64)})
    with pytest.raises(ValueError, match='train_name.txt has 9 lines'):
        Mars(root=str(tmp_path), verbose=False)


# ------------------------------------------------------------------------------------------------- iLIDS-VID

def ilidsvid_person_names(num_persons):
    """person001, person002, ... with gaps, like the real 300 of person001..person319."""
    return ['person{:03d}'.format(i + 1 + i // 15) for i in range(num_persons)]


def make_ilidsvid(root, num_persons=300, num_splits=10, frames=(317, 318, 319)):
    """i-LIDS-VID/sequences/cam{1,2}/<person>/cam<k>_<person>_<frame>.png and the official split .mat."""
    base = os.path.join(root, 'ilids-vid')
    persons = ilidsvid_person_names(num_persons)
    for person in persons:
        for camera in (1, 2):
            for frame in frames:
                touch(os.path.join(base, 'i-LIDS-VID', 'sequences', 'cam{}'.format(camera), person,
                                   'cam{}_{}_{:05d}.png'.format(camera, person, frame)))
    rng = np.random.RandomState(0)
    ls_set = np.stack([rng.permutation(num_persons) + 1 for _ in range(num_splits)]).astype(np.float64)
    split_dir = os.path.join(base, 'train-test people splits')
    os.makedirs(split_dir)
    savemat(os.path.join(split_dir, 'train_test_splits_ilidsvid.mat'), {'ls_set': ls_set})
    return base, persons, ls_set.astype(int)


def person_of(tracklet):
    return os.path.basename(os.path.dirname(tracklet[0][0]))


def test_ilidsvid_official_split_shapes_and_protocol(tmp_path):
    base, persons, ls_set = make_ilidsvid(str(tmp_path))
    dataset = init_vidreid_dataset('ilidsvid', root=str(tmp_path), split_id=0, verbose=False)
    assert isinstance(dataset, iLIDSVID)
    assert (dataset.num_train_pids, dataset.num_train_items) == (150, 300)
    assert (dataset.num_query_pids, dataset.num_query_items) == (150, 150)
    assert (dataset.num_gallery_pids, dataset.num_gallery_items) == (150, 150)
    test_persons = sorted(persons[i - 1] for i in ls_set[0, :150])
    train_persons = sorted(persons[i - 1] for i in ls_set[0, 150:])
    assert [person_of(t) for t in dataset.query] == test_persons
    assert [person_of(t) for t in dataset.gallery] == test_persons
    assert sorted({person_of(t) for t in dataset.train}) == train_persons
    assert {t[2] for t in dataset.query} == {0} and {t[2] for t in dataset.gallery} == {1}
    assert {t[2] for t in dataset.train} == {0, 1}
    # query and gallery share pids per person; train pids are 0..149
    assert [t[1] for t in dataset.query] == [t[1] for t in dataset.gallery] == list(range(150))
    assert sorted({t[1] for t in dataset.train}) == list(range(150))
    first = dataset.query[0]
    assert names_of(first) == ['cam1_{}_{:05d}.png'.format(test_persons[0], f) for f in (317, 318, 319)]
    assert first[0][0].startswith(os.path.join(base, 'i-LIDS-VID', 'sequences', 'cam1'))


def test_ilidsvid_split_ids(tmp_path):
    _, persons, ls_set = make_ilidsvid(str(tmp_path), num_persons=8)
    last = iLIDSVID(root=str(tmp_path), split_id=9, verbose=False)
    assert [person_of(t) for t in last.query] == sorted(persons[i - 1] for i in ls_set[9, :4])
    with pytest.raises(ValueError, match=r'split_id 10 is out of range: iLIDS-VID has 10 splits \(valid split_id: 0..9\)'):
        iLIDSVID(root=str(tmp_path), split_id=10, verbose=False)
    dropped = iLIDSVID(root=str(tmp_path), min_seq_len=4, verbose=False)
    assert dropped.train == [] and dropped.query == []


def test_ilidsvid_offline_download_error_gives_manual_steps(tmp_path, offline):
    with pytest.raises(DatasetNotFoundError) as error:
        iLIDSVID(root=str(tmp_path), verbose=False)
    message = str(error.value)
    assert iLIDSVID.dataset_url in message
    assert os.path.join(str(tmp_path), 'ilids-vid', 'iLIDS-VID.tar') in message
    assert 'train_test_splits_ilidsvid.mat' in message and "'iLIDS-VID' section" in message


def test_ilidsvid_tar_placed_by_hand_is_extracted(tmp_path, offline):
    make_ilidsvid(str(tmp_path / 'build'), num_persons=6)
    target = tmp_path / 'data' / 'ilids-vid'
    target.mkdir(parents=True)
    with tarfile.open(str(target / 'iLIDS-VID.tar'), 'w') as archive:
        for name in ('i-LIDS-VID', 'train-test people splits'):
            archive.add(str(tmp_path / 'build' / 'ilids-vid' / name), arcname=name)
    dataset = iLIDSVID(root=str(tmp_path / 'data'), verbose=False)
    assert (dataset.num_train_pids, dataset.num_query_items, dataset.num_gallery_items) == (3, 3, 3)


# -------------------------------------------------------------------------------------------------- PRID2011

def make_prid2011(root, num_frames_a=(3, 5, 2, 4, 6, 3), write_splits=True):
    """prid_2011/multi_shot/cam_{a,b}/person_XXXX/XXXX.png (cam_b sees more persons) + splits_prid2011.json."""
    base = os.path.join(root, 'prid2011')
    multi_shot = os.path.join(base, 'prid_2011', 'multi_shot')
    for i, num_frames in enumerate(num_frames_a):
        person = 'person_{:04d}'.format(i + 1)
        for frame in range(1, num_frames + 1):
            touch(os.path.join(multi_shot, 'cam_a', person, '{:04d}.png'.format(frame)))
        for frame in range(1, 4):
            touch(os.path.join(multi_shot, 'cam_b', person, '{:04d}.png'.format(frame)))
    touch(os.path.join(multi_shot, 'cam_b', 'person_0749', '0001.png'))
    persons = ['person_{:04d}'.format(i + 1) for i in range(len(num_frames_a))]
    splits = [{'train': persons[(k % 2) * 3:(k % 2) * 3 + 3], 'test': persons[3 - (k % 2) * 3:6 - (k % 2) * 3]}
              for k in range(10)]
    if write_splits:
        with open(os.path.join(base, 'splits_prid2011.json'), 'w') as f:
            json.dump(splits, f)
    return base


def test_prid2011_split_protocol_and_order(tmp_path):
    base = make_prid2011(str(tmp_path))
    dataset = init_vidreid_dataset('prid2011', root=str(tmp_path), verbose=False)
    assert isinstance(dataset, PRID2011)
    # split 0: train person_0001..0003 (both cameras), test person_0004..0006
    assert [(person_of(t), t[1], t[2]) for t in dataset.train] == [
        ('person_0001', 0, 0), ('person_0001', 0, 1), ('person_0002', 1, 0), ('person_0002', 1, 1),
        ('person_0003', 2, 0), ('person_0003', 2, 1)]
    assert [(person_of(t), t[1], t[2], len(t[0])) for t in dataset.query] == [
        ('person_0004', 0, 0, 4), ('person_0005', 1, 0, 6), ('person_0006', 2, 0, 3)]
    assert [(person_of(t), t[1], t[2]) for t in dataset.gallery] == [
        ('person_0004', 0, 1), ('person_0005', 1, 1), ('person_0006', 2, 1)]
    assert names_of(dataset.query[1]) == ['{:04d}.png'.format(f) for f in range(1, 7)]
    assert dataset.query[0][0][0] == os.path.join(base, 'prid_2011', 'multi_shot', 'cam_a', 'person_0004', '0001.png')
    other = PRID2011(root=str(tmp_path), split_id=1, verbose=False)
    assert [person_of(t) for t in other.query] == ['person_0001', 'person_0002', 'person_0003']


def test_prid2011_min_seq_len_and_split_errors(tmp_path):
    make_prid2011(str(tmp_path))
    dataset = PRID2011(root=str(tmp_path), min_seq_len=4, verbose=False)
    # only person_0002's cam_a tracklet (5 frames) is left of the train split; its pid is relabelled to 0
    assert [(person_of(t), t[1], t[2]) for t in dataset.train] == [('person_0002', 0, 0)]
    assert [person_of(t) for t in dataset.query] == ['person_0004', 'person_0005']
    assert dataset.gallery == []
    with pytest.raises(ValueError, match='PRID2011 has 10 splits'):
        PRID2011(root=str(tmp_path), split_id=-1, verbose=False)


def test_prid2011_missing_splits_file_points_to_its_url(tmp_path):
    make_prid2011(str(tmp_path), write_splits=False)
    with pytest.raises(DatasetNotFoundError) as error:
        PRID2011(root=str(tmp_path), verbose=False)
    message = str(error.value)
    assert 'splits_prid2011.json' in message and 'kz303/deep-person-reid/datasets/prid2011' in message
    assert "'PRID2011' section of DATASETS.md" in message


# --------------------------------------------------------------------------------------- DukeMTMC-VideoReID

DUKE_TRACKLETS = [
    # subset, pid folder, tracklet folder, camera, frame numbers, new (underscore) naming?
    ('train', '0001', '0001', 6, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11], True),  # starts at F0002, as some real ones do
    ('train', '0001', '0002', 2, [1, 2, 3], False),                          # old naming format
    ('train', '0004', '0001', 1, [1, 2], True),
    ('query', '0002', '0001', 5, [1, 2, 3, 4], True),
    ('gallery', '0002', '0002', 7, [1, 2, 3], True),
    ('gallery', '0009', '0001', 8, [1, 2, 3, 4, 5], True),                  # a distractor identity
]


def duke_frame_name(pid_text, camera, frame, new_format):
    if new_format:
        return '{}_C{}_F{:04d}_X{:05d}.jpg'.format(pid_text, camera, frame, 30000 + frame)
    return '{}C{}F{:04d}X{:05d}.jpg'.format(pid_text, camera, frame, 30000 + frame)


def make_duke_video(root):
    base = os.path.join(root, 'dukemtmc-vidreid')
    for subset, pid_text, tracklet, camera, frames, new_format in DUKE_TRACKLETS:
        for frame in frames:
            touch(os.path.join(base, 'DukeMTMC-VideoReID', subset, pid_text, tracklet,
                               duke_frame_name(pid_text, camera, frame, new_format)))
    return base


def test_duke_video_subsets_camids_and_frame_order(tmp_path):
    base = make_duke_video(str(tmp_path))
    dataset = init_vidreid_dataset('dukemtmcvidreid', root=str(tmp_path), verbose=False)
    assert isinstance(dataset, DukeMTMCVidReID)
    assert [(t[1], t[2], len(t[0])) for t in dataset.train] == [(0, 5, 10), (0, 1, 3), (1, 0, 2)]
    assert names_of(dataset.train[0]) == [duke_frame_name('0001', 6, f, True) for f in range(2, 12)]
    assert names_of(dataset.train[1]) == [duke_frame_name('0001', 2, f, False) for f in (1, 2, 3)]
    assert [(t[1], t[2]) for t in dataset.query] == [(2, 4)]
    assert [(t[1], t[2]) for t in dataset.gallery] == [(2, 6), (9, 7)]
    assert dataset.query[0][0][0] == os.path.join(base, 'DukeMTMC-VideoReID', 'query', '0002', '0001',
                                                  '0002_C5_F0001_X30001.jpg')
    assert (dataset.num_train_pids, dataset.num_query_pids, dataset.num_gallery_pids) == (2, 1, 2)


def test_duke_video_cache_is_relative_and_serves_every_min_seq_len(tmp_path, monkeypatch):
    make_duke_video(str(tmp_path / 'a'))
    DukeMTMCVidReID(root=str(tmp_path / 'a'), verbose=False)
    with open(str(tmp_path / 'a' / 'dukemtmc-vidreid' / 'split_train.json')) as f:
        cache = json.load(f)
    assert cache['num_tracklets'] == 3 and cache['num_pids'] == 2 and cache['num_imgs_per_tracklet'] == [10, 3, 2]
    assert cache['tracklets'][2] == [['DukeMTMC-VideoReID/train/0004/0001/0004_C1_F0001_X30001.jpg',
                                      'DukeMTMC-VideoReID/train/0004/0001/0004_C1_F0002_X30002.jpg'], 4, 0]
    # the folder moves with its cache; the cache is used (no rescan) and paths follow the new location
    shutil.move(str(tmp_path / 'a' / 'dukemtmc-vidreid'), str(tmp_path / 'b' / 'dukemtmc-vidreid'))

    def no_scan(self, subset):
        raise AssertionError('the cache should have been used')
    monkeypatch.setattr(DukeMTMCVidReID, 'scan_subset', no_scan)
    moved = DukeMTMCVidReID(root=str(tmp_path / 'b'), min_seq_len=3, verbose=False)
    assert [(t[1], len(t[0])) for t in moved.train] == [(0, 10), (0, 3)]
    assert all(os.path.isfile(path) for t in moved.train for path in t[0])
    assert [t[1] for t in moved.gallery] == [2, 9]


def test_duke_video_rebuilds_a_seed_style_absolute_cache(tmp_path):
    base = make_duke_video(str(tmp_path))
    seed_cache = {'tracklets': [[['/old/root/dukemtmc-vidreid/x.jpg'], 0, 0]], 'num_tracklets': 1, 'num_pids': 1,
                  'num_imgs_per_tracklet': [1]}
    for subset in ('train', 'query', 'gallery'):
        with open(os.path.join(base, 'split_{}.json'.format(subset)), 'w') as f:
            json.dump(seed_cache, f)
    dataset = DukeMTMCVidReID(root=str(tmp_path), verbose=False)
    assert dataset.num_train_items == 3 and dataset.num_gallery_items == 2


def test_duke_video_bad_frame_names_are_reported(tmp_path):
    base = make_duke_video(str(tmp_path))
    touch(os.path.join(base, 'DukeMTMC-VideoReID', 'train', '0004', '0001', 'frame1.jpg'))
    with pytest.raises(ValueError, match="cannot parse frame 'frame1.jpg'"):
        DukeMTMCVidReID(root=str(tmp_path), verbose=False)


def test_duke_video_offline_download_error_and_zip_placed_by_hand(tmp_path, offline):
    with pytest.raises(DatasetNotFoundError) as error:
        DukeMTMCVidReID(root=str(tmp_path / 'data'), verbose=False)
    message = str(error.value)
    assert DukeMTMCVidReID.dataset_url in message and "'DukeMTMC-VideoReID' section" in message
    assert os.path.join(str(tmp_path / 'data'), 'dukemtmc-vidreid', 'DukeMTMC-VideoReID.zip') in message

    built = make_duke_video(str(tmp_path / 'build'))
    (tmp_path / 'data' / 'dukemtmc-vidreid').mkdir(parents=True)
    with zipfile.ZipFile(str(tmp_path / 'data' / 'dukemtmc-vidreid' / 'DukeMTMC-VideoReID.zip'), 'w') as archive:
        for folder, _, files in os.walk(os.path.join(built, 'DukeMTMC-VideoReID')):
            for name in files:
                path = os.path.join(folder, name)
                archive.write(path, os.path.relpath(path, built))
    dataset = DukeMTMCVidReID(root=str(tmp_path / 'data'), verbose=False)
    assert (dataset.num_train_items, dataset.num_query_items, dataset.num_gallery_items) == (3, 1, 2)


def test_mars_tracklet_frames_are_in_frame_number_order_past_three_digits():
    # MARS pads frame numbers to 3 digits; a tracklet past frame 999 must still come in frame order (F1000 after
    # F999, not between F100 and F101 as a plain name sort puts it)
    class Folder(object):
        dataset_dir = os.path.join('data', 'mars')

    names = mars_names('0003', 2, 1, [1000, 999, 100, 101])
    track_info = np.array([[1, 4, 3, 2]])
    [(frames, pid, camid)] = Mars.build_tracklets(Folder(), names, track_info, 'bbox_train', 'train_name.txt')
    assert [os.path.basename(frame) for frame in frames] == mars_names('0003', 2, 1, [100, 101, 999, 1000])
    assert frames[0] == os.path.join('data', 'mars', 'bbox_train', '0003', '0003C2T0001F100.jpg')
    assert (pid, camid) == (3, 1)
