"""torchreid 1.x-named checkpoints (ResNet's conv1, bn1, layer1..4; MobileNetV2's conv2..conv8) load on every
path that loads weights: models.loading.load_weights (strict and partial), the scripts' --load-weights and --resume,
FeatureExtractor, export_onnx and build_model_for_checkpoint; with features identical to the model they came from.

The 1.x files are made from our models with naming.to_1x_naming (tests/test_models_1x.py checks that naming
against 1.x's own definitions).
"""
import re

import pytest
import torch

from torchreid.datasets import init_imgreid_dataset
from torchreid.engine.runner import main
from model_helpers import model_with_batch_statistics
from torchreid.models.feature_extractor import FeatureExtractor
from torchreid.models.loading import load_weights
from torchreid.models.model_record import build_model_for_checkpoint
from torchreid.models.naming import to_1x_naming, uses_1x_naming
from torchreid.utils.checkpoint import CheckpointError, load_model_state, load_pretrained_weights, save_checkpoint

SIZE = (64, 32)
KEYS = ('resnet50', 'mobilenetv2_x1_0')


def trained(key, num_classes=7, seed=0):
    """``key`` with random weights and BatchNorm statistics of one random batch (features of a usable scale)."""
    return model_with_batch_statistics(key, SIZE, num_classes=num_classes, seed=seed)


def fresh(key, num_classes=7):
    return trained(key, num_classes, seed=1)


def features(model, images):
    model.eval()
    with torch.no_grad():
        return model(images)


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """{key: (model, path of its 1.x-named checkpoint, path of the same in our naming)}."""
    folder = tmp_path_factory.mktemp('1x')
    made = {}
    for key in KEYS:
        model = trained(key)
        state_1x = to_1x_naming(key, model.state_dict())
        assert uses_1x_naming(key, state_1x) and list(state_1x) != list(model.state_dict())
        path_1x = save_checkpoint({'state_dict': state_1x, 'epoch': 9, 'rank1': 0.5},
                                  fpath=str(folder / '{}_1x.pth.tar'.format(key)))
        path_own = save_checkpoint({'state_dict': model.state_dict(), 'epoch': 9, 'rank1': 0.5},
                                   fpath=str(folder / '{}_own.pth.tar'.format(key)))
        made[key] = (model, path_1x, path_own)
    return made


@pytest.mark.parametrize('key', KEYS)
def test_load_weights_maps_1x_names_strict_and_partial(key, files):
    model, path_1x, _ = files[key]
    images = torch.randn(3, 3, *SIZE)
    expected = features(model, images)
    strict = fresh(key)
    assert not torch.equal(features(strict, images), expected)
    assert load_weights(strict, path_1x, strict=True) is None
    assert torch.equal(features(strict, images), expected)
    partial = fresh(key)
    report = load_weights(partial, path_1x)
    assert report.skipped == [] and len(report.loaded) == report.num_model_entries
    assert torch.equal(features(partial, images), expected)


@pytest.mark.parametrize('key', KEYS)
def test_without_the_mapping_the_checkpoint_functions_name_the_cause(key, files):
    """utils.checkpoint alone knows no model naming: the strict load fails and says why."""
    _, path_1x, _ = files[key]
    from torchreid.utils.checkpoint import load_checkpoint
    with pytest.raises(CheckpointError, match='another layer naming'):
        load_model_state(fresh(key), load_checkpoint(path_1x))
    with pytest.raises(CheckpointError, match='load_weights'):
        load_pretrained_weights(fresh(key), path_1x)


def test_strict_load_weights_loads_every_key_or_nothing(files):
    """strict: a classifier of another size is an error (--resume), where the partial load skips it."""
    _, path_1x, _ = files['mobilenetv2_x1_0']
    target = fresh('mobilenetv2_x1_0', num_classes=3)
    with pytest.raises(CheckpointError, match='mis-shaped keys'):
        load_weights(target, path_1x, strict=True)
    report = load_weights(target, path_1x)
    assert [key for key, _ in report.skipped] == ['classifier.weight', 'classifier.bias']


def test_strict_load_weights_rejects_allow_partial(files):
    _, path_1x, _ = files['mobilenetv2_x1_0']
    with pytest.raises(ValueError, match='non-strict'):
        load_weights(fresh('mobilenetv2_x1_0'), path_1x, strict=True, allow_partial=True)


@pytest.mark.parametrize('key', KEYS)
def test_feature_extractor_loads_1x_names(key, files):
    """Bit-identical to the extractor on the same weights in our naming (the fast path's channels_last layout makes
    both differ from the plain model by float rounding only)."""
    model, path_1x, path_own = files[key]
    images = torch.randn(4, 3, *SIZE)
    from_1x = FeatureExtractor(key, weights=path_1x, device='cpu', image_size=SIZE)(images)
    assert torch.equal(from_1x, FeatureExtractor(key, weights=path_own, device='cpu', image_size=SIZE)(images))
    expected = features(model, images)
    assert (from_1x - expected).abs().max() <= 1e-4 * expected.abs().max()


@pytest.mark.parametrize('key', KEYS)
def test_export_onnx_loads_1x_names(key, files, tmp_path):
    pytest.importorskip('onnxruntime')
    from torchreid.models.export import export_onnx, onnxruntime_parity
    model, path_1x, _ = files[key]
    target = fresh(key)
    export_onnx(target, str(tmp_path / 'm.onnx'), *SIZE, checkpoint=path_1x)
    for result in onnxruntime_parity(model, str(tmp_path / 'm.onnx'), *SIZE, batch_sizes=(2,)):
        assert result.max_abs_difference < 1e-4 * max(1.0, result.max_abs_feature)


@pytest.mark.parametrize('key', KEYS)
def test_build_model_for_checkpoint_reads_the_classifier_size_of_a_1x_file(key, files):
    _, path_1x, _ = files[key]
    from torchreid.utils.checkpoint import load_checkpoint
    model, record, recorded = build_model_for_checkpoint(load_checkpoint(path_1x), key)
    assert not recorded and record['num_classes'] == 7 and model.classifier.out_features == 7


# the scripts: --load-weights and --resume on the demo data

@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return str(tmp_path_factory.getbasetemp() / 'demo_data_1x')


def run_eval(tmp_path, data_root, key, *argv):
    save_dir = tmp_path / 'run'
    status = main('image', 'xent', ['--root', data_root, '--save-dir', str(save_dir), '-a', key, '--no-pretrained',
                                    '--height', str(SIZE[0]), '--width', str(SIZE[1]), '-j', '0', '--use-cpu',
                                    '-d', 'demo', '--evaluate', '--test-batch', '100'] + list(argv))
    log = open(str(save_dir / 'log_test.txt')).read()
    block = log[log.rindex('Results ----------'):]
    return status, log, re.findall(r'^(mAP|Rank-1) *: *([\d.]+)%$', block, re.M)


def test_scripts_load_1x_mobilenetv2_with_the_results_of_our_naming(files, data_root, tmp_path):
    key = 'mobilenetv2_x1_0'
    _, path_1x, path_own = files[key]
    status_1x, log_1x, results_1x = run_eval(tmp_path / '1x', data_root, key, '--load-weights', path_1x)
    status_own, _, results_own = run_eval(tmp_path / 'own', data_root, key, '--load-weights', path_own)
    assert status_1x == 0 and status_own == 0
    loaded, total = map(int, re.search(r'Loaded (\d+)/(\d+) layers', log_1x).groups())
    assert loaded == total - 2  # everything but the classifier (7 identities in the file)
    assert results_1x == results_own and len(results_1x) == 2


def test_scripts_resume_a_1x_resnet50_checkpoint_strictly(data_root, tmp_path):
    """--resume is the strict path: a 1.x-named checkpoint with the demo's class count loads there."""
    key = 'resnet50'
    num_train_pids = init_imgreid_dataset('demo', root=data_root).num_train_pids
    model = trained(key, num_classes=num_train_pids)
    path_1x = save_checkpoint({'state_dict': to_1x_naming(key, model.state_dict()), 'epoch': 0, 'rank1': 0.0},
                              fpath=str(tmp_path / 'r50_1x.pth.tar'))
    status, log, results = run_eval(tmp_path, data_root, key, '--resume', path_1x)
    assert status == 0 and "Loaded checkpoint from '{}'".format(path_1x) in log and len(results) == 2
