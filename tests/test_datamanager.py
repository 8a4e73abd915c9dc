"""ImageDataManager / VideoDataManager (torchreid 1.x's names) on tiny official-layout trees."""
import inspect
import os
import pickle
import random

import pytest
import torch

import dataset_trees as trees
from test_datasets_new import build_cuhksysu
from test_datasets_video import make_mars
from torchreid.data import ImageDataManager, ReidBatch, VideoDataManager, build_transforms
from torchreid.data.datamanager import build_manager_transforms
from torchreid.data.transforms import Random2DTranslation

SMALL = dict(height=16, width=8, batch_size_test=4, workers=0, use_gpu=False, verbose=False)


@pytest.fixture
def root(tmp_path):
    trees.build_market1501(str(tmp_path))
    trees.build_dukemtmcreid(str(tmp_path))
    return str(tmp_path)


def expected_labels():
    """{file name: (pid, camid)} of the merged Market + Duke train set (see test_multisource)."""
    return {'0002_c1s1_000451_03.jpg': (0, 0), '0002_c2s1_000551_01.jpg': (0, 1), '0007_c3s3_000123_02.jpg': (1, 2),
            '0007_c6s1_000001_01.jpg': (1, 5), '0010_c1s2_000100_01.jpg': (2, 0),
            '0001_c2_f0046182.jpg': (3, 7), '0001_c5_f0051271.jpg': (3, 10), '0003_c8_f0000001.jpg': (4, 13)}


def test_signatures_follow_torchreid_1x():
    image = list(inspect.signature(ImageDataManager.__init__).parameters.items())[1:]
    assert [(name, p.default) for name, p in image[:23]] == [
        ('root', ''), ('sources', None), ('targets', None), ('height', 256), ('width', 128),
        ('transforms', 'random_flip'), ('k_tfm', 1), ('norm_mean', None), ('norm_std', None), ('use_gpu', True),
        ('split_id', 0), ('combineall', False), ('load_train_targets', False), ('batch_size_train', 32),
        ('batch_size_test', 32), ('workers', 4), ('num_instances', 4), ('num_cams', 1), ('num_datasets', 1),
        ('train_sampler', 'RandomSampler'), ('train_sampler_t', 'RandomSampler'), ('cuhk03_labeled', False),
        ('cuhk03_classic_split', False)]
    assert image[23][0] == 'market1501_500k' and image[23][1].default is False
    video = list(inspect.signature(VideoDataManager.__init__).parameters.items())[1:]
    assert [(name, p.default) for name, p in video[:19]] == [
        ('root', ''), ('sources', None), ('targets', None), ('height', 256), ('width', 128),
        ('transforms', 'random_flip'), ('norm_mean', None), ('norm_std', None), ('use_gpu', True), ('split_id', 0),
        ('combineall', False), ('batch_size_train', 3), ('batch_size_test', 3), ('workers', 4),
        ('num_instances', 4), ('num_cams', 1), ('num_datasets', 1), ('train_sampler', 'RandomSampler'),
        ('seq_len', 15)]
    assert video[19][0] == 'sample_method' and video[19][1].default == 'evenly'


def test_two_sources_two_targets_attributes_and_labels(root):
    manager = ImageDataManager(root, sources=['market1501', 'dukemtmcreid'], targets=['dukemtmcreid', 'market1501'],
                               batch_size_train=4, **SMALL)
    assert manager.sources == ['market1501', 'dukemtmcreid'] and manager.targets == ['dukemtmcreid', 'market1501']
    assert (manager.num_train_pids, manager.num_train_cams) == (5, 7)
    assert set(manager.test_loader) == set(manager.test_dataset) == {'market1501', 'dukemtmcreid'}
    market = manager.datasets['market1501']
    assert manager.test_dataset['market1501'] == {'query': market.query, 'gallery': market.gallery}
    assert manager.fetch_test_loaders('dukemtmcreid') == (manager.test_loader['dukemtmcreid']['query'],
                                                          manager.test_loader['dukemtmcreid']['gallery'])
    seen = {}
    manager.train_loader.sampler.set_epoch(0)
    batches = list(manager.train_loader)
    assert len(batches) == 2  # 8 images, batch 4
    for batch in batches:
        assert isinstance(batch, ReidBatch)
        imgs, pids, camids, paths = batch
        assert imgs.shape == (4, 3, 16, 8) and batch['img'] is imgs and batch[0] is imgs
        assert batch['pid'] is pids and batch['camid'] is camids and batch['impath'] == paths
        assert batch['dsetid'].tolist() == [0 if pid < 3 else 1 for pid in pids.tolist()]
        for path, pid, camid in zip(paths, pids.tolist(), camids.tolist()):
            seen[os.path.basename(path)] = (pid, camid)
    assert seen == expected_labels()
    gallery = next(iter(manager.test_loader['market1501']['gallery']))
    assert gallery['pid'].tolist() == [0, 0, 1, 1] and gallery['dsetid'].tolist() == [0, 0, 0, 0]  # raw test pids
    with pytest.raises(KeyError, match="a batch has the keys img, pid, camid, impath, dsetid, not 'image'"):
        gallery['image']


def test_batches_come_through_loader_workers(root):
    manager = ImageDataManager(root, sources=['market1501', 'dukemtmcreid'], height=16, width=8, batch_size_train=8,
                               batch_size_test=4, workers=1, use_gpu=False, verbose=False)
    batch = next(iter(manager.train_loader))
    assert isinstance(batch, ReidBatch) and batch['img'].shape == (8, 3, 16, 8)
    assert batch['dsetid'].tolist() == [0 if pid < 3 else 1 for pid in batch['pid'].tolist()]
    assert pickle.loads(pickle.dumps(batch))['dsetid'].tolist() == batch['dsetid'].tolist()


def test_targets_default_to_sources_and_a_name_may_be_a_string(root):
    manager = ImageDataManager(root, sources='market1501', batch_size_train=4, **SMALL)
    assert manager.sources == manager.targets == ['market1501']
    assert (manager.num_train_pids, manager.num_train_cams) == (3, 4)


def test_identity_sampler_batches_are_p_by_k(root):
    manager = ImageDataManager(root, sources=['market1501', 'dukemtmcreid'], batch_size_train=4, num_instances=2,
                               train_sampler='RandomIdentitySampler', **SMALL)
    for batch in manager.train_loader:
        pids = batch['pid'].tolist()
        assert len(set(pids)) == 2 and all(pids.count(pid) == 2 for pid in pids)


def test_combineall_counts_and_warning(root, capsys):
    manager = ImageDataManager(root, sources=['market1501', 'dukemtmcreid'], targets=['market1501'],
                               combineall=True, batch_size_train=4, **SMALL)
    assert manager.num_train_pids == 5 + 4 and len(manager.train_set.train) == 11 + 6
    out = capsys.readouterr().out
    assert "Warning: combineall trains on the query and gallery of 'market1501', which is also a target" in out
    assert "of 'dukemtmcreid'" not in out  # not a target
    # evaluation still uses the datasets' own query and gallery
    assert len(manager.test_dataset['market1501']['gallery']) == 5


def test_train_transforms_from_1x_names():
    train, _ = build_manager_transforms(16, 8, ['random_flip', 'random_crop', 'color_jitter', 'random_erase'])
    reference, _ = build_transforms(16, 8, random_erase=True, color_jitter=True)
    image = torch.randint(0, 256, (3, 20, 10), dtype=torch.uint8)
    for seed in range(3):
        random.seed(seed)
        torch.manual_seed(seed)
        ours = train(image)
        random.seed(seed)
        torch.manual_seed(seed)
        assert torch.equal(ours, reference(image))
    flip_only, test = build_manager_transforms(16, 8, 'random_flip')
    assert not any(isinstance(step, Random2DTranslation) for step in flip_only.transforms)
    resized = test(image)
    outputs = [flip_only(image) for _ in range(20)]
    flipped = [torch.equal(output, resized.flip(-1)) for output in outputs]
    assert all(flip or torch.equal(output, resized) for flip, output in zip(flipped, outputs))
    assert 0 < sum(flipped) < 20
    resize_only, _ = build_manager_transforms(16, 8, None)
    assert torch.equal(resize_only(image), test(image))  # no augmentation: the test transform's output
    mean_std, _ = build_manager_transforms(16, 8, None, norm_mean=[0.5, 0.5, 0.5], norm_std=[0.5, 0.5, 0.5])
    assert torch.allclose(mean_std(torch.full((3, 16, 8), 255, dtype=torch.uint8)), torch.ones(3, 16, 8))


@pytest.mark.parametrize('options,message', [
    (dict(sources=None), 'sources must not be None'),
    (dict(sources=['market1501', 'market1501']), 'sources lists market1501 more than once'),
    (dict(k_tfm=2), 'k_tfm=2'),
    (dict(train_sampler='RandomDomainSampler'), "'RandomDomainSampler' is not available here"),
    (dict(train_sampler='random'), "unknown train sampler 'random'"),
    (dict(num_cams=2), 'num_cams and num_datasets only serve'),
    (dict(train_sampler_t='RandomIdentitySampler'), 'train_sampler_t only applies with load_train_targets'),
    (dict(transforms=['random_flip', 'random_patch']), "'random_patch' is not available here"),
    (dict(transforms='flip'), "unknown transform 'flip'"),
    (dict(market1501_500k=True, sources=['dukemtmcreid']), 'market1501_500k=True but none of dukemtmcreid'),
    (dict(cuhk03_labeled=True), 'cuhk03_labeled=True but none of market1501'),
    (dict(split_id=1, sources=['market1501', 'dukemtmcreid']), 'split_id=1 but none of market1501, dukemtmcreid'),
    (dict(load_train_targets=True), 'load_train_targets needs sources and targets to be different'),
])
def test_unsupported_or_inconsistent_options_are_errors(root, options, message):
    kwargs = dict(sources=['market1501'], batch_size_train=4, **SMALL)
    kwargs.update(options)
    with pytest.raises(ValueError, match=message):
        ImageDataManager(root, **kwargs)


def test_train_only_and_evaluation_only_datasets(root):
    build_cuhksysu(root)
    trees.build_sensereid(root)
    manager = ImageDataManager(root, sources=['cuhksysu', 'market1501'], targets=['market1501', 'sensereid'],
                               batch_size_train=4, **SMALL)
    assert manager.num_train_pids == 3 + 3 and manager.train_set.pid_offsets == [0, 3]
    with pytest.raises(ValueError, match="'cuhksysu' cannot be a target: it is a training-only dataset"):
        ImageDataManager(root, sources=['market1501'], targets=['cuhksysu'], batch_size_train=4, **SMALL)
    with pytest.raises(ValueError, match="'sensereid' cannot be a source: it is an evaluation-only dataset"):
        ImageDataManager(root, sources=['sensereid'], batch_size_train=4, **SMALL)


def test_load_train_targets_builds_a_loader_over_the_targets_train_sets(root):
    manager = ImageDataManager(root, sources=['market1501'], targets=['dukemtmcreid'], load_train_targets=True,
                               batch_size_train=3, **SMALL)
    assert manager.train_loader_t is not None
    pids = sorted(pid for batch in manager.train_loader_t for pid in batch['pid'].tolist())
    assert pids == [0, 0, 1]
    assert ImageDataManager(root, sources=['market1501'], batch_size_train=4, **SMALL).train_loader_t is None


def test_market1501_500k_reaches_only_market(root, tmp_path):
    trees.write_images(os.path.join(root, 'market1501', 'images'), ['0000_c1s1_000001_00.jpg'])
    manager = ImageDataManager(root, sources=['dukemtmcreid'], targets=['market1501', 'dukemtmcreid'],
                               market1501_500k=True, batch_size_train=3, **SMALL)
    assert len(manager.test_dataset['market1501']['gallery']) == 5 + 1
    assert len(manager.test_dataset['dukemtmcreid']['gallery']) == 2


def make_mars_with_images(root):
    """The MARS tree of the reader tests, its (empty) frame files replaced by real tiny images."""
    base = make_mars(root)
    for folder, _, files in os.walk(base):
        for name in files:
            if name.endswith('.jpg'):
                trees.write_image(os.path.join(folder, name))


def test_dataset_options_reach_only_the_datasets_that_take_them(root, monkeypatch):
    """A Market1501 subclass without the option (like the demo) must not get market1501_500k."""
    from torchreid import datasets
    from torchreid.datasets.market1501 import Market1501

    class SecondMarket(Market1501):
        def __init__(self, root='data', verbose=True, **kwargs):
            super(SecondMarket, self).__init__(root=root, verbose=verbose, **kwargs)

    monkeypatch.setitem(datasets._image_datasets, 'second_market', SecondMarket)
    trees.write_images(os.path.join(root, 'market1501', 'images'), ['0000_c1s1_000001_00.jpg'])
    manager = ImageDataManager(root, sources=['market1501'], targets=['market1501', 'second_market'],
                               market1501_500k=True, batch_size_train=4, **SMALL)
    assert len(manager.test_dataset['market1501']['gallery']) == 6
    assert len(manager.test_dataset['second_market']['gallery']) == 5


def test_video_manager_clips_and_test_tracklets(tmp_path):
    make_mars_with_images(str(tmp_path))
    manager = VideoDataManager(str(tmp_path), sources=['mars'], height=16, width=8, batch_size_train=2,
                               batch_size_test=2, workers=0, use_gpu=False, seq_len=3, verbose=False)
    assert (manager.num_train_pids, manager.num_train_cams) == (2, 3)
    batch = next(iter(manager.train_loader))
    assert batch['img'].shape == (2, 3, 3, 16, 8) and batch['dsetid'].tolist() == [0, 0]
    query = next(iter(manager.test_loader['mars']['query']))
    assert query['img'].shape == (2, 3, 3, 16, 8) and query['pid'].tolist() == [2, 7]
    assert len(manager.test_dataset['mars']['gallery']) == 3
    with pytest.raises(KeyError, match="Invalid dataset, got 'market1501'"):
        VideoDataManager(str(tmp_path), sources=['market1501'], workers=0, use_gpu=False, verbose=False)
    with pytest.raises(ValueError, match="video sample method 'all' returns every frame"):
        VideoDataManager(str(tmp_path), sources=['mars'], batch_size_test=2, workers=0, use_gpu=False,
                         sample_method='all', verbose=False)
