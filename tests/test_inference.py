"""The inference fast path: prepare_for_inference keeps the weights, extract_batch_features gives the eval-mode
features (fp32 to rounding, bf16 close), flip averaging, input checks, and feature_agreement on hand-checked rows."""
import math
import warnings

import pytest
import torch
import torch.nn as nn

from torchreid.models import init_model
from torchreid.models.inference import (extract_batch_features, feature_agreement, model_device,
                                        prepare_for_inference)


@pytest.fixture(scope='module')
def osnet():
    """osnet_x0_25 with random weights and BatchNorm statistics of one batch (features of a realistic scale)."""
    torch.manual_seed(0)
    model = init_model('osnet_x0_25', num_classes=5, pretrained=False)
    for norm in model.modules():
        if isinstance(norm, nn.BatchNorm2d):
            norm.momentum = 1.0
    with torch.no_grad():
        model.train()(torch.randn(8, 3, 64, 32))
    return model.eval()


def images(batch=4, seed=0):
    return torch.randn(batch, 3, 64, 32, generator=torch.Generator().manual_seed(seed))


def reference_features(model, inputs):
    with torch.no_grad():
        return model.eval()(inputs.contiguous())


def test_prepare_for_inference_keeps_weights_and_sets_layout():
    model = init_model('osnet_x0_25', num_classes=5, pretrained=False).train()
    before = {key: value.clone() for key, value in model.state_dict().items()}
    assert prepare_for_inference(model) is model
    assert not model.training
    conv_weights = [m.weight for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert conv_weights and all(w.is_contiguous(memory_format=torch.channels_last) for w in conv_weights)
    assert not conv_weights[0].is_contiguous()  # really converted (a 3x3 kernel on 3 channels is not both)
    after = model.state_dict()
    assert list(after) == list(before)
    assert all(torch.equal(after[key], before[key]) for key in before)
    plain = prepare_for_inference(init_model('osnet_x0_25', num_classes=5, pretrained=False), channels_last=False)
    assert all(m.weight.is_contiguous() for m in plain.modules() if isinstance(m, nn.Conv2d))


def test_fp32_features_match_the_plain_forward(osnet):
    inputs = images()
    expected = reference_features(osnet, inputs)
    fast = prepare_for_inference(init_model('osnet_x0_25', num_classes=5, pretrained=False))
    fast.load_state_dict(osnet.state_dict())
    features = extract_batch_features(fast, inputs)
    assert features.dtype == torch.float32 and features.shape == (4, fast.feat_dim)
    assert features.is_inference() and not features.requires_grad
    assert expected.abs().max() > 0.1
    torch.testing.assert_close(features, expected, atol=1e-5 * expected.abs().max().item(), rtol=1e-4)
    # a contiguous model with channels_last=False is the plain forward itself
    torch.testing.assert_close(extract_batch_features(osnet, inputs, channels_last=False), expected, atol=0, rtol=0)


def test_bf16_autocast_is_applied_and_close(osnet):
    inputs = images(seed=1)
    expected = reference_features(osnet, inputs)
    features = extract_batch_features(osnet, inputs, dtype=torch.bfloat16)
    assert features.dtype == torch.float32
    assert not torch.equal(features, expected)  # bf16 did run
    cosine, relative = feature_agreement(expected, features)
    assert cosine > 0.95 and relative < 0.3  # random weights on noise: ~0.977 and ~0.2 (trained models do better)


def test_flip_averages_with_the_mirrored_images(osnet):
    inputs = images(seed=2)
    expected = (reference_features(osnet, inputs) + reference_features(osnet, inputs.flip(-1))) / 2
    features = extract_batch_features(osnet, inputs, channels_last=False, flip=True)
    torch.testing.assert_close(features, expected, atol=1e-6, rtol=1e-5)
    assert not torch.allclose(features, reference_features(osnet, inputs), atol=1e-4)


def test_input_checks(osnet):
    with pytest.raises(ValueError, match='dtype must be None'):
        extract_batch_features(osnet, images(), dtype=torch.float64)
    with pytest.raises(ValueError, match=r'\(B, C, H, W\)'):
        extract_batch_features(osnet, images()[0])


def test_model_without_parameters_runs_on_cpu():
    model = nn.Flatten()
    assert model_device(model) == torch.device('cpu')
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert extract_batch_features(model, torch.ones(2, 1, 2, 1)).tolist() == [[1., 1.], [1., 1.]]


def test_feature_agreement_by_hand():
    reference = torch.tensor([[1., 0.], [0., 2.]])
    candidate = torch.tensor([[1., 1.], [0., 2.]])
    cosine, relative = feature_agreement(reference, candidate)
    assert cosine == pytest.approx(1 / math.sqrt(2))
    assert relative == pytest.approx(1.0)
    assert feature_agreement(reference, reference) == pytest.approx((1.0, 0.0))
