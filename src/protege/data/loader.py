"""Batches made ahead of the optimiser: index sampling in order, frame decoding on worker threads.

`Prefetcher(make, indices)` yields `make(idx)` for each `idx` of `indices`, in order. The main thread
draws the indices (so a seeded generator gives the same batches, in the same order, as a plain loop), and
`workers` threads run `make` up to `depth` batches ahead, so a batch is usually ready when the training
step asks for it. With `workers=0` there are no threads: `make` runs inline, exactly the synchronous loop.

Threads rather than processes: the work is decoding camera frames (PNG/zlib in Pillow and zlib, video in
PyAV) and numpy/torch gathers, which release the GIL, and threads share the dataset's readers and memory
instead of copying them per process (see `benchmarks/vision_data.py` for the measured scaling).

What runs where: sampling indices on the main thread; gathering windows and decoding frames (uint8, raw)
on the workers; cropping, augmentation and normalisation in the policy's image encoder, inside the
training step (on the GPU when there is one). Nothing here knows what a batch is.

An exception raised in a worker is raised again, unchanged, in the main thread when its batch is asked
for. `close()` (also on exhaustion, on an error, and when used as a context manager) cancels the batches
not started and waits for those being made, so no thread outlives the loop.
"""

from __future__ import annotations

import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, Generic, Iterable, Iterator, TypeVar

from protege.errors import bad_input

T = TypeVar("T")


class Prefetcher(Generic[T]):
    """Iterator over `make(idx)` for `idx` in `indices`, made `depth` ahead on `workers` threads.

    wait_seconds: time the consumer spent blocked in `__next__` waiting for a batch (with `workers=0`, all
        of the time spent making batches, since that is then on the critical path).
    """

    def __init__(self, make: Callable[[Any], T], indices: Iterable[Any], workers: int = 2, depth: int = 4,
                 name: str = "protege-loader"):
        if workers < 0:
            raise bad_input("loader", "workers", "an integer >= 0 (0 = no threads)", str(workers))
        if depth < 1:
            raise bad_input("loader", "prefetch", "an integer >= 1", str(depth))
        self._make, self._indices = make, iter(indices)
        self.workers, self.depth = int(workers), int(depth)
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix=name) if self.workers else None
        self._pending: deque[Future] = deque()
        self._exhausted = self._closed = False
        self.wait_seconds = 0.0
        self.batches = 0

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._closed:
            raise StopIteration
        try:
            if self._pool is None:
                idx = next(self._indices)  # StopIteration ends the iteration
                start = time.perf_counter()
                out = self._make(idx)
                self.wait_seconds += time.perf_counter() - start
            else:
                self._fill()
                if not self._pending:
                    raise StopIteration
                future = self._pending.popleft()
                start = time.perf_counter()
                out = future.result()  # a worker's exception is raised here as it was raised there
                self.wait_seconds += time.perf_counter() - start
                self._fill()  # the next batch starts while the consumer works on this one
        except BaseException:
            self.close()
            raise
        self.batches += 1
        return out

    def _fill(self) -> None:
        while not self._exhausted and len(self._pending) < self.depth:
            try:
                idx = next(self._indices)  # on the main thread: the consumer's order and generator
            except StopIteration:
                self._exhausted = True
                break
            self._pending.append(self._pool.submit(self._make, idx))

    def close(self) -> None:
        """Stop: batches not started are dropped, those being made are waited for (no thread outlives
        this call). Idempotent."""
        if self._closed:
            return
        self._closed = True
        for f in self._pending:
            f.cancel()
        self._pending.clear()
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> "Prefetcher[T]":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:  # an abandoned iterator must not leave threads behind
        try:
            self.close()
        except Exception:
            pass
