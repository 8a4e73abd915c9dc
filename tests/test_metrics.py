"""Rank metrics: the compiled kernel, the Python reference and a brute-force definition agree; seed reference cases;
CUHK03 protocol; mINP; bad input."""
import json
import os
import subprocess
import sys
import warnings
from collections import defaultdict

import numpy as np
import pytest
import torch

from torchreid import eval_metrics
from torchreid.metrics import rank
from torchreid.metrics.rank import RankResult, evaluate_rank

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLES = json.load(open(os.path.join(HERE, 'data', 'eval_examples.json')))


def test_compiled_kernel_is_built():
    # CI installs with `pip install -e .`, which builds eval_lib; a missing kernel must fail, not skip
    assert rank.CYTHON_AVAILABLE, 'eval_lib.cython_eval is not built: run `pip install -e .` or `cd eval_lib && make`'


def brute_force(distmat, q_pids, g_pids, q_camids, g_camids, max_rank):
    """The metric definitions, spelled out with Python lists: (cmc, mAP, mINP, all_AP, num_valid) or None."""
    cmc_sum = [0.0] * max_rank
    aps, inps, all_ap = [], [], []
    for q in range(len(q_pids)):
        ranked = sorted(range(len(g_pids)), key=lambda j: (distmat[q][j], j))
        ranked = [j for j in ranked if not (g_pids[j] == q_pids[q] and g_camids[j] == q_camids[q])]
        hits = [g_pids[j] == q_pids[q] for j in ranked]
        if not any(hits):
            all_ap.append(float('nan'))
            continue
        first = hits.index(True)
        for k in range(max_rank):
            cmc_sum[k] += 1.0 if first <= k else 0.0
        precisions, found = [], 0
        for position, hit in enumerate(hits):
            if hit:
                found += 1
                precisions.append(found / (position + 1))
        last = max(p for p, hit in enumerate(hits) if hit)
        aps.append(sum(precisions) / len(precisions))
        inps.append(found / (last + 1))
        all_ap.append(aps[-1])
    if not aps:
        return None
    return [c / len(aps) for c in cmc_sum], float(np.mean(aps)), float(np.mean(inps)), all_ap, len(aps)


def random_problem(rng, ties):
    num_q, num_g = int(rng.integers(1, 10)), int(rng.integers(1, 70))
    num_pids, num_cams = int(rng.integers(1, 7)), int(rng.integers(1, 4))
    if ties:
        distmat = rng.integers(0, 4, (num_q, num_g)).astype(np.float32)
    else:
        distmat = rng.random((num_q, num_g)).astype(rng.choice([np.float32, np.float64]))
    return (distmat, rng.integers(0, num_pids, num_q), rng.integers(0, num_pids, num_g),
            rng.integers(0, num_cams, num_q), rng.integers(0, num_cams, num_g))


def assert_same_result(result, expected):
    cmc, mAP, mINP, all_ap, num_valid = expected
    np.testing.assert_allclose(result.cmc, cmc, atol=1e-6)
    assert result.mAP == pytest.approx(mAP, abs=1e-9)
    assert result.mINP == pytest.approx(mINP, abs=1e-9)
    np.testing.assert_allclose(result.all_AP, all_ap, atol=1e-9)
    assert result.num_valid_queries == num_valid


@pytest.mark.parametrize('ties', [False, True])
def test_compiled_python_and_brute_force_agree_on_random_problems(ties):
    rng = np.random.default_rng(7 if ties else 3)
    checked = 0
    for _ in range(300):
        problem = random_problem(rng, ties)
        max_rank = int(rng.integers(1, 12))  # often larger than the gallery
        expected = brute_force(*[p.tolist() for p in problem], max_rank)
        for use_cython in (True, False):
            if expected is None:
                with pytest.raises(ValueError, match='no query has a true match'):
                    evaluate_rank(*problem, max_rank=max_rank, use_cython=use_cython)
            else:
                assert_same_result(evaluate_rank(*problem, max_rank=max_rank, use_cython=use_cython), expected)
        checked += expected is not None
    assert checked > 150


def test_many_matches_per_query_and_long_rows():
    # > 64 true matches (binary-search path of the kernel) and rows longer than the kernel's 32-item chunks
    rng = np.random.default_rng(11)
    num_g = 700
    g_pids, g_camids = rng.integers(0, 3, num_g), rng.integers(0, 4, num_g)
    q_pids, q_camids = rng.integers(0, 3, 6), rng.integers(0, 4, 6)
    distmat = np.round(rng.random((6, num_g)), 2).astype(np.float32)  # with ties
    expected = brute_force(distmat.tolist(), q_pids.tolist(), g_pids.tolist(), q_camids.tolist(),
                           g_camids.tolist(), 50)
    for use_cython in (True, False):
        assert_same_result(evaluate_rank(distmat, q_pids, g_pids, q_camids, g_camids, use_cython=use_cython),
                           expected)


def test_handmade_example_from_the_seed():
    case = EXAMPLES['cases'][0]
    args = (np.array(case['distmat'], dtype=np.float32), case['q_pids'], case['g_pids'], case['q_camids'],
            case['g_camids'])
    for use_cython in (True, False):
        result = evaluate_rank(*args, max_rank=case['max_rank'], use_cython=use_cython)
        np.testing.assert_allclose(result.cmc, case['python']['cmc'], atol=1e-7)
        assert result.mAP == pytest.approx(case['python']['mAP'], abs=1e-12)
        # by hand: query 1 has matches at ranks 3 and 5 (INP 2/5), query 2 at rank 2 (INP 1/2)
        assert result.mINP == pytest.approx((2 / 5 + 1 / 2) / 2)
        np.testing.assert_allclose(result.all_AP, [(1 / 3 + 2 / 5) / 2, 1 / 2])
        assert result.num_valid_queries == 2
    cmc, mAP = eval_metrics.evaluate(*args, max_rank=case['max_rank'])
    assert cmc.dtype == np.float32 and cmc.tolist() == pytest.approx(case['python']['cmc'])
    assert mAP == pytest.approx(case['cython']['mAP'], abs=1e-7)


def seed_random_case():
    rs = np.random.RandomState(0)
    distmat = rs.rand(30, 200).astype(np.float32)
    q_pids, g_pids = rs.randint(0, 20, 30), rs.randint(0, 20, 200)
    q_camids, g_camids = rs.randint(0, 3, 30), rs.randint(0, 3, 200)
    return distmat, q_pids, g_pids, q_camids, g_camids


def test_random_example_from_the_seed_market1501():
    expected = EXAMPLES['cases'][1]['python_market']
    for use_cython in (True, False):
        result = evaluate_rank(*seed_random_case(), max_rank=10, use_cython=use_cython)
        np.testing.assert_allclose(result.cmc, expected['cmc_first10'], atol=1e-7)
        assert result.mAP == pytest.approx(expected['mAP'], abs=1e-7)


def test_random_example_from_the_seed_cuhk03_reproduces_the_seed_stream():
    expected = EXAMPLES['cases'][1]['python_cuhk03_N100_np.random.seed(123)']
    for use_cython in (True, False):
        result = evaluate_rank(*seed_random_case(), max_rank=10, use_metric_cuhk03=True, use_cython=use_cython,
                               cuhk03_seed=123)
        np.testing.assert_allclose(result.cmc, expected['cmc_first10'], atol=1e-6)
        assert result.mAP == pytest.approx(expected['mAP'], abs=1e-9)
        assert result.mINP == result.mAP  # one true match per draw: INP = AP = 1 / rank


def seed_style_cuhk03(distmat, q_pids, g_pids, q_camids, g_camids, max_rank, num_repeats, random_state):
    """The seed's loop: a dict of each identity's ranks, one random_state.choice per identity and repeat."""
    cmc_sum, aps = np.zeros(max_rank), []
    for q in range(len(q_pids)):
        order = np.argsort(distmat[q], kind='stable')
        order = [j for j in order if not (g_pids[j] == q_pids[q] and g_camids[j] == q_camids[q])]
        if not any(g_pids[j] == q_pids[q] for j in order):
            continue
        ranks_of = defaultdict(list)
        for position, j in enumerate(order):
            ranks_of[g_pids[j]].append(position)
        ap = 0.0
        for _ in range(num_repeats):
            drawn = sorted((random_state.choice(ranks), pid) for pid, ranks in ranks_of.items())
            position = [pid for _, pid in drawn].index(q_pids[q])
            cmc_sum[position:] += 1.0 / num_repeats
            ap += 1.0 / (position + 1) / num_repeats
        aps.append(ap)
    return cmc_sum / len(aps), float(np.mean(aps))


def test_cuhk03_matches_the_seed_loop_and_repeats_with_a_seed():
    rng = np.random.default_rng(5)
    for trial in range(20):
        problem = random_problem(rng, ties=trial % 2 == 0)
        if brute_force(*[p.tolist() for p in problem], 1) is None:
            continue
        cmc, mAP = seed_style_cuhk03(*problem, 8, 13, np.random.RandomState(trial))
        for use_cython in (True, False):
            state = np.random.RandomState(trial)
            result = evaluate_rank(*problem, max_rank=8, use_metric_cuhk03=True, use_cython=use_cython,
                                   cuhk03_num_repeats=13, cuhk03_seed=state)
            np.testing.assert_allclose(result.cmc, cmc, atol=1e-6)
            assert result.mAP == pytest.approx(mAP, abs=1e-9)
            # a RandomState argument is advanced exactly as the seed's draws would advance it
            reference_state = np.random.RandomState(trial)
            seed_style_cuhk03(*problem, 8, 13, reference_state)
            assert state.randint(1 << 30) == reference_state.randint(1 << 30)
    first = evaluate_rank(*seed_random_case(), use_metric_cuhk03=True, cuhk03_seed=4)
    again = evaluate_rank(*seed_random_case(), use_metric_cuhk03=True, cuhk03_seed=4)
    other = evaluate_rank(*seed_random_case(), use_metric_cuhk03=True, cuhk03_seed=5)
    assert first.mAP == again.mAP and np.array_equal(first.cmc, again.cmc)
    assert first.mAP != other.mAP


def test_gallery_smaller_than_max_rank_pads_cmc_to_max_rank():
    distmat = np.array([[0.3, 0.1, 0.2]], dtype=np.float32)
    args = ([1], [2, 1, 1], [0], [1, 1, 0])
    for use_cython in (True, False):
        result = evaluate_rank(distmat, *args, max_rank=50, use_cython=use_cython)
        assert result.cmc.shape == (50,)
        # valid list: g1 (0.1, match), g0 (0.3); g2 dropped (same pid and camera)
        assert result.cmc[0] == 1.0 and np.all(result.cmc == 1.0)
        cuhk = evaluate_rank(distmat, *args, max_rank=50, use_metric_cuhk03=True, use_cython=use_cython)
        assert cuhk.cmc.shape == (50,) and cuhk.cmc[19] == 1.0
    cmc, _ = eval_metrics.evaluate(distmat, *args)
    assert [cmc[r - 1] for r in (1, 5, 10, 20)] == [1.0, 1.0, 1.0, 1.0]  # what the scripts print


def test_single_camera_queries_and_distractors():
    # one camera only: every same-pid item is dropped, so no query is valid
    distmat = np.array([[0.1, 0.2], [0.2, 0.1]])
    with pytest.raises(ValueError, match='no query has a true match'):
        evaluate_rank(distmat, [1, 2], [1, 2], [0, 0], [0, 0])
    # pid-0 distractors and same-camera items of other pids are ordinary non-matches
    distmat = np.array([[0.1, 0.2, 0.3, 0.4]])
    for use_cython in (True, False):
        result = evaluate_rank(distmat, [5], [0, 7, 5, 5], [0], [1, 0, 1, 0], max_rank=4, use_cython=use_cython)
        # valid ranked list: 0 (distractor), 7 (same camera, other pid), 5 (match); last item dropped
        assert result.cmc.tolist() == [0, 0, 1, 1]
        assert result.mAP == pytest.approx(1 / 3) and result.mINP == pytest.approx(1 / 3)


def test_queries_without_matches_are_skipped_and_marked_nan():
    distmat = np.array([[0.2, 0.1], [0.1, 0.2]], dtype=np.float32)
    for use_cython in (True, False):
        result = evaluate_rank(distmat, [1, 9], [1, 2], [0, 0], [1, 1], max_rank=2, use_cython=use_cython)
        assert result.num_valid_queries == 1
        assert result.all_AP[0] == pytest.approx(0.5) and np.isnan(result.all_AP[1])
        assert result.cmc.tolist() == [0.0, 1.0]


def test_mINP_rewards_finding_the_hardest_match():
    # same AP ordering, different position of the last match
    easy = evaluate_rank(np.array([[0.1, 0.2, 0.3, 0.4]]), [1], [1, 1, 2, 2], [0], [1, 1, 1, 1])
    hard = evaluate_rank(np.array([[0.1, 0.3, 0.2, 0.4]]), [1], [1, 1, 2, 2], [0], [1, 1, 1, 1])
    assert easy.mINP == 1.0
    assert hard.mINP == pytest.approx(2 / 3)


def test_ties_are_broken_by_gallery_index():
    # equal distances: the lower gallery index ranks first, whatever the path
    for use_cython in (True, False):
        first = evaluate_rank(np.zeros((1, 2)), [1], [1, 2], [0], [1, 1], max_rank=2, use_cython=use_cython)
        second = evaluate_rank(np.zeros((1, 2)), [1], [2, 1], [0], [1, 1], max_rank=2, use_cython=use_cython)
        assert (first.mAP, second.mAP) == (1.0, 0.5)


def test_accepts_torch_float64_and_integer_inputs():
    distmat = np.random.default_rng(0).random((4, 9))
    ids = (np.array([0, 1, 2, 0]), np.arange(9) % 3, np.zeros(4, dtype=int), np.ones(9, dtype=np.int32))
    reference = evaluate_rank(distmat, *ids)
    from_torch = evaluate_rank(torch.from_numpy(distmat), *[torch.from_numpy(np.asarray(i)) for i in ids])
    from_float32 = evaluate_rank(distmat.astype(np.float32), *[list(i) for i in ids])
    from_ints = evaluate_rank((distmat * 1000).astype(np.int64), *ids)
    for other in (from_torch, from_float32, from_ints):
        assert other.mAP == pytest.approx(reference.mAP) and np.array_equal(other.cmc, reference.cmc)
    assert isinstance(reference, RankResult) and reference.cmc.dtype == np.float32


@pytest.mark.parametrize('use_cython', [True, False])
@pytest.mark.parametrize('bad_value', [np.nan, np.inf, -np.inf])
def test_nonfinite_distances_raise(use_cython, bad_value):
    distmat = np.random.default_rng(0).random((3, 40)).astype(np.float32)
    distmat[2, 37] = bad_value
    args = ([0, 1, 2], np.arange(40) % 3, [0, 0, 0], np.ones(40, dtype=int))
    with pytest.raises(ValueError, match='NaN or infinite.*row 2'):
        evaluate_rank(distmat, *args, use_cython=use_cython)
    with pytest.raises(ValueError, match='NaN or infinite'):
        evaluate_rank(distmat, *args, use_cython=use_cython, use_metric_cuhk03=True)


@pytest.mark.parametrize('use_cython', [True, False])
def test_bad_shapes_and_empty_sets_raise(use_cython):
    distmat = np.zeros((2, 3))
    good = ([0, 1], [0, 1, 1], [0, 0], [1, 1, 1])
    cases = [
        ((np.zeros(3),) + good, 'must be a 2-D'),
        ((distmat, [0], [0, 1, 1], [0, 0], [1, 1, 1]), 'q_pids has 1 entries'),
        ((distmat, [0, 1], [0, 1], [0, 0], [1, 1, 1]), 'g_pids has 2 entries'),
        ((distmat, [0, 1], [0, 1, 1], [0, 0, 0], [1, 1, 1]), 'q_camids has 3 entries'),
        ((distmat, [0, 1], [0, 1, 1], [0, 0], [1, 1]), 'g_camids has 2 entries'),
        ((np.zeros((0, 3)), [], [0, 1, 1], [], [1, 1, 1]), 'query set is empty'),
        ((np.zeros((2, 0)), [0, 1], [], [0, 0], []), 'gallery is empty'),
        ((distmat, [0.5, 1.0], [0, 1, 1], [0, 0], [1, 1, 1]), 'must hold integers'),
    ]
    for args, message in cases:
        with pytest.raises(ValueError, match=message):
            evaluate_rank(*args, use_cython=use_cython)
    with pytest.raises(ValueError, match='max_rank'):
        evaluate_rank(distmat, *good, max_rank=0, use_cython=use_cython)
    with pytest.raises(ValueError, match='cuhk03_seed'):
        evaluate_rank(distmat, *good, use_metric_cuhk03=True, cuhk03_seed=np.random.default_rng(0))


def test_missing_kernel_warns_once_and_falls_back(monkeypatch):
    monkeypatch.setattr(rank, 'cython_eval', None)
    monkeypatch.setattr(rank, '_missing_kernel_warned', False)
    args = (np.array([[0.1, 0.2]]), [1], [1, 2], [0], [1, 1])
    with pytest.warns(RuntimeWarning, match='not built'):
        assert evaluate_rank(*args).mAP == 1.0
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        assert evaluate_rank(*args).mAP == 1.0  # no second warning
        assert evaluate_rank(*args, use_cython=False).mAP == 1.0


def test_importing_metrics_prints_nothing():
    code = 'import warnings; warnings.simplefilter("error"); import torchreid.metrics, torchreid.eval_metrics'
    completed = subprocess.run([sys.executable, '-c', code], cwd=os.path.dirname(HERE), capture_output=True,
                               text=True, check=True)
    assert completed.stdout == '' and completed.stderr == ''


def test_distance_matrix_of_mixed_dtypes_is_computed_in_the_first_inputs_dtype():
    from torchreid.metrics import compute_distance_matrix
    qf = torch.tensor([[1.0, 0.0], [3.0, 4.0]])  # float32
    gf = np.array([[0.0, 2.0], [3.0, 4.0]])  # float64 numpy
    for metric, expected in (('euclidean', [[5.0, 20.0], [13.0, 0.0]]), ('cosine', [[1.0, 0.4], [0.2, 0.0]])):
        distmat = compute_distance_matrix(qf, gf, metric=metric)
        assert distmat.dtype == torch.float32
        assert torch.allclose(distmat, torch.tensor(expected), atol=1e-6)
    half = compute_distance_matrix(qf.half(), torch.from_numpy(gf))  # float16 features are computed in float32
    assert half.dtype == torch.float32 and torch.allclose(half, torch.tensor([[5.0, 20.0], [13.0, 0.0]]))
    ints = compute_distance_matrix(torch.tensor([[1, 0]]), torch.tensor([[0, 2]]))
    assert ints.dtype == torch.float32 and ints.tolist() == [[5.0]]


@pytest.mark.parametrize('use_metric_cuhk03', [False, True])
def test_use_cython_picks_the_compiled_kernel_or_the_python_reference(monkeypatch, use_metric_cuhk03):
    # both paths give the same numbers, so only a spy tells which one ran
    calls = []
    for name in ('market1501_python', 'market1501_compiled', 'cuhk03_python', 'cuhk03_compiled'):
        def spy(*args, _name=name, _function=getattr(rank, name)):
            calls.append(_name)
            return _function(*args)
        monkeypatch.setattr(rank, name, spy)
    protocol = 'cuhk03' if use_metric_cuhk03 else 'market1501'
    args = (np.array([[0.1, 0.2]]), [1], [1, 2], [0], [1, 1])
    for use_cython, path in ((True, 'compiled'), (False, 'python')):
        calls.clear()
        result = evaluate_rank(*args, use_metric_cuhk03=use_metric_cuhk03, use_cython=use_cython)
        assert calls == ['{}_{}'.format(protocol, path)]
        assert result.mAP == 1.0
