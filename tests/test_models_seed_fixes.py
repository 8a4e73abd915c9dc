"""The seed's model bugs stay fixed, its deliberate quirks stay documented behaviour, and ``pretrained`` does what
it says for the models of torchreid/models/{squeezenet, mobilenetv2, shufflenet, xception, inceptionv4,
inceptionresnetv2, nasnet, mudeep, hacnn}.py."""
import math
import socket
import warnings

import pytest
import torch
import torch.nn.functional as F

from torchreid.models import init_model
from torchreid.models import pretrained as pretrained_module
from torchreid.models.hacnn import HardAttn

NO_IMAGENET_WEIGHTS = ['squeezenet', 'mobilenetv2', 'shufflenet', 'xception', 'mudeep', 'hacnn']
CADENE_WEIGHTS = ['inceptionv4', 'inceptionresnetv2', 'nasnsetmobile', 'nasnetmobile']


@pytest.fixture(scope='module')
def mudeep():
    torch.manual_seed(0)
    return init_model('mudeep', num_classes=5, loss={'xent'}, pretrained=False)


@pytest.fixture(scope='module')
def hacnn():
    torch.manual_seed(0)
    return init_model('hacnn', num_classes=5, loss={'xent', 'htri'}, pretrained=False)


# ---------------------------------------------------------------- ShuffleNet: forward raised TypeError in the seed

def test_shufflenet_trains_end_to_end():
    torch.manual_seed(0)
    model = init_model('shufflenet', num_classes=5, loss={'xent'}, pretrained=False)
    logits = model(torch.randn(2, 3, 64, 32))
    F.cross_entropy(logits, torch.tensor([0, 3])).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_shufflenet_shuffles_channels_in_the_seeds_order():
    """Channel c = g * n + i (group g of n channels) moves to i * groups + g, as the seed's view/transpose did."""
    unit = init_model('shufflenet', num_classes=5, pretrained=False).stage3[1]
    channels = torch.arange(12.0).view(1, 12, 1, 1)
    assert unit.shuffle1(channels).flatten().tolist() == [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]


# ---------------------------------------------------------------- MuDeep: eval returned logits in the seed

def test_mudeep_eval_returns_its_4096d_feature(mudeep):
    mudeep.eval()
    with torch.no_grad():
        features = mudeep(torch.randn(2, 3, 256, 128))
    assert mudeep.feat_dim == 4096
    assert features.shape == (2, 4096)
    assert (features >= 0).all()  # the fc block ends with a ReLU; logits would not


def test_mudeep_names_the_input_size_it_needs(mudeep):
    mudeep.eval()
    with torch.no_grad(), pytest.raises(ValueError, match=r'256x128.*--height 256 --width 128'):
        mudeep(torch.randn(1, 3, 128, 64))


# ---------------------------------------------------------------- HACNN: needed use_gpu=False on CPU in the seed

def test_hacnn_has_no_use_gpu_switch():
    with pytest.raises(TypeError, match='use_gpu'):
        init_model('hacnn', num_classes=5, pretrained=False, use_gpu=False)


def test_hacnn_names_the_input_size_it_needs(hacnn):
    hacnn.eval()
    with torch.no_grad(), pytest.raises(ValueError, match=r'160x64.*got 256x128.*--height 160 --width 64'):
        hacnn(torch.randn(1, 3, 256, 128))


def test_hacnn_region_scale_is_a_buffer_outside_the_state_dict(hacnn):
    assert 'region_scale' in dict(hacnn.named_buffers())
    assert not any('scale' in name for name in hacnn.state_dict())
    assert hacnn.region_scale.tolist() == [[1.0, 0.0], [0.0, 0.25]]


def test_hacnn_crops_a_quarter_height_stripe_with_align_corners_true(hacnn):
    """Region at ty: output row r of R samples input row (H - 1) / 2 * (1 + ty + 0.25 * (2 r / (R - 1) - 1)),
    pixel centres at -1 and 1 as in torch 0.4; a linear ramp makes bilinear sampling exact."""
    height, width = 80, 32
    rows = torch.arange(height, dtype=torch.float32).view(1, 1, height, 1).expand(1, 1, height, width)
    crop = hacnn.crop_region(rows, torch.tensor([[0.0, -0.75]]))
    r = torch.arange(height, dtype=torch.float32)
    expected_rows = (height - 1) / 2 * (1 - 0.75 + 0.25 * (2 * r / (height - 1) - 1))
    assert torch.allclose(crop[0, 0, :, 0], expected_rows, atol=1e-4)
    assert crop[0, 0, 0, 0].item() == pytest.approx(0.0, abs=1e-5)
    assert crop[0, 0, -1, 0].item() == pytest.approx(0.25 * (height - 1), abs=1e-4)
    # full width, columns unchanged
    cols = torch.arange(width, dtype=torch.float32).view(1, 1, 1, width).expand(1, 1, height, width)
    assert torch.allclose(hacnn.crop_region(cols, torch.tensor([[0.0, 0.25]])), cols, atol=1e-4)


def test_hacnn_hard_attention_starts_at_four_horizontal_stripes():
    attention = HardAttn(16)
    translations = attention(torch.randn(3, 16, 5, 4))
    expected_ty = [math.tanh(v) for v in (-0.75, -0.25, 0.25, 0.75)]
    assert translations.shape == (3, 4, 2)
    assert torch.allclose(translations[..., 0], torch.zeros(3, 4))
    assert torch.allclose(translations[..., 1], torch.tensor([expected_ty] * 3))


def test_hacnn_runs_on_cpu_and_returns_normalised_halves(hacnn):
    hacnn.eval()
    with torch.no_grad():
        features = hacnn(torch.randn(2, 3, 160, 64))
    assert features.shape == (2, 1024)
    assert torch.allclose(features[:, :512].norm(dim=1), torch.ones(2), atol=1e-5)
    assert torch.allclose(features[:, 512:].norm(dim=1), torch.ones(2), atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA device')
def test_hacnn_runs_on_cuda():
    model = init_model('hacnn', num_classes=5, loss={'xent'}, pretrained=False).cuda()
    global_logits, local_logits = model(torch.randn(2, 3, 160, 64, device='cuda'))
    assert global_logits.is_cuda and local_logits.shape == (2, 5)


def test_hacnn_without_regions_is_the_global_stream():
    model = init_model('hacnn', num_classes=5, loss={'xent', 'htri'}, pretrained=False, learn_region=False)
    assert model.feat_dim == 512
    assert not any(name.startswith(('local_conv', 'fc_local', 'classifier_local')) for name in model.state_dict())
    with torch.no_grad():
        logits, features = model(torch.randn(2, 3, 160, 64))
    assert logits.shape == (2, 5) and features.shape == (2, 512)


# ---------------------------------------------------------------- quirks kept on purpose

def test_squeezenet_uses_its_class_scores_as_the_feature():
    model = init_model('squeezenet', num_classes=7, loss={'xent', 'htri'}, pretrained=False)
    assert model.feat_dim == 7 and not hasattr(model, 'classifier')
    with torch.no_grad():
        logits, features = model(torch.randn(2, 3, 64, 32))
    assert features is logits and logits.shape == (2, 7)


def test_xception_num_mid_flows_sets_the_middle_flow_depth():
    model = init_model('xception', num_classes=5, pretrained=False, num_mid_flows=2)
    assert len(model.midflow.blocks) == 2
    with torch.no_grad():
        assert model.eval()(torch.randn(1, 3, 64, 32)).shape == (1, 2048)


@pytest.mark.parametrize('key', ['inceptionv4', 'inceptionresnetv2'])
def test_inception_models_name_their_minimum_input(key):
    model = init_model(key, num_classes=5, pretrained=False).eval()
    with torch.no_grad(), pytest.raises(ValueError, match='at least 75x75'):
        model(torch.randn(1, 3, 128, 74))


def test_nasnet_names_the_input_sides_it_accepts():
    model = init_model('nasnsetmobile', num_classes=5, pretrained=False).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 96, 32)).shape == (1, 1056)
        with pytest.raises(ValueError, match='multiple of 32 such as 256x128; got 100x50'):
            model(torch.randn(1, 3, 100, 50))


# ---------------------------------------------------------------- pretrained=True

@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection or download fails the test."""
    def refuse(*args, **kwargs):
        raise AssertionError('network access attempted')
    monkeypatch.setattr(socket.socket, 'connect', refuse)
    monkeypatch.setattr(torch.hub, 'download_url_to_file', refuse)


@pytest.mark.parametrize('key', NO_IMAGENET_WEIGHTS)
def test_pretrained_without_imagenet_weights_warns_once_and_downloads_nothing(key, no_network):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        model = init_model(key, num_classes=5, pretrained=True)
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert len(messages) == 1 and 'no ImageNet weights' in messages[0] and 'pretrained=False' in messages[0]
    assert model.training


@pytest.mark.parametrize('key', CADENE_WEIGHTS)
def test_pretrained_loads_cadene_weights_into_the_trunk(key, monkeypatch):
    """Cadene's files use our names plus an ImageNet ``last_linear`` (1001 rows for Inception-v4): every trunk
    tensor is copied, the ImageNet classifier is dropped, ours keeps its initialisation."""
    torch.manual_seed(0)
    source_model = init_model(key, num_classes=5, pretrained=False)
    imagenet_classes = 1001 if key == 'inceptionv4' else 1000
    source = {name: tensor for name, tensor in source_model.state_dict().items()
              if not name.startswith('classifier.')}
    source['last_linear.weight'] = torch.randn(imagenet_classes, source_model.feat_dim)
    source['last_linear.bias'] = torch.randn(imagenet_classes)
    requested = []
    monkeypatch.setattr(pretrained_module, 'imagenet_state_dict', lambda k: requested.append(k) or source)

    model = init_model(key, num_classes=5, pretrained=True)
    assert len(requested) == 1
    state = model.state_dict()
    for name, tensor in source.items():
        if not name.startswith('last_linear.'):
            assert torch.equal(state[name], tensor), name
    assert not torch.equal(state['classifier.weight'], source_model.state_dict()['classifier.weight'])

