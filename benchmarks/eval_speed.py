"""Evaluation speed and memory, side by side: our compiled kernel, our Python reference and the seed's algorithm.

    python benchmarks/eval_speed.py                  # Market-1501 and MSMT17 sizes
    python benchmarks/eval_speed.py --quick          # Market-1501 size only
    python benchmarks/eval_speed.py --sizes small    # a 1000 x 5000 sanity check (seconds)
    python benchmarks/eval_speed.py --features       # block-wise evaluation: peak memory vs gallery size
    python benchmarks/eval_speed.py --rerank         # re-ranking on a Market-size problem
    python benchmarks/eval_speed.py --distractors 500000   # Market-size + 500k distractors: block-wise vs matrix

Problems are generated: identities seen from a few cameras each, a feature per image (identity centre + camera
bias + noise, 64-d), squared Euclidean distances in float32 as the scripts compute them; Market-1501 size has the
real number of pid-0 distractors in its gallery (MSMT17 has none, as the real dataset). The noise levels give
metrics near the seed's ResNet-50 (Market-1501: Rank-1 ~0.92, mAP ~0.70; MSMT17: Rank-1 ~0.72, mAP ~0.34, with a
hardest true match often thousands of places down, which is the costly case for the one-pass kernel).

The yardstick ("classic") is benchmarks/classic_eval.pyx, the seed's compiled algorithm (argsort every row with
numpy's default sort, integer match matrix, cumulative sums; one thread), compiled here with pyximport. It sorts
the whole matrix at once like the seed when memory allows, otherwise blocks of rows (printed; same time, less
memory than the seed's Q x G x 16 bytes).

Peak memory is the process's peak resident memory during a call minus what was resident before it (Linux:
/proc/self/status VmHWM, reset through /proc/self/clear_refs), so the distance matrix itself is not counted.

``--distractors N`` (Market-1501-500k-like) adds N distractors to a Market-size problem with ``--dim``-d features
(512 by default, OSNet's) and evaluates it twice, each in a fresh process: block-wise from the features
(``evaluate_features``, no Q x G matrix, a progress bar when the console is a terminal), and the full-matrix path
(``compute_distance_matrix`` + ``evaluate_rank``) when its two Q x G float32 matrices (distances and the norm sum it
is built from) fit in the free memory. There, peak memory includes every matrix the method builds (the features
are not counted). Distractors are people outside the benchmark: a random identity centre each, seen by a random
camera, with the same noise as the benchmark's people.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from torchreid.metrics import compute_distance_matrix, evaluate_features, re_ranking  # noqa: E402
from torchreid.metrics import rank  # noqa: E402

SIZES = {  # name: (queries, gallery, identities, cameras, distractors, noise)
    'small': (1000, 5000, 300, 6, 500, 1.0),
    'market': (3368, 15913, 750, 6, 2798, 0.95),
    'msmt17': (11659, 82161, 3060, 15, 0, 1.1),
}


# ------------------------------------------------------------------------------------------------- measurement

def _status_kb(field):
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    return 0


def measure(fn):
    """(result, wall seconds, CPU seconds, peak MB beyond what was resident before the call)."""
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')  # reset the peak resident size
    except OSError:
        pass
    resident_before = _status_kb('VmRSS')
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = max(_status_kb('VmHWM') - resident_before, 0) / 1024.0
    return result, wall, cpu, peak


def available_memory_mb():
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('MemAvailable:'):
                return int(line.split()[1]) / 1024.0
    return 0.0


# ------------------------------------------------------------------------------------------------- problems

def generate_ids(num_q, num_g, num_ids, num_cams, num_distractors, rng):
    """pids/camids: each identity is seen from 2..min(6, cameras) cameras; queries and gallery from those."""
    cams_of_id = [rng.choice(num_cams, size=rng.integers(2, min(6, num_cams) + 1), replace=False)
                  for _ in range(num_ids)]
    q_pids = rng.integers(1, num_ids + 1, num_q)
    g_pids = np.concatenate([rng.integers(1, num_ids + 1, num_g - num_distractors),
                             np.zeros(num_distractors, dtype=np.int64)])
    q_camids = np.array([rng.choice(cams_of_id[p - 1]) for p in q_pids])
    g_camids = np.array([rng.choice(cams_of_id[p - 1]) if p > 0 else rng.integers(num_cams) for p in g_pids])
    return q_pids, g_pids, q_camids, g_camids


def generate_features(pids, camids, centres, camera_bias, noise, rng):
    features = centres[pids] + camera_bias[camids] + noise * rng.standard_normal((pids.size, centres.shape[1]))
    distractor = pids == 0
    features[distractor] = 1.3 * rng.standard_normal((int(distractor.sum()), centres.shape[1]))
    return torch.from_numpy(features.astype(np.float32))


def generate_problem(size, seed=0, dim=64):
    num_q, num_g, num_ids, num_cams, num_distractors, noise = SIZES[size]
    rng = np.random.default_rng(seed)
    ids = generate_ids(num_q, num_g, num_ids, num_cams, num_distractors, rng)
    centres = rng.standard_normal((num_ids + 1, dim))
    camera_bias = 0.3 * rng.standard_normal((num_cams, dim))
    qf = generate_features(ids[0], ids[2], centres, camera_bias, noise, rng)
    gf = generate_features(ids[1], ids[3], centres, camera_bias, noise, rng)
    distmat = compute_distance_matrix(qf, gf).numpy()
    return distmat, ids, (qf, gf)


DISTRACTOR_NOISE = 1.95  # at 512-d, the Market-size problem alone gives Rank-1 0.98, mAP 0.75


def person_features(pids, camids, centres, camera_bias, noise, rng):
    """(N, d) float32 features: identity centre + camera bias + noise; pid 0 is a person of its own (random centre)."""
    features = centres[pids] + camera_bias[camids] + noise * rng.standard_normal((pids.size, centres.shape[1]))
    other = pids == 0
    features[other] = (np.sqrt(1 + noise ** 2) * rng.standard_normal((int(other.sum()), centres.shape[1]))
                       + camera_bias[camids[other]])
    return torch.from_numpy(features.astype(np.float32))


def generate_distractor_problem(num_distractors, dim, seed=0, noise=DISTRACTOR_NOISE):
    """Market-size queries and gallery plus ``num_distractors`` pid-0 gallery items at the end:
    (query_features, gallery_features, (q_pids, g_pids, q_camids, g_camids)); float32 features, built in place."""
    num_q, num_g, num_ids, num_cams, num_market_distractors, _ = SIZES['market']
    rng = np.random.default_rng(seed)
    q_pids, g_pids, q_camids, g_camids = generate_ids(num_q, num_g, num_ids, num_cams, num_market_distractors, rng)
    centres = rng.standard_normal((num_ids + 1, dim))
    camera_bias = 0.3 * rng.standard_normal((num_cams, dim))
    query_features = person_features(q_pids, q_camids, centres, camera_bias, noise, rng)
    extra_camids = rng.integers(0, num_cams, num_distractors)
    gallery_features = torch.empty(num_g + num_distractors, dim)
    gallery_features[:num_g] = person_features(g_pids, g_camids, centres, camera_bias, noise, rng)
    generator = torch.Generator().manual_seed(seed)
    bias = torch.from_numpy(camera_bias.astype(np.float32))
    for start in range(0, num_distractors, 50000):  # in chunks: no float64 copy of the whole gallery
        cams = torch.from_numpy(extra_camids[start:start + 50000])
        chunk = gallery_features[num_g + start:num_g + start + cams.numel()]
        torch.randn(chunk.shape, generator=generator, out=chunk)
        chunk.mul_(float(np.sqrt(1 + noise ** 2))).add_(bias[cams])
    ids = (q_pids, np.concatenate([g_pids, np.zeros(num_distractors, dtype=np.int64)]), q_camids,
           np.concatenate([g_camids, extra_camids]))
    return query_features, gallery_features, ids


# ------------------------------------------------------------------------------------------------- methods

def load_classic_kernel():
    import pyximport
    pyximport.install(build_dir=os.path.join(tempfile.gettempdir(), 'torchreid_benchmark_pyxbld'),
                      setup_args={'include_dirs': np.get_include()}, language_level=3)
    sys.path.insert(0, HERE)
    import classic_eval
    return classic_eval


def ours_with_threads(distmat, ids, num_threads):
    """Our compiled path with a fixed number of threads (evaluate_rank uses the OpenMP default)."""
    args = rank.check_rank_inputs(distmat, *ids, 50)
    first_rank, ap, inp = rank.market1501_compiled(*args, num_threads=num_threads)
    return rank.summarize_first_ranks(first_rank, ap, inp, 50)


def print_row(name, wall, cpu, peak, cmc, mAP, mINP, width=44):
    print('{:<{}s} {:>8.3f} {:>8.3f} {:>10.1f}   {:.4f} {:.4f} {:.4f} {:.4f}'.format(
        name, width, wall, cpu, peak, cmc[0], cmc[4], mAP, mINP))


def run_size(size, classic, include_python):
    distmat, ids, _ = generate_problem(size)
    num_q, num_g = distmat.shape
    print('\n=== {} size: {} queries x {} gallery; float32 distance matrix {:.0f} MB ==='.format(
        size, num_q, num_g, distmat.nbytes / 2 ** 20))
    print('{:<44s} {:>8s} {:>8s} {:>10s}   {:6s} {:6s} {:6s} {:6s}'.format(
        'method', 'wall s', 'cpu s', 'peak MB', 'R1', 'R5', 'mAP', 'mINP'))
    results = {}
    ours, ours_wall, ours_cpu, peak = measure(lambda: rank.evaluate_rank(distmat, *ids, use_cython=True))
    print_row('ours, compiled ({} threads)'.format(rank.cython_eval.openmp_threads()), ours_wall, ours_cpu, peak,
              ours.cmc, ours.mAP, ours.mINP)
    one, _, one_cpu, peak = measure(lambda: ours_with_threads(distmat, ids, 1))
    print_row('ours, compiled (1 thread)', _, one_cpu, peak, one.cmc, one.mAP, one.mINP)
    results['ours, 1 thread'] = (one.cmc, one.mAP, one.mINP)
    if include_python:
        python, wall, cpu, peak = measure(lambda: rank.evaluate_rank(distmat, *ids, use_cython=False))
        print_row('ours, Python reference', wall, cpu, peak, python.cmc, python.mAP, python.mINP)
        results['Python reference'] = (python.cmc, python.mAP, python.mINP)
    seed_memory_mb = num_q * num_g * 16 / 2 ** 20
    whole = seed_memory_mb * 1.3 < available_memory_mb()
    label = 'classic full sort, whole matrix (as the seed)' if whole else 'classic full sort, 1000-row blocks'
    classic_result, classic_wall, classic_cpu, peak = measure(
        lambda: classic.classic_market1501(distmat, *ids, 50, rows_per_block=None if whole else 1000))
    print_row(label, classic_wall, classic_cpu, peak, *classic_result)
    results['classic'] = classic_result
    if not whole:
        print('  (the seed sorts the whole matrix at once: {:.0f} MB of Q x G int64 indices and matches; not '
              'enough free memory here)'.format(seed_memory_mb))
    print('speed-up of ours vs classic: {:.1f}x wall, {:.1f}x CPU time; single-threaded: {:.1f}x'.format(
        classic_wall / ours_wall, classic_cpu / ours_cpu, classic_cpu / one_cpu))
    for name, (cmc, mAP, mINP) in results.items():
        print('  max |difference| ours vs {:<18s} cmc {:.1e}  mAP {:.1e}  mINP {:.1e}'.format(
            name + ':', np.abs(ours.cmc - cmc).max(), abs(ours.mAP - mAP), abs(ours.mINP - mINP)))


def run_features():
    """evaluate_features: peak memory and time as the gallery grows (distractors added), 2000 queries."""
    print('\n=== block-wise evaluation from features: 2000 queries, 64-d, growing gallery (pid-0 distractors) ===')
    print('{:>10s} {:>8s} {:>8s} {:>10s} {:>16s}   {:6s} {:6s}'.format(
        'gallery', 'wall s', 'cpu s', 'peak MB', 'Q x G matrix MB', 'R1', 'mAP'))
    rng = np.random.default_rng(1)
    num_q, num_ids, num_cams = 2000, 500, 6
    q_pids, g_pids, q_camids, g_camids = generate_ids(num_q, 10000, num_ids, num_cams, 0, rng)
    centres = rng.standard_normal((num_ids + 1, 64))
    camera_bias = 0.3 * rng.standard_normal((num_cams, 64))
    qf = generate_features(q_pids, q_camids, centres, camera_bias, 1.0, rng)
    gf = generate_features(g_pids, g_camids, centres, camera_bias, 1.0, rng)
    for num_g in (10000, 40000, 160000):
        extra = num_g - 10000
        all_g_pids = np.concatenate([g_pids, np.zeros(extra, dtype=np.int64)])
        all_g_camids = np.concatenate([g_camids, rng.integers(0, num_cams, extra)])
        all_gf = torch.cat([gf, 1.3 * torch.randn(extra, 64, generator=torch.Generator().manual_seed(extra))])
        result, wall, cpu, peak = measure(lambda: evaluate_features(qf, all_gf, q_pids, all_g_pids, q_camids,
                                                                    all_g_camids))
        print('{:>10d} {:>8.2f} {:>8.2f} {:>10.1f} {:>16.0f}   {:.4f} {:.4f}'.format(
            num_g, wall, cpu, peak, num_q * num_g * 4 / 2 ** 20, result.cmc[0], result.mAP))
    print('(peak: tiles of 256 x 8192 distances on the device and on the CPU, 32 bytes per true match, a few '
          'int64 arrays of length G)')


def run_rerank():
    _, ids, (qf, gf) = generate_problem('market')
    q_g, q_q, g_g = (compute_distance_matrix(a, b).numpy() for a, b in ((qf, gf), (qf, qf), (gf, gf)))
    num_all = q_g.shape[0] + q_g.shape[1]
    print('\n=== re-ranking, Market-1501 size: inputs q-g {:.0f} MB, q-q {:.0f} MB, g-g {:.0f} MB ==='.format(
        q_g.nbytes / 2 ** 20, q_q.nbytes / 2 ** 20, g_g.nbytes / 2 ** 20))
    result, wall, cpu, peak = measure(lambda: re_ranking(q_g, q_q, g_g, k1=20, k2=6, lambda_value=0.3))
    before = rank.evaluate_rank(q_g, *ids)
    after = rank.evaluate_rank(result, *ids)
    print('re_ranking: {:.1f} s wall, {:.1f} s CPU, peak {:.0f} MB beyond the inputs (the result alone is {:.0f} MB)'
          .format(wall, cpu, peak, result.nbytes / 2 ** 20))
    print('a dense implementation holds N x N float32 distances, V and expanded V plus an N x N int64 argsort '
          '(N = {}): about {:.0f} MB'.format(num_all, num_all ** 2 * (4 * 3 + 8) / 2 ** 20))
    print('Rank-1 / mAP before: {:.4f} / {:.4f}; after: {:.4f} / {:.4f}'.format(
        before.cmc[0], before.mAP, after.cmc[0], after.mAP))


DISTRACTOR_CASES = ('block-wise', 'full matrix')


def distractor_case(case, num_distractors, dim):
    """One case of the distractor benchmark in this process; prints a JSON line with its figures."""
    query_features, gallery_features, ids = generate_distractor_problem(num_distractors, dim)
    if case == 'block-wise':
        run = lambda: evaluate_features(query_features, gallery_features, *ids,  # noqa: E731
                                        progress=sys.stderr.isatty())
    else:
        run = lambda: rank.evaluate_rank(compute_distance_matrix(query_features, gallery_features), *ids)  # noqa
    result, wall, cpu, peak = measure(run)
    print('RESULT ' + json.dumps({'wall': wall, 'cpu': cpu, 'peak_mb': peak, 'cmc': result.cmc[:20].tolist(),
                                  'mAP': result.mAP, 'mINP': result.mINP, 'all_AP': result.all_AP.tolist()}))


def run_distractors(num_distractors, dim):
    """Block-wise vs full matrix on a Market-size problem with ``num_distractors`` more gallery items, one fresh
    process per case (so each peak is its own)."""
    num_q, num_g = SIZES['market'][0], SIZES['market'][1] + num_distractors
    matrix_mb = num_q * num_g * 4 / 2 ** 20
    print('\n=== Market-size + {:,} distractors: {:,} queries x {:,} gallery, {}-d float32 features ({:.0f} MB); '
          'a Q x G float32 matrix is {:,.0f} MB ==='.format(num_distractors, num_q, num_g, dim,
                                                        (num_q + num_g) * dim * 4 / 2 ** 20, matrix_mb))
    print('{:<54s} {:>8s} {:>8s} {:>10s}   {:6s} {:6s} {:6s} {:6s}'.format(
        'method', 'wall s', 'cpu s', 'peak MB', 'R1', 'R5', 'mAP', 'mINP'))
    figures = {}
    for case in DISTRACTOR_CASES:
        needed_mb, free_mb = 2.2 * matrix_mb, available_memory_mb()
        if case == 'full matrix' and needed_mb > free_mb:
            print('{:<54s} needs about {:,.0f} MB, {:,.0f} MB free: not run'.format(case, needed_mb, free_mb))
            continue
        command = [sys.executable, os.path.abspath(__file__), '--distractors', str(num_distractors), '--dim',
                   str(dim), '--distractor-case', case]
        output = subprocess.run(command, stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout
        figures[case] = json.loads(output[output.rindex('RESULT ') + len('RESULT '):])
        row = figures[case]
        label = {'block-wise': 'block-wise from features (evaluate_features)',
                 'full matrix': 'full matrix (compute_distance_matrix + evaluate_rank)'}[case]
        print_row(label, row['wall'], row['cpu'], row['peak_mb'], row['cmc'], row['mAP'], row['mINP'], width=54)
    if len(figures) == 2:
        a, b = figures['block-wise'], figures['full matrix']
        print('  max |difference| block-wise vs full matrix: cmc {:.1e}  mAP {:.1e}  mINP {:.1e}  per-query AP {:.1e}'
              .format(np.abs(np.subtract(a['cmc'], b['cmc'])).max(), abs(a['mAP'] - b['mAP']),
                      abs(a['mINP'] - b['mINP']), np.abs(np.subtract(a['all_AP'], b['all_AP'])).max()))
        print('  block-wise uses {:.1f}x less peak memory, at {:.2f}x the wall time'.format(
            b['peak_mb'] / max(a['peak_mb'], 1e-9), a['wall'] / b['wall']))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--sizes', nargs='+', choices=sorted(SIZES), default=['market', 'msmt17'])
    parser.add_argument('--quick', action='store_true', help='Market-1501 size only')
    parser.add_argument('--no-python', action='store_true', help='skip the (slow) Python reference')
    parser.add_argument('--features', action='store_true', help='only the block-wise memory benchmark')
    parser.add_argument('--rerank', action='store_true', help='only the re-ranking benchmark')
    parser.add_argument('--distractors', type=int, default=None, metavar='N',
                        help='only the distractor benchmark: a Market-size problem with N more gallery distractors')
    parser.add_argument('--dim', type=int, default=512, help='feature dimension of the distractor benchmark')
    parser.add_argument('--distractor-case', choices=DISTRACTOR_CASES, default=None,
                        help='run one case of the distractor benchmark in this process (what --distractors starts)')
    args = parser.parse_args()
    if args.distractor_case is not None:
        if args.distractors is None:
            parser.error('--distractor-case needs --distractors')
        torch.set_num_threads(os.cpu_count())
        distractor_case(args.distractor_case, args.distractors, args.dim)
        return
    if not rank.CYTHON_AVAILABLE:
        sys.exit('eval_lib.cython_eval is not built: run `pip install -e .` or `cd eval_lib && make` first')
    print('{} CPU cores, OpenMP threads: {}, load average: {}'.format(
        os.cpu_count(), rank.cython_eval.openmp_threads(), ' '.join('{:.1f}'.format(x) for x in os.getloadavg())))
    torch.set_num_threads(os.cpu_count())
    if args.features:
        run_features()
        return
    if args.rerank:
        run_rerank()
        return
    if args.distractors is not None:
        if args.distractors < 0 or args.dim < 1:
            parser.error('--distractors must be >= 0 and --dim >= 1')
        run_distractors(args.distractors, args.dim)
        return
    classic = load_classic_kernel()
    rank.evaluate_rank(np.random.default_rng(0).random((10, 50)), np.arange(10) % 5, np.arange(50) % 5,
                       np.zeros(10, dtype=int), np.ones(50, dtype=int))  # warm-up (OpenMP threads)
    for size in (['market'] if args.quick else args.sizes):
        run_size(size, classic, include_python=not args.no_python)


if __name__ == '__main__':
    main()
