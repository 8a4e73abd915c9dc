"""torchreid 1.x's API here: its user-guide examples on the demo data (tiny settings), and every alias's
signature and defaults against 1.x (pyppbox_torchreid, a packaged 1.4, when it is installed; the table otherwise).
"""
import importlib
import inspect
import os
import os.path as osp

import numpy as np
import pytest
import torch
import torch.nn as nn

import torchreid
from torchreid.datasets import _image_datasets, init_imgreid_dataset

SMALL = dict(height=64, width=32, workers=0)

# torchreid 1.x (upstream 1.4.0) signatures; pyppbox_torchreid differs only where noted in SIGNATURES_PYPPBOX_DIFFERS
SIGNATURES_1X = {
    'models.build_model': "(name, num_classes, loss='softmax', pretrained=True, use_gpu=True)",
    'models.show_avai_models': '()',
    'optim.build_optimizer': ("(model, optim='adam', lr=0.0003, weight_decay=0.0005, momentum=0.9, sgd_dampening=0, "
                              "sgd_nesterov=False, rmsprop_alpha=0.99, adam_beta1=0.9, adam_beta2=0.99, "
                              "staged_lr=False, new_layers='', base_lr_mult=0.1)"),
    'optim.build_lr_scheduler': "(optimizer, lr_scheduler='single_step', stepsize=1, gamma=0.1, max_epoch=1)",
    'engine.ImageSoftmaxEngine': '(datamanager, model, optimizer, scheduler=None, use_gpu=True, label_smooth=True)',
    'engine.ImageTripletEngine': ('(datamanager, model, optimizer, margin=0.3, weight_t=1, weight_x=1, scheduler=None, '
                                  'use_gpu=True, label_smooth=True)'),
    'engine.VideoSoftmaxEngine': ("(datamanager, model, optimizer, scheduler=None, use_gpu=True, label_smooth=True, "
                                  "pooling_method='avg')"),
    'engine.VideoTripletEngine': ("(datamanager, model, optimizer, margin=0.3, weight_t=1, weight_x=1, scheduler=None, "
                                  "use_gpu=True, label_smooth=True, pooling_method='avg')"),
    'engine.ImageSoftmaxEngine.run': ("(self, save_dir='log', max_epoch=0, start_epoch=0, print_freq=10, "
                                      "fixbase_epoch=0, open_layers=None, start_eval=0, eval_freq=-1, test_only=False, "
                                      "dist_metric='euclidean', normalize_feature=False, visrank=False, "
                                      "visrank_topk=10, use_metric_cuhk03=False, ranks=[1, 5, 10, 20], rerank=False)"),
    'metrics.evaluate_rank': ('(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=50, use_metric_cuhk03=False, '
                              'use_cython=True)'),
    'metrics.compute_distance_matrix': "(input1, input2, metric='euclidean')",
    'metrics.accuracy': '(output, target, topk=(1,))',
    'data.ImageDataset': '(train, query, gallery, **kwargs)',
    'data.VideoDataset': "(train, query, gallery, seq_len=15, sample_method='evenly', **kwargs)",
    'data.register_image_dataset': '(name, dataset)',
    'data.register_video_dataset': '(name, dataset)',
    'utils.FeatureExtractor': ("(model_name='', model_path='', image_size=(256, 128), "
                               "pixel_mean=[0.485, 0.456, 0.406], pixel_std=[0.229, 0.224, 0.225], pixel_norm=True, "
                               "device='cuda', verbose=True)"),
    'utils.load_pretrained_weights': '(model, weight_path)',
    'utils.resume_from_checkpoint': '(fpath, model, optimizer=None, scheduler=None)',
    'utils.save_checkpoint': '(state, save_dir, is_best=False, remove_module_from_keys=False)',
    'utils.load_checkpoint': '(fpath)',
    'utils.set_random_seed': '(seed)',
    'utils.re_ranking': '(q_g_dist, q_q_dist, g_g_dist, k1=20, k2=6, lambda_value=0.3)',
    'utils.visualize_ranked_results': "(distmat, dataset, data_type, width=128, height=256, save_dir='', topk=10)",
    'utils.compute_model_complexity': '(model, input_size, verbose=False, only_conv_linear=True)',
    'utils.Logger': '(fpath=None)',
    'utils.RankLogger': '(sources, targets)',
    'utils.check_isfile': '(fpath)',
    'utils.mkdir_if_missing': '(dirname)',
    'utils.read_json': '(fpath)',
    'utils.write_json': '(obj, fpath)',
    'utils.AverageMeter': '()',
    'utils.MetricMeter': "(delimiter='\\t')",
    'utils.count_num_param': '(model)',
    'utils.open_all_layers': '(model)',
    'utils.open_specified_layers': '(model, open_layers)',
    'utils.read_image': '(path)',
    'utils.listdir_nohidden': '(path, sort=False)',
    'utils.collect_env_info': '()',
    'utils.download_url': '(url, dst)',
}
# pyppbox_torchreid changed these two (model_dir / base_model_* arguments); the table holds upstream's
SIGNATURES_PYPPBOX_DIFFERS = {'models.build_model', 'utils.FeatureExtractor'}
# where ours still differs: a 1.x keyword that is named otherwise here (positional calls work); none today
KNOWN_DIFFERENCES = {}


def _resolve(root, dotted):
    obj = root
    for part in dotted.split('.'):
        obj = getattr(obj, part)
    return obj


def _signature(obj):
    return str(inspect.signature(obj))


def _parameters(signature_text):
    """The parameters of a signature written as text, e.g. "(a, b=1, **kwargs)"."""
    return list(inspect.signature(eval('lambda {}: None'.format(signature_text[1:-1]))).parameters.values())


@pytest.mark.parametrize('name', sorted(SIGNATURES_1X))
def test_signatures_equal_1x(name):
    """1.x's parameters, in order, with 1.x's names, kinds and defaults; ours may add parameters after them,
    each with a default, so that every 1.x call works unchanged."""
    ours = list(inspect.signature(_resolve(torchreid, name)).parameters.values())
    if name in KNOWN_DIFFERENCES:
        assert _signature(_resolve(torchreid, name)) == KNOWN_DIFFERENCES[name]
        return
    theirs = _parameters(SIGNATURES_1X[name])
    assert [(p.name, p.kind, p.default) for p in ours[:len(theirs)]] == [
        (p.name, p.kind, p.default) for p in theirs]
    for extra in ours[len(theirs):]:
        assert extra.default is not inspect.Parameter.empty, '{}: {} has no default'.format(name, extra.name)
    if not any(p.kind == p.VAR_KEYWORD for p in theirs):
        assert not any(p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) for p in ours)


def test_table_matches_the_installed_reference():
    reference = pytest.importorskip('pyppbox_torchreid', reason='pyppbox-torchreid (packaged torchreid 1.4) is not '
                                    'installed: pip install pyppbox-torchreid opencv-python-headless')
    for sub in ('models', 'optim', 'engine', 'metrics', 'data', 'utils'):
        importlib.import_module('pyppbox_torchreid.' + sub)
    checked = 0
    for name, expected in SIGNATURES_1X.items():
        if name in SIGNATURES_PYPPBOX_DIFFERS:
            continue
        assert _signature(_resolve(reference, name)) == expected, name
        checked += 1
    assert checked == len(SIGNATURES_1X) - 2


# ---- models ------------------------------------------------------------------------------------------------

def test_build_model_loss_names():
    softmax = torchreid.models.build_model('osnet_x0_25', num_classes=7, loss='softmax', pretrained=False)
    triplet = torchreid.models.build_model('osnet_x0_25', num_classes=7, loss='triplet', pretrained=False,
                                           use_gpu=False)
    x = torch.rand(2, 3, 64, 32)
    softmax.train(), triplet.train()
    assert softmax(x).shape == (2, 7)
    logits, features = triplet(x)
    assert logits.shape == (2, 7) and features.shape == (2, 512)
    triplet.eval()
    assert triplet(x).shape == (2, 512)
    assert torchreid.models.init_model('osnet_x0_25', num_classes=3, loss='softmax', pretrained=False).loss == {'xent'}
    assert torchreid.models.init_model('osnet_x0_25', num_classes=3, loss={'xent', 'htri'},
                                       pretrained=False).loss == {'xent', 'htri'}
    with pytest.raises(KeyError, match="Unsupported loss: 'xent' \\(use 'softmax' or 'triplet'"):
        torchreid.models.init_model('osnet_x0_25', num_classes=3, loss='xent', pretrained=False)
    with pytest.raises(KeyError, match='Unsupported loss'):
        torchreid.models.init_model('hacnn', num_classes=3, loss='cosface', pretrained=False)
    with pytest.raises(KeyError, match='Unknown model: nosuchnet'):
        torchreid.models.build_model('nosuchnet', 3)


def test_model_constructors_as_attributes_like_1x():
    from torchreid.models import osnet_x0_25, resnet50_fc512  # 1.x: from torchreid.models import osnet_x1_0
    model = osnet_x0_25(num_classes=4, loss='softmax', pretrained=False)
    assert type(model).__name__ == 'OSNet' and model.classifier.out_features == 4
    assert resnet50_fc512(num_classes=2, pretrained=False).feat_dim == 512
    assert torchreid.models.resnet50(num_classes=3, loss='triplet', pretrained=False).feat_dim == 2048
    with pytest.raises(AttributeError, match="no attribute 'nosuchnet'"):
        torchreid.models.nosuchnet


def test_show_avai_models(capsys):
    torchreid.models.show_avai_models()
    assert capsys.readouterr().out.strip() == str(torchreid.models.get_names())


# ---- metrics -----------------------------------------------------------------------------------------------

def test_evaluate_rank_unpacks_as_cmc_map_and_keeps_the_rest():
    distmat = np.array([[0.1, 0.2, 0.3, 0.4]])
    result = torchreid.metrics.evaluate_rank(distmat, [1], [2, 1, 1, 2], [0], [1, 1, 1, 1], max_rank=4)
    cmc, mAP = result
    np.testing.assert_allclose(cmc, [0, 1, 1, 1])
    assert mAP == pytest.approx((1 / 2 + 2 / 3) / 2)
    assert result.mINP == pytest.approx(2 / 3) and result.rank1 == 0.0 and result.num_valid_queries == 1
    assert result[1] == mAP and len(result) == 2


def test_accuracy_top_k():
    logits = torch.tensor([[0.1, 0.5, 0.4], [0.9, 0.05, 0.05], [0.2, 0.3, 0.5], [0.25, 0.35, 0.4]])
    target = torch.tensor([2, 0, 0, 1])
    top1, top2 = torchreid.metrics.accuracy(logits, target, topk=(1, 2))
    assert top1.item() == pytest.approx(25.0) and top2.item() == pytest.approx(75.0)
    (first,) = torchreid.metrics.accuracy((logits, None), target)  # a tuple uses its first element
    assert first.item() == pytest.approx(25.0)
    with pytest.raises(ValueError, match='at least 4 classes'):
        torchreid.metrics.accuracy(logits, target, topk=(4,))


# ---- utils -------------------------------------------------------------------------------------------------

def test_utils_does_not_import_the_layers_above():
    code = ('import sys, torchreid.utils as u; u.AverageMeter; '
            'bad = [m for m in sys.modules if m.split(".")[:2] in (["torchreid", "models"], ["torchreid", "engine"], '
            '["torchreid", "data"], ["torchreid", "metrics"])]; assert not bad, bad; u.FeatureExtractor; u.Logger; '
            'assert "torchreid.models.api_1x" in sys.modules')
    import subprocess
    import sys
    subprocess.run([sys.executable, '-c', code], check=True)


def test_compute_model_complexity_equals_1x_resnet50():
    model = torchreid.models.build_model('resnet50', num_classes=1000, pretrained=False)
    assert torchreid.utils.compute_model_complexity(model, (1, 3, 256, 128)) == (23508032, 2669150208)


def test_compute_model_complexity_counts_by_hand():
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, bias=True), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2))
    params, flops = torchreid.utils.compute_model_complexity(model, (1, 3, 4, 4))
    assert params == (3 * 4 * 9 + 4) + 8 + (4 * 2 + 2)
    assert flops == (27 + 1) * 4 * 16 + (4 + 1) * 2
    _, all_flops = torchreid.utils.compute_model_complexity(model, (1, 3, 4, 4), only_conv_linear=False)
    # + BN 4 per element (affine) + ReLU 1 per element + max-pool 3 per output + avg-pool 4 per output
    assert all_flops == flops + 4 * 64 + 64 + 3 * 16 + 4 * 4


def test_layers_and_meters_and_files(tmp_path, capsys):
    model = nn.Sequential()
    model.add_module('base', nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)))
    model.add_module('classifier', nn.Linear(2, 2))
    torchreid.utils.open_specified_layers(model, 'classifier')
    assert [p.requires_grad for p in model.parameters()] == [False] * 4 + [True] * 2
    assert not model.base.training and model.classifier.training
    with pytest.raises(ValueError, match=r"\['fc'\] are not top-level children"):
        torchreid.utils.open_specified_layers(model, ['fc'])
    torchreid.utils.open_all_layers(model)
    assert all(p.requires_grad for p in model.parameters()) and model.base.training
    meter = torchreid.utils.MetricMeter()
    meter.update({'loss': torch.tensor(2.0), 'acc': 50.})
    meter.update({'loss': 4.0, 'acc': 70.})
    assert str(meter) == 'loss 4.0000 (3.0000)\tacc 70.0000 (60.0000)'
    (tmp_path / '.hidden').write_text('')
    (tmp_path / 'b').write_text('')
    (tmp_path / 'a').write_text('')
    assert torchreid.utils.listdir_nohidden(str(tmp_path), sort=True) == ['a', 'b']
    assert torchreid.utils.check_isfile(str(tmp_path / 'a'))
    with pytest.warns(UserWarning, match='No file found'):
        assert not torchreid.utils.check_isfile(str(tmp_path / 'c'))
    ranks = torchreid.utils.RankLogger('demo', ['demo', 'demo_duke'])
    ranks.write('demo', 10, 0.5)
    ranks.write('demo_duke', 10, 0.25)
    capsys.readouterr()
    ranks.show_summary()
    assert capsys.readouterr().out == ('=> Show performance summary\ndemo (source)\n- epoch 10\t rank1 50.0%\n'
                                       'demo_duke (target)\n- epoch 10\t rank1 25.0%\n')
    assert 'PyTorch version' in torchreid.utils.collect_env_info()


def test_save_checkpoint_1x_names(tmp_path):
    state = {'state_dict': {'module.fc.weight': torch.ones(2)}, 'epoch': 3, 'rank1': np.float32(0.5)}
    path = torchreid.utils.save_checkpoint(state, str(tmp_path / 'model'), is_best=True, remove_module_from_keys=True)
    assert path == str(tmp_path / 'model' / 'model.pth.tar-3')
    for name in ('model.pth.tar-3', 'model-best.pth.tar'):
        loaded = torchreid.utils.load_checkpoint(str(tmp_path / 'model' / name))
        assert list(loaded['state_dict']) == ['fc.weight'] and loaded['epoch'] == 3 and loaded['rank1'] == 0.5


# ---- data: a user's own dataset ------------------------------------------------------------------------------

@pytest.fixture(scope='module')
def root(tmp_path_factory):
    path = str(tmp_path_factory.mktemp('reid-data'))
    init_imgreid_dataset('demo', root=path, verbose=False)
    return path


class NewDataset(torchreid.data.ImageDataset):
    """The user guide's template, its lists taken from a part of the demo data."""
    dataset_dir = 'new_dataset'

    def __init__(self, root='', **kwargs):
        self.root = osp.abspath(osp.expanduser(root))
        self.dataset_dir = osp.join(self.root, self.dataset_dir)
        demo = init_imgreid_dataset('demo', root=self.root, verbose=False)
        train_pids = sorted({pid for _, pid, _ in demo.train})[:10]
        train = [(path, pid, camid) for path, pid, camid in demo.train if pid in train_pids]
        query, gallery = demo.query[:40], demo.gallery[:80]
        super(NewDataset, self).__init__(train, query, gallery, **kwargs)


@pytest.fixture(scope='module')
def new_dataset_registered():
    if 'new_dataset' not in _image_datasets:
        torchreid.data.register_image_dataset('new_dataset', NewDataset)
    yield 'new_dataset'


def test_own_dataset_base_class_contract(root):
    dataset = NewDataset(root=root, verbose=False)
    assert dataset.num_train_pids == 10 and dataset.data_type == 'image'
    four = torchreid.data.ImageDataset([(p, i, c, 0) for p, i, c in dataset.train], dataset.query, dataset.gallery,
                                       verbose=False)
    assert four.train == dataset.train
    with pytest.raises(ValueError, match='dsetid 1'):
        torchreid.data.ImageDataset([('a.jpg', 0, 0, 1)], dataset.query, dataset.gallery, verbose=False)
    with pytest.raises(ValueError, match='give it to the data manager'):
        torchreid.data.ImageDataset(dataset.train, dataset.query, dataset.gallery, combineall=True)
    with pytest.raises(TypeError, match="unexpected keyword argument 'colour'"):
        torchreid.data.ImageDataset(dataset.train, dataset.query, dataset.gallery, colour=1)
    with pytest.raises(ValueError, match='seq_len=4: give it to the data manager'):
        torchreid.data.VideoDataset([], [], [], seq_len=4)
    with pytest.raises(FileNotFoundError, match='nowhere'):
        dataset.check_before_run([root, osp.join(root, 'nowhere')])
    with pytest.raises(ValueError, match="'new_dataset' is already registered|already registered"):
        torchreid.data.register_image_dataset('demo', NewDataset)


def test_user_guide_own_dataset_trains(root, new_dataset_registered, tmp_path):
    datamanager = torchreid.data.ImageDataManager(root=root, sources='new_dataset', batch_size_train=16, **SMALL)
    assert datamanager.num_train_pids == 10
    model = torchreid.models.build_model('shufflenet', num_classes=datamanager.num_train_pids, loss='softmax',
                                         pretrained=False)
    optimizer = torchreid.optim.build_optimizer(model, optim='sgd', lr=0.01, staged_lr=True,
                                                new_layers='classifier', base_lr_mult=0.1)
    engine = torchreid.engine.ImageSoftmaxEngine(datamanager, model, optimizer)  # scheduler=None: constant lr
    engine.run(save_dir=str(tmp_path), max_epoch=1, print_freq=100)
    assert [g['lr'] for g in optimizer.param_groups] == pytest.approx([0.001, 0.01])
    assert os.path.isfile(tmp_path / 'model' / 'model.pth.tar-1')


def test_fixbase_then_all_layers_and_start_eval_as_1x(root, new_dataset_registered, tmp_path):
    datamanager = torchreid.data.ImageDataManager(root=root, sources='new_dataset', batch_size_train=16,
                                                  verbose=False, **SMALL)
    model = torchreid.models.build_model('osnet_x0_25', datamanager.num_train_pids, pretrained=False)
    conv1_before = model.conv1.conv.weight.detach().clone()
    engine = torchreid.engine.ImageSoftmaxEngine(datamanager, model, torchreid.optim.build_optimizer(model))
    # 1.x: fixbase epochs count in max_epoch; evaluate after epoch e when e >= start_eval and e % eval_freq == 0
    engine.run(save_dir=str(tmp_path), max_epoch=2, fixbase_epoch=1, open_layers=['classifier'], eval_freq=1,
               start_eval=1, print_freq=100)
    after_fixbase = torchreid.utils.load_checkpoint(str(tmp_path / 'model' / 'model.pth.tar-1'))
    assert torch.equal(after_fixbase['state_dict']['conv1.conv.weight'], conv1_before)
    assert not torch.equal(model.conv1.conv.weight, conv1_before)  # opened for epoch 2
    assert all(p.requires_grad for p in model.parameters())
    assert os.path.isfile(tmp_path / 'model' / 'model.pth.tar-2')


def test_user_guide_combine_datasets(root):
    init_imgreid_dataset('demo_duke', root=root, verbose=False)
    datamanager = torchreid.data.ImageDataManager(root=root, sources=['demo', 'demo_duke'], batch_size_train=32,
                                                  verbose=False, **SMALL)
    demo = init_imgreid_dataset('demo', root=root, verbose=False)
    duke = init_imgreid_dataset('demo_duke', root=root, verbose=False)
    assert datamanager.num_train_pids == demo.num_train_pids + duke.num_train_pids
    assert datamanager.targets == ['demo', 'demo_duke']
    assert sorted(datamanager.test_loader) == ['demo', 'demo_duke']


# ---- engines: get started, fixbase, resume, evaluation only, feature extraction ------------------------------

@pytest.fixture(scope='module')
def trained(root, tmp_path_factory):
    """The README's 'get started' (osnet_x0_25, 64x32, one epoch), with fixbase and its checkpoint."""
    save_dir = str(tmp_path_factory.mktemp('log'))
    torchreid.utils.set_random_seed(0)
    datamanager = torchreid.data.ImageDataManager(root=root, sources='demo', targets='demo', batch_size_train=32,
                                                  batch_size_test=100, transforms=['random_flip', 'random_crop'],
                                                  **SMALL)
    model = torchreid.models.build_model(name='osnet_x0_25', num_classes=datamanager.num_train_pids, loss='softmax',
                                         pretrained=False)
    optimizer = torchreid.optim.build_optimizer(model, optim='adam', lr=0.0003)
    scheduler = torchreid.optim.build_lr_scheduler(optimizer, lr_scheduler='single_step', stepsize=20)
    engine = torchreid.engine.ImageSoftmaxEngine(datamanager, model, optimizer=optimizer, scheduler=scheduler,
                                                 label_smooth=True)
    conv1_before = model.conv1.conv.weight.detach().clone()
    classifier_before = model.classifier.weight.detach().clone()
    bn_before = model.conv1.bn.running_mean.clone()
    engine.run(save_dir=save_dir, max_epoch=1, eval_freq=10, print_freq=10, test_only=False, fixbase_epoch=1,
               open_layers='classifier')
    return dict(datamanager=datamanager, model=model, save_dir=save_dir, conv1_before=conv1_before,
                classifier_before=classifier_before, bn_before=bn_before, engine=engine)


def test_get_started_with_fixbase_trains_only_the_open_layers(trained):
    model = trained['model']
    assert torch.equal(model.conv1.conv.weight, trained['conv1_before'])
    assert torch.equal(model.conv1.bn.running_mean, trained['bn_before'])  # closed layers in eval mode
    assert not torch.equal(model.classifier.weight, trained['classifier_before'])
    checkpoint = torchreid.utils.load_checkpoint(osp.join(trained['save_dir'], 'model', 'model.pth.tar-1'))
    assert checkpoint['epoch'] == 1 and 0 <= checkpoint['rank1'] <= 1
    assert set(checkpoint) >= {'state_dict', 'epoch', 'rank1', 'optimizer', 'scheduler'}


def test_resume_from_checkpoint_continues(trained, tmp_path):
    datamanager = trained['datamanager']
    model = torchreid.models.build_model('osnet_x0_25', num_classes=datamanager.num_train_pids, pretrained=False)
    optimizer = torchreid.optim.build_optimizer(model, optim='adam', lr=0.0003)
    scheduler = torchreid.optim.build_lr_scheduler(optimizer, lr_scheduler='cosine', max_epoch=2)
    fpath = osp.join(trained['save_dir'], 'model', 'model.pth.tar-1')
    start_epoch = torchreid.utils.resume_from_checkpoint(fpath, model, optimizer)
    assert start_epoch == 1
    for key, value in trained['model'].state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key
    num_batches = len(datamanager.train_loader)
    classifier_index = [id(p) for p in model.parameters()].index(id(model.classifier.weight))
    assert optimizer.state_dict()['state'][classifier_index]['step'] == num_batches  # fixbase: the classifier only
    assert 0 not in optimizer.state_dict()['state']  # conv1 was closed: no optimizer step, no state
    engine = torchreid.engine.ImageSoftmaxEngine(datamanager, model, optimizer=optimizer, scheduler=scheduler)
    engine.run(save_dir=str(tmp_path), max_epoch=2, start_epoch=start_epoch, print_freq=100)
    assert not torch.equal(model.conv1.conv.weight, trained['model'].conv1.conv.weight)  # all layers open now
    assert optimizer.state_dict()['state'][0]['step'] == num_batches
    checkpoint = torchreid.utils.load_checkpoint(str(tmp_path / 'model' / 'model.pth.tar-2'))
    assert checkpoint['epoch'] == 2
    # as in 1.x, a scheduler not given to resume_from_checkpoint starts at its epoch 0: stepped once here
    assert optimizer.param_groups[0]['lr'] == pytest.approx(0.0003 * 0.5)
    with pytest.raises(ValueError, match='nothing to train'):
        engine.run(save_dir=str(tmp_path), max_epoch=2, start_epoch=2)


def test_evaluation_only_with_visrank_and_rerank(trained, tmp_path, capsys):
    datamanager = trained['datamanager']
    model = torchreid.models.build_model('osnet_x0_25', num_classes=datamanager.num_train_pids, pretrained=False)
    torchreid.utils.load_pretrained_weights(model, osp.join(trained['save_dir'], 'model', 'model.pth.tar-1'))
    optimizer = torchreid.optim.build_optimizer(model)
    engine = torchreid.engine.ImageSoftmaxEngine(datamanager, model, optimizer)
    with pytest.raises(ValueError, match='visrank can be set to True only if test_only=True'):
        engine.run(visrank=True)
    capsys.readouterr()
    result = engine.run(save_dir=str(tmp_path), test_only=True, visrank=True, visrank_topk=3, ranks=[1, 3])
    out = capsys.readouterr().out
    assert 'Rank-3  : ' in out and '##### Evaluating demo #####' in out
    trained_result = trained['engine'].engine.evaluate()
    assert result.rank1 == pytest.approx(trained_result.rank1) and result.mAP == pytest.approx(trained_result.mAP)
    query_dir = tmp_path / 'visrank_demo'
    assert len([d for d in os.listdir(query_dir) if (query_dir / d).is_dir()]) == len(
        datamanager.test_dataset['demo']['query'])
    reranked = engine.run(save_dir=str(tmp_path), test_only=True, rerank=True)
    assert reranked.mAP != pytest.approx(result.mAP)


def test_feature_extraction(trained, root):
    image_list = [path for path, _, _ in trained['datamanager'].test_dataset['demo']['query'][:5]]
    with pytest.warns(UserWarning, match="no CUDA GPU") if not torch.cuda.is_available() else _no_warning():
        extractor = torchreid.utils.FeatureExtractor(
            model_name='osnet_x0_25', model_path=osp.join(trained['save_dir'], 'model', 'model.pth.tar-1'),
            image_size=(64, 32), verbose=False)
    features = extractor(image_list)
    assert features.shape == (5, 512)
    model = trained['model'].eval()
    ours = trained['engine'].engine.evaluator.evaluators['demo']
    from torchreid.engine.evaluation import extract_features
    expected = extract_features(model, ours.query_loader, torch.device('cpu'))[0][:5]
    torch.testing.assert_close(features.cpu(), expected, atol=1e-4, rtol=1e-4)
    from PIL import Image
    arrays = [np.asarray(Image.open(path).convert('RGB')) for path in image_list[:2]]
    # decoded by PIL rather than the loader's JPEG decoder: pixels may differ by one level
    cosine = torch.nn.functional.cosine_similarity(extractor(arrays).cpu(), expected[:2])
    assert cosine.min() > 0.999
    raw = torchreid.utils.FeatureExtractor('osnet_x0_25', osp.join(trained['save_dir'], 'model', 'model.pth.tar-1'),
                                           image_size=(64, 32), pixel_norm=False, device='cpu', verbose=False)
    assert not torch.allclose(raw(image_list[:1]).cpu(), expected[:1], atol=1e-3)
    with pytest.raises(FileNotFoundError):
        torchreid.utils.FeatureExtractor('osnet_x0_25', 'no/such/model.pth.tar', device='cpu', verbose=False)


class _no_warning(object):
    def __enter__(self):
        return self

    def __exit__(self, *args):
        return False


def test_triplet_engine_and_errors(root, tmp_path):
    datamanager = torchreid.data.ImageDataManager(root=root, sources='demo', batch_size_train=16,
                                                  train_sampler='RandomIdentitySampler', num_instances=4,
                                                  verbose=False, **SMALL)
    model = torchreid.models.build_model('osnet_x0_25', datamanager.num_train_pids, loss='triplet', pretrained=False)
    optimizer = torchreid.optim.build_optimizer(model, lr=0.001)
    with pytest.raises(ValueError, match='weight_t and weight_x'):
        torchreid.engine.ImageTripletEngine(datamanager, model, optimizer, weight_t=0, weight_x=0)
    engine = torchreid.engine.ImageTripletEngine(datamanager, model, optimizer, margin=0.3, weight_t=0.7, weight_x=1)
    assert engine.weight_t == 0.7
    engine.run(save_dir=str(tmp_path), max_epoch=1, print_freq=100)
    assert engine.engine.lambda_htri == 0.7 and engine.engine.lambda_xent == 1
    with pytest.raises(ValueError, match=r"open_layers \['nothing'\]"):
        engine.run(save_dir=str(tmp_path), max_epoch=1, fixbase_epoch=1, open_layers='nothing')


class NewVideoDataset(torchreid.data.VideoDataset):
    """The user guide's template for video: tracklets (tuples of frames) of a part of the demo video data."""
    dataset_dir = 'new_video_dataset'

    def __init__(self, root='', **kwargs):
        demo = torchreid.datasets.init_vidreid_dataset('demovideo', root=root, verbose=False)
        train_pids = sorted({pid for _, pid, _ in demo.train})[:8]
        train = [sample for sample in demo.train if sample[1] in train_pids]
        super(NewVideoDataset, self).__init__(train, demo.query[:20], demo.gallery[:40], **kwargs)


def test_video_engine_on_own_video_dataset(tmp_path):
    root = str(tmp_path)
    with pytest.raises(ValueError, match="pooling_method must be 'avg' or 'max'"):
        torchreid.engine.VideoSoftmaxEngine(None, None, None, pooling_method='mean')
    if 'new_video_dataset' not in torchreid.datasets.get_video_names():
        torchreid.data.register_video_dataset('new_video_dataset', NewVideoDataset)
    datamanager = torchreid.data.VideoDataManager(root=root, sources='new_video_dataset', batch_size_train=8,
                                                  batch_size_test=8, seq_len=2, train_sampler='RandomIdentitySampler',
                                                  num_instances=2, verbose=False, **SMALL)
    assert datamanager.num_train_pids == 8
    imgs = next(iter(datamanager.train_loader))['img']
    assert imgs.shape == (8, 2, 3, 64, 32)  # clips of seq_len frames
    model = torchreid.models.build_model('osnet_x0_25', datamanager.num_train_pids, loss='triplet', pretrained=False)
    optimizer = torchreid.optim.build_optimizer(model)
    engine = torchreid.engine.VideoTripletEngine(datamanager, model, optimizer, pooling_method='max')
    engine.run(save_dir=root, max_epoch=1, print_freq=100)
    assert engine.engine.evaluator.evaluators['new_video_dataset'].pool == 'max'
    assert torchreid.utils.load_checkpoint(os.path.join(root, 'model', 'model.pth.tar-1'))['epoch'] == 1


# ---- the scripts' --lr-scheduler -------------------------------------------------------------------------------

@pytest.mark.slow
def test_script_cosine_schedule_resumes_exactly(root, tmp_path, monkeypatch):
    from torchreid.engine.engine import LATEST_CHECKPOINT
    from torchreid.engine.runner import main
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', os.environ.get('CUDA_VISIBLE_DEVICES', ''))
    common = ['--root', root, '-d', 'demo', '-a', 'osnet_x0_25', '--no-pretrained', '--height', '64', '--width', '32',
              '-j', '0', '--use-cpu', '--lr-scheduler', 'cosine', '--lr', '0.001', '--train-batch', '64',
              '--print-freq', '100']

    def train(name, max_epoch, *extra):
        assert main('image', 'xent', common + ['--save-dir', str(tmp_path / name), '--max-epoch', str(max_epoch)]
                    + list(extra)) == 0
        return torchreid.utils.load_checkpoint(str(tmp_path / name / LATEST_CHECKPOINT))

    straight = train('straight', 3, '--eval-step', '1')
    assert straight['history']['lr'] == pytest.approx([0.001 * (1 + np.cos(np.pi * e / 3)) / 2 for e in range(3)])
    # resume from the checkpoint after epoch 1 (as after an interruption): epochs 2 and 3 are those of the straight run
    resumed = train('resumed', 3, '--eval-step', '1', '--resume', str(tmp_path / 'straight' / 'checkpoint_ep1.pth.tar'))
    assert resumed['history']['lr'] == pytest.approx(straight['history']['lr'])
    for key, value in straight['state_dict'].items():
        assert torch.equal(resumed['state_dict'][key], value), key


@pytest.mark.parametrize('argv, message', [
    (['--lr-scheduler', 'cosine', '--stepsize', '5'], '--stepsize do(es) not apply to --lr-scheduler cosine'),
    (['--lr-scheduler', 'cosine', '--gamma', '0.5'], '--gamma do(es) not apply to --lr-scheduler cosine'),
    (['--lr-scheduler', 'single_step'], '--lr-scheduler single_step takes one positive --stepsize (its period), '
                                        'got 20 40'),
    (['--lr-scheduler', 'linear'], "invalid choice: 'linear'"),
])
def test_script_lr_scheduler_flag_errors(argv, message, capsys):
    from torchreid.engine.cli import build_parser, parse_args
    with pytest.raises(SystemExit) as exit_info:
        parse_args(build_parser('image', 'xent'), argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    args = parse_args(build_parser('image', 'xent'), ['--lr-scheduler', 'single_step', '--stepsize', '7'])
    assert (args.lr_scheduler, args.stepsize) == ('single_step', [7])
    assert parse_args(build_parser('video', 'xent_htri'), []).lr_scheduler == 'multi_step'


def test_logger_tees_to_a_file_or_only_the_console_like_1x(tmp_path, capsys):
    import sys
    with torchreid.utils.Logger() as console_only:  # 1.x: Logger(fpath=None) writes to the console only
        console_only.write('to the console\n')
        console_only.flush()
    assert capsys.readouterr().out == 'to the console\n'
    fpath = tmp_path / 'logs' / 'log.txt'
    logger = torchreid.utils.Logger(str(fpath), console=sys.stdout)
    logger.write('both\n')
    logger.close()
    assert capsys.readouterr().out == 'both\n'
    assert fpath.read_text().endswith('both\n') and '==> Run started' in fpath.read_text()
