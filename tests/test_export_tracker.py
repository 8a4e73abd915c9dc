"""tools/export.py: every format round-trips with PyTorch's features (.pt: reload, 1.x names, tracker metadata,
strict load into our model; ONNX via ONNX Runtime; TorchScript via torch.jit.load), models BoxMOT cannot rebuild
are one-line errors pointing to ONNX, a failing check exits 1, and (with the optional ``tracker`` extra) BoxMOT
loads our files with every tensor matched and our features.
"""
import importlib.util
import os
import warnings

import pytest
import torch

from model_helpers import model_with_batch_statistics
from torchreid.models.deployment import (BOXMOT_MODELS, BoxMOTIncompatible, boxmot_model_name, boxmot_warnings,
                                         deployment_state)
from torchreid.models.feature_extractor import FeatureExtractor
from torchreid.models.loading import load_weights
from torchreid.models.model_record import build_model_from_record, make_model_record, model_record_of
from torchreid.models.naming import to_1x_naming
from torchreid.utils.checkpoint import save_checkpoint

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIZE = (64, 32)
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def load_tool(name='export.py'):
    spec = importlib.util.spec_from_file_location('tool_' + name[:-3], os.path.join(REPO, 'tools', name))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


def trained(key, num_classes=9, seed=0, **options):
    """``key`` with random weights and BatchNorm statistics of one random batch (features of a usable scale)."""
    return model_with_batch_statistics(key, SIZE, num_classes=num_classes, seed=seed, **options)


def training_checkpoint(folder, key, num_classes=9, **options):
    """(model, path): a checkpoint as the engine writes it: weights, model record, optimizer state, epoch."""
    model = trained(key, num_classes, **options)
    record = make_model_record(key, num_classes, {'xent'}, options, SIZE, MEAN, STD, model.feat_dim)
    path = save_checkpoint({'state_dict': model.state_dict(), 'epoch': 4, 'rank1': 0.5, 'model': record,
                            'optimizer': {'state': {0: {'momentum_buffer': torch.zeros(1000)}}}},
                           fpath=str(folder / '{}.pth.tar'.format(key)))
    return model, path


@pytest.fixture(scope='module')
def checkpoints(tmp_path_factory):
    folder = tmp_path_factory.mktemp('train')
    return {key: training_checkpoint(folder, key) for key in ('osnet_x0_25', 'resnet50', 'mobilenetv2_x1_0',
                                                                'mobilenetv2')}


def features(model, images):
    with torch.no_grad():
        return model.eval()(images)


def record_of(key, **options):
    return make_model_record(key, 9, {'xent'}, options, SIZE, MEAN, STD, 512)


# --format pt

@pytest.mark.parametrize('key, first_keys, feat_dim', [
    ('osnet_x0_25', ['conv1.conv.weight'], 512),
    ('resnet50', ['conv1.weight', 'bn1.weight', 'layer1.0.conv1.weight', 'layer4.2.bn3.running_var'], 2048),
    ('mobilenetv2_x1_0', ['conv2.0.conv1.conv.weight', 'conv8.0.conv3.1.weight', 'conv3.1.conv1.conv.weight'], 1280),
])
def test_pt_is_weights_in_1x_naming_with_tracker_metadata(key, first_keys, feat_dim, checkpoints, tmp_path,
                                                          capsys):
    model, path = checkpoints[key]
    output = str(tmp_path / 'deploy' / 'model.pt')
    assert load_tool().main(['--weights', path, '--format', 'pt', '-o', output]) == 0
    printed = capsys.readouterr().out
    assert 'batch 1: max abs difference 0 ' in printed and 'batch 5: max abs difference 0 ' in printed
    assert 'min cosine 1.000000' in printed and 'tolerance' not in printed
    deployed = torch.load(output, map_location='cpu', weights_only=True)
    assert sorted(deployed) == ['feat_dim', 'img_size', 'mean', 'model', 'model_name', 'num_classes', 'preprocess',
                                'state_dict', 'std']
    assert deployed['model_name'] == key and deployed['num_classes'] == 9 and deployed['img_size'] == [64, 32]
    assert deployed['feat_dim'] == feat_dim and deployed['preprocess'] == 'resize'
    assert deployed['mean'] == list(MEAN) and deployed['std'] == list(STD)
    assert deployed['model']['name'] == key
    state = deployed['state_dict']
    assert all(name in state for name in first_keys)
    assert list(state) == list(to_1x_naming(key, model.state_dict()))
    assert all(torch.equal(state[name], value) for name, value in to_1x_naming(key, model.state_dict()).items())
    # loads strictly into our model (rebuilt from the file alone) with identical features
    rebuilt = build_model_from_record(model_record_of(deployed))
    load_weights(rebuilt, deployed, strict=True)
    images = torch.randn(3, 3, *SIZE)
    assert torch.equal(features(rebuilt, images), features(model, images))
    extractor = FeatureExtractor(weights=output, device='cpu')
    assert extractor.image_size == SIZE and extractor(images).shape == (3, feat_dim)


def test_pt_holds_no_training_state_and_is_smaller(checkpoints, tmp_path):
    _, path = checkpoints['osnet_x0_25']
    output = str(tmp_path / 'osnet.pt')
    assert load_tool().main(['--weights', path, '--format', 'pt', '-o', output, '--no-check']) == 0
    deployed = torch.load(output, map_location='cpu', weights_only=True)
    assert 'optimizer' not in deployed and 'epoch' not in deployed
    assert os.path.getsize(output) < os.path.getsize(path)


def test_pt_of_a_record_less_1x_checkpoint(tmp_path, capsys):
    """A bare 1.x-named ResNet-50 state_dict: -a gives the model, the file's classifier its class count."""
    model = trained('resnet50', num_classes=13)
    path = save_checkpoint(to_1x_naming('resnet50', model.state_dict()), fpath=str(tmp_path / 'r50_1x.pth'))
    output = str(tmp_path / 'r50.pt')
    assert load_tool().main(['-a', 'resnet50', '--height', '64', '--width', '32', '--weights', path, '--format',
                             'pt', '-o', output]) == 0
    assert "no model record" in capsys.readouterr().out
    deployed = torch.load(output, weights_only=True)
    assert deployed['num_classes'] == 13 and deployed['img_size'] == [64, 32]
    assert torch.equal(deployed['state_dict']['layer1.0.conv1.weight'], model.state_dict()['base.4.0.conv1.weight'])


def test_seed_mobilenetv2_deploys_as_boxmot_mobilenetv2_x1_0(checkpoints, tmp_path):
    model, path = checkpoints['mobilenetv2']
    output = str(tmp_path / 'seed_mobilenetv2.pt')
    assert load_tool().main(['--weights', path, '--format', 'pt', '-o', output]) == 0
    deployed = torch.load(output, weights_only=True)
    assert deployed['model_name'] == 'mobilenetv2_x1_0' and deployed['model']['name'] == 'mobilenetv2'
    assert 'conv2.0.conv1.conv.weight' in deployed['state_dict']
    assert boxmot_model_name(make_model_record('mobilenetv2', 9, {'xent'}, {}, SIZE, MEAN, STD, 1280)) == \
        'mobilenetv2_x1_0'
    with pytest.raises(BoxMOTIncompatible, match='width_mult=1.4'):
        boxmot_model_name(make_model_record('mobilenetv2', 9, {'xent'}, {'width_mult': 1.4}, SIZE, MEAN, STD, 1792))


@pytest.mark.parametrize('key, options, expected', [
    ('osnet_x0_25', {'neck': 'bnneck'}, "a BNNeck head (BoxMOT's osnet_x0_25 has neck='none')"),
    ('osnet_x0_25', {'pooling': 'gem'}, "GeM pooling (BoxMOT's osnet_x0_25 has pooling='avg')"),
    ('resnet50', {'last_stride': 1}, "last_stride=1 (BoxMOT's resnet50 has last_stride=2)"),
    ('resnet50_fc512', {'last_stride': 2}, "last_stride=2 (BoxMOT's resnet50_fc512 has last_stride=1)"),
    ('osnet_x0_25', {'blocks': 3}, 'blocks=3 (an option BoxMOT does not know)'),
    ('shufflenet', {}, "BoxMOT has no architecture for 'shufflenet'"),
    ('resnet50_ibn_a', {}, "BoxMOT has no architecture for 'resnet50_ibn_a'"),
])
def test_heads_boxmot_cannot_rebuild_point_to_onnx(key, options, expected):
    record = make_model_record(key, 9, {'xent'}, {}, SIZE, MEAN, STD, 512)
    record['options'].update(options)
    with pytest.raises(BoxMOTIncompatible) as error:
        boxmot_model_name(record)
    assert expected in str(error.value) and '--format onnx' in str(error.value)


def test_every_boxmot_key_with_default_options_is_accepted():
    for key, (boxmot_key, _) in BOXMOT_MODELS.items():
        assert boxmot_model_name(make_model_record(key, 9, {'xent'}, {}, SIZE, MEAN, STD, 512)) == boxmot_key


def test_pt_refuses_bnneck_gem_in_one_line_before_writing(tmp_path, capsys):
    _, path = training_checkpoint(tmp_path, 'osnet_x0_25', neck='bnneck', pooling='gem')
    output = str(tmp_path / 'x.pt')
    assert load_tool().main(['--weights', path, '--format', 'pt', '-o', output]) == 1
    err = capsys.readouterr().err
    assert err.startswith('Error: BoxMOT cannot rebuild this osnet_x0_25') and err.count('\n') == 1
    assert 'a BNNeck head' in err and 'GeM pooling' in err and '--format onnx' in err
    assert not os.path.exists(output)
    # the same checkpoint exports to ONNX and TorchScript
    assert load_tool().main(['--weights', path, '--format', 'torchscript', '-o', str(tmp_path / 'x.torchscript')]) \
        == 0


@pytest.mark.parametrize('argv, expected', [
    (['-a', 'osnet_x0_25', '--format', 'pt'], '--format pt writes trained weights: pass --weights'),
    (['-a', 'osnet_x0_25', '--format', 'torchscript', '--opset', '17'], '--opset applies to --format onnx only'),
])
def test_argument_errors(argv, expected, tmp_path, capsys):
    assert load_tool().main(argv + ['-o', str(tmp_path / 'x')]) == 1
    err = capsys.readouterr().err
    assert err.startswith('Error: ') and expected in err and err.count('\n') == 1


def test_warnings_for_what_boxmot_changes(capsys, checkpoints, tmp_path):
    record = record_of('osnet_x0_25')
    assert boxmot_warnings(record) == []
    record['norm_mean'] = [0.5, 0.5, 0.5]
    assert "BoxMOT normalises crops with ImageNet's" in boxmot_warnings(record)[0]
    assert 'align_corners=False' in boxmot_warnings(make_model_record('hacnn', 9, {'xent'}, {}, (160, 64), MEAN, STD,
                                                                      1024))[0]
    _, path = checkpoints['osnet_x0_25']
    assert load_tool().main(['--weights', path, '--format', 'pt', '-o', str(tmp_path / 'osnet.pth'),
                             '--no-check']) == 0
    assert "Warning: BoxMOT recognises a pt file by the suffix '.pt'" in capsys.readouterr().out


def test_deployment_state_classifier_size_comes_from_the_model():
    """A record without a class count (older files) still gives the file the classifier's size."""
    model = trained('osnet_x0_25', num_classes=5)
    record = record_of('osnet_x0_25')
    record['num_classes'] = None
    state = deployment_state(model, record)
    assert state['num_classes'] == 5 and state['model']['num_classes'] == 5


# --format torchscript and onnx

def test_torchscript_round_trip(checkpoints, tmp_path, capsys):
    model, path = checkpoints['resnet50']
    output = str(tmp_path / 'r50.torchscript')
    assert load_tool().main(['--weights', path, '--format', 'torchscript', '-o', output]) == 0
    printed = capsys.readouterr().out
    assert 'TorchScript trace' in printed and 'batch 5: max abs difference' in printed and 'tolerance' not in printed
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        loaded = torch.jit.load(output)
    images = torch.randn(4, 3, *SIZE)  # a batch size it was not traced with
    with torch.no_grad():
        actual = loaded(images)
    expected = features(model, images)
    assert (actual - expected).abs().max() <= 1e-5 * expected.abs().max()
    import json
    sidecar = json.load(open(output + '.metadata.json'))
    assert sidecar['model_name'] == 'resnet50' and sidecar['img_size'] == [64, 32]
    assert sidecar['model_kwargs'] == {'img_size': [64, 32]} and sidecar['num_classes'] == 9


def test_onnx_round_trip_and_the_old_tool_name(checkpoints, tmp_path, capsys):
    onnxruntime = pytest.importorskip('onnxruntime')
    model, path = checkpoints['mobilenetv2_x1_0']
    images = torch.randn(3, 3, *SIZE)
    for tool, argv in ((load_tool(), ['--format', 'onnx']), (load_tool('export_onnx.py'), [])):
        output = str(tmp_path / 'm.onnx')
        os.path.exists(output) and os.remove(output)
        assert tool.main(['--weights', path, '-o', output] + argv) == 0
        assert 'batch 1: max abs difference' in capsys.readouterr().out
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        session = onnxruntime.InferenceSession(output, options, providers=['CPUExecutionProvider'])
        actual = torch.from_numpy(session.run(['features'], {'images': images.numpy()})[0])
        expected = features(model, images)
        assert (actual - expected).abs().max() <= 1e-4 * expected.abs().max()


def test_a_file_that_disagrees_with_pytorch_fails_the_check(checkpoints, tmp_path, capsys):
    """The check compares the file written with the model: a wrong file (here: other weights) exits 1."""
    _, path = checkpoints['osnet_x0_25']
    tool = load_tool()
    real_export = tool.export_torchscript

    def export_other_weights(model, fpath, height, width):
        return real_export(trained('osnet_x0_25', seed=5), fpath, height, width)

    tool.export_torchscript = export_other_weights
    assert tool.main(['--weights', path, '--format', 'torchscript', '-o', str(tmp_path / 'o.torchscript')]) == 1
    printed = capsys.readouterr().out
    assert '> tolerance 0.005' in printed and 'The torchscript file disagrees with PyTorch' in printed
    tool = load_tool()
    real_save = tool.save_deployment_file

    def save_other_weights(model, record, fpath):
        return real_save(trained('osnet_x0_25', seed=5), record, fpath)

    tool.save_deployment_file = save_other_weights
    assert tool.main(['--weights', path, '--format', 'pt', '-o', str(tmp_path / 'o.pt')]) == 1
    assert 'The pt file disagrees with PyTorch' in capsys.readouterr().out


# BoxMOT (the optional ``tracker`` extra: pip install torchreid[tracker])

@pytest.fixture
def boxmot_backends(monkeypatch):
    """BoxMOT's PyTorch, TorchScript and ONNX backends, kept from installing packages (it pins its own
    onnxruntime): skipped with the reason when boxmot cannot be imported."""
    try:
        from boxmot.reid.backends.onnx_backend import ONNXBackend
        from boxmot.reid.backends.pytorch_backend import PyTorchBackend
        from boxmot.reid.backends.torchscript_backend import TorchscriptBackend
        from boxmot.utils.checks import RequirementsChecker
    except Exception as error:  # noqa: BLE001 - not installed, or a dependency of it missing
        pytest.skip('boxmot cannot be imported ({}: {}); pip install torchreid[tracker]'.format(
            type(error).__name__, error))

    def refuse(self, packages, *args, **kwargs):
        raise AssertionError('BoxMOT tried to install {}'.format(packages))

    monkeypatch.setattr(RequirementsChecker, '_install_packages', refuse)
    monkeypatch.setattr(ONNXBackend, '_ensure_onnxruntime_installed', lambda self: None)
    return {'pt': PyTorchBackend, 'torchscript': TorchscriptBackend, 'onnx': ONNXBackend}


def boxmot_features(backend, images):
    with torch.no_grad():
        return torch.as_tensor(backend.forward(images)).float()


@pytest.mark.parametrize('key, boxmot_key', [('osnet_x0_25', 'osnet_x0_25'), ('resnet50', 'resnet50'),
                                             ('mobilenetv2_x1_0', 'mobilenetv2_x1_0'),
                                             ('mobilenetv2', 'mobilenetv2_x1_0')])
def test_boxmot_loads_our_pt_with_every_tensor_matched(key, boxmot_key, checkpoints, boxmot_backends, tmp_path):
    from pathlib import Path
    model, path = checkpoints[key]
    output = str(tmp_path / 'deployed.pt')  # no arch or dataset in the name: BoxMOT reads the metadata
    assert load_tool().main(['--weights', path, '--format', 'pt', '-o', output, '--no-check']) == 0
    backend = boxmot_backends['pt'](Path(output), torch.device('cpu'), False)
    assert backend.model_name == boxmot_key and backend.input_shape == SIZE
    report = backend.model.checkpoint_load_report
    state = torch.load(output, weights_only=True)['state_dict']
    assert report.missing_keys == () and report.unexpected_keys == () and report.mismatched_keys == ()
    assert len(report.matched_keys) == len(state) == len(backend.model.state_dict())
    images = torch.randn(4, 3, *SIZE)
    cosine = torch.nn.functional.cosine_similarity(boxmot_features(backend, images), features(model, images))
    assert cosine.min() >= 0.999


@pytest.mark.parametrize('fmt', ['onnx', 'torchscript'])
def test_boxmot_runs_our_onnx_and_torchscript_of_a_bnneck_gem_model(fmt, boxmot_backends, tmp_path):
    from pathlib import Path
    if fmt == 'onnx':
        pytest.importorskip('onnxruntime')
    model, path = training_checkpoint(tmp_path, 'osnet_x0_25', neck='bnneck', pooling='gem')
    output = str(tmp_path / 'deployed.{}'.format(fmt))
    assert load_tool().main(['--weights', path, '--format', fmt, '-o', output, '--no-check']) == 0
    backend = boxmot_backends[fmt](Path(output), torch.device('cpu'), False)
    assert backend.input_shape == SIZE  # from the sidecar (TorchScript) or the graph (ONNX)
    images = torch.randn(3, 3, *SIZE)
    cosine = torch.nn.functional.cosine_similarity(boxmot_features(backend, images), features(model, images))
    assert cosine.min() >= 0.999
