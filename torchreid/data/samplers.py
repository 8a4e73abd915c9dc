"""Training samplers: P x K identity sampling (for the triplet loss) and plain shuffling, both deterministic per
(seed, epoch) and shardable across distributed ranks."""
from collections import OrderedDict

import numpy as np
from torch.utils.data import DistributedSampler, Sampler

TRAIN_SAMPLERS = ('random', 'identity')


def check_pk_batch(batch_size, num_instances):
    """Raise ValueError unless a batch of ``batch_size`` splits into identities of ``num_instances`` images."""
    if num_instances < 1:
        raise ValueError('--num-instances must be >= 1, got {}'.format(num_instances))
    if batch_size < num_instances or batch_size % num_instances != 0:
        lower = max(num_instances, batch_size - batch_size % num_instances)
        raise ValueError(
            '--train-batch {} is not divisible by --num-instances {}: a batch holds P identities x K={} images '
            'each (e.g. use --train-batch {} or {})'.format(
                batch_size, num_instances, num_instances, lower, lower + num_instances))


class RandomIdentitySampler(Sampler):
    """P x K sampling: every batch holds P = batch_size // K distinct identities with K = num_instances images each.

    An epoch follows the seed (SPEC 10): each identity's indices are shuffled (drawn with replacement up to K if it
    has fewer than K), cut into chunks of K, and the remainder dropped; then, while at least P identities still
    have chunks, P distinct identities are drawn and one chunk of each is appended. Unlike the seed, the draws
    come from a generator seeded by (seed, epoch) -- call :meth:`set_epoch` before each epoch -- and ``len()`` is
    the exact number of indices the epoch yields (the seed's was an overestimate).

    With ``num_replicas > 1`` the epoch's batches are dealt round-robin to the ranks and truncated to an equal
    count, so each rank gets disjoint whole P x K batches of ``batch_size`` (the per-rank batch size).

    Args:
        data_source (list): samples ``(path, pid, camid)``; only the pid is used.
        batch_size (int): images per batch (per rank), a multiple of num_instances.
        num_instances (int): K, images per identity in a batch.
        num_replicas (int): number of distributed ranks sharing the epoch.
        rank (int): this rank, in [0, num_replicas).
        seed (int): base seed of the shuffling.
    """

    def __init__(self, data_source, batch_size, num_instances, num_replicas=1, rank=0, seed=0):
        check_pk_batch(batch_size, num_instances)
        if not 0 <= rank < num_replicas:
            raise ValueError('rank must be in [0, num_replicas={}), got {}'.format(num_replicas, rank))
        self.batch_size = batch_size
        self.num_instances = num_instances
        self.num_pids_per_batch = batch_size // num_instances
        self.num_replicas = num_replicas
        self.rank = rank
        self.seed = seed
        self.epoch = 0
        self.indices_by_pid = OrderedDict()
        for index, (_, pid, _) in enumerate(data_source):
            self.indices_by_pid.setdefault(pid, []).append(index)
        self.pids = list(self.indices_by_pid)
        if len(self.pids) < self.num_pids_per_batch:
            raise ValueError(
                'a P x K batch needs P={} identities (--train-batch {} / --num-instances {}) but the data has only {}'
                .format(self.num_pids_per_batch, batch_size, num_instances, len(self.pids)))
        self._cached_epoch = None
        self._cached_indices = None

    def set_epoch(self, epoch):
        """Select the epoch whose shuffle the next ``iter()`` and ``len()`` use."""
        self.epoch = epoch

    def epoch_batches(self, epoch):
        """All P x K batches of ``epoch`` before sharding: a list of lists of ``batch_size`` dataset indices."""
        rng = np.random.default_rng([self.seed, epoch])
        chunks_by_pid = {}
        for pid in self.pids:
            indices = np.asarray(self.indices_by_pid[pid])
            if len(indices) < self.num_instances:
                indices = rng.choice(indices, size=self.num_instances, replace=True)
            indices = rng.permutation(indices)
            num_chunks = len(indices) // self.num_instances
            chunks_by_pid[pid] = [indices[i * self.num_instances:(i + 1) * self.num_instances].tolist()
                                  for i in range(num_chunks)]
        available_pids = list(self.pids)
        batches = []
        while len(available_pids) >= self.num_pids_per_batch:
            chosen = rng.choice(len(available_pids), size=self.num_pids_per_batch, replace=False)
            selected_pids = [available_pids[i] for i in chosen]
            batch = []
            for pid in selected_pids:
                batch.extend(chunks_by_pid[pid].pop())
                if not chunks_by_pid[pid]:
                    available_pids.remove(pid)
            batches.append(batch)
        return batches

    def _indices(self):
        if self._cached_epoch != self.epoch:
            batches = self.epoch_batches(self.epoch)
            num_batches_per_rank = len(batches) // self.num_replicas
            my_batches = batches[self.rank::self.num_replicas][:num_batches_per_rank]
            self._cached_indices = [index for batch in my_batches for index in batch]
            self._cached_epoch = self.epoch
        return self._cached_indices

    def __iter__(self):
        return iter(self._indices())

    def __len__(self):
        return len(self._indices())


def build_train_sampler(samples, sampler, batch_size, num_instances=4, seed=0, num_replicas=1, rank=0):
    """The training sampler by name.

    'random': a shuffle of all samples (torch DistributedSampler: seeded by seed + epoch, sharded across ranks,
    the tail that does not split evenly dropped). 'identity': :class:`RandomIdentitySampler` (P x K).
    Both have ``set_epoch(epoch)``.
    """
    if sampler == 'random':
        return DistributedSampler(samples, num_replicas=num_replicas, rank=rank, shuffle=True, seed=seed,
                                  drop_last=True)
    if sampler == 'identity':
        return RandomIdentitySampler(samples, batch_size, num_instances, num_replicas=num_replicas, rank=rank,
                                     seed=seed)
    raise ValueError("unknown train sampler '{}'; valid samplers: {}".format(sampler, ', '.join(TRAIN_SAMPLERS)))
