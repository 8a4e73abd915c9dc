"""Merging several sources into one training set, and combineall, on tiny official-layout trees."""
import os

import pytest

import dataset_trees as trees
from test_datasets_video import make_mars
from torchreid.datasets import init_imgreid_dataset, init_vidreid_dataset
from torchreid.datasets.base import BaseImageDataset
from torchreid.datasets.combine import MergedTrainSet, combine_all


def by_name(samples):
    """{file name: (pid, camid)} of image samples."""
    return {os.path.basename(path): (pid, camid) for path, pid, camid in samples}


@pytest.fixture
def market_and_duke(tmp_path):
    trees.build_market1501(str(tmp_path))
    trees.build_dukemtmcreid(str(tmp_path))
    market = init_imgreid_dataset('market1501', root=str(tmp_path), verbose=False)
    duke = init_imgreid_dataset('dukemtmcreid', root=str(tmp_path), verbose=False)
    return market, duke


def test_merged_pids_and_camids_are_offset_per_source(market_and_duke, capsys):
    market, duke = market_and_duke
    merged = MergedTrainSet([market, duke], ['market1501', 'dukemtmcreid'])
    # Market train: pids 2, 7, 10 -> 0..2, cameras c1 c2 c3 c6 c1 -> 0 1 2 5 0 (span 6).
    # Duke train: pids 1, 3 -> 0, 1 -> +3; cameras c2 c5 c8 -> 1 4 7 -> +6 (the span, not the 4 distinct cameras,
    # which would put Duke's c2 on Market's c6).
    assert by_name(merged.train) == {
        '0002_c1s1_000451_03.jpg': (0, 0), '0002_c2s1_000551_01.jpg': (0, 1), '0007_c3s3_000123_02.jpg': (1, 2),
        '0007_c6s1_000001_01.jpg': (1, 5), '0010_c1s2_000100_01.jpg': (2, 0),
        '0001_c2_f0046182.jpg': (3, 7), '0001_c5_f0051271.jpg': (3, 10), '0003_c8_f0000001.jpg': (4, 13)}
    assert merged.dsetids == [0] * 5 + [1] * 3
    assert (merged.num_train_pids, merged.num_train_cams, merged.num_train_items) == (5, 7, 8)
    assert (merged.pid_offsets, merged.camid_offsets) == ([0, 3], [0, 6])
    table = capsys.readouterr().out
    assert '=> Training set of 2 source(s): market1501, dukemtmcreid' in table
    assert '  dukemtmcreid         |     2 |           3 |         3 |          3 |          6' in table
    assert '  merged train         |     5 |           8 |         7 |' in table


def test_one_source_is_unchanged(market_and_duke):
    market, _ = market_and_duke
    merged = MergedTrainSet([market], ['market1501'], verbose=False)
    assert merged.train == market.train
    assert (merged.num_train_pids, merged.num_train_cams) == (3, 4)


def test_merge_refuses_unrelabelled_train_pids_evaluation_only_and_mixed_kinds(tmp_path, market_and_duke):
    market, _ = market_and_duke

    class Raw(BaseImageDataset):
        def __init__(self):
            super(Raw, self).__init__([('a.jpg', 3, 0), ('b.jpg', 5, 1)], [('c.jpg', 3, 1)], [('d.jpg', 3, 0)],
                                      verbose=False)

    with pytest.raises(ValueError, match=r"the train pids of 'raw' are not 0\.\.1 .*relabel"):
        MergedTrainSet([market, Raw()], ['market1501', 'raw'], verbose=False)
    trees.build_sensereid(str(tmp_path))
    sense = init_imgreid_dataset('sensereid', root=str(tmp_path), verbose=False)
    with pytest.raises(ValueError, match="'sensereid' cannot be a source: it is an evaluation-only dataset"):
        MergedTrainSet([market, sense], ['market1501', 'sensereid'], verbose=False)
    with pytest.raises(ValueError, match='evaluation-only'):
        combine_all(sense)
    make_mars(str(tmp_path))
    mars = init_vidreid_dataset('mars', root=str(tmp_path), verbose=False)
    with pytest.raises(ValueError, match="cannot merge image and video datasets"):
        MergedTrainSet([market, mars], ['market1501', 'mars'], verbose=False)


def test_combineall_market_drops_background_and_junk(market_and_duke, capsys):
    market, _ = market_and_duke
    combined = combine_all(market)
    # query pids 1, 3 and gallery pids 1, 3 share labels 3, 4; the two pid-0 gallery images stay out
    assert by_name(combined.train) == dict(by_name(market.train), **{
        '0001_c1s1_001051_00.jpg': (3, 0), '0001_c3s1_000951_00.jpg': (3, 2), '0003_c2s1_000301_00.jpg': (4, 1),
        '0001_c2s1_000301_01.jpg': (3, 1), '0001_c5s1_001176_02.jpg': (3, 4), '0003_c4s2_000226_01.jpg': (4, 3)})
    assert (combined.num_train_pids, len(combined.train)) == (5, 11)
    assert combined.query == market.query and combined.gallery == market.gallery
    assert (combined.num_added_pids, combined.num_added_items) == (2, 6)
    out = capsys.readouterr().out
    assert '=> Market1501 (combineall: train + query + gallery) loaded' in out
    assert '  train    |     5 |          11 |         6' in out
    assert '  total    |     5 |          11 |         6' in out


def test_combineall_duke_keeps_gallery_only_identities(market_and_duke):
    _, duke = market_and_duke
    combined = combine_all(duke, verbose=False)
    assert by_name(combined.train)['0009_c7_f0100000.jpg'] == (3, 6)  # a gallery-only person is a real identity
    assert by_name(combined.train)['0005_c2_f0046985.jpg'] == (2, 1)
    assert by_name(combined.train)['0005_c5_f0054324.jpg'] == (2, 4)
    assert (combined.num_train_pids, len(combined.train)) == (4, 6)


def test_combineall_msmt17_adds_list_val_with_train_labels(tmp_path):
    trees.build_msmt17(str(tmp_path))
    dataset = init_imgreid_dataset('msmt17', root=str(tmp_path), verbose=False)
    combined = combine_all(dataset, verbose=False)
    labels = by_name(combined.train)
    assert labels['0000_001_01_0303morning_0016_0.jpg'] == (0, 0)   # list_val, pid 0 -> train label 0
    assert labels['0001_001_11_0303noon_0009_0.jpg'] == (1, 10)     # list_val, pid 1 -> train label 1
    # test pid 0 (query and gallery alike) -> 2, test pid 1 -> 3: they are other people than train's 0 and 1
    assert labels['0000_000_02_0303morning_0035_1.jpg'] == (2, 1)
    assert labels['0000_001_07_0303morning_0040_0.jpg'] == (2, 6)
    assert labels['0001_002_09_0304morning_0005_0.jpg'] == (3, 8)
    assert (combined.num_train_pids, len(combined.train)) == (4, 3 + 2 + 2 + 3)
    # already in train with add_val_to_train: not added twice
    with_val = init_imgreid_dataset('msmt17', root=str(tmp_path), verbose=False, add_val_to_train=True)
    assert len(combine_all(with_val, verbose=False).train) == 10


def test_combineall_msmt17_needs_list_val(tmp_path):
    data_dir = trees.build_msmt17(str(tmp_path))
    os.remove(os.path.join(data_dir, 'list_val.txt'))
    dataset = init_imgreid_dataset('msmt17', root=str(tmp_path), verbose=False)
    with pytest.raises(FileNotFoundError, match='list_val.txt'):
        combine_all(dataset, verbose=False)


def test_combineall_grid_drops_the_unpaired_gallery_persons(tmp_path):
    trees.build_grid(str(tmp_path))
    dataset = init_imgreid_dataset('grid', root=str(tmp_path), verbose=False)  # split 0: train ids 1, 2
    combined = combine_all(dataset, verbose=False)
    labels = by_name(combined.train)
    assert {name: labels[name] for name in labels if name.startswith(('0003', '0004'))} == {
        '0003_3_25020_80_33_140.jpeg': (2, 2), '0004_8_25030_70_30_110.jpeg': (3, 7),
        '0003_6_25021_81_34_141.jpeg': (2, 5), '0004_7_25031_71_31_111.jpeg': (3, 6)}
    assert not any(name.startswith('0000') for name in labels)
    assert (combined.num_train_pids, len(combined.train)) == (4, 8)


def test_combineall_adds_a_shared_query_gallery_image_once(tmp_path):
    trees.build_prid450s(str(tmp_path), num_persons=6)
    dataset = init_imgreid_dataset('prid450s', root=str(tmp_path), verbose=False)
    assert dataset.query == dataset.gallery and len(dataset.query) == 6
    combined = combine_all(dataset, verbose=False)
    assert (combined.num_train_pids, len(combined.train)) == (6, 12)
    assert len({path for path, _, _ in combined.train}) == 12


def test_combineall_mars_drops_distractor_tracklets(tmp_path):
    make_mars(str(tmp_path))
    dataset = init_vidreid_dataset('mars', root=str(tmp_path), verbose=False)
    combined = combine_all(dataset, verbose=False)
    # query pids 2, 7 and gallery pids 2, 7 -> 2, 3; the pid-0 gallery tracklet stays out
    assert [(pid, camid, len(frames)) for frames, pid, camid in combined.train[3:]] == [
        (2, 0, 3), (3, 1, 1), (2, 3, 2), (3, 5, 5)]
    assert combined.is_video and 'tracklets' in combined.statistics_table()


def test_combined_sources_merge_after_combining(market_and_duke):
    market, duke = market_and_duke
    merged = MergedTrainSet([combine_all(market, verbose=False), combine_all(duke, verbose=False)],
                            ['market1501', 'dukemtmcreid'], verbose=False)
    assert (merged.num_train_pids, merged.num_train_items) == (5 + 4, 11 + 6)
    assert merged.pid_offsets == [0, 5]
    assert by_name(merged.train)['0009_c7_f0100000.jpg'] == (5 + 3, 6 + 6)
