"""Shared test settings."""
import pytest
import torch


@pytest.fixture(autouse=True, scope='session')
def one_intra_op_thread():
    """One intra-op torch thread for the whole suite: the tests' batches are tiny, and on a small or shared CPU extra
    threads mostly wait on each other (measured: several times slower with two threads under load)."""
    num_threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(num_threads)
