"""torchreid 1.x model-zoo keys: their architectures, their checkpoints' naming (torchreid.models.naming) and their
ImageNet weights, checked against 1.x's own model definitions.

The reference is PyPI's ``pyppbox-torchreid`` (torchreid 1.4 packaged as ``pyppbox_torchreid``; its model files are
1.x's, see ../shared/TORCHREID1X.md §8), installed by ``pip install -e .[reference]``. Only the tests that need it
skip without it. For every zoo key: 1.x's state_dict (random weights and BN statistics) loads strictly into ours
through ``to_own_naming``, ours maps back to exactly 1.x's names through ``to_1x_naming``, and eval features and
train outputs are identical. HACNN is the exception: 1.x on torch >= 1.3 samples its spatial transformer with
``align_corners=False`` while ours keeps the seed's (and the zoo weights') ``align_corners=True``; with 1.x patched
to ``align_corners=True`` the features are identical, unpatched only near-equal.
"""
import functools
import importlib
import socket
import warnings
from collections import OrderedDict

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision

from torchreid.models import get_names, init_model
from torchreid.models import pretrained as pretrained_module
from torchreid.models.naming import to_1x_naming, to_own_naming, uses_1x_naming
from torchreid.utils.checkpoint import CheckpointError, extract_state_dict, load_checkpoint, load_model_state

NUM_CLASSES = 7
INPUT_HW = (64, 32)
HACNN_HW = (160, 64)

# 1.x key -> (module of pyppbox_torchreid.models, constructor, extra arguments)
REFERENCE_CONSTRUCTORS = OrderedDict([
    ('osnet_x1_0', ('osnet', 'osnet_x1_0', {})),
    ('osnet_x0_75', ('osnet', 'osnet_x0_75', {})),
    ('osnet_x0_5', ('osnet', 'osnet_x0_5', {})),
    ('osnet_x0_25', ('osnet', 'osnet_x0_25', {})),
    ('osnet_ibn_x1_0', ('osnet', 'osnet_ibn_x1_0', {})),
    ('osnet_ain_x1_0', ('osnet_ain', 'osnet_ain_x1_0', {})),
    ('osnet_ain_x0_75', ('osnet_ain', 'osnet_ain_x0_75', {})),
    ('osnet_ain_x0_5', ('osnet_ain', 'osnet_ain_x0_5', {})),
    ('osnet_ain_x0_25', ('osnet_ain', 'osnet_ain_x0_25', {})),
    ('resnet50', ('resnet', 'resnet50', {})),
    ('resnet50_fc512', ('resnet', 'resnet50_fc512', {})),
    ('mlfn', ('mlfn', 'mlfn', {})),
    ('hacnn', ('hacnn', 'HACNN', {'use_gpu': False})),
    ('mobilenetv2_x1_0', ('mobilenetv2', 'mobilenetv2_x1_0', {})),
    ('mobilenetv2_x1_4', ('mobilenetv2', 'mobilenetv2_x1_4', {})),
    ('resnet50_ibn_a', ('resnet_ibn_a', 'resnet50_ibn_a', {})),
    ('resnet50_ibn_b', ('resnet_ibn_b', 'resnet50_ibn_b', {})),
])
ZOO_KEYS = list(REFERENCE_CONSTRUCTORS)
NEW_KEYS = ['osnet_ibn_x1_0', 'osnet_ain_x1_0', 'osnet_ain_x0_75', 'osnet_ain_x0_5', 'osnet_ain_x0_25',
            'resnet50_fc512', 'resnet50_ibn_a', 'resnet50_ibn_b', 'mlfn', 'mobilenetv2_x1_0', 'mobilenetv2_x1_4']
# torchreid 1.x's eval feature dimensions (../shared/TORCHREID1X.md §2)
EVAL_DIMS = {'osnet_ibn_x1_0': 512, 'osnet_ain_x1_0': 512, 'osnet_ain_x0_75': 512, 'osnet_ain_x0_5': 512,
             'osnet_ain_x0_25': 512, 'resnet50_fc512': 512, 'resnet50_ibn_a': 2048, 'resnet50_ibn_b': 2048,
             'mlfn': 1024, 'mobilenetv2_x1_0': 1280, 'mobilenetv2_x1_4': 1792}
LOSSES_1X = {'softmax': {'xent'}, 'triplet': {'xent', 'htri'}}


def build(key, **kwargs):
    kwargs.setdefault('num_classes', NUM_CLASSES)
    kwargs.setdefault('pretrained', False)
    return init_model(key, **kwargs)


def images(key, batch=2, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 3, *(HACNN_HW if key == 'hacnn' else INPUT_HW), generator=generator)


def randomized_state(model, seed=0):
    """``model``'s state_dict with every float tensor redrawn (BN weights and variances positive), so that a name
    mapped onto the wrong tensor of the same shape changes the output."""
    generator = torch.Generator().manual_seed(seed)
    state = OrderedDict()
    for name, tensor in model.state_dict().items():
        if not tensor.is_floating_point():
            state[name] = tensor.clone()
        elif name.endswith('running_var') or (tensor.dim() == 1 and name.endswith('weight')):
            state[name] = 0.5 + torch.rand(tensor.shape, generator=generator)
        elif tensor.dim() == 1:
            state[name] = 0.1 * torch.randn(tensor.shape, generator=generator)
        else:
            fan_in = tensor[0].numel()
            state[name] = torch.randn(tensor.shape, generator=generator) * (2.0 / fan_in) ** 0.5
    return state


def run(model, x, training):
    model.train(training)
    with torch.no_grad():
        return model(x)


def assert_same_outputs(ours, theirs):
    if isinstance(theirs, (tuple, list)):
        assert isinstance(ours, tuple) and len(ours) == len(theirs)
        for our_item, their_item in zip(ours, theirs):
            assert_same_outputs(our_item, their_item)
    else:
        assert ours.shape == theirs.shape
        torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- the keys and their defaults (no reference needed)


def test_every_1x_zoo_key_is_registered():
    assert set(ZOO_KEYS) <= set(get_names())


@pytest.mark.parametrize('key', NEW_KEYS)
def test_new_keys_give_1x_eval_dims_and_default_to_softmax(key):
    torch.manual_seed(0)
    model = build(key)  # loss not given: {'xent'}, 1.x's 'softmax'
    x = images(key)
    logits = run(model, x, training=True)
    assert isinstance(logits, torch.Tensor) and logits.shape == (2, NUM_CLASSES)
    features = run(model, x, training=False)
    assert features.shape == (2, EVAL_DIMS[key]) and model.feat_dim == EVAL_DIMS[key]
    model = build(key, loss={'xent', 'htri'})
    logits, train_features = run(model, x, training=True)
    assert logits.shape == (2, NUM_CLASSES) and train_features.shape == (2, EVAL_DIMS[key])


@pytest.mark.parametrize('key', [key for key in ZOO_KEYS if key.startswith('osnet')])
def test_osnet_constructors_default_to_1000_classes_as_in_1x(key):
    torch.manual_seed(0)
    model = init_model(key, pretrained=False)
    assert model.classifier.out_features == 1000


def test_mobilenetv2_x1_4_widths_truncate_like_1x():
    model = build('mobilenetv2_x1_4')
    assert model.conv1.conv.out_channels == 44  # int(32 * 1.4)
    assert [model.block2.conv3[0].out_channels, model.block5[0].conv3[0].out_channels,
            model.block8.conv3[0].out_channels] == [22, 89, 448]  # int(16, 64, 320 * 1.4)
    assert model.conv9.conv.out_channels == 1792


def test_mobilenetv2_x1_0_is_the_seed_network_without_dropout():
    """Same layers and names as the seed's 'mobilenetv2'; the seed drops out half the feature in training, 1.x not."""
    seed_model = build('mobilenetv2')
    model = build('mobilenetv2_x1_0')
    assert [(n, t.shape) for n, t in seed_model.state_dict().items()] == \
        [(n, t.shape) for n, t in model.state_dict().items()]
    model.load_state_dict(seed_model.state_dict())
    x = images('mobilenetv2')
    assert torch.equal(run(model, x, training=False), run(seed_model, x, training=False))
    torch.manual_seed(1)
    train_logits = run(model, x, training=True)
    torch.manual_seed(1)
    assert not torch.allclose(run(seed_model, x, training=True), train_logits)  # seed: dropout 0.5
    torch.manual_seed(2)
    assert torch.equal(run(model, x, training=True), train_logits)  # 1.x: no dropout, no randomness


def test_ibn_layouts():
    ibn_a = build('resnet50_ibn_a')
    state_a = ibn_a.state_dict()
    assert state_a['base.4.0.bn1.IN.weight'].shape == (32,) and state_a['base.4.0.bn1.BN.running_mean'].shape == (32,)
    assert state_a['base.6.5.bn1.IN.weight'].shape == (128,)
    assert 'base.7.0.bn1.weight' in state_a  # layer4: plain BN
    assert not any('.IN.' in name and name.startswith('base.7.') for name in state_a)
    ibn_b = build('resnet50_ibn_b')
    state_b = ibn_b.state_dict()
    assert isinstance(ibn_b.base[1], torch.nn.InstanceNorm2d) and 'base.1.running_mean' not in state_b
    assert sorted(name for name in state_b if name.endswith('IN.weight')) == ['base.4.2.IN.weight',
                                                                              'base.5.3.IN.weight']
    assert ibn_b.base[7][0].conv2.stride == (2, 2)  # 1.x keeps the last stride at 2


def test_resnet50_fc512_has_last_stride_1_and_an_embedding():
    model = build('resnet50_fc512')
    assert model.base[7][0].conv2.stride == (1, 1)
    assert [type(layer).__name__ for layer in model.fc] == ['Linear', 'BatchNorm1d', 'ReLU']
    assert model.fc[0].in_features == 2048 and model.classifier.in_features == 512


def test_osnet_ain_block_pattern():
    model = build('osnet_ain_x0_25')
    in_blocks = [[block.IN is not None for block in stage] for stage in (model.conv2, model.conv3, model.conv4)]
    assert in_blocks == [[True, True], [False, True], [True, False]]
    assert not hasattr(model.conv2[0].conv3, 'bn') and hasattr(model.conv3[0].conv3, 'bn')
    assert [len(stream.layers) for stream in model.conv2[0].conv2] == [1, 2, 3, 4]


# ---------------------------------------------------------------- naming


def test_resnet_1x_names_map_onto_ours_and_back():
    model = build('resnet50_fc512')
    ours = model.state_dict()
    theirs = to_1x_naming('resnet50_fc512', ours)
    for their_name, our_name in [('conv1.weight', 'base.0.weight'), ('bn1.running_var', 'base.1.running_var'),
                                 ('layer1.0.downsample.1.weight', 'base.4.0.downsample.1.weight'),
                                 ('layer4.2.bn3.bias', 'base.7.2.bn3.bias'), ('fc.0.weight', 'fc.0.weight'),
                                 ('fc.1.running_mean', 'fc.1.running_mean'), ('classifier.bias', 'classifier.bias')]:
        assert theirs[their_name] is ours[our_name]
    assert not any(name.startswith('base.') for name in theirs)
    assert uses_1x_naming('resnet50_fc512', theirs) and not uses_1x_naming('resnet50_fc512', ours)
    back = to_own_naming('resnet50_fc512', theirs)
    assert list(back) == list(ours) and all(back[name] is ours[name] for name in ours)


def test_mobilenetv2_1x_names_map_onto_ours():
    ours = build('mobilenetv2').state_dict()
    theirs = to_1x_naming('mobilenetv2', ours)
    for their_name, our_name in [('conv1.conv.weight', 'conv1.conv.weight'),
                                 ('conv2.0.conv1.conv.weight', 'block2.conv1.conv.weight'),
                                 ('conv3.1.dwconv2.bn.running_mean', 'block3.1.dwconv2.bn.running_mean'),
                                 ('conv7.2.conv3.1.weight', 'block7.2.conv3.1.weight'),
                                 ('conv8.0.conv3.0.weight', 'block8.conv3.0.weight'),
                                 ('conv9.bn.weight', 'conv9.bn.weight'), ('classifier.weight', 'classifier.weight')]:
        assert theirs[their_name] is ours[our_name]
    assert list(to_own_naming('mobilenetv2_x1_4', theirs)) == list(ours)


@pytest.mark.parametrize('key', ['resnet50', 'mobilenetv2', 'hacnn', 'osnet_x0_25', 'mlfn'])
def test_our_own_naming_passes_through_unchanged(key):
    """Seed checkpoints (and ours) keep loading: our names are never rewritten."""
    model = build(key)
    ours = model.state_dict()
    for arch in (key, model):
        mapped = to_own_naming(arch, ours)
        assert list(mapped) == list(ours) and all(mapped[name] is ours[name] for name in ours)
    model.load_state_dict(to_own_naming(key, ours), strict=True)


def test_model_instance_selects_the_family():
    model = build('resnet50_ibn_b')
    theirs = to_1x_naming(model, model.state_dict())
    assert 'layer1.2.IN.weight' in theirs and 'bn1.weight' in theirs
    model.load_state_dict(to_own_naming(model, theirs), strict=True)


def test_unknown_names_are_kept_for_the_strict_load_to_report():
    theirs = to_1x_naming('resnet50', build('resnet50').state_dict())
    theirs['extra_head.weight'] = torch.zeros(1)
    mapped = to_own_naming('resnet50', theirs)
    assert 'extra_head.weight' in mapped
    with pytest.raises(RuntimeError, match='extra_head.weight'):
        build('resnet50').load_state_dict(mapped, strict=True)


def test_mixed_naming_is_an_error():
    ours = build('resnet50').state_dict()
    mixed = OrderedDict(ours)
    mixed['layer1.0.conv1.weight'] = mixed.pop('base.4.0.conv1.weight')
    with pytest.raises(CheckpointError, match="mixes torchreid 1.x's names"):
        to_own_naming('resnet50', mixed)


def test_1x_engine_checkpoint_file_loads_through_the_checkpoint_functions(tmp_path):
    """A file as 1.x's engine writes it (DataParallel prefix, numpy rank1, optimizer state) -> our resnet50."""
    torch.manual_seed(0)
    trained = build('resnet50_fc512').eval()
    theirs = to_1x_naming('resnet50_fc512', trained.state_dict())
    path = str(tmp_path / 'model.pth.tar-60')
    torch.save({'state_dict': OrderedDict(('module.' + name, tensor) for name, tensor in theirs.items()),
                'epoch': 60, 'rank1': np.float64(0.9), 'optimizer': {'state': {}, 'param_groups': []}}, path)
    model = build('resnet50_fc512').eval()
    load_model_state(model, to_own_naming(model, extract_state_dict(load_checkpoint(path))))
    x = images('resnet50_fc512')
    assert torch.equal(run(model, x, training=False), run(trained, x, training=False))


# ---------------------------------------------------------------- ImageNet weights of the new keys


def torchvision_resnet50_state():
    torch.manual_seed(3)
    state = torchvision.models.resnet50().state_dict()
    for name in state:  # distinguishable BN statistics
        if name.endswith(('running_mean', 'running_var', 'bn1.weight', 'bn1.bias')):
            state[name] = torch.rand(state[name].shape) + 0.5
    return state


@pytest.fixture
def torchvision_file(monkeypatch):
    """imagenet_state_dict() returns a (random) torchvision ResNet-50 file; records the keys asked for."""
    state = torchvision_resnet50_state()
    requested = []
    monkeypatch.setattr(pretrained_module, 'imagenet_state_dict', lambda key: requested.append(key) or state)
    return state, requested


def test_resnet50_fc512_and_ibn_load_torchvision_resnet50(torchvision_file):
    source, requested = torchvision_file
    fc512 = build('resnet50_fc512', pretrained=True)
    assert torch.equal(fc512.base[0].weight, source['conv1.weight'])
    assert torch.equal(fc512.base[7][0].downsample[1].running_var, source['layer4.0.downsample.1.running_var'])

    ibn_a = build('resnet50_ibn_a', pretrained=True)
    assert torch.equal(ibn_a.base[4][0].conv1.weight, source['layer1.0.conv1.weight'])
    assert torch.equal(ibn_a.base[4][0].bn2.running_mean, source['layer1.0.bn2.running_mean'])
    assert torch.equal(ibn_a.base[7][0].bn1.weight, source['layer4.0.bn1.weight'])  # layer4 bn1 is a plain BN
    assert torch.equal(ibn_a.base[4][0].bn1.IN.weight, torch.ones(32))  # split bn1 keeps its init, as in 1.x
    assert torch.equal(ibn_a.base[4][0].bn1.BN.running_mean, torch.zeros(32))

    ibn_b = build('resnet50_ibn_b', pretrained=True)
    assert torch.equal(ibn_b.base[1].weight, source['bn1.weight'])  # the stem IN takes BN's affine, as in 1.x
    assert torch.equal(ibn_b.base[1].bias, source['bn1.bias'])
    assert torch.equal(ibn_b.base[4][2].IN.weight, torch.ones(256))
    assert torch.equal(ibn_b.base[6][5].bn1.running_var, source['layer3.5.bn1.running_var'])
    assert requested == ['resnet50_fc512', 'resnet50_ibn_a', 'resnet50_ibn_b']
    for key in requested:
        assert pretrained_module.IMAGENET_WEIGHTS[key] == pretrained_module.IMAGENET_WEIGHTS['resnet50']


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError('network access attempted')
    monkeypatch.setattr(socket.socket, 'connect', refuse)
    monkeypatch.setattr(torch.hub, 'download_url_to_file', refuse)


@pytest.mark.parametrize('key,where', [
    ('osnet_ibn_x1_0', 'https://drive.google.com/uc?id=1sr90V6irlYYDd4_4ISU2iruoRG8J__6l'),
    ('osnet_ain_x0_25', 'https://drive.google.com/uc?id=1SxQt2AvmEcgWNhaRb2xC4rP6ZwVDP0Wt'),
    ('osnet_x0_5', 'https://drive.google.com/uc?id=16DGLbZukvVYgINws8u8deSaOqjybZ83i'),
    ('mlfn', 'https://mega.nz/#!YHxAhaxC!'),
    ('mobilenetv2_x1_4', 'https://mega.nz/#!RGhgEIwS!'),
])
def test_pretrained_without_a_download_link_warns_once_with_the_link(key, where, no_network):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        build(key, pretrained=True)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(messages) == 1, messages
    assert messages[0].startswith(key + ': ImageNet weights are not downloaded')
    assert where in messages[0] and 'load_pretrained_weights' in messages[0] and 'pretrained=False' in messages[0]
    if 'drive.google.com' in where:
        assert "'<torch home>/checkpoints/{}_imagenet.pth'".format(key) in messages[0]


# ---------------------------------------------------------------- against torchreid 1.x's own definitions


@pytest.fixture(scope='module')
def reference():
    """pyppbox_torchreid.models, or a skip saying how to install it."""
    try:
        importlib.import_module('pyppbox_torchreid')
    except ImportError as error:
        pytest.skip('the torchreid 1.x reference is not installed ({}): pip install -e .[reference] (PyPI '
                    'pyppbox-torchreid + opencv-python-headless)'.format(error))
    return lambda module: importlib.import_module('pyppbox_torchreid.models.' + module)


def build_1x(reference, key, loss='softmax', **kwargs):
    module_name, constructor, extra = REFERENCE_CONSTRUCTORS[key]
    torch.manual_seed(0)
    arguments = dict(extra, num_classes=NUM_CLASSES, loss=loss, pretrained=False)
    arguments.update(kwargs)
    if key == 'hacnn':
        arguments.pop('pretrained')
    return getattr(reference(module_name), constructor)(**arguments)


@pytest.fixture
def hacnn_align_corners_true(monkeypatch):
    """1.x's HACNN as torch < 1.3 ran it: affine_grid / grid_sample with align_corners=True (ours passes it
    explicitly, so it is unaffected)."""
    monkeypatch.setattr(F, 'affine_grid', functools.partial(F.affine_grid, align_corners=True))
    monkeypatch.setattr(F, 'grid_sample', functools.partial(F.grid_sample, align_corners=True))


def load_1x_into_ours(reference, key, loss_1x='softmax'):
    """(1.x model with random weights, our model with the same weights loaded strictly through to_own_naming)."""
    theirs = build_1x(reference, key, loss=loss_1x)
    theirs.load_state_dict(randomized_state(theirs))
    ours = build(key, loss=LOSSES_1X[loss_1x])
    ours.load_state_dict(to_own_naming(key, theirs.state_dict()), strict=True)
    return theirs, ours


@pytest.mark.parametrize('key', ZOO_KEYS)
def test_1x_checkpoint_loads_strictly_with_identical_outputs(key, reference, hacnn_align_corners_true):
    theirs, ours = load_1x_into_ours(reference, key)
    assert set(to_1x_naming(key, ours.state_dict())) == set(theirs.state_dict())  # deployment files in 1.x names
    x = images(key)
    their_features = run(theirs, x, training=False)
    assert their_features.abs().sum() > 0
    assert_same_outputs(run(ours, x, training=False), their_features)
    assert_same_outputs(run(ours, x, training=True), run(theirs, x, training=True))


@pytest.mark.parametrize('key', ['osnet_ain_x0_25', 'resnet50_fc512', 'mlfn', 'mobilenetv2_x1_0', 'hacnn'])
def test_1x_triplet_outputs_match(key, reference, hacnn_align_corners_true):
    theirs, ours = load_1x_into_ours(reference, key, loss_1x='triplet')
    x = images(key)
    assert_same_outputs(run(ours, x, training=True), run(theirs, x, training=True))


def test_hacnn_unpatched_1x_is_only_near_equal(reference):
    """Documented difference: unpatched 1.x samples with align_corners=False; same keys, features close."""
    theirs, ours = load_1x_into_ours(reference, 'hacnn')
    x = images('hacnn')
    their_features, our_features = run(theirs, x, training=False), run(ours, x, training=False)
    assert not torch.allclose(our_features, their_features, atol=1e-6)
    cosine = F.cosine_similarity(our_features, their_features, dim=1)
    assert (cosine > 0.99).all(), cosine  # 0.998 measured


def test_seed_mobilenetv2_loads_a_1x_mobilenetv2_x1_0_checkpoint(reference):
    theirs = build_1x(reference, 'mobilenetv2_x1_0')
    theirs.load_state_dict(randomized_state(theirs))
    ours = build('mobilenetv2')
    ours.load_state_dict(to_own_naming('mobilenetv2', theirs.state_dict()), strict=True)
    x = images('mobilenetv2')
    assert_same_outputs(run(ours, x, training=False), run(theirs, x, training=False))


@pytest.mark.parametrize('key,module_name', [('resnet50_fc512', 'resnet'), ('resnet50_ibn_b', 'resnet_ibn_b'),
                                             ('resnet50_ibn_a', 'resnet_ibn_a')])
def test_imagenet_loading_matches_1x(key, module_name, reference, torchvision_file, monkeypatch):
    """1.x copies every torchvision tensor whose name and shape fit; ours maps them explicitly: same trunk."""
    source, _ = torchvision_file
    monkeypatch.setattr(reference(module_name).model_zoo, 'load_url', lambda *args, **kwargs: source)
    theirs = build_1x(reference, key, pretrained=True)
    ours = build(key, pretrained=True)
    their_state = to_own_naming(key, theirs.state_dict())
    for name, tensor in ours.state_dict().items():
        if name.startswith('base.'):
            assert torch.equal(tensor, their_state[name]), name
