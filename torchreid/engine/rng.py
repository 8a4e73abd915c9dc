"""Capture and restore every random number generator a run uses (python, numpy, torch CPU and CUDA).

The states are plain lists, ints and tensors, so a checkpoint holding them stays loadable with
``torch.load(weights_only=True)``. Saving them lets ``--resume`` continue the random stream exactly.
"""
import contextlib
import random

import numpy as np
import torch


def capture_rng_state():
    """Dict with the current state of every generator."""
    version, internal, gauss_next = random.getstate()
    kind, keys, pos, has_gauss, cached_gaussian = np.random.get_state()
    state = {
        'python': [version, list(internal), gauss_next],
        'numpy': [kind, keys.tolist(), int(pos), int(has_gauss), float(cached_gaussian)],
        'torch': torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state['cuda'] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state):
    """Inverse of :func:`capture_rng_state`. CUDA states are restored only when CUDA is in use."""
    version, internal, gauss_next = state['python']
    random.setstate((version, tuple(internal), gauss_next))
    kind, keys, pos, has_gauss, cached_gaussian = state['numpy']
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached_gaussian))
    torch.set_rng_state(state['torch'])
    if 'cuda' in state and torch.cuda.is_available():
        cuda_states = state['cuda'][:torch.cuda.device_count()]
        torch.cuda.set_rng_state_all(cuda_states)


@contextlib.contextmanager
def preserved_rng_state():
    """Run a block without disturbing any generator (evaluation must not shift the training stream)."""
    state = capture_rng_state()
    try:
        yield
    finally:
        restore_rng_state(state)
