"""torchreid.models.pretrained: ImageNet files are found in (or downloaded to) a temporary torch hub cache, checked
against the SHA-256 prefix in their name and mapped onto our names. No test touches the network: files are written
by the tests in the publishers' naming, and downloads come from a local HTTP server."""
import functools
import hashlib
import http.server
import os
import re
import shutil
import threading
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
import torchvision

from torchreid.models import get_names, init_model
from torchreid.models.pretrained import (IMAGENET_WEIGHTS, MODELS_WITHOUT_IMAGENET_WEIGHTS, PretrainedWeightsError,
                                         WeightSource, cached_weights_path, imagenet_state_dict,
                                         load_imagenet_weights, rename_prefixes)
from torchreid.models.senet import CADENE_SENET_NAMES

UNREACHABLE = 'http://127.0.0.1:9/'  # the discard port: connection refused at once


@pytest.fixture
def hub_dir(tmp_path, monkeypatch):
    """An empty torch hub folder (TORCH_HOME points into tmp_path); returns its checkpoints folder."""
    monkeypatch.setenv('TORCH_HOME', str(tmp_path / 'torch'))
    assert torch.hub.get_dir() == str(tmp_path / 'torch' / 'hub'), 'torch.hub.set_dir() was called elsewhere'
    checkpoints = tmp_path / 'torch' / 'hub' / 'checkpoints'
    checkpoints.mkdir(parents=True)
    return checkpoints


def save_with_hash_name(state_dict, folder, stem):
    """torch.save ``state_dict`` into ``folder`` as '<stem>-<first 8 hex of its SHA-256>.pth'; returns the name."""
    tmp_file = os.path.join(str(folder), stem + '.tmp')
    torch.save(state_dict, tmp_file)
    with open(tmp_file, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    name = '{}-{}.pth'.format(stem, digest[:8])
    os.replace(tmp_file, os.path.join(str(folder), name))
    return name


def publish_in_cache(monkeypatch, hub_dir, key, state_dict, stem):
    """Put ``state_dict`` in the cache under a hash-named file and point the registry entry of ``key`` at it."""
    name = save_with_hash_name(state_dict, hub_dir, stem)
    monkeypatch.setitem(IMAGENET_WEIGHTS, key, WeightSource(UNREACHABLE + name, 'test'))
    return str(hub_dir / name)


class TinyBackbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.base = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
        self.classifier = nn.Linear(4, 10)


def tiny_source_state():
    """A 'publisher' state_dict for TinyBackbone: conv1/bn1 naming and a 1000-class fc."""
    torch.manual_seed(0)
    return OrderedDict([('conv1.weight', torch.randn(4, 3, 3, 3)), ('conv1.bias', torch.randn(4)),
                        ('bn1.weight', torch.rand(4)), ('bn1.bias', torch.randn(4)),
                        ('bn1.running_mean', torch.randn(4)), ('bn1.running_var', torch.rand(4)),
                        ('fc.weight', torch.randn(1000, 4)), ('fc.bias', torch.randn(1000))])


TINY_NAMES = rename_prefixes([('conv1.', 'base.0.'), ('bn1.', 'base.1.')], drop=('fc.',))


# ---------------------------------------------------------------- registry


def test_every_registered_model_has_weights_or_is_listed_without():
    registered = set(get_names())
    with_weights = set(IMAGENET_WEIGHTS)
    without = set(MODELS_WITHOUT_IMAGENET_WEIGHTS)
    assert not with_weights & without
    assert registered == with_weights | without


def test_every_url_carries_a_sha256_prefix():
    for key, source in IMAGENET_WEIGHTS.items():
        assert re.search(r'-[0-9a-f]{8,}\.pth$', source.url), key
    assert IMAGENET_WEIGHTS['resnet50'].url == 'https://download.pytorch.org/models/resnet50-0676ba61.pth'
    assert IMAGENET_WEIGHTS['seresnext101'].url == \
        'http://data.lip6.fr/cadene/pretrainedmodels/se_resnext101_32x4d-3b2fe3d8.pth'


def test_cache_path_is_in_torch_hub_checkpoints(hub_dir):
    assert cached_weights_path('densenet121') == str(hub_dir / 'densenet121-a639ec97.pth')


def test_rename_prefixes_first_match_wins_and_drops():
    name_map = rename_prefixes([('layer4.0.', 'layers5a.'), ('layer4.', 'other.')], drop=('fc.',))
    assert name_map('layer4.0.conv1.weight') == 'layers5a.conv1.weight'
    assert name_map('layer4.1.conv1.weight') == 'other.1.conv1.weight'
    assert name_map('fc.weight') is None
    assert name_map('unrelated.weight') is None


def test_cadene_names_map_onto_senet_and_resnext():
    senet_map = rename_prefixes(CADENE_SENET_NAMES, drop=('last_linear.',))
    assert senet_map('layer0.conv1.weight') == 'base.0.conv1.weight'
    assert senet_map('layer4.2.se_module.fc2.bias') == 'base.4.2.se_module.fc2.bias'
    assert senet_map('last_linear.weight') is None


# ---------------------------------------------------------------- loading real architectures from the cache


def test_resnet50_and_resnet50m_load_torchvision_weights(monkeypatch, hub_dir, capsys):
    torch.manual_seed(0)
    source = torchvision.models.resnet50().state_dict()  # torchvision's naming, 1000-class fc
    path = publish_in_cache(monkeypatch, hub_dir, 'resnet50', source, 'resnet50')
    monkeypatch.setitem(IMAGENET_WEIGHTS, 'resnet50m', IMAGENET_WEIGHTS['resnet50'])

    model = init_model('resnet50', num_classes=10, pretrained=True)
    torch.testing.assert_close(model.base[0].weight, source['conv1.weight'])
    torch.testing.assert_close(model.base[4][0].downsample[1].running_var, source['layer1.0.downsample.1.running_var'])
    torch.testing.assert_close(model.base[7][2].bn3.bias, source['layer4.2.bn3.bias'])
    assert model.classifier.weight.shape == (10, 2048)
    printed = capsys.readouterr().out
    assert "Loaded 265/267 layers from '{}'; skipped: classifier.weight".format(path) in printed

    model_m = init_model('resnet50m', num_classes=10, pretrained=True)
    torch.testing.assert_close(model_m.layers1[0].weight, source['conv1.weight'])
    torch.testing.assert_close(model_m.layers2[1][2].conv3.weight, source['layer1.2.conv3.weight'])
    torch.testing.assert_close(model_m.layers5b.conv2.weight, source['layer4.1.conv2.weight'])
    torch.testing.assert_close(model_m.layers5c.bn1.running_mean, source['layer4.2.bn1.running_mean'])
    assert 'fc_fuse.0.weight' in capsys.readouterr().out  # new layers are reported as kept at init


def test_densenet121_loads_torchvision_file_with_old_names(monkeypatch, hub_dir):
    torch.manual_seed(0)
    modern = torchvision.models.densenet121().state_dict()
    old_names = OrderedDict((re.sub(r'(denselayer\d+\.)(norm|relu|conv)([12])\.', r'\1\2.\3.', key), value)
                            for key, value in modern.items())
    assert 'features.denseblock2.denselayer3.conv.2.weight' in old_names
    publish_in_cache(monkeypatch, hub_dir, 'densenet121', old_names, 'densenet121')
    model = init_model('densenet121', num_classes=10, pretrained=True)
    torch.testing.assert_close(model.base.denseblock2.denselayer3.conv2.weight,
                               old_names['features.denseblock2.denselayer3.conv.2.weight'])
    torch.testing.assert_close(model.base.norm5.running_var, old_names['features.norm5.running_var'])


def test_seresnext50_loads_cadene_named_weights(monkeypatch, hub_dir):
    torch.manual_seed(0)
    ours = init_model('seresnext50', num_classes=10, pretrained=False).state_dict()
    cadene = OrderedDict((re.sub(r'^base\.(\d)\.', r'layer\1.', key), torch.randn_like(value.float()))
                         for key, value in ours.items() if not key.startswith('classifier.'))
    cadene['last_linear.weight'] = torch.randn(1000, 2048)
    cadene['last_linear.bias'] = torch.randn(1000)
    publish_in_cache(monkeypatch, hub_dir, 'seresnext50', cadene, 'se_resnext50_32x4d')
    model = init_model('seresnext50', num_classes=10, pretrained=True)
    torch.testing.assert_close(model.base[0].conv1.weight, cadene['layer0.conv1.weight'])
    torch.testing.assert_close(model.base[3][5].se_module.fc1.bias, cadene['layer3.5.se_module.fc1.bias'])


# ---------------------------------------------------------------- failures


def test_no_network_names_url_cache_path_and_the_way_out(monkeypatch, hub_dir):
    url = UNREACHABLE + 'resnet50-0676ba61.pth'
    monkeypatch.setitem(IMAGENET_WEIGHTS, 'resnet50', WeightSource(url, 'test'))
    with pytest.raises(PretrainedWeightsError) as error:
        init_model('resnet50', num_classes=10, pretrained=True)
    message = str(error.value)
    assert url in message
    assert str(hub_dir / 'resnet50-0676ba61.pth') in message
    assert 'pretrained=False' in message
    assert os.listdir(str(hub_dir)) == []


def test_bad_hash_in_cache_is_a_clear_error(monkeypatch, hub_dir):
    torch.save(tiny_source_state(), str(hub_dir / 'tiny-00000000.pth'))
    monkeypatch.setitem(IMAGENET_WEIGHTS, 'tiny', WeightSource(UNREACHABLE + 'tiny-00000000.pth', 'test'))
    with pytest.raises(PretrainedWeightsError, match=r"tiny-00000000\.pth' is corrupt or incomplete.*"
                                                     r"pretrained=False"):
        load_imagenet_weights(TinyBackbone(), 'tiny', TINY_NAMES)


def test_tiny_load_report(monkeypatch, hub_dir):
    source = tiny_source_state()
    path = publish_in_cache(monkeypatch, hub_dir, 'tiny', source, 'tiny')
    model = TinyBackbone()
    report = load_imagenet_weights(model, 'tiny', TINY_NAMES)
    assert report.source == path
    assert report.loaded == ['base.0.weight', 'base.0.bias', 'base.1.weight', 'base.1.bias', 'base.1.running_mean',
                             'base.1.running_var']
    assert [key for key, _ in report.skipped] == ['classifier.weight', 'classifier.bias']
    torch.testing.assert_close(model.base[1].running_var, source['bn1.running_var'])


def test_strict_mapping_rejects_wrong_names_and_shapes(monkeypatch, hub_dir):
    source = tiny_source_state()
    source['bn1.extra'] = torch.zeros(4)
    source['conv1.bias'] = torch.zeros(5)
    publish_in_cache(monkeypatch, hub_dir, 'tiny', source, 'tiny')
    with pytest.raises(PretrainedWeightsError) as error:
        load_imagenet_weights(TinyBackbone(), 'tiny', TINY_NAMES)
    message = str(error.value)
    assert "bn1.extra (maps to 'base.1.extra', which is not in the model)" in message
    assert 'conv1.bias (shape [5] in file vs [4] in model as base.0.bias)' in message
    model = TinyBackbone()
    report = load_imagenet_weights(model, 'tiny', TINY_NAMES, strict=False)
    assert 'base.0.bias' not in report.loaded and 'base.0.weight' in report.loaded
    torch.testing.assert_close(model.base[0].weight, source['conv1.weight'])


def test_a_map_that_matches_nothing_is_an_error(monkeypatch, hub_dir):
    publish_in_cache(monkeypatch, hub_dir, 'tiny', tiny_source_state(), 'tiny')
    with pytest.raises(PretrainedWeightsError, match='None of the tensors'):
        load_imagenet_weights(TinyBackbone(), 'tiny', rename_prefixes([('nothing.', 'base.')]))


# ---------------------------------------------------------------- download from a local server


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def local_server(tmp_path):
    """Serves tmp_path/'served' over HTTP on 127.0.0.1; yields (folder, base URL)."""
    folder = tmp_path / 'served'
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0),
                                             functools.partial(QuietHandler, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, 'http://127.0.0.1:{}/'.format(server.server_address[1])
    server.shutdown()
    server.server_close()


def test_download_verifies_hash_and_caches(monkeypatch, hub_dir, local_server):
    folder, base_url = local_server
    name = save_with_hash_name(tiny_source_state(), folder, 'tiny')
    monkeypatch.setitem(IMAGENET_WEIGHTS, 'tiny', WeightSource(base_url + name, 'test'))
    state = imagenet_state_dict('tiny')
    torch.testing.assert_close(state['fc.bias'], tiny_source_state()['fc.bias'])
    assert os.listdir(str(hub_dir)) == [name]
    os.remove(str(folder / name))  # a second call reads the cache, not the server
    assert list(imagenet_state_dict('tiny')) == list(state)


def test_download_with_wrong_hash_leaves_nothing(monkeypatch, hub_dir, local_server):
    folder, base_url = local_server
    name = save_with_hash_name(tiny_source_state(), folder, 'tiny')
    shutil.move(str(folder / name), str(folder / 'tiny-00000000.pth'))
    monkeypatch.setitem(IMAGENET_WEIGHTS, 'tiny', WeightSource(base_url + 'tiny-00000000.pth', 'test'))
    with pytest.raises(PretrainedWeightsError, match='corrupt or incomplete'):
        imagenet_state_dict('tiny')
    assert os.listdir(str(hub_dir)) == []
