"""The scripts with several datasets: -s (merged sources), -t (one result block per target and a table of all),
-d as -s X -t X, --combineall, the sources check on --resume and the target that picks the best model.

Tiny runs on the generated demo data (``demo``: 75 train ids, 6 cameras; ``demo_duke``: 75 train ids, 8 cameras)
and, for video, ``demovideo`` beside a tiny MARS tree with real images.
"""
import os
import re

import numpy as np
import pytest
import torch
from PIL import Image

from test_datasets_video import make_mars
from test_engine import ScriptedEvaluator, make_engine
from test_scripts import TINY, data_root, keep_environment, num_queries, query_folders, run_script  # noqa: F401
from torchreid.engine.cli import build_parser, parse_args
from torchreid.engine.engine import LATEST_CHECKPOINT
from torchreid.engine.evaluation import EvalResult, MultiTargetEvaluator
from torchreid.engine.runner import build_data, main
from torchreid.utils.checkpoint import load_checkpoint

RESULT_LINE = re.compile(r'^(mAP|mINP|Rank-\d+ *): *([\d.]+)%$', re.M)
TABLE_ROW = re.compile(r'^  (\S+) +\|((?: +(?:[\d.]+%|-)){6})$', re.M)
DEMO_TRAIN_PIDS = DUKE_TRAIN_PIDS = 75


def blocks_by_target(log):
    """{target: {'mAP': .., 'Rank-1': ..}} from the '##### Evaluating <name> #####' blocks, in printed order."""
    blocks = {}
    for match in re.finditer(r'^##### Evaluating (\S+) #####$', log, re.M):
        block = log[match.end():]
        block = block[block.index('Results ----------'):]
        block = block[:block.index('------------------')]
        blocks[match.group(1)] = {name.strip(): float(value) for name, value in RESULT_LINE.findall(block)}
    return blocks


def table(log):
    """The last table of all targets: {target: [mAP, mINP, Rank-1, Rank-5, Rank-10, Rank-20]} (None for '-')."""
    text = log[log.rindex('##### Results of '):]
    return {name: [None if value == '-' else float(value[:-1]) for value in values.split()]
            for name, values in TABLE_ROW.findall(text)}


def block_as_row(block):
    return [block['mAP'], block['mINP']] + [block.get('Rank-{}'.format(r)) for r in (1, 5, 10, 20)]


@pytest.fixture(scope='module')
def two_sources_run(tmp_path_factory, data_root):  # noqa: F811
    save_dir = tmp_path_factory.mktemp('two_sources')
    status, log = run_script('image', 'xent_htri', save_dir, data_root, '-s', 'demo', 'demo_duke', '-t',
                             'demo_duke', 'demo', '--max-epoch', '1', '--train-batch', '16', '--num-instances', '4')
    assert status == 0
    return save_dir, log


@pytest.mark.slow
def test_two_sources_two_targets_blocks_table_and_classifier(two_sources_run):
    save_dir, log = two_sources_run
    assert '=> Training set of 2 source(s): demo, demo_duke' in log
    assert '  demo_duke            |    75 |         559 |         8 |         75 |          6' in log
    assert '  merged train         |   150 |        1157 |        14 |' in log
    blocks = blocks_by_target(log)
    assert list(blocks) == ['demo_duke', 'demo']  # the -t order
    assert log.count('Results ----------') == 2 and log.count('##### Results of 2 targets #####') == 1
    assert log.index('##### Evaluating demo #####') < log.index('##### Results of 2 targets #####')
    assert table(log) == {name: block_as_row(block) for name, block in blocks.items()}
    assert num_queries(log) == 117  # demo_duke's queries first
    checkpoint = load_checkpoint(str(save_dir / LATEST_CHECKPOINT))
    assert checkpoint['state_dict']['classifier.weight'].shape[0] == DEMO_TRAIN_PIDS + DUKE_TRAIN_PIDS
    assert checkpoint['model']['num_classes'] == 150
    assert (checkpoint['sources'], checkpoint['targets']) == (['demo', 'demo_duke'], ['demo_duke', 'demo'])
    assert checkpoint['best_target'] == 'demo_duke' and checkpoint['combineall'] is False
    # the first target picks the best model; each target's numbers are in the history
    history = checkpoint['history']['targets']
    assert checkpoint['rank1'] == pytest.approx(blocks['demo_duke']['Rank-1'] / 100, abs=5e-4)
    assert history['demo_duke']['rank1'] == [checkpoint['rank1']]
    assert history['demo']['rank1'][0] == pytest.approx(blocks['demo']['Rank-1'] / 100, abs=5e-4)
    assert history['demo']['mINP'][0] == pytest.approx(blocks['demo']['mINP'] / 100, abs=5e-4)
    assert history['demo']['rank1'] != history['demo_duke']['rank1']
    assert load_checkpoint(str(save_dir / 'best_model.pth.tar'))['rank1'] == checkpoint['rank1']
    assert '==> Best Rank-1 {:.1%}, achieved at epoch 1 (target demo_duke)'.format(checkpoint['rank1']) in log


@pytest.mark.slow
def test_per_target_scalars_in_tensorboard(two_sources_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    save_dir, log = two_sources_run
    events = EventAccumulator(str(save_dir))
    events.Reload()
    tags = set(events.Tags()['scalars'])
    assert {'test/demo/rank1', 'test/demo/mAP', 'test/demo/mINP', 'test/demo_duke/rank1', 'test/rank1'} <= tags
    demo_rank1 = events.Scalars('test/demo/rank1')
    assert [event.step for event in demo_rank1] == [1]
    assert demo_rank1[0].value == pytest.approx(blocks_by_target(log)['demo']['Rank-1'] / 100, abs=5e-4)
    assert events.Scalars('test/rank1')[0].value == pytest.approx(events.Scalars('test/demo_duke/rank1')[0].value)


def test_the_train_loader_offsets_labels_of_the_second_source(data_root):  # noqa: F811
    args = parse_args(build_parser('image', 'xent'), ['--root', data_root, '-s', 'demo', 'demo_duke'] + TINY)
    reid_data = build_data(args, 'image', 'xent', pin_memory=False, training=True)
    duke = reid_data.datasets['demo_duke']
    raw = {path: (pid, camid) for path, pid, camid in duke.train}
    loader = reid_data.train_loader
    loader.sampler.set_epoch(0)
    seen = 0
    for imgs, pids, camids, paths in loader:
        for path, pid, camid in zip(paths, pids.tolist(), camids.tolist()):
            if path in raw:
                assert (pid, camid) == (raw[path][0] + 75, raw[path][1] + 6)
                seen += 1
            else:
                assert pid < 75 and camid < 6
    assert seen > 400  # most of demo_duke's 559 images (the last incomplete batch is dropped)
    assert set(reid_data.test_loader) == {'demo', 'demo_duke'}


def _train_one_epoch(save_dir, data_root, *datasets_argv):
    status, log = run_script('image', 'xent', save_dir, data_root, *datasets_argv, '--max-epoch', '1',
                             '--train-batch', '32')
    assert status == 0
    return log


@pytest.mark.slow
def test_d_is_short_for_s_and_t_and_resume_refuses_other_sources(data_root, tmp_path, capsys):  # noqa: F811
    d_log = _train_one_epoch(tmp_path / 'd', data_root, '-d', 'demo')
    st_log = _train_one_epoch(tmp_path / 'st', data_root, '-s', 'demo', '-t', 'demo')
    assert blocks_by_target(d_log) == blocks_by_target(st_log) and list(blocks_by_target(d_log)) == ['demo']
    assert '##### Results of' not in d_log  # no table for one target
    d_state = load_checkpoint(str(tmp_path / 'd' / LATEST_CHECKPOINT))
    st_state = load_checkpoint(str(tmp_path / 'st' / LATEST_CHECKPOINT))
    assert all(torch.equal(d_state['state_dict'][key], st_state['state_dict'][key]) for key in d_state['state_dict'])
    assert (d_state['sources'], d_state['targets'], d_state['args']['dataset']) == (['demo'], ['demo'], 'demo')
    assert st_state['args']['dataset'] is None

    capsys.readouterr()
    latest = str(tmp_path / 'd' / LATEST_CHECKPOINT)
    for other in (['-s', 'demo', 'demo_duke'], ['-s', 'demo_duke'], ['-s', 'demo', '--combineall']):
        status = main('image', 'xent', ['--root', data_root, '--save-dir', str(tmp_path / 'refused')] + TINY + other
                      + ['--max-epoch', '2', '--stepsize', '1', '--resume', latest])
        err = capsys.readouterr().err
        assert status == 1
        assert err == ("Error: --resume '{}' was trained with -s demo, not {}: its classifier would not fit these "
                       'classes. Resume with the same sources (in the same order), or start from its weights with '
                       '--load-weights\n'.format(latest, ' '.join(other)))
    # other targets are fine: the run goes on and evaluates both
    status, log = run_script('image', 'xent', tmp_path / 'more_targets', data_root, '-s', 'demo', '-t', 'demo_duke',
                             'demo', '--max-epoch', '2', '--resume', latest)
    assert status == 0 and '- start_epoch: 1' in log and list(blocks_by_target(log)) == ['demo_duke', 'demo']
    assert "Note: the checkpoint's best model was chosen on target demo, this run chooses on demo_duke" in log
    resumed = load_checkpoint(str(tmp_path / 'more_targets' / LATEST_CHECKPOINT))
    assert resumed['targets'] == ['demo_duke', 'demo'] and resumed['best_epoch'] == 2


@pytest.mark.parametrize('argv,message', [
    (['-d', 'demo', '-s', 'demo'], '-d/--dataset X is short for -s X -t X: give either -d or -s/-t, not both'),
    (['-d', 'demo', '-t', 'demo_duke'], '-d/--dataset X is short for -s X -t X: give either -d or -s/-t, not both'),
    (['-t', 'demo_duke'], '-t/--target-names needs -s/--source-names (the training datasets)'),
    (['-s', 'demo', 'demo'], '-s/--source-names lists demo more than once'),
    (['-s', 'demo', '-t', 'demo_duke', 'demo_duke'], '-t/--target-names lists demo_duke more than once'),
    (['-s', 'demo', '-t', 'demo', '--best-target', 'demo_duke'],
     '--best-target demo_duke is not a target; the targets are demo'),
])
def test_dataset_flags_that_cannot_go_together(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_args(build_parser('image', 'xent'), argv)
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_dataset_flags_resolve():
    parser = build_parser('image', 'xent')
    args = parse_args(parser, ['-s', 'demo', 'demo_duke'])
    assert (args.sources, args.targets, args.best_target, args.dataset) == (['demo', 'demo_duke'],
                                                                            ['demo', 'demo_duke'], 'demo', None)
    args = parse_args(parser, ['-s', 'demo', '-t', 'demo', 'demo_duke', '--best-target', 'demo_duke'])
    assert (args.targets, args.best_target) == (['demo', 'demo_duke'], 'demo_duke')
    args = parse_args(parser, [])
    assert (args.sources, args.targets, args.best_target) == (['market1501'], ['market1501'], 'market1501')
    assert not hasattr(parse_args(build_parser('video', 'xent'), []), 'market1501_500k')


def test_market1501_500k_needs_market(data_root, tmp_path, capsys):  # noqa: F811
    status = main('image', 'xent', ['--root', data_root, '--save-dir', str(tmp_path)] + TINY
                  + ['-d', 'demo', '--market1501-500k', '--evaluate'])
    assert status == 1
    assert capsys.readouterr().err.endswith(
        'Error: --market1501-500k given, but none of the datasets demo takes it\n')


@pytest.mark.slow
def test_combineall_trains_on_everything_and_warns(data_root, tmp_path):  # noqa: F811
    status, log = run_script('image', 'xent', tmp_path, data_root, '-s', 'demo', 'demo_duke', '-t', 'demo',
                             '--combineall', '--max-epoch', '1', '--train-batch', '64')
    assert status == 0
    # demo (Market rules): 75 train ids (598 images) + the 40 query/gallery ids (126 + 297 images) without the 40
    # pid-0 distractor images; demo_duke (Duke: no junk ids): 75 + 40 query ids + 20 gallery-only ids, every image
    assert '=> DemoImageDataset (combineall: train + query + gallery) loaded' in log
    assert '  train    |   115 |         981 |         6' in log
    assert '=> DemoDukeDataset (combineall: train + query + gallery) loaded' in log
    assert '  train    |   135 |         960 |         8' in log
    assert '  demo_duke            |   135 |         960 |         8 |        115 |          6' in log
    assert '  merged train         |   250 |        1941 |        14 |' in log
    # a warning for the combined source that is a target, none for demo_duke (not a target)
    assert log.count('Warning: combineall') == 1
    assert ("Warning: combineall trains on the query and gallery of 'demo', which is also a target: its results "
            'are not comparable to published ones') in log
    assert list(blocks_by_target(log)) == ['demo']  # evaluation still runs
    checkpoint = load_checkpoint(str(tmp_path / LATEST_CHECKPOINT))
    assert checkpoint['state_dict']['classifier.weight'].shape[0] == 250 and checkpoint['combineall'] is True


def test_the_best_target_picks_the_best_model(tmp_path):
    class Scripted(object):
        def __init__(self, rank1s):
            self.scripted = ScriptedEvaluator(rank1s)

        def evaluate(self, model):
            return self.scripted.evaluate(model)

    for best_target, best_epoch in (('a', 1), ('b', 2)):
        evaluator = MultiTargetEvaluator({'a': Scripted([0.5, 0.25]), 'b': Scripted([0.125, 0.75])},
                                         best_target=best_target)
        save_dir = tmp_path / best_target
        engine = make_engine(save_dir, evaluator, datasets_record={'sources': ['x'], 'targets': ['a', 'b'],
                                                                   'best_target': best_target})
        engine.run(max_epoch=2, eval_step=1)
        best = load_checkpoint(str(save_dir / 'best_model.pth.tar'))
        assert best['epoch'] + 1 == best_epoch and best['best_target'] == best_target
        latest = load_checkpoint(str(save_dir / LATEST_CHECKPOINT))
        assert latest['history']['targets'] == {
            'a': {'eval_epoch': [1, 2], 'rank1': [0.5, 0.25], 'mAP': [0.25, 0.125], 'mINP': [0.125, 0.0625]},
            'b': {'eval_epoch': [1, 2], 'rank1': [0.125, 0.75], 'mAP': [0.0625, 0.375], 'mINP': [0.03125, 0.1875]}}
        assert latest['history']['rank1'] == ([0.5, 0.25] if best_target == 'a' else [0.125, 0.75])


def test_target_results_read_as_the_best_target():
    from torchreid.engine.evaluation import TargetResults, format_target_table
    a = EvalResult(0.5, 0.4, 0.2, np.array([0.5] + [1.] * 19), None)
    b = EvalResult(0.25, 0.125, 0.0625, np.array([0.25, 0.5, 0.75, 1., 1.]), 'distmat b')
    results = TargetResults({'a': a, 'b': b}, 'b')
    assert (results.rank1, results.mAP, results.mINP, results.distmat) == (0.25, 0.125, 0.0625, 'distmat b')
    assert format_target_table({'a': a, 'b': b}).splitlines()[2:6] == [
        '  target |     mAP     mINP   Rank-1   Rank-5  Rank-10  Rank-20',
        '  -------------------------------------------------------------',
        '  a      |   40.0%    20.0%    50.0%   100.0%   100.0%   100.0%',
        '  b      |   12.5%     6.2%    25.0%   100.0%        -        -']


def write_real_images(base):
    """Replace every empty .jpg under ``base`` by a tiny real image (a colour per file)."""
    rng = np.random.RandomState(0)
    for folder, _, names in os.walk(base):
        for name in names:
            if name.endswith('.jpg'):
                colour = tuple(int(c) for c in rng.randint(0, 256, 3))
                Image.new('RGB', (16, 32), colour).save(os.path.join(folder, name))


@pytest.mark.slow
def test_video_two_sources_two_targets_and_ranks_per_target(data_root, tmp_path):  # noqa: F811
    write_real_images(make_mars(data_root))
    argv = ['-s', 'demovideo', 'mars', '-t', 'mars', 'demovideo', '--seq-len', '4', '--test-batch', '16']
    status, log = run_script('video', 'xent', tmp_path / 'train', data_root, *argv, '--max-epoch', '1',
                             '--train-batch', '32')
    assert status == 0
    blocks = blocks_by_target(log)
    assert list(blocks) == ['mars', 'demovideo']
    assert table(log) == {name: block_as_row(block) for name, block in blocks.items()}
    checkpoint = load_checkpoint(str(tmp_path / 'train' / LATEST_CHECKPOINT))
    demovideo_pids = int(re.search(r'^  demovideo +\| +(\d+) \|', log, re.M).group(1))
    assert re.search(r'^  mars +\| +2 \| +3 \| +3 \| +{} \| '.format(demovideo_pids), log, re.M)
    assert checkpoint['state_dict']['classifier.weight'].shape[0] == demovideo_pids + 2
    # --evaluate with several targets, ranked results in one folder per target
    status, log = run_script('video', 'xent', tmp_path / 'eval', data_root, *argv, '--evaluate', '--resume',
                             str(tmp_path / 'train' / LATEST_CHECKPOINT), '--visualize-ranks')
    assert status == 0 and blocks_by_target(log) == blocks
    ranked = tmp_path / 'eval' / 'ranked_results'
    assert sorted(query_folders(ranked)) == ['demovideo', 'mars']
    assert len(query_folders(ranked / 'mars')) == 2
    assert len(query_folders(ranked / 'demovideo')) == int(re.findall(
        r'Extracted features for query set, obtained (\d+)-by-', log)[1])
