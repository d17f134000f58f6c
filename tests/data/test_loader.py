"""The prefetching loader: the synchronous loop's batches in its order, a bounded queue, a worker's error
raised in the consumer, and no thread left behind however the iteration ends."""

import threading
import time

import numpy as np
import pytest
import torch

from protege.data import Episode, EpisodeDataset
from protege.data.loader import Prefetcher
from protege.errors import ProtegeError


def _loader_threads(name="protege-loader"):
    return [t for t in threading.enumerate() if t.name.startswith(name)]


def _camera_data(n_obs=2):
    rng = np.random.default_rng(0)
    eps = [Episode(observations={"state": rng.normal(size=(T, 3)).astype(np.float32),
                                 "cam": rng.integers(0, 256, size=(T, 8, 8, 3), dtype=np.uint8)},
                   actions=rng.normal(size=(T, 2)).astype(np.float32)) for T in (12, 7, 20, 5)]
    return EpisodeDataset(eps, n_obs=n_obs, horizon=3)


def _draws(n, steps, seed, batch=16):
    g = torch.Generator().manual_seed(seed)
    return (torch.randint(n, (batch,), generator=g) for _ in range(steps))


def test_prefetched_batches_are_the_synchronous_ones_in_order():
    data = _camera_data()
    g = torch.Generator().manual_seed(7)
    sync = [data.batch(torch.randint(len(data), (16,), generator=g)) for _ in range(25)]
    for workers in (0, 1, 3):
        with Prefetcher(data.batch, _draws(len(data), 25, seed=7), workers=workers, depth=3) as loader:
            got = list(loader)
        assert len(got) == 25 and loader.batches == 25
        for a, b in zip(got, sync):
            assert a.obs.keys() == b.obs.keys()
            for k in a.obs:
                assert torch.equal(a.obs[k], b.obs[k])
            assert torch.equal(a.action, b.action) and torch.equal(a.action_pad, b.action_pad)
    assert not _loader_threads()


def test_the_queue_is_bounded():
    made = []

    def make(i):
        made.append(i)
        return i

    with Prefetcher(make, iter(range(100)), workers=2, depth=3) as loader:
        for consumed, _ in enumerate(loader, 1):
            time.sleep(0.002)
            assert len(made) <= consumed + 3  # at most `depth` batches beyond those handed out
            if consumed == 10:
                break
    assert len(made) <= 13


class Boom(RuntimeError):
    pass


def test_a_worker_exception_is_raised_unchanged_in_the_consumer_and_threads_end():
    def make(i):
        if i == 5:
            raise Boom(f"bad frame in batch {i}")
        return i

    loader = Prefetcher(make, iter(range(50)), workers=2, depth=4)
    got = []
    with pytest.raises(Boom, match="bad frame in batch 5"):
        for x in loader:
            got.append(x)
    assert got == [0, 1, 2, 3, 4]  # every batch before the failing one, in order
    assert not _loader_threads()
    assert list(loader) == []  # closed


def test_stopping_early_or_interrupting_leaves_no_thread_and_drops_pending_batches():
    started = []

    def slow(i):
        started.append(i)
        time.sleep(0.01)
        return np.zeros(1000)

    loader = Prefetcher(slow, iter(range(1000)), workers=2, depth=4)
    for i, _ in enumerate(loader):
        if i == 2:
            break
    loader.close()
    assert not _loader_threads() and len(started) <= 3 + 4
    assert not loader._pending  # nothing held after close

    with pytest.raises(KeyboardInterrupt):
        with Prefetcher(slow, iter(range(1000)), workers=2, depth=4) as loader:
            for i, _ in enumerate(loader):
                if i == 1:
                    raise KeyboardInterrupt
    assert not _loader_threads()


def test_no_threads_without_workers():
    before = threading.active_count()
    loader = Prefetcher(lambda i: i * 2, iter(range(5)), workers=0)
    assert [next(loader) for _ in range(3)] == [0, 2, 4] and threading.active_count() == before
    assert list(loader) == [6, 8]


def test_the_wait_is_measured():
    loader = Prefetcher(lambda i: time.sleep(0.01) or i, iter(range(5)), workers=0)
    list(loader)
    assert loader.wait_seconds >= 0.04  # inline: every batch is made on the critical path


def test_bad_settings_are_one_line_errors():
    with pytest.raises(ProtegeError, match="field 'workers': expected an integer >= 0"):
        Prefetcher(lambda i: i, [], workers=-1)
    with pytest.raises(ProtegeError, match="field 'prefetch': expected an integer >= 1"):
        Prefetcher(lambda i: i, [], depth=0)
