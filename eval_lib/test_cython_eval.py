"""Checks the compiled evaluator against the Python reference and prints the speed-up (the seed's workflow).

    cd eval_lib && make && python test_cython_eval.py

Exits with an error if the module is not built or if the two disagree (beyond 1e-6).
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # the repository root

try:
    from eval_lib import cython_eval  # noqa: F401 - checks that the module is built
except ImportError:
    print("Error: cython_eval.pyx not compiled, please do 'make' before running 'python test_cython_eval.py'. exit")
    sys.exit(1)

from torchreid.metrics.rank import evaluate_rank  # noqa: E402


def random_problem(num_q, num_g, num_pids, num_cams, seed):
    rng = np.random.RandomState(seed)
    distmat = (rng.rand(num_q, num_g) * 20).astype(np.float32)
    return (distmat, rng.randint(0, num_pids, num_q), rng.randint(0, num_pids, num_g),
            rng.randint(0, num_cams, num_q), rng.randint(0, num_cams, num_g))


def timed(problem, max_rank, use_cython, use_metric_cuhk03):
    start = time.time()
    result = evaluate_rank(*problem, max_rank=max_rank, use_cython=use_cython, use_metric_cuhk03=use_metric_cuhk03,
                           cuhk03_seed=0)
    return result, time.time() - start


def compare(name, problem, max_rank, use_metric_cuhk03=False):
    print('==== {} ===='.format(name))
    times = {}
    results = {}
    for label, use_cython in (('Cython', True), ('Python', False)):
        results[label], times[label] = timed(problem, max_rank, use_cython, use_metric_cuhk03)
        result = results[label]
        print('=> {} evaluation'.format(label))
        print('consume time {:.5f} \n mAP is {} \n mINP is {} \n cmc (ranks 1-10) is {}'.format(
            times[label], result.mAP, result.mINP, result.cmc[:10]))
    compiled, python = results['Cython'], results['Python']
    assert np.allclose(compiled.cmc, python.cmc, atol=1e-6), 'CMC differs'
    assert abs(compiled.mAP - python.mAP) <= 1e-6, 'mAP differs'
    assert abs(compiled.mINP - python.mINP) <= 1e-6, 'mINP differs'
    assert compiled.num_valid_queries == python.num_valid_queries, 'number of valid queries differs'
    print('=> Results agree. Conclusion: cython is {:.2f}x faster than python\n'.format(
        times['Python'] / max(times['Cython'], 1e-9)))


if __name__ == '__main__':
    timed(random_problem(10, 50, 5, 2, 0), 5, True, False)  # warm-up: starts the OpenMP threads
    # the seed's random problem (100 x 1000, ids 0..99 / 0..999, 5 cameras, max_rank 10), seeded here
    compare('market1501 protocol, seed problem 100 x 1000', random_problem(100, 1000, 1000, 5, 0), 10)
    compare('market1501 protocol, 1000 x 10000', random_problem(1000, 10000, 500, 6, 1), 50)
    compare('cuhk03 single-gallery-shot, 100 x 1000', random_problem(100, 1000, 100, 2, 2), 10,
            use_metric_cuhk03=True)
