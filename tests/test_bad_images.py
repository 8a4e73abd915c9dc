"""A bad image file is one clear line: ImageReadError for missing, empty, truncated, corrupt and non-image files on
both read paths, the same line from DataLoader workers and from the scripts (exit 1, no traceback), the check tool
that lists every bad file of a dataset at once, and empty query/gallery sets found at load."""
import importlib.util
import io
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from torch.utils.data import DataLoader
from torchvision.transforms.functional import pil_to_tensor

import torchreid.data.image_io as image_io
from dataset_trees import MARKET_GALLERY, MARKET_QUERY, MARKET_TRAIN, write_images
from torchreid.data import (ImageNotFoundError, ImageReadError, ImageSampleDataset, TrackletSampleDataset,
                            read_image, read_image_tensor, worker_error_message)
from torchreid.data.image_check import find_unreadable_images, image_paths
import torchreid.datasets as registry
from torchreid.datasets import init_imgreid_dataset
from torchreid.datasets.base import BaseImageDataset
from torchreid.engine.runner import main

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
READERS = [read_image, read_image_tensor]
CHECK_HINT = '`python tools/check_images.py -d <dataset> --root <root>`'


def encoded(fmt, size=(24, 40), **kwargs):
    array = np.random.default_rng(0).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


JPEG = encoded('JPEG')
PNG = encoded('PNG')
PROGRESSIVE = encoded('JPEG', progressive=True)

BAD_FILES = {  # name: (contents, reason)
    'empty.jpg': (b'', image_io.EMPTY),
    'html.jpg': (b'<html><body>404 Not Found</body></html>', image_io.NOT_AN_IMAGE),
    'garbage.png': (bytes(np.random.default_rng(1).integers(0, 256, 300, dtype=np.uint8)), image_io.NOT_AN_IMAGE),
    'half.jpg': (JPEG[:len(JPEG) // 2], image_io.TRUNCATED),
    'no_end_marker.jpg': (JPEG[:-2], image_io.TRUNCATED),
    'half_progressive.jpg': (PROGRESSIVE[:len(PROGRESSIVE) // 2], image_io.TRUNCATED),
    'half.png': (PNG[:len(PNG) // 2], image_io.TRUNCATED),
    'png_header_only.png': (PNG[:40], image_io.CORRUPT),
}


@pytest.fixture
def sleeps(monkeypatch):
    """The retry pauses taken (none are actually slept)."""
    taken = []
    monkeypatch.setattr(image_io.time, 'sleep', taken.append)
    return taken


@pytest.mark.parametrize('reader', READERS)
@pytest.mark.parametrize('name', sorted(BAD_FILES))
def test_bad_file_is_an_image_read_error_naming_file_reason_and_fix(tmp_path, sleeps, reader, name):
    contents, reason = BAD_FILES[name]
    path = tmp_path / name
    path.write_bytes(contents)
    with pytest.raises(ImageReadError) as info:
        reader(str(path))
    error = info.value
    message = str(error)
    assert error.path == str(path) and error.reason == reason
    assert "image '{}'".format(path) in message and 'the file is {}'.format(reason) in message
    assert 'replace or delete the file' in message and CHECK_HINT in message
    assert '\n' not in message
    assert isinstance(error, OSError) and isinstance(error, ValueError)  # the scripts report ValueErrors
    # a file that is empty or not an image cannot change: no retries; a truncated one may still be being written
    assert len(sleeps) == (image_io.READ_ATTEMPTS - 1 if reason == image_io.TRUNCATED else 0)


def test_reason_details(tmp_path, sleeps):
    (tmp_path / 'html.jpg').write_bytes(BAD_FILES['html.jpg'][0])
    with pytest.raises(ImageReadError, match=r"not an image \(unknown format\): it starts with b'<html><body>404 '"):
        read_image(tmp_path / 'html.jpg')
    (tmp_path / 'header.png').write_bytes(PNG[:40])
    with pytest.raises(ImageReadError, match='corrupt image data: a PNG signature, but PIL cannot read its header'):
        read_image_tensor(tmp_path / 'header.png')
    (tmp_path / 'half.jpg').write_bytes(BAD_FILES['half.jpg'][0])
    for reader, decoder_words in [(read_image, 'image file is truncated'),
                                  (read_image_tensor, 'Image is incomplete or truncated')]:
        with pytest.raises(ImageReadError, match="could not read image '.*half.jpg' after 3 attempts; last error: "
                                                 ".*{}.*; the file is truncated".format(decoder_words)):
            reader(tmp_path / 'half.jpg')


def test_truncated_jpeg_is_caught_by_torchvisions_decoder_too(tmp_path, sleeps):
    # the tensor path decodes JPEGs with torchvision (libjpeg-turbo), which could fill the missing rows with grey
    assert image_io.decode_jpeg is not None and image_io.jpeg_size(JPEG[:-2]) == (40, 24)
    for cut in (len(JPEG) - 2, len(JPEG) - 40, len(JPEG) // 2, 300):
        path = tmp_path / 'cut{}.jpg'.format(cut)
        path.write_bytes(JPEG[:cut])
        for reader in READERS:
            with pytest.raises(ImageReadError) as info:
                reader(path)
            assert info.value.reason == image_io.TRUNCATED, (cut, reader)


def test_missing_file_is_not_found_and_not_retried(tmp_path, sleeps):
    for reader in READERS:
        with pytest.raises(ImageNotFoundError, match="image file '.*nope.jpg' does not exist; check --root") as info:
            reader(tmp_path / 'nope.jpg')
        assert isinstance(info.value, FileNotFoundError) and info.value.reason == image_io.MISSING
    assert sleeps == []


def test_good_files_still_read(tmp_path, sleeps):
    for name, contents in [('a.jpg', JPEG), ('b.png', PNG), ('c.jpg', PROGRESSIVE), ('trailing.jpg', JPEG + b'xx')]:
        (tmp_path / name).write_bytes(contents)
        assert read_image_tensor(tmp_path / name).shape == (3, 40, 24)
        assert read_image(tmp_path / name).size == (24, 40)
    assert sleeps == []


# ---------------------------------------------------------------- DataLoader workers

@pytest.mark.parametrize('num_workers', [0, 2])
def test_worker_errors_keep_their_type_and_message(tmp_path, num_workers):
    (tmp_path / 'good.png').write_bytes(PNG)
    (tmp_path / 'empty.png').write_bytes(b'')
    with pytest.raises(ImageReadError) as direct:
        read_image(tmp_path / 'empty.png')
    samples = [(str(tmp_path / 'good.png'), 0, 0), (str(tmp_path / 'empty.png'), 0, 1)]
    loader = DataLoader(ImageSampleDataset(samples, transform=pil_to_tensor), batch_size=1, num_workers=num_workers)
    with pytest.raises(ImageReadError) as info:
        list(loader)
    if num_workers:
        assert str(info.value).startswith('Caught ImageReadError in DataLoader worker process ')
    assert worker_error_message(info.value) == str(direct.value)


def test_worker_error_message_of_other_errors():
    assert worker_error_message(ValueError('plain message')) == 'plain message'

    class MissingKey(object):
        def __len__(self):
            return 1

        def __getitem__(self, index):
            raise KeyError('no pid 7')

    with pytest.raises(KeyError) as info:
        list(DataLoader(MissingKey(), num_workers=1))
    assert worker_error_message(info.value) == "'no pid 7'"  # str() of a KeyError quotes it
    multi_line = ValueError('Caught ValueError in DataLoader worker process 0.\nOriginal Traceback (most recent '
                            'call last):\n  File "x.py", line 1\nValueError: first line\nsecond line\n')
    assert worker_error_message(multi_line) == 'first line\nsecond line'


# ---------------------------------------------------------------- the scripts

def market_style_tree(root, bad=None):
    """A tiny Market-style dataset (train 5, query 3, gallery 5 images); ``bad`` = (folder, index, contents)."""
    folders = {'bounding_box_train': MARKET_TRAIN, 'query': MARKET_QUERY, 'bounding_box_test': MARKET_GALLERY}
    for folder, names in folders.items():
        write_images(os.path.join(root, folder), names)
    if bad is None:
        return None
    folder, index, contents = bad
    path = os.path.join(root, folder, folders[folder][index])
    with open(path, 'wb') as f:
        f.write(contents)
    return path


SCRIPT_ARGS = ['-d', 'market_style', '-a', 'osnet_x0_25', '--no-pretrained', '--height', '64', '--width', '32',
               '--use-cpu', '--max-epoch', '1', '--train-batch', '4', '--test-batch', '4', '--stepsize', '1']


def check_one_line_error(status, stderr, bad_path, reason):
    assert status == 1
    assert 'Traceback' not in stderr and 'DataLoader worker' not in stderr
    errors = [line for line in stderr.splitlines() if line.startswith('Error:')]
    assert len(errors) == 1, stderr
    assert "image '{}'".format(bad_path) in errors[0] and 'the file is {}'.format(reason) in errors[0]
    assert CHECK_HINT in errors[0]


@pytest.mark.slow
@pytest.mark.parametrize('folder, index, contents, reason, workers', [
    ('bounding_box_train', 2, b'', image_io.EMPTY, '0'),
    ('bounding_box_train', 2, b'', image_io.EMPTY, '2'),
    ('bounding_box_test', 1, JPEG[:len(JPEG) // 2], image_io.TRUNCATED, '0'),  # after an epoch of training
    ('bounding_box_test', 1, JPEG[:len(JPEG) // 2], image_io.TRUNCATED, '2'),
    ('query', 0, b'GIF89a this is no image', image_io.CORRUPT, '2'),
])
def test_script_stops_with_one_line_naming_the_bad_file(tmp_path, capfd, workers, folder, index, contents, reason):
    bad_path = market_style_tree(str(tmp_path / 'data'), (folder, index, contents))
    status = main('image', 'xent', ['--root', str(tmp_path / 'data'), '--save-dir', str(tmp_path / 'log'),
                                    '-j', workers] + SCRIPT_ARGS)
    check_one_line_error(status, capfd.readouterr().err, bad_path, reason)


@pytest.mark.slow
def test_evaluation_script_file_exits_1_on_a_bad_gallery_image(tmp_path):
    bad_path = market_style_tree(str(tmp_path / 'data'), ('bounding_box_test', 3, b'not an image'))
    completed = subprocess.run(
        [sys.executable, os.path.join(REPO, 'train_imgreid_xent.py'), '--root', str(tmp_path / 'data'),
         '--save-dir', str(tmp_path / 'log'), '-j', '2', '--evaluate'] + SCRIPT_ARGS,
        capture_output=True, text=True, timeout=120, env=dict(os.environ, OMP_NUM_THREADS='1'))
    check_one_line_error(completed.returncode, completed.stderr, bad_path, image_io.NOT_AN_IMAGE)


def test_video_dataset_reports_the_bad_frame(tmp_path):
    (tmp_path / 'f0.png').write_bytes(PNG)
    (tmp_path / 'f1.png').write_bytes(PNG[:100])
    tracklets = [((str(tmp_path / 'f0.png'), str(tmp_path / 'f1.png')), 0, 0)]
    loader = DataLoader(TrackletSampleDataset(tracklets, seq_len=2), batch_size=1, num_workers=1)
    with pytest.raises(ImageReadError) as info:
        list(loader)
    assert "image '{}'".format(tmp_path / 'f1.png') in worker_error_message(info.value)


# ---------------------------------------------------------------- the check tool

def load_check_tool():
    spec = importlib.util.spec_from_file_location('check_images', os.path.join(REPO, 'tools', 'check_images.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_find_unreadable_images_lists_every_bad_file(tmp_path):
    paths = []
    for index in range(12):
        path = tmp_path / 'good{}.jpg'.format(index)
        path.write_bytes(JPEG)
        paths.append(str(path))
    for position, name, contents in [(4, 'empty.jpg', b''), (9, 'half.jpg', JPEG[:500]), (14, 'text.png', b'hi')]:
        (tmp_path / name).write_bytes(contents)
        paths.insert(position, str(tmp_path / name))
    samples = [(path, 0, 0) for path in paths] + [(paths[0], 1, 1)]  # an image in two subsets is read once
    for num_threads in (1, 3):
        problems = find_unreadable_images(samples, num_threads=num_threads)
        assert [os.path.basename(path) for path, _ in problems] == ['empty.jpg', 'half.jpg', 'text.png']
        assert [reason.split(' (')[0] for _, reason in problems] == ['empty', 'truncated', 'not an image']
    assert problems[1][1] == 'truncated (JPEG decoder: Image is incomplete or truncated)'
    assert find_unreadable_images(paths[:3]) == []


def test_image_paths_of_tracklets_each_frame_once():
    tracklets = [(('a', 'b', 'c'), 0, 0), (['c', 'd'], 1, 1), ('e', 2, 0)]
    assert image_paths(tracklets) == ['a', 'b', 'c', 'd', 'e']


def test_check_tool_finds_the_three_bad_images_of_a_dataset(tmp_path, capsys):
    root = str(tmp_path / 'data')
    market_style_tree(root)
    bad = {os.path.join(root, 'bounding_box_train', MARKET_TRAIN[1]): b'',
           os.path.join(root, 'query', MARKET_QUERY[2]): b'\x89PNG\r\n\x1a\nbroken',
           os.path.join(root, 'bounding_box_test', MARKET_GALLERY[4]): JPEG[:len(JPEG) // 3]}
    for path, contents in bad.items():
        with open(path, 'wb') as f:
            f.write(contents)
    tool = load_check_tool()
    assert tool.main(['-d', 'market_style', '--root', root, '-j', '2']) == 1
    lines = capsys.readouterr().out.splitlines()
    assert sorted(lines[:3]) == sorted([
        '{}: empty (0 bytes)'.format(os.path.join(root, 'bounding_box_train', MARKET_TRAIN[1])),
        '{}: corrupt image data (a PNG signature, but PIL cannot read its header (cut short or damaged))'.format(
            os.path.join(root, 'query', MARKET_QUERY[2])),
        '{}: truncated (JPEG decoder: Image is incomplete or truncated)'.format(
            os.path.join(root, 'bounding_box_test', MARKET_GALLERY[4]))])
    assert lines[3:] == ['Checked 13 images of market_style: 3 unreadable (1 empty, 1 corrupt image data, '
                         '1 truncated); replace or delete them, then check again']


def test_check_tool_on_a_good_dataset_and_a_wrong_root(tmp_path, capsys):
    root = str(tmp_path / 'data')
    market_style_tree(root)
    tool = load_check_tool()
    assert tool.main(['-d', 'market_style', '--root', root]) == 0
    assert capsys.readouterr().out == 'Checked 13 images of market_style: all readable\n'
    assert tool.main(['-d', 'market_style', '--root', str(tmp_path / 'elsewhere')]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith('Error: ') and 'elsewhere' in captured.err and captured.out == ''


@pytest.mark.slow
def test_check_tool_reads_video_datasets(tmp_path):
    frames = {'train': ('0001', '0001', 2), 'query': ('0002', '0001', 5), 'gallery': ('0002', '0002', 6)}
    bad_frame = None
    for subset, (pid, tracklet, camera) in frames.items():
        for frame in (1, 2, 3):
            path = tmp_path / 'dukemtmc-vidreid' / 'DukeMTMC-VideoReID' / subset / pid / tracklet / \
                '{}_C{}_F{:04d}_X{:05d}.jpg'.format(pid, camera, frame, 30000 + frame)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(JPEG)
            if subset == 'gallery' and frame == 2:
                path.write_bytes(JPEG[:200])
                bad_frame = path
    completed = subprocess.run([sys.executable, os.path.join(REPO, 'tools', 'check_images.py'), '-d',
                                'dukemtmcvidreid', '--root', str(tmp_path)],
                               capture_output=True, text=True, timeout=120, env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert completed.returncode == 1, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[-2] == '{}: truncated (JPEG decoder: Image is incomplete or truncated)'.format(bad_frame)
    assert lines[-1].startswith('Checked 9 images of dukemtmcvidreid: 1 unreadable (1 truncated)')
    assert 'Traceback' not in completed.stderr


# ---------------------------------------------------------------- empty subsets at load

def test_empty_gallery_is_an_error_at_load(tmp_path, monkeypatch):

    class GallerylessDataset(BaseImageDataset):
        dataset_dir = 'galleryless'
        docs_section = 'Your own datasets'

        def __init__(self, root='data', verbose=True, **kwargs):
            self.dataset_dir = os.path.join(root, self.dataset_dir)
            train = [('a.jpg', 0, 0), ('b.jpg', 1, 1)]
            super(GallerylessDataset, self).__init__(train, [('c.jpg', 5, 0)], [], verbose=verbose)

    monkeypatch.setitem(registry._image_datasets, 'test_galleryless', GallerylessDataset)
    with pytest.raises(ValueError) as info:
        init_imgreid_dataset('test_galleryless', root=str(tmp_path))
    assert str(info.value) == (
        "dataset 'test_galleryless' loaded with an empty gallery set (0 images) from '{}': check that --root is "
        "the folder holding the dataset and that its folders hold the images (see the 'Your own datasets' section "
        "of DATASETS.md)".format(os.path.join(str(tmp_path), 'galleryless')))


def test_empty_subsets_allowed_only_where_a_dataset_says_so(monkeypatch):
    def dataset_class(train, query, gallery, **flags):
        class Tiny(BaseImageDataset):
            def __init__(self, root='data', verbose=True, **kwargs):
                super(Tiny, self).__init__(train, query, gallery, verbose=False)
        for name, value in flags.items():
            setattr(Tiny, name, value)
        return Tiny

    sample = [('a.jpg', 0, 0)]
    for name, cls in [('test_no_train', dataset_class([], sample, sample)),
                      ('test_nothing', dataset_class([], [], [])),
                      ('test_train_only', dataset_class(sample, [], [], train_only=True)),
                      ('test_evaluation_only', dataset_class([], sample, sample, evaluation_only=True))]:
        monkeypatch.setitem(registry._image_datasets, name, cls)
    with pytest.raises(ValueError, match="dataset 'test_no_train' loaded with an empty train set"):
        init_imgreid_dataset('test_no_train')
    with pytest.raises(ValueError, match="'test_nothing' loaded with an empty train, query and gallery sets"):
        init_imgreid_dataset('test_nothing')
    assert len(init_imgreid_dataset('test_train_only').train) == 1
    assert len(init_imgreid_dataset('test_evaluation_only').query) == 1


def test_script_with_an_empty_query_folder_stops_before_training(tmp_path, capfd):
    # market_style itself refuses an empty folder; the registry's check covers readers that do not
    root = str(tmp_path / 'data')
    market_style_tree(root)
    for name in MARKET_QUERY:
        os.remove(os.path.join(root, 'query', name))
    status = main('image', 'xent', ['--root', root, '--save-dir', str(tmp_path / 'log'), '-j', '0'] + SCRIPT_ARGS)
    err = capfd.readouterr().err
    assert status == 1 and 'Traceback' not in err and "query' holds no images" in err
