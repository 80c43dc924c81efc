"""Executors run one function over many work items; stages never know which one runs them.

:class:`LocalExecutor` uses the current process or a pool of local processes. A cluster executor
(e.g. on Ray) only has to provide the same ordered ``map``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Protocol


class Executor(Protocol):
    """Anything with an ordered, lazily consumed ``map``."""

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]: ...


class LocalExecutor:
    """Run in this process (``workers=1``) or in ``workers`` processes, results in input order.

    At most ``2 × workers`` items are in flight, so a long input is never held in memory at once.
    """

    def __init__(self, workers: int = 1) -> None:
        if workers < 1:
            raise ValueError(f"workers must be ≥ 1, got {workers}")
        self.workers = workers

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """Yield ``fn(item)`` for each item, in order."""
        if self.workers == 1:
            yield from map(fn, items)
            return
        with ProcessPoolExecutor(max_workers=self.workers) as pool:
            pending: deque[Future] = deque()
            for item in items:
                pending.append(pool.submit(fn, item))
                if len(pending) >= 2 * self.workers:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
