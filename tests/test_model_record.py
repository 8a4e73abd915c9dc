"""The model record (torchreid.models.model_record) and its use by the scripts: every checkpoint the engine writes
records its model, ``--evaluate --resume`` rebuilds that model from it, an explicit option that contradicts it is a
one-line error, and ``--load-weights`` of weights that do not fit stops the run. Runs are on the demo data (tiny
OSNet, 64x32, one epoch)."""
import os

import pytest
import torch

from torchreid.engine.runner import main
from torchreid.models.model_record import (build_model_from_record, constructor_defaults, make_model_record,
                                           model_record_of, resolve_model_config)
from torchreid.utils.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
COMMON = ['--no-pretrained', '-j', '0', '--use-cpu', '--print-freq', '50', '-d', 'demo']


def test_record_holds_plain_values_with_effective_options(tmp_path):
    record = make_model_record('resnet50', 751, {'htri', 'xent'}, {'last_stride': 1}, (256, 128), MEAN, STD, 2048)
    assert record == {'name': 'resnet50', 'num_classes': 751, 'loss': ['htri', 'xent'], 'input_size': [256, 128],
                      'options': {'last_stride': 1, 'pooling': 'avg', 'neck': 'none', 'neck_feat': None},
                      'norm_mean': list(MEAN), 'norm_std': list(STD), 'feat_dim': 2048}
    fpath = save_checkpoint({'state_dict': {'w': torch.zeros(1)}, 'model': record}, fpath=str(tmp_path / 'c.pth'))
    assert torch.load(fpath, weights_only=True)['model'] == record
    assert constructor_defaults('hacnn') == {'nchannels': [128, 256, 384], 'feat_dim': 512, 'learn_region': True}
    assert constructor_defaults('osnet_x0_25') == {}  # a **kwargs factory shows none
    with pytest.raises(TypeError, match='model option pooling=.* cannot be recorded'):
        make_model_record('resnet50', 2, {'xent'}, {'pooling': object()}, (8, 4), MEAN, STD, 2048)


def test_missing_entries_take_their_defaults_and_bad_records_are_errors():
    record = model_record_of({'model': {'name': 'osnet_x0_25'}})
    assert record['input_size'] == [256, 128] and record['options'] == {} and record['loss'] == ['xent']
    assert record['norm_mean'] == list(MEAN) and record['num_classes'] is None
    assert build_model_from_record(record).classifier.out_features == 1
    assert model_record_of({'state_dict': {}}) is None
    with pytest.raises(CheckpointError, match="'model' entry that is not a model record"):
        model_record_of({'model': 'resnet50'})
    with pytest.raises(CheckpointError, match="model 'resnet9000', which is not registered"):
        model_record_of({'model': {'name': 'resnet9000'}})


def test_build_from_record_applies_every_option_and_tolerates_defaulted_new_ones():
    record = model_record_of({'model': make_model_record('resnet50', 7, {'xent'}, {'last_stride': 1, 'pooling': 'gem',
                                                                                 'neck': 'bnneck'}, (64, 32), MEAN,
                                                         STD, 2048)})
    model = build_model_from_record(record)
    assert model.base[7][0].conv2.stride == (1, 1) and model.neck == 'bnneck'
    assert model.classifier.out_features == 7 and hasattr(model.global_pool, 'p')
    assert build_model_from_record(record, num_classes=3).classifier.out_features == 3
    record['options']['future_option'] = 'x'  # written by a newer version, not at a known default
    with pytest.raises(CheckpointError, match='does not take here'):
        build_model_from_record(record)


def test_resolve_model_config_checks_explicit_choices():
    record = model_record_of({'model': make_model_record('osnet_x0_25', 5, {'xent'}, {'pooling': 'gem'}, (64, 32),
                                                         MEAN, STD, 512)})
    assert resolve_model_config(record, 'osnet_x0_25', {'pooling': 'gem'}, (64, None)) == \
        ('osnet_x0_25', {'pooling': 'gem'}, (64, 32))
    with pytest.raises(CheckpointError, match=r"neck='bnneck' \(the checkpoint was trained with '<the default of "
                                              r"osnet_x0_25>'\)"):
        resolve_model_config(record, options={'neck': 'bnneck'})
    with pytest.raises(CheckpointError, match=r'3 classes \(the checkpoint has 5\)'):
        resolve_model_config(record, num_classes=3)


@pytest.fixture(scope='module')
def data_root(tmp_path_factory):
    return str(tmp_path_factory.getbasetemp() / 'demo_data')


@pytest.fixture(autouse=True)
def keep_environment(monkeypatch):
    monkeypatch.setenv('CUDA_VISIBLE_DEVICES', os.environ.get('CUDA_VISIBLE_DEVICES', ''))


def run(data_root, save_dir, *argv, loss='xent'):
    return main('image', loss, ['--root', data_root, '--save-dir', str(save_dir)] + COMMON + list(argv))


def last_results(save_dir, name):
    text = open(os.path.join(str(save_dir), name)).read()
    block = text[text.rindex('Results ----------'):]
    return block[:block.index('------------------')]


@pytest.fixture(scope='module')
def trained(tmp_path_factory, data_root):
    """One epoch of OSNet x0.25 with --neck bnneck --pooling gem --neck-feat before at 64x32; its save dir."""
    save_dir = tmp_path_factory.mktemp('trained')
    assert run(data_root, save_dir, '-a', 'osnet_x0_25', '--height', '64', '--width', '32', '--max-epoch', '1',
               '--neck', 'bnneck', '--pooling', 'gem', '--neck-feat', 'before') == 0
    return save_dir


def test_engine_checkpoints_record_their_model(trained):
    for name in ('checkpoint_latest.pth.tar', 'best_model.pth.tar'):
        checkpoint = torch.load(os.path.join(str(trained), name), weights_only=True)
        assert checkpoint['model'] == {
            'name': 'osnet_x0_25', 'options': {'neck': 'bnneck', 'pooling': 'gem', 'neck_feat': 'before'},
            'num_classes': 75, 'loss': ['xent'], 'input_size': [64, 32], 'norm_mean': list(MEAN),
            'norm_std': list(STD), 'feat_dim': 512}


def test_evaluate_resume_rebuilds_the_model_from_the_record(trained, data_root, tmp_path):
    best = os.path.join(str(trained), 'best_model.pth.tar')
    # no -a, no sizes, no options; another class count is fine (the classifier is not used)
    assert run(data_root, tmp_path / 'a', '--evaluate', '--resume', best) == 0
    assert last_results(tmp_path / 'a', 'log_test.txt') == last_results(trained, 'log_train.txt')
    log = open(str(tmp_path / 'a' / 'log_test.txt')).read()
    assert "Model from the record of '{}': -a osnet_x0_25".format(best) in log and 'input 64x32' in log
    # explicit options equal to the record are fine
    assert run(data_root, tmp_path / 'b', '--evaluate', '--resume', best, '-a', 'osnet_x0_25', '--pooling', 'gem',
               '--height', '64') == 0
    assert last_results(tmp_path / 'b', 'log_test.txt') == last_results(trained, 'log_train.txt')


@pytest.mark.parametrize('argv, expected', [
    (['-a', 'resnet50'], "model 'resnet50' (the checkpoint holds 'osnet_x0_25')"),
    (['--neck-feat', 'after'], "neck_feat='after' (the checkpoint was trained with 'before')"),
    (['--height', '128'], 'height 128 (the checkpoint was trained at 64x32)'),
])
def test_evaluate_resume_with_contradicting_options_is_an_error(trained, data_root, tmp_path, capsys, argv,
                                                                 expected):
    best = os.path.join(str(trained), 'best_model.pth.tar')
    assert run(data_root, tmp_path, '--evaluate', '--resume', best, *argv) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith('Error: ')]
    assert len(errors) == 1 and expected in errors[0]


def test_checkpoint_without_record_loads_as_before(trained, data_root, tmp_path, capsys):
    checkpoint = load_checkpoint(os.path.join(str(trained), 'best_model.pth.tar'))
    del checkpoint['model']
    old = save_checkpoint(checkpoint, fpath=str(tmp_path / 'old.pth.tar'))
    assert run(data_root, tmp_path / 'a', '--evaluate', '--resume', old, '-a', 'osnet_x0_25', '--height', '64',
               '--width', '32', '--neck', 'bnneck', '--pooling', 'gem', '--neck-feat', 'before') == 0
    assert last_results(tmp_path / 'a', 'log_test.txt') == last_results(trained, 'log_train.txt')
    assert run(data_root, tmp_path / 'b', '--evaluate', '--resume', old, '-a', 'osnet_x0_25', '--height', '64',
               '--width', '32') == 1  # the key alone: no BNNeck, no GeM
    assert 'Error: The checkpoint does not match OSNet' in capsys.readouterr().err


def test_load_weights_of_another_architecture_stops_the_run(trained, data_root, tmp_path, capsys):
    best = os.path.join(str(trained), 'best_model.pth.tar')
    assert run(data_root, tmp_path / 'a', '-a', 'shufflenet', '--height', '64', '--width', '32', '--max-epoch', '1',
               '--load-weights', best) == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith('Error: ')]
    assert len(errors) == 1 and err.strip().splitlines()[-1] == errors[0]
    assert "No layer of '{}' fits ShuffleNet (0/247 loaded; the file holds conv1 (6 keys), ".format(best) in errors[0]
    assert "likely cause: another architecture (the checkpoint records model 'osnet_x0_25'" in errors[0]
    assert not os.path.exists(str(tmp_path / 'a' / 'checkpoint_latest.pth.tar'))
    # same architecture, other head options: an error naming them and the flag; with the flag, the run goes on
    assert run(data_root, tmp_path / 'b', '-a', 'osnet_x0_25', '--height', '64', '--width', '32', '--evaluate',
               '--load-weights', best) == 1
    err = capsys.readouterr().err
    assert 'other head options' in err and '--allow-partial-load' in err
    assert run(data_root, tmp_path / 'c', '-a', 'osnet_x0_25', '--height', '64', '--width', '32', '--evaluate',
               '--load-weights', best, '--allow-partial-load') == 0
    assert 'Warning: The weights in' in open(str(tmp_path / 'c' / 'log_test.txt')).read()

