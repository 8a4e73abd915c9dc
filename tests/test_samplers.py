"""RandomIdentitySampler (P x K) and the plain shuffle sampler: exact structure, epoch length, seeding, sharding."""
from collections import Counter

import pytest

from torchreid.data.samplers import RandomIdentitySampler, build_train_sampler


def make_samples(images_per_pid):
    """Samples (path, pid, camid) with ``images_per_pid[pid]`` images for each pid, pids interleaved."""
    samples = []
    remaining = list(images_per_pid)
    while any(remaining):
        for pid, count in enumerate(remaining):
            if count:
                samples.append(('img_{}_{}.jpg'.format(pid, count), pid, count % 2))
                remaining[pid] -= 1
    return samples


# 13 identities with 1..20 images: some below K, some with several chunks, some with a remainder.
IMAGES_PER_PID = [1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 20]


def batches_of(indices, batch_size):
    assert len(indices) % batch_size == 0
    return [indices[i:i + batch_size] for i in range(0, len(indices), batch_size)]


@pytest.mark.parametrize('batch_size,num_instances', [(8, 4), (12, 4), (6, 2), (5, 1)])
def test_every_batch_is_p_distinct_pids_times_k(batch_size, num_instances):
    samples = make_samples(IMAGES_PER_PID)
    sampler = RandomIdentitySampler(samples, batch_size, num_instances, seed=3)
    for epoch in range(3):
        sampler.set_epoch(epoch)
        indices = list(sampler)
        assert len(indices) > 0
        for batch in batches_of(indices, batch_size):
            pid_counts = Counter(samples[i][1] for i in batch)
            assert len(pid_counts) == batch_size // num_instances
            assert set(pid_counts.values()) == {num_instances}


def test_len_is_the_real_epoch_length():
    samples = make_samples(IMAGES_PER_PID)
    sampler = RandomIdentitySampler(samples, batch_size=8, num_instances=4, seed=0)
    seed_estimate = sum(max(n, 4) // 4 * 4 for n in IMAGES_PER_PID)
    lengths = []
    for epoch in range(6):
        sampler.set_epoch(epoch)
        length = len(sampler)
        assert length == len(list(sampler))
        assert length % 8 == 0
        lengths.append(length)
    # 29 chunks of K=4 make at most 14 batches of P=2 (112 indices), fewer when the draws leave one identity with
    # several chunks at the end; the seed's fixed __len__ (116) overestimated every epoch.
    assert seed_estimate == 116
    assert max(lengths) == 112 and min(lengths) < 112


def test_hand_checked_two_identity_epoch():
    # pid 0 has 5 images -> 2 chunks of K=2 (one image dropped); pid 1 has 1 image -> resampled to [i, i], 1 chunk.
    # P=2: the first batch takes both pids, then pid 1 is exhausted and the epoch ends: 1 batch of 4 indices
    # (the seed's __len__ said 2*2 + 2 = 6).
    samples = [('a{}'.format(i), 0, 0) for i in range(5)] + [('b', 1, 0)]
    sampler = RandomIdentitySampler(samples, batch_size=4, num_instances=2, seed=7)
    indices = list(sampler)
    assert len(sampler) == 4 and len(indices) == 4
    by_pid = {}
    for i in indices:
        by_pid.setdefault(samples[i][1], []).append(i)
    assert by_pid[1] == [5, 5]
    assert len(set(by_pid[0])) == 2 and set(by_pid[0]) <= {0, 1, 2, 3, 4}


def test_no_image_repeats_within_an_epoch_for_identities_with_k_or_more():
    samples = make_samples(IMAGES_PER_PID)
    sampler = RandomIdentitySampler(samples, batch_size=8, num_instances=4, seed=1)
    counts = Counter(i for i in sampler if IMAGES_PER_PID[samples[i][1]] >= 4)
    assert max(counts.values()) == 1


def test_deterministic_per_seed_and_epoch():
    samples = make_samples(IMAGES_PER_PID)
    first = RandomIdentitySampler(samples, 8, 4, seed=5)
    second = RandomIdentitySampler(samples, 8, 4, seed=5)
    assert list(first) == list(second)
    first.set_epoch(1)
    second.set_epoch(1)
    epoch1 = list(first)
    assert epoch1 == list(second)
    first.set_epoch(0)
    assert list(first) != epoch1
    assert list(RandomIdentitySampler(samples, 8, 4, seed=6)) != list(RandomIdentitySampler(samples, 8, 4, seed=5))


@pytest.mark.parametrize('num_replicas', [2, 3])
def test_distributed_shards_are_disjoint_equal_whole_batches(num_replicas):
    samples = make_samples(IMAGES_PER_PID * 3)
    full = RandomIdentitySampler(samples, 8, 4, seed=2)
    full.set_epoch(4)
    all_batches = [tuple(batch) for batch in full.epoch_batches(4)]
    shards = []
    for rank in range(num_replicas):
        sampler = RandomIdentitySampler(samples, 8, 4, num_replicas=num_replicas, rank=rank, seed=2)
        sampler.set_epoch(4)
        indices = list(sampler)
        assert len(indices) == len(sampler)
        shards.append([tuple(batch) for batch in batches_of(indices, 8)])
    assert len({len(shard) for shard in shards}) == 1
    assert len(shards[0]) == len(all_batches) // num_replicas > 0
    seen = set()
    for shard in shards:
        for batch in shard:
            assert batch in all_batches
            pid_counts = Counter(samples[i][1] for i in batch)
            assert len(pid_counts) == 2 and set(pid_counts.values()) == {4}
            assert not seen & set(batch)
            seen |= set(batch)


def test_batch_size_must_be_a_multiple_of_num_instances():
    samples = make_samples(IMAGES_PER_PID)
    with pytest.raises(ValueError, match='--train-batch 30 is not divisible by --num-instances 4'):
        RandomIdentitySampler(samples, 30, 4)
    with pytest.raises(ValueError, match='--num-instances must be >= 1'):
        RandomIdentitySampler(samples, 30, 0)


def test_too_few_identities_for_one_batch():
    samples = make_samples([4, 4])
    with pytest.raises(ValueError, match='needs P=4 identities'):
        RandomIdentitySampler(samples, 16, 4)


def test_random_sampler_is_a_seeded_sharded_shuffle():
    samples = make_samples([3] * 7)  # 21 samples
    epoch_orders = []
    for epoch in range(2):
        shards = []
        for rank in range(2):
            sampler = build_train_sampler(samples, 'random', batch_size=4, seed=9, num_replicas=2, rank=rank)
            sampler.set_epoch(epoch)
            shards.append(list(sampler))
        again = build_train_sampler(samples, 'random', batch_size=4, seed=9, num_replicas=2, rank=0)
        again.set_epoch(epoch)
        assert list(again) == shards[0]
        assert len(shards[0]) == len(shards[1]) == 10
        assert not set(shards[0]) & set(shards[1])
        epoch_orders.append(shards[0])
    assert epoch_orders[0] != epoch_orders[1]
    single = build_train_sampler(samples, 'random', batch_size=4, seed=9)
    assert sorted(single) == list(range(21))


def test_unknown_sampler_name():
    with pytest.raises(ValueError, match="unknown train sampler 'pk'; valid samplers: random, identity"):
        build_train_sampler(make_samples([4, 4]), 'pk', batch_size=4)


def chunks_by_pid(sampler, samples, epoch):
    """{pid: set of frozensets of the K indices drawn together for it} in ``epoch``."""
    sampler.set_epoch(epoch)
    indices = list(sampler)
    chunks = {}
    for start in range(0, len(indices), sampler.num_instances):
        chunk = indices[start:start + sampler.num_instances]
        pids = {samples[i][1] for i in chunk}
        assert len(pids) == 1  # a batch is P runs of K images of one identity
        chunks.setdefault(pids.pop(), set()).add(frozenset(chunk))
    return chunks


def test_identities_are_reshuffled_between_epochs():
    # pid 0: 6 images -> one chunk of K=4 an epoch (2 dropped); pids 1-4: 12 images -> 3 chunks (5775 groupings)
    samples = make_samples([6] + [12] * 4)
    sampler = RandomIdentitySampler(samples, batch_size=8, num_instances=4, seed=4)
    epochs = [chunks_by_pid(sampler, samples, epoch) for epoch in range(6)]
    for pid in range(1, 5):
        seen = [epoch_chunks[pid] for epoch_chunks in epochs if pid in epoch_chunks]
        assert len(seen) >= 5
        # a new grouping of the identity's images every epoch (not only a new batch order)
        assert all(a != b for a, b in zip(seen, seen[1:]))
    # (an identity can miss an epoch: the last one left with chunks when fewer than P remain is not used)
    in_both = [pid for pid in range(1, 5) if pid in epochs[0] and pid in epochs[1]]
    assert len(in_both) >= 2 and all(epochs[0][pid] != epochs[1][pid] for pid in in_both)
    # the 6-image identity: a different 4 of its 6 images (15 choices) in most epochs
    assert len({frozenset(epoch_chunks[0]) for epoch_chunks in epochs if 0 in epoch_chunks}) >= 3


def test_every_image_of_an_identity_is_used_over_a_few_epochs():
    # 6 images and K=4: 2 images of each identity are dropped in every epoch, a different 2 each time
    images_per_pid = [6, 9, 5, 7, 6, 10]
    samples = make_samples(images_per_pid)
    sampler = RandomIdentitySampler(samples, batch_size=8, num_instances=4, seed=0)
    used_by_pid = {pid: set() for pid in range(len(images_per_pid))}
    first_epoch = chunks_by_pid(sampler, samples, 0)
    for epoch in range(10):
        for pid, chunks in chunks_by_pid(sampler, samples, epoch).items():
            for chunk in chunks:
                used_by_pid[pid] |= chunk
    for pid, count in enumerate(images_per_pid):
        expected = {i for i, sample in enumerate(samples) if sample[1] == pid}
        assert len(expected) == count
        assert used_by_pid[pid] == expected
        # one epoch uses at most floor(count / K) * K of them
        assert len(set().union(*first_epoch.get(pid, [frozenset()]))) <= count // 4 * 4


def test_identities_with_fewer_than_k_images_are_drawn_with_replacement():
    # pid 0 has 2 images and K=4: its chunk holds 4 draws from them, a different mix in different epochs
    # (tiling the images, [a, b, a, b], would always be 2 + 2)
    samples = make_samples([2, 8, 8, 8])
    sampler = RandomIdentitySampler(samples, batch_size=8, num_instances=4, seed=0)
    own = {i for i, sample in enumerate(samples) if sample[1] == 0}
    mixes = set()
    for epoch in range(12):
        for chunk in chunks_by_pid(sampler, samples, epoch).get(0, []):
            assert set(chunk) <= own
        sampler.set_epoch(epoch)
        counts = Counter(i for i in sampler if i in own)
        if counts:
            assert sum(counts.values()) == 4
            mixes.add(tuple(sorted(counts.values())))
    assert len(mixes) >= 2 and mixes <= {(4,), (1, 3), (2, 2)}
