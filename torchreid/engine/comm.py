"""The few distributed helpers the engine needs: rank, world size, barrier, gather, and torchrun start-up.

Every function also works in a plain single-process run (rank 0 of 1), so callers never test for DDP themselves.
"""
import os
from collections import namedtuple

import torch
import torch.distributed as dist

DistInfo = namedtuple('DistInfo', ['distributed', 'rank', 'world_size', 'local_rank', 'local_world_size'])


def is_distributed():
    return dist.is_available() and dist.is_initialized()


def get_world_size():
    return dist.get_world_size() if is_distributed() else 1


def get_rank():
    return dist.get_rank() if is_distributed() else 0


def is_main_process():
    return get_rank() == 0


def synchronize():
    """Barrier across all processes (no-op when not distributed)."""
    if is_distributed() and get_world_size() > 1:
        dist.barrier()


def all_gather_object(obj):
    """List of ``obj`` from every rank, in rank order (``[obj]`` when not distributed). Any picklable object."""
    if not is_distributed():
        return [obj]
    gathered = [None] * get_world_size()
    dist.all_gather_object(gathered, obj)
    return gathered


def broadcast_object(obj, src=0):
    """``obj`` as held by rank ``src``, on every rank."""
    if not is_distributed():
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=src)
    return holder[0]


def broadcast_buffers(module, src=0):
    """Copy ``module``'s buffers (e.g. BatchNorm running statistics, which each process updates on its own batches)
    from rank ``src`` to every process, so all processes evaluate the same model as the one rank 0 saves."""
    if not is_distributed():
        return
    for buffer in module.buffers():
        dist.broadcast(buffer, src=src)


def torchrun_env():
    """The process layout torchrun (or any launcher that sets RANK/WORLD_SIZE/LOCAL_RANK) describes.

    Returns a :class:`DistInfo`; ``distributed`` is False when WORLD_SIZE is missing or 1.
    """
    world_size = int(os.environ.get('WORLD_SIZE', '1'))
    if 'RANK' not in os.environ or world_size < 2:
        return DistInfo(False, 0, 1, 0, 1)
    local_world_size = int(os.environ.get('LOCAL_WORLD_SIZE', str(world_size)))
    return DistInfo(True, int(os.environ['RANK']), world_size, int(os.environ.get('LOCAL_RANK', '0')),
                    local_world_size)


def init_distributed_mode(use_cuda):
    """Join the process group described by torchrun's environment (nccl on CUDA, gloo on CPU).

    Call after CUDA_VISIBLE_DEVICES is final. Each process uses the GPU of its LOCAL_RANK. Returns the
    :class:`DistInfo` (``distributed=False`` and nothing done when not started by torchrun).
    """
    info = torchrun_env()
    if not info.distributed or is_distributed():
        return info
    if use_cuda:
        if info.local_rank >= torch.cuda.device_count():
            raise RuntimeError(
                'torchrun started {} processes on this machine but only {} GPU(s) are visible; list enough '
                'devices with --gpu-devices (e.g. 0,1,2,3) or pass --use-avai-gpus'.format(
                    info.local_world_size, torch.cuda.device_count()))
        torch.cuda.set_device(info.local_rank)
    dist.init_process_group(backend='nccl' if use_cuda else 'gloo', init_method='env://',
                            world_size=info.world_size, rank=info.rank)
    return info


def cleanup():
    """Leave the process group (no-op when not distributed)."""
    if is_distributed():
        dist.destroy_process_group()
