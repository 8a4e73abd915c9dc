"""ONNX export: ONNX Runtime gives PyTorch's eval-mode features for batches of 1 and 5 (dynamic batch), the two
operators we teach the TorchScript exporter match torch, checkpoints are loaded, and the CLI works end to end.

onnx and onnxruntime are the optional ``onnx`` extra: without them these tests are skipped.
"""
import importlib.util
import os
import warnings

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

onnx = pytest.importorskip('onnx')
onnxruntime = pytest.importorskip('onnxruntime')

from torchreid.models import init_model  # noqa: E402
from torchreid.models.export import (DEFAULT_OPSET, check_onnx_file, export_onnx, infer_num_classes,  # noqa: E402
                                     onnxruntime_parity, register_onnx_symbolics)
from torchreid.utils.checkpoint import CheckpointError, save_checkpoint  # noqa: E402


TOOL_PATH = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'tools', 'export_onnx.py')


def build(name, num_classes=5, height=64, width=32, seed=0):
    """``name`` with random weights and BatchNorm statistics of one random batch, so that features are O(0.1-10)
    (freshly initialised running statistics make some models' features vanish, e.g. MobileNetV2's ~1e-8)."""
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        model = init_model(name, num_classes=num_classes, pretrained=False)
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    for norm in norms:
        norm.momentum = 1.0  # running statistics := this batch's
    model.train()
    with torch.no_grad():
        model(torch.randn(8, 3, height, width))
    for norm in norms:
        norm.momentum = 0.1
    return model.eval()


def ort_features(fpath, images):
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    session = onnxruntime.InferenceSession(fpath, options, providers=['CPUExecutionProvider'])
    return torch.from_numpy(session.run(['features'], {'images': images.numpy()})[0])


def assert_features_close(actual, expected):
    """Within 1e-4 of the largest feature magnitude (float32 convolutions differ in summation order)."""
    assert actual.shape == expected.shape
    assert (actual - expected).abs().max().item() <= 1e-4 * max(1.0, expected.abs().max().item())


@pytest.fixture(scope='module')
def exported_squeezenet(tmp_path_factory):
    """(SqueezeNet with 7 classes, its ONNX file at 64x32, a DataParallel-style checkpoint of it); the quickest
    model to export, for the tests of everything around the export."""
    folder = tmp_path_factory.mktemp('squeezenet')
    model = build('squeezenet', num_classes=7, seed=3)
    fpath = export_onnx(model, str(folder / 'sub' / 'model.onnx'), 64, 32)
    state = {'module.' + k: v for k, v in model.state_dict().items()}  # as DataParallel saves it
    ckpt = save_checkpoint({'state_dict': state, 'rank1': 0.5, 'epoch': 2}, fpath=str(folder / 'ckpt.pth.tar'))
    return model, fpath, ckpt


def check_parity(model, fpath, height, width):
    assert check_onnx_file(fpath) == DEFAULT_OPSET
    batch_dim = onnx.load(fpath).graph.input[0].type.tensor_type.shape.dim[0]
    assert batch_dim.dim_param == 'batch'
    results = onnxruntime_parity(model, fpath, height, width, batch_sizes=(1, 5))
    assert [r.batch_size for r in results] == [1, 5]
    for result in results:
        assert 0.05 < result.max_abs_feature < 1e3  # features of a usable scale: the comparison means something
        assert result.max_abs_difference < 1e-4 * max(1.0, result.max_abs_feature)


def test_squeezenet_onnxruntime_matches_pytorch_for_batches_of_1_and_5(exported_squeezenet):
    model, fpath, _ = exported_squeezenet
    check_parity(model, fpath, 64, 32)


@pytest.mark.parametrize('name, height, width', [
    ('osnet_x0_25', 64, 32),
    ('shufflenet', 64, 32),    # channel_shuffle: a symbolic registered by torchreid.models.export
    ('hacnn', 160, 64),        # affine_grid below opset 20: also ours
])
def test_onnxruntime_matches_pytorch_for_batches_of_1_and_5(tmp_path, name, height, width):
    model = build(name, height=height, width=width)
    check_parity(model, export_onnx(model, str(tmp_path / 'model.onnx'), height, width), height, width)


def test_parity_detects_a_different_model(exported_squeezenet):
    _, fpath, _ = exported_squeezenet
    result, = onnxruntime_parity(build('squeezenet', num_classes=7, seed=1), fpath, 64, 32, batch_sizes=(3,))
    assert result.max_abs_difference > 1e-2


class _ShuffleAndWarp(nn.Module):
    """channel_shuffle then a spatial transformer: the two operators the exporter is taught."""

    def __init__(self, align_corners):
        super().__init__()
        self.shuffle = nn.ChannelShuffle(3)
        self.align_corners = align_corners

    def forward(self, images, theta):
        grid = F.affine_grid(theta, list(images.shape), align_corners=self.align_corners)
        return F.grid_sample(self.shuffle(images), grid, align_corners=self.align_corners)


@pytest.mark.parametrize('align_corners', [True, False])
@pytest.mark.parametrize('opset', [16, 20])
def test_channel_shuffle_and_affine_grid_symbolics(tmp_path, align_corners, opset):
    module = _ShuffleAndWarp(align_corners)
    fpath = str(tmp_path / 'warp.onnx')
    register_onnx_symbolics()  # what export_onnx does first
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        torch.onnx.export(module, (torch.randn(2, 6, 8, 5), torch.randn(2, 2, 3)), fpath, dynamo=False,
                           opset_version=opset, input_names=['x', 'theta'],
                           dynamic_axes={'x': {0: 'b', 2: 'h', 3: 'w'}, 'theta': {0: 'b'}})
    session = onnxruntime.InferenceSession(fpath, providers=['CPUExecutionProvider'])
    generator = torch.Generator().manual_seed(0)
    for shape in [(1, 6, 8, 5), (4, 6, 7, 3), (3, 6, 1, 9)]:
        if opset >= 20 and align_corners and 1 in shape:
            continue  # torch's own opset-20 AffineGrid differs from eager on unit-size axes; not ours to test
        images = torch.randn(*shape, generator=generator)
        theta = torch.randn(shape[0], 2, 3, generator=generator)
        actual = torch.from_numpy(session.run(None, {'x': images.numpy(), 'theta': theta.numpy()})[0])
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # torch's notice about unit-size grids with align_corners
            expected = module(images, theta)
        torch.testing.assert_close(actual, expected, atol=1e-5, rtol=1e-5)


def test_channel_shuffle_order_by_hand(tmp_path):
    register_onnx_symbolics()
    fpath = str(tmp_path / 'shuffle.onnx')
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the TorchScript exporter's deprecation notice
        torch.onnx.export(nn.ChannelShuffle(2), (torch.zeros(1, 6, 1, 1),), fpath, dynamo=False, opset_version=17,
                          input_names=['images'], output_names=['features'])
    images = torch.arange(6.).view(1, 6, 1, 1)
    assert ort_features(fpath, images).flatten().tolist() == [0., 3., 1., 4., 2., 5.]


def test_checkpoint_is_loaded_and_mode_restored(tmp_path, exported_squeezenet):
    trained, _, ckpt = exported_squeezenet
    fresh = init_model('squeezenet', num_classes=7, pretrained=False).train()
    fpath = export_onnx(fresh, str(tmp_path / 'model.onnx'), 64, 32, checkpoint=ckpt)
    assert fresh.training
    images = torch.randn(2, 3, 64, 32)
    with torch.no_grad():
        expected = trained(images)
    assert_features_close(ort_features(fpath, images), expected)


def test_infer_num_classes_from_checkpoint(exported_squeezenet):
    _, _, ckpt = exported_squeezenet
    assert infer_num_classes('squeezenet', torch.load(ckpt, weights_only=True)) == 7
    hacnn_state = init_model('hacnn', num_classes=11, pretrained=False).state_dict()
    assert infer_num_classes('hacnn', {'state_dict': hacnn_state}) == 11
    with pytest.raises(KeyError, match='another architecture'):
        infer_num_classes('resnet50', hacnn_state)


def test_fixed_batch_and_opset_validation(tmp_path, exported_squeezenet):
    model, _, _ = exported_squeezenet
    fpath = export_onnx(model, str(tmp_path / 'fixed.onnx'), 64, 32, opset=18, dynamic_batch=False)
    assert check_onnx_file(fpath) == 18
    assert onnx.load(fpath).graph.input[0].type.tensor_type.shape.dim[0].dim_value == 1
    with pytest.raises(ValueError, match='opset must be >= 16'):
        export_onnx(model, str(tmp_path / 'old.onnx'), 64, 32, opset=15)


def test_cli_end_to_end(tmp_path, capsys, exported_squeezenet):
    spec = importlib.util.spec_from_file_location('export_onnx_tool', TOOL_PATH)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    trained, _, ckpt = exported_squeezenet
    output = str(tmp_path / 'out' / 'squeezenet.onnx')
    status = tool.main(['-a', 'squeezenet', '--weights', ckpt, '--height', '64', '--width', '32', '-o', output,
                        '--check'])
    printed = capsys.readouterr().out
    assert status == 0
    assert '(7 identities; no model record' in printed
    assert 'to {}'.format(output) in printed and 'opset {}'.format(DEFAULT_OPSET) in printed
    assert 'batch 1: max abs difference' in printed and 'batch 5: max abs difference' in printed
    assert 'tolerance' not in printed
    images = torch.randn(5, 3, 64, 32)
    with torch.no_grad():
        expected = trained(images)
    assert_features_close(ort_features(output, images), expected)


def load_tool():
    spec = importlib.util.spec_from_file_location('export_onnx_tool', TOOL_PATH)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    return tool


@pytest.fixture(scope='module')
def recorded_osnet(tmp_path_factory):
    """OSNet x0.25 'trained' with --neck bnneck --pooling gem at 64x32, its checkpoint with a model record, and the
    same weights without one."""
    from torchreid.models.model_record import make_model_record
    torch.manual_seed(0)
    model = init_model('osnet_x0_25', num_classes=9, pretrained=False, neck='bnneck', pooling='gem')
    with torch.no_grad():
        model.global_pool.p.fill_(2.0)
        model.train()
        model(torch.randn(4, 3, 64, 32))
    record = make_model_record('osnet_x0_25', 9, {'xent'}, {'neck': 'bnneck', 'pooling': 'gem'}, (64, 32),
                               (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), 512)
    folder = tmp_path_factory.mktemp('recorded')
    with_record = save_checkpoint({'state_dict': model.state_dict(), 'epoch': 0, 'model': record},
                                  fpath=str(folder / 'with.pth.tar'))
    without = save_checkpoint({'state_dict': model.state_dict(), 'epoch': 0}, fpath=str(folder / 'without.pth.tar'))
    return model.eval(), with_record, without


def test_cli_rebuilds_the_model_from_the_record(tmp_path, capsys, recorded_osnet):
    model, with_record, _ = recorded_osnet
    output = str(tmp_path / 'osnet.onnx')
    assert load_tool().main(['--weights', with_record, '-o', output]) == 0  # no -a, no --height / --width
    printed = capsys.readouterr().out
    assert 'Exported osnet_x0_25 (64x32, feature dim 512' in printed
    assert "model recorded in the checkpoint: osnet_x0_25 {'neck': 'bnneck', 'pooling': 'gem'}" in printed
    images = torch.randn(3, 3, 64, 32)
    with torch.no_grad():
        expected = model(images)
    assert_features_close(ort_features(output, images), expected)
    assert onnx.load(output).graph.input[0].type.tensor_type.shape.dim[2].dim_value == 64
    # explicit options equal to the record are fine
    assert load_tool().main(['-a', 'osnet_x0_25', '--pooling', 'gem', '--height', '64', '--weights', with_record,
                             '-o', output]) == 0


@pytest.mark.parametrize('argv, expected', [
    (['-a', 'resnet50'], "model 'resnet50' (the checkpoint holds 'osnet_x0_25')"),
    (['--pooling', 'avg'], "pooling='avg' (the checkpoint was trained with 'gem')"),
    (['--width', '64'], 'width 64 (the checkpoint was trained at 64x32)'),
])
def test_cli_options_contradicting_the_record_are_one_line_errors(tmp_path, capsys, recorded_osnet, argv, expected):
    _, with_record, _ = recorded_osnet
    output = str(tmp_path / 'x.onnx')
    assert load_tool().main(argv + ['--weights', with_record, '-o', output]) == 1
    err = capsys.readouterr().err
    assert err.startswith('Error: ') and err.count('\n') == 1 and expected in err
    assert not os.path.exists(output)


def test_cli_checkpoint_without_record(tmp_path, capsys, recorded_osnet):
    model, _, without = recorded_osnet
    output = str(tmp_path / 'y.onnx')
    tool = load_tool()
    assert tool.main(['--weights', without, '-o', output]) == 1
    assert 'a model key is needed' in capsys.readouterr().err
    assert tool.main(['-a', 'osnet_x0_25', '--weights', without, '-o', output, '--height', '64', '--width', '32']) == 1
    err = capsys.readouterr().err
    assert 'Error: ' in err and 'other head options' in err and '--allow-partial-load' in err
    assert not os.path.exists(output)
    assert tool.main(['-a', 'osnet_x0_25', '--neck', 'bnneck', '--pooling', 'gem', '--weights', without, '-o',
                      output, '--height', '64', '--width', '32']) == 0
    assert '(9 identities; no model record' in capsys.readouterr().out
    images = torch.randn(2, 3, 64, 32)
    with torch.no_grad():
        expected = model(images)
    assert_features_close(ort_features(output, images), expected)
    # --allow-partial-load exports what fits (here all but the head's extra layers), with a warning
    assert tool.main(['-a', 'osnet_x0_25', '--weights', without, '-o', output, '--height', '64', '--width', '32',
                      '--allow-partial-load']) == 0
    assert 'Warning: ' in capsys.readouterr().out


def test_export_onnx_rejects_weights_of_another_architecture(tmp_path, exported_squeezenet):
    _, _, ckpt = exported_squeezenet
    with pytest.raises(CheckpointError, match='another architecture'):
        export_onnx(build('shufflenet'), str(tmp_path / 'm.onnx'), 64, 32, checkpoint=ckpt)
    assert not os.path.exists(str(tmp_path / 'm.onnx'))
