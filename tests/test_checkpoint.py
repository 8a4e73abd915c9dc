"""torchreid.utils.checkpoint: round trips in the seed's format and its variants, strict and partial loads, and
clear errors for missing, corrupt and unsafe files. All on tiny models."""
import argparse
import os
from collections import Counter, OrderedDict

import numpy as np
import pytest
import torch
import torch.nn as nn

from torchreid.models import init_model
from torchreid.utils.checkpoint import (BEST_MODEL_NAME, CheckpointError, _compare, extract_state_dict, group_keys,
                                        is_classifier_key, likely_cause, load_checkpoint, load_model_state,
                                        load_pretrained_weights, rename_old_densenet_key, save_checkpoint)


class Tiny(nn.Module):
    """conv + BN trunk and a classifier, like a re-id model in miniature."""

    def __init__(self, num_classes=7, feat_dim=4):
        super().__init__()
        self.base = nn.Sequential(nn.Conv2d(3, feat_dim, 3), nn.BatchNorm2d(feat_dim))
        self.classifier = nn.Linear(feat_dim, num_classes)


class ExplodingObject(object):
    """Unpickling this would run code: a weights_only load must refuse it."""

    def __reduce__(self):
        return (os.system, ('echo pwned > /dev/null',))


def tiny(num_classes=7, seed=0):
    torch.manual_seed(seed)
    return Tiny(num_classes)


def assert_same_state(model_a, model_b):
    state_b = model_b.state_dict()
    for key, value in model_a.state_dict().items():
        torch.testing.assert_close(value, state_b[key], msg=key)


def test_seed_format_round_trip(tmp_path):
    model = tiny()
    fpath = str(tmp_path / 'log' / 'checkpoint_ep60.pth.tar')
    save_checkpoint({'state_dict': model.state_dict(), 'rank1': np.float32(0.885), 'epoch': 59}, False, fpath)
    checkpoint = load_checkpoint(fpath)
    assert checkpoint['epoch'] == 59
    assert type(checkpoint['rank1']) is float and checkpoint['rank1'] == pytest.approx(0.885)
    assert not os.path.exists(str(tmp_path / 'log' / BEST_MODEL_NAME))
    restored = tiny(seed=1)
    load_model_state(restored, checkpoint)
    assert_same_state(model, restored)


def test_is_best_copies_and_no_temporary_file_is_left(tmp_path):
    fpath = str(tmp_path / 'checkpoint_ep1.pth.tar')
    save_checkpoint({'state_dict': tiny().state_dict(), 'rank1': 0.5, 'epoch': 0}, True, fpath)
    best = tmp_path / BEST_MODEL_NAME
    assert best.read_bytes() == (tmp_path / 'checkpoint_ep1.pth.tar').read_bytes()
    assert sorted(os.listdir(str(tmp_path))) == [BEST_MODEL_NAME, 'checkpoint_ep1.pth.tar']


def test_failed_save_keeps_the_previous_file(tmp_path):
    fpath = str(tmp_path / 'checkpoint.pth.tar')
    save_checkpoint({'state_dict': tiny().state_dict(), 'epoch': 1}, False, fpath)
    before = open(fpath, 'rb').read()
    with pytest.raises(TypeError, match=r"state\['args'\].*Namespace"):
        save_checkpoint({'state_dict': tiny().state_dict(), 'args': argparse.Namespace(lr=0.1)}, False, fpath)
    assert open(fpath, 'rb').read() == before
    assert os.listdir(str(tmp_path)) == ['checkpoint.pth.tar']


def test_optimizer_and_scheduler_state_round_trip(tmp_path):
    model = tiny()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-4)
    loss = model.classifier(model.base(torch.randn(2, 3, 5, 5)).mean(dim=(2, 3))).sum()
    loss.backward()
    optimizer.step()
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[20, 40], gamma=0.1)
    fpath = str(tmp_path / 'ck.pth.tar')
    save_checkpoint({'state_dict': model.state_dict(), 'optimizer': optimizer.state_dict(),
                     'scheduler': scheduler.state_dict(), 'epoch': 3, 'rank1': 0.1}, False, fpath)
    checkpoint = load_checkpoint(fpath)
    assert checkpoint['scheduler']['milestones'] == Counter({20: 1, 40: 1})
    assert isinstance(checkpoint['scheduler']['milestones'], Counter)
    new_optimizer = torch.optim.Adam(tiny().parameters(), lr=1.0)
    new_optimizer.load_state_dict(checkpoint['optimizer'])
    assert new_optimizer.param_groups[0]['lr'] == 3e-4
    torch.testing.assert_close(new_optimizer.state_dict()['state'][0]['exp_avg'],
                               optimizer.state_dict()['state'][0]['exp_avg'])


def test_old_checkpoint_with_numpy_rank1_and_legacy_serialisation(tmp_path):
    """Seed checkpoints were written by torch 0.4 (legacy format) with rank1 a numpy.float32 pickled from
    numpy.core; both must load under weights_only=True."""
    model = tiny()
    fpath = str(tmp_path / 'seed.pth.tar')
    torch.save({'state_dict': model.state_dict(), 'rank1': np.float32(0.75), 'epoch': 59}, fpath,
               _use_new_zipfile_serialization=False)
    data = open(fpath, 'rb').read()
    if b'numpy._core.multiarray' in data:  # written by numpy >= 2: rewrite to the numpy 1.x module path
        open(fpath, 'wb').write(data.replace(b'numpy._core.multiarray', b'numpy.core.multiarray'))
    checkpoint = load_checkpoint(fpath)
    assert float(checkpoint['rank1']) == 0.75 and checkpoint['epoch'] == 59
    restored = tiny(seed=1)
    load_model_state(restored, checkpoint['state_dict'])
    assert_same_state(model, restored)


def test_bare_state_dict_and_module_prefix(tmp_path):
    model = tiny()
    prefixed = OrderedDict(('module.' + key, value) for key, value in model.state_dict().items())
    fpath = str(tmp_path / 'ddp.pth')
    torch.save(prefixed, fpath)
    restored = tiny(seed=1)
    load_model_state(restored, load_checkpoint(fpath))
    assert_same_state(model, restored)
    assert list(extract_state_dict({'state_dict': prefixed})) == list(model.state_dict())


def test_old_densenet_names_are_renamed():
    assert rename_old_densenet_key('base.denseblock1.denselayer1.norm.1.weight') == \
        'base.denseblock1.denselayer1.norm1.weight'
    assert rename_old_densenet_key('module.features.denseblock4.denselayer16.conv.2.weight') == \
        'module.features.denseblock4.denselayer16.conv2.weight'
    assert rename_old_densenet_key('base.norm5.running_var') == 'base.norm5.running_var'
    layer = nn.Module()
    layer.norm1 = nn.BatchNorm2d(2)
    layer.conv1 = nn.Conv2d(2, 2, 1)
    model = nn.Sequential(OrderedDict([('denselayer1', layer)]))
    old = OrderedDict((key.replace('norm1', 'norm.1').replace('conv1', 'conv.1'), value + 1)
                      for key, value in model.state_dict().items())
    assert 'denselayer1.norm.1.weight' in old
    load_model_state(model, {'state_dict': old, 'rank1': 0.9, 'epoch': 1})
    torch.testing.assert_close(model.denselayer1.conv1.bias, old['denselayer1.conv.1.bias'])


def test_strict_load_error_names_every_difference():
    state = tiny(num_classes=751).state_dict()
    state['extra.weight'] = torch.zeros(1)
    del state['base.0.bias']
    with pytest.raises(CheckpointError) as error:
        load_model_state(tiny(num_classes=10), state)
    message = str(error.value)
    assert 'missing keys (1): base.0.bias' in message
    assert 'unexpected keys (1): extra.weight' in message
    assert 'classifier.weight (checkpoint [751, 4] vs model [10, 4])' in message
    assert 'classifier.bias (checkpoint [751] vs model [10])' in message
    assert '--load-weights' in message and 'arch' in message


@pytest.mark.parametrize('change, expected', [
    ('missing', 'missing keys (1): base.1.running_var'),
    ('unexpected', 'unexpected keys (1): extra.weight'),
    ('mismatched', 'mis-shaped keys (1): base.0.bias (checkpoint [5] vs model [4])'),
])
def test_strict_load_rejects_each_kind_of_difference_alone(change, expected):
    state = tiny().state_dict()
    if change == 'missing':
        del state['base.1.running_var']
    elif change == 'unexpected':
        state['extra.weight'] = torch.zeros(1)
    else:
        state['base.0.bias'] = torch.zeros(5)
    target = tiny(seed=1)
    before = target.base[0].weight.detach().clone()
    with pytest.raises(CheckpointError) as error:
        load_model_state(target, state)
    assert expected in str(error.value) and str(error.value).count('keys (') == 1
    torch.testing.assert_close(target.base[0].weight, before)


def test_missing_bn_counters_are_tolerated_in_strict_load():
    """torch 0.4.0 checkpoints have no num_batches_tracked; they start at 0."""
    model = tiny()
    state = OrderedDict((k, v) for k, v in model.state_dict().items() if not k.endswith('num_batches_tracked'))
    restored = tiny(seed=1)
    load_model_state(restored, state)
    assert_same_state(model, restored)


def test_partial_load_across_class_counts(tmp_path, capsys):
    source = tiny(num_classes=751)
    fpath = str(tmp_path / 'market.pth.tar')
    save_checkpoint({'state_dict': source.state_dict(), 'rank1': 0.8, 'epoch': 59}, False, fpath)
    target = tiny(num_classes=10, seed=1)
    classifier_before = target.classifier.weight.detach().clone()
    report = load_pretrained_weights(target, fpath)
    assert report.loaded == ['base.0.weight', 'base.0.bias', 'base.1.weight', 'base.1.bias', 'base.1.running_mean',
                             'base.1.running_var']
    assert report.skipped == [('classifier.weight', 'shape [751, 4] in file vs [10, 4] in model'),
                              ('classifier.bias', 'shape [751] in file vs [10] in model')]
    printed = capsys.readouterr().out
    assert "Loaded 6/8 layers from '{}'; skipped: classifier.weight (shape [751, 4] in file vs [10, 4] in " \
           "model), classifier.bias".format(fpath) in printed
    torch.testing.assert_close(target.base[0].weight, source.base[0].weight)
    torch.testing.assert_close(target.classifier.weight, classifier_before)


def test_partial_load_reports_keys_missing_from_file_and_not_in_model(tmp_path):
    state = tiny().state_dict()
    state['head.weight'] = torch.ones(2)
    del state['classifier.bias']
    fpath = str(tmp_path / 'other.pth')
    torch.save(state, fpath)
    report = load_pretrained_weights(tiny(seed=1), fpath, allow_partial=True)
    assert ('head.weight', 'not in model') in report.skipped
    assert ('classifier.bias', 'missing from file') in report.skipped
    assert len(report.loaded) == 7


def save_state(tmp_path, state, name='weights.pth'):
    fpath = str(tmp_path / name)
    torch.save(state, fpath)
    return fpath


def test_only_missing_keys_is_an_error_unless_partial(tmp_path, capsys):
    """base.1 (BN, 4 entries) absent from the file: an error naming the group, the model untouched; allow_partial
    loads the rest and the report lists exactly the missing keys."""
    source = tiny()
    state = OrderedDict((k, v) for k, v in source.state_dict().items() if not k.startswith('base.1.'))
    fpath = save_state(tmp_path, state)
    target = tiny(seed=1)
    before = target.base[0].weight.detach().clone()
    with pytest.raises(CheckpointError) as error:
        load_pretrained_weights(target, fpath)
    message = str(error.value)
    assert '4 missing from the file: base.1 (4 keys)' in message
    assert 'not in the model' not in message and 'of another shape' not in message
    assert '--allow-partial-load' in message and 'allow_partial=True' in message
    assert '\n' not in message  # one line on the console
    torch.testing.assert_close(target.base[0].weight, before)  # nothing loaded on error
    report = load_pretrained_weights(target, fpath, allow_partial=True)
    assert report.skipped == [('base.1.weight', 'missing from file'), ('base.1.bias', 'missing from file'),
                              ('base.1.running_mean', 'missing from file'), ('base.1.running_var', 'missing from file')]
    assert report.loaded == ['base.0.weight', 'base.0.bias', 'classifier.weight', 'classifier.bias']
    torch.testing.assert_close(target.base[0].weight, source.base[0].weight)
    assert 'Warning: ' in capsys.readouterr().out


def test_only_unexpected_keys_is_an_error_unless_partial(tmp_path):
    state = tiny().state_dict()
    state['extra.0.weight'] = torch.ones(3)
    state['extra.0.bias'] = torch.ones(3)
    fpath = save_state(tmp_path, state)
    with pytest.raises(CheckpointError, match=r'2 not in the model: extra\.0 \(2 keys\)\)') as error:
        load_pretrained_weights(tiny(seed=1), fpath)
    assert 'missing from the file' not in str(error.value)
    report = load_pretrained_weights(tiny(seed=1), fpath, allow_partial=True)
    assert report.skipped == [('extra.0.weight', 'not in model'), ('extra.0.bias', 'not in model')]
    assert len(report.loaded) == 8 and report.num_model_entries == 8


def test_only_mismatched_shapes_is_an_error_unless_partial(tmp_path):
    state = Tiny(num_classes=7, feat_dim=4).state_dict()
    state['base.0.weight'] = torch.zeros(4, 3, 5, 5)  # another kernel size
    fpath = save_state(tmp_path, state)
    with pytest.raises(CheckpointError, match=r'1 of another shape: base\.0 \(1 key\)'):
        load_pretrained_weights(tiny(seed=1), fpath)
    target = tiny(seed=1)
    report = load_pretrained_weights(target, fpath, allow_partial=True)
    assert report.skipped == [('base.0.weight', 'shape [4, 3, 5, 5] in file vs [4, 3, 3, 3] in model')]
    assert len(report.loaded) == 7
    torch.testing.assert_close(target.base[0].bias, state['base.0.bias'])


def test_classifier_only_mismatch_is_a_note_not_an_error(tmp_path, capsys):
    fpath = save_state(tmp_path, tiny(num_classes=751).state_dict())
    report = load_pretrained_weights(tiny(num_classes=10, seed=1), fpath)
    assert [key for key, _ in report.skipped] == ['classifier.weight', 'classifier.bias']
    printed = capsys.readouterr().out
    assert 'Note: the classifier was not loaded' in printed and 'Warning' not in printed
    # HACNN's classifiers count as classifiers too; 'base.classifier_x' as well, 'fc' does not
    assert is_classifier_key('classifier_global.weight') and is_classifier_key('classifier_local.bias')
    assert is_classifier_key('module_a.classifier.weight')
    assert not is_classifier_key('fc.0.weight') and not is_classifier_key('base.7.2.bn3.bias')


def test_nothing_loaded_is_an_error_even_with_allow_partial(tmp_path):
    fpath = save_state(tmp_path, OrderedDict([('foo.weight', torch.zeros(2)), ('bar.bias', torch.zeros(2))]))
    with pytest.raises(CheckpointError, match=r'No layer of .* fits Tiny \(0/8 loaded; the file holds foo \(1 key\), '
                                              r'bar'):
        load_pretrained_weights(tiny(), fpath, allow_partial=True)


def renamed_like_torchreid_1x(state):
    """Our ResNet-50 names -> torchreid 1.x's: base.0 -> conv1, base.1 -> bn1, base.4..7 -> layer1..4."""
    names = {'0': 'conv1', '1': 'bn1', '4': 'layer1', '5': 'layer2', '6': 'layer3', '7': 'layer4'}
    renamed = OrderedDict()
    for key, value in state.items():
        parts = key.split('.')
        if parts[0] == 'base':
            parts = [names[parts[1]]] + parts[2:]
        renamed['.'.join(parts)] = value
    return renamed


@pytest.fixture(scope='module')
def resnet50():
    return init_model('resnet50', num_classes=10, pretrained=False)


def test_torchreid_1x_naming_is_named_as_the_cause(tmp_path, resnet50):
    fpath = save_state(tmp_path, renamed_like_torchreid_1x(resnet50.state_dict()))
    with pytest.raises(CheckpointError) as error:
        load_pretrained_weights(resnet50, fpath)
    message = str(error.value)
    assert 'do not fit ResNet50 (2/267 layers loadable' in message
    assert '265 missing from the file: base.0 (1 key), base.1 (4 keys), base.4 (' in message
    assert '265 not in the model: conv1 (1 key), bn1 (4 keys), layer1 (50 keys), layer2 (65 keys), layer3 (95 ' \
        'keys), layer4 (50 keys));' in message
    assert 'likely cause: another layer naming' in message and "'conv1.weight' in the file for 'base.0.weight'" \
        in message


def test_another_architecture_is_named_as_the_cause(tmp_path, resnet50):
    torch.manual_seed(0)
    osnet = init_model('osnet_x0_25', num_classes=10, pretrained=False)
    record = {'name': 'osnet_x0_25', 'options': {}}
    fpath = save_state(tmp_path, {'state_dict': osnet.state_dict(), 'model': record})
    with pytest.raises(CheckpointError) as error:
        load_pretrained_weights(resnet50, fpath)
    message = str(error.value)
    assert 'likely cause: another architecture' in message and "records model 'osnet_x0_25'" in message
    with pytest.raises(CheckpointError, match='Likely cause: another architecture'):
        load_model_state(resnet50, {'state_dict': osnet.state_dict()})


def test_prefix_and_head_option_causes():
    own = Tiny().state_dict()
    wrapped = OrderedDict(('backbone.' + k, v) for k, v in own.items())
    missing, unexpected, mismatched = _compare(own, wrapped)
    assert "prefix 'backbone.'" in likely_cause(own, wrapped, missing, unexpected, mismatched)
    with_neck = OrderedDict(own)
    with_neck['bottleneck.weight'] = torch.ones(4)
    missing, unexpected, mismatched = _compare(own, with_neck)
    assert likely_cause(own, with_neck, missing, unexpected, mismatched).startswith('other head options')


def test_group_keys():
    assert group_keys(['layer4.0.conv1.weight', 'layer4.1.bn1.bias', 'fc.weight', 'base.7.2.bn3.bias']) == \
        'layer4 (2 keys), fc (1 key), base (1 key)'
    assert group_keys(['base.0.weight', 'base.4.0.conv1.weight', 'base.4.1.bn1.bias', 'fc.weight']) == \
        'base.0 (1 key), base.4 (2 keys), fc (1 key)'


def test_missing_file_is_a_file_not_found_error(tmp_path):
    fpath = str(tmp_path / 'nope.pth.tar')
    with pytest.raises(FileNotFoundError, match='nope.pth.tar'):
        load_checkpoint(fpath)
    with pytest.raises(FileNotFoundError, match='nope.pth.tar'):
        load_pretrained_weights(tiny(), fpath)


def test_corrupt_truncated_and_foreign_files_raise_checkpoint_error(tmp_path):
    garbage = tmp_path / 'garbage.pth.tar'
    garbage.write_bytes(b'this is not a checkpoint at all')
    with pytest.raises(CheckpointError, match='garbage.pth.tar'):
        load_checkpoint(str(garbage))
    whole = str(tmp_path / 'whole.pth.tar')
    save_checkpoint({'state_dict': tiny().state_dict(), 'epoch': 0}, False, whole)
    truncated = tmp_path / 'truncated.pth.tar'
    truncated.write_bytes(open(whole, 'rb').read()[:200])
    with pytest.raises(CheckpointError, match='truncated.pth.tar'):
        load_checkpoint(str(truncated))
    a_list = str(tmp_path / 'list.pth')
    torch.save([1, 2, 3], a_list)
    with pytest.raises(CheckpointError, match='holds a list'):
        load_checkpoint(a_list)
    assert issubclass(CheckpointError, RuntimeError)


def test_unsafe_pickle_is_refused_without_running_it(tmp_path, monkeypatch):
    fpath = str(tmp_path / 'evil.pth')
    torch.save({'state_dict': tiny().state_dict(), 'payload': ExplodingObject()}, fpath)
    calls = []
    monkeypatch.setattr(os, 'system', lambda command: calls.append(command))
    with pytest.raises(CheckpointError, match='evil.pth'):
        load_checkpoint(fpath)
    assert calls == []


def test_extract_state_dict_rejects_non_state_dicts():
    with pytest.raises(CheckpointError, match='no state_dict'):
        extract_state_dict({'epoch': 3, 'rank1': 0.5})
    with pytest.raises(CheckpointError):
        extract_state_dict([torch.zeros(1)])
