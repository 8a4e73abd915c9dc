"""ResNet family, ResNet50M, DenseNet121, SE-ResNet(X)t, ResNeXt101: the options beyond the seed (last_stride,
BNNeck, GeM pooling) and the shared head's arithmetic; OSNet (size, key layout, outputs).

The comparison of every seed key with the seed's reference data (parameter counts, state_dict keys in order with
shapes and dtypes, outputs for both losses and in eval mode, no weight sharing) is tests/test_models_reference.py.
Inputs are 64x32 to stay fast on CPU.
"""
import json
import os

import pytest
import torch
import torch.nn as nn

from torchreid.models import init_model
from torchreid.models.heads import GeneralizedMeanPooling, ReIDModel
from torchreid.utils.torchtools import count_num_param

REFERENCE_DIR = os.path.join(os.path.dirname(__file__), 'data', 'reference')
XENT = {'xent'}
XENT_HTRI = {'xent', 'htri'}


def reference_entries(key):
    with open(os.path.join(REFERENCE_DIR, 'statedict', key + '.json')) as f:
        return [(name, shape) for name, shape, _ in json.load(f)['entries_in_registration_order']]


def images(height=64, width=32, batch=2):
    return torch.randn(batch, 3, height, width, generator=torch.Generator().manual_seed(0))


def test_unsupported_loss_raises_key_error():
    with pytest.raises(KeyError, match='Unsupported loss'):
        init_model('densenet121', num_classes=5, loss={'htri'}, pretrained=False)
    with pytest.raises(KeyError, match='Unsupported loss'):
        init_model('osnet_x0_25', num_classes=5, loss={'xent', 'cent'}, pretrained=False)


def test_unknown_option_is_an_error_not_ignored():
    with pytest.raises(TypeError, match='use_gpu'):
        init_model('densenet121', num_classes=5, pretrained=False, use_gpu=False)


def test_resnext101_instances_do_not_share_weights():
    first = init_model('resnext101', num_classes=3, pretrained=False)
    second = init_model('resnext101', num_classes=3, pretrained=False)
    first_weight = first.features[4][0][0][0][0][0].weight
    second_weight = second.features[4][0][0][0][0][0].weight
    assert first_weight.data_ptr() != second_weight.data_ptr()
    before = second_weight.clone()
    with torch.no_grad():
        first_weight.add_(1.0)
    torch.testing.assert_close(second_weight, before)


# ---------------------------------------------------------------- head options: last_stride, neck, pooling


@pytest.mark.parametrize('key,trunk', [('resnet50', 'base'), ('seresnext50', 'base')])
def test_last_stride_one_doubles_the_last_map_and_keeps_keys(key, trunk):
    default = init_model(key, num_classes=3, pretrained=False)
    stride1 = init_model(key, num_classes=3, pretrained=False, last_stride=1)
    assert [(k, v.shape) for k, v in default.state_dict().items()] == \
        [(k, v.shape) for k, v in stride1.state_dict().items()]
    default.eval()
    stride1.eval()
    with torch.no_grad():
        assert getattr(default, trunk)(images(64, 32)).shape[2:] == (2, 1)
        assert getattr(stride1, trunk)(images(64, 32)).shape[2:] == (4, 2)


def test_last_stride_of_resnet50m_and_resnext101_and_bad_value():
    model = init_model('resnet50m', num_classes=3, pretrained=False, last_stride=1)
    assert model.layers5a.conv2.stride == (1, 1) and model.layers5a.downsample[0].stride == (1, 1)
    model.eval()
    with torch.no_grad():
        assert model(images()).shape == (2, 3072)
    first_block_of_last_stage = init_model('resnext101', num_classes=3, pretrained=False, last_stride=1).features[7][0]
    residual, shortcut = first_block_of_last_stage[0]
    assert residual[0][3].stride == (1, 1) and shortcut[0].stride == (1, 1)
    with pytest.raises(ValueError, match='last_stride'):
        init_model('resnet50', num_classes=3, pretrained=False, last_stride=3)


class TinyNet(ReIDModel):
    """A one-conv trunk with the shared head, to check the head's arithmetic exactly."""

    def __init__(self, num_classes=4, loss=XENT, **head_options):
        super().__init__()
        self.conv = nn.Conv2d(3, 6, 3, padding=1)
        self.build_head(6, num_classes, loss, **head_options)

    def forward(self, x):
        return self.head(self.pool(self.conv(x)))


def test_no_neck_triplet_feature_is_the_eval_feature_and_logits_come_from_it():
    model = TinyNet(loss=XENT_HTRI)
    x = images(8, 4, batch=3)
    pooled = model.conv(x).mean(dim=(2, 3))
    logits, feature = model(x)
    torch.testing.assert_close(feature, pooled)
    torch.testing.assert_close(logits, model.classifier(pooled))
    model.eval()
    torch.testing.assert_close(model(x), pooled)


def test_bnneck_keys_eval_feature_and_triplet_feature():
    torch.manual_seed(0)
    model = TinyNet(loss=XENT_HTRI, neck='bnneck')
    assert list(model.state_dict())[-6:] == [
        'bottleneck.weight', 'bottleneck.bias', 'bottleneck.running_mean', 'bottleneck.running_var',
        'bottleneck.num_batches_tracked', 'classifier.weight']  # bias-free classifier after the BN
    assert not model.bottleneck.bias.requires_grad
    x = images(8, 4, batch=4)
    pooled = model.conv(x).mean(dim=(2, 3))
    logits, feature = model(x)  # train: BN uses batch statistics
    torch.testing.assert_close(feature, pooled)  # triplet gets the pre-BN feature
    normed = (pooled - pooled.mean(0)) / torch.sqrt(pooled.var(0, unbiased=False) + 1e-5)
    torch.testing.assert_close(logits, normed @ model.classifier.weight.t(), rtol=1e-4, atol=1e-5)
    model.eval()
    with torch.no_grad():
        after = model(x)
        model.neck_feat = 'before'
        before = model(x)
    torch.testing.assert_close(before, pooled)
    torch.testing.assert_close(after, model.bottleneck(pooled))


def test_bnneck_on_a_real_model_adds_only_neck_keys():
    model = init_model('densenet121', num_classes=3, pretrained=False, neck='bnneck', neck_feat='before')
    seed_keys = [name for name, _ in reference_entries('densenet121') if not name.startswith('classifier.')]
    keys = list(model.state_dict())
    assert keys[:len(seed_keys)] == seed_keys
    assert keys[len(seed_keys):] == ['bottleneck.weight', 'bottleneck.bias', 'bottleneck.running_mean',
                                     'bottleneck.running_var', 'bottleneck.num_batches_tracked', 'classifier.weight']
    model.eval()
    with torch.no_grad():
        assert model(images()).shape == (2, 1024)


def test_gem_pooling_hand_checked_and_learnable():
    pool = GeneralizedMeanPooling(p=3.0)
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    expected = ((1 + 8 + 27 + 64) / 4.0) ** (1 / 3.0)
    torch.testing.assert_close(pool(x).flatten(), torch.tensor([expected]))
    with torch.no_grad():
        pool.p.fill_(1.0)
    torch.testing.assert_close(pool(x).flatten(), torch.tensor([2.5]))
    model = TinyNet(pooling='gem')
    assert list(model.state_dict())[-3:] == ['global_pool.p', 'classifier.weight', 'classifier.bias']
    model(images(8, 4, batch=3)).sum().backward()
    assert model.global_pool.p.grad is not None and model.global_pool.p.grad.abs().item() > 0


def test_gem_on_a_real_model():
    model = init_model('densenet121', num_classes=3, pretrained=False, pooling='gem')
    assert list(model.state_dict())[-3:] == ['global_pool.p', 'classifier.weight', 'classifier.bias']
    model.eval()
    with torch.no_grad():
        assert model(images()).shape == (2, 1024)


@pytest.mark.parametrize('options,message', [
    ({'pooling': 'max'}, 'pooling'),
    ({'neck': 'bn'}, 'neck'),
    ({'neck_feat': 'before'}, "neck='bnneck'"),
    ({'neck': 'bnneck', 'neck_feat': 'middle'}, 'neck_feat'),
])
def test_bad_head_options_are_rejected(options, message):
    with pytest.raises(ValueError, match=message):
        TinyNet(**options)


# ---------------------------------------------------------------- OSNet


@pytest.fixture(scope='module')
def osnet():
    torch.manual_seed(0)
    return init_model('osnet_x1_0', num_classes=1000, loss=XENT_HTRI, pretrained=False)


def test_osnet_x1_0_size(osnet):
    # 2.2M without the classifier (the paper's figure); + 513,000 for a 1000-way classifier
    assert sum(p.numel() for p in osnet.parameters()) == 2682508
    assert count_num_param(osnet) == pytest.approx(2.169508)


def test_osnet_keys_follow_the_authors_layout(osnet):
    keys = list(osnet.state_dict())
    for name in ['conv1.conv.weight', 'conv2.0.conv1.conv.weight', 'conv2.0.conv2a.conv1.weight',
                 'conv2.0.conv2a.conv2.weight', 'conv2.0.conv2d.3.bn.weight', 'conv2.0.gate.fc1.weight',
                 'conv2.0.gate.fc2.bias', 'conv2.0.conv3.conv.weight', 'conv2.0.downsample.conv.weight',
                 'conv2.2.0.conv.weight', 'conv4.1.conv3.bn.weight', 'conv5.conv.weight', 'fc.0.weight',
                 'fc.1.running_var', 'classifier.weight']:
        assert name in keys, name
    assert 'conv4.2.0.conv.weight' not in keys  # no transition after conv4
    assert 'conv2.1.downsample.conv.weight' not in keys  # same width: identity shortcut
    assert osnet.conv2[0].conv2a.conv2.groups == 64  # depthwise 3x3 on 256 / 4 channels


def test_osnet_outputs(osnet):
    x = images()
    with torch.no_grad():
        osnet.train()
        logits, features = osnet(x)
        assert logits.shape == (2, 1000) and features.shape == (2, 512) and osnet.feat_dim == 512
        osnet.eval()
        assert osnet(x).shape == (2, 512)
        assert osnet(images(96, 48, batch=1)).shape == (1, 512)  # global pooling: any input size


@pytest.mark.parametrize('key,channels', [('osnet_x0_75', 48), ('osnet_x0_5', 32), ('osnet_x0_25', 16)])
def test_osnet_widths(key, channels):
    model = init_model(key, num_classes=10, loss=XENT, pretrained=False)
    assert model.conv1.conv.out_channels == channels
    assert model.conv4[1].conv3.conv.out_channels == channels * 8
    model.train()
    with torch.no_grad():
        assert model(images()).shape == (2, 10)


def test_osnet_pretrained_warns_and_downloads_nothing():
    with pytest.warns(UserWarning, match='Google Drive'):
        model = init_model('osnet_x0_25', num_classes=10, pretrained=True)
    assert model.feat_dim == 512
