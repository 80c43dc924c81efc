"""Executors run one function over many work items; stages never know which one runs them.

:class:`LocalExecutor` uses the current process or a pool of local processes;
:class:`gonerd.pipeline.ray_executor.RayExecutor` runs the same functions as Ray tasks on a cluster.
Both provide the same ordered, lazily consumed ``map``, so a stage's output cannot depend on which
one ran it. :func:`make_executor` picks one from the ``executor`` setting.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Protocol

from gonerd.config import EXECUTORS
from gonerd.errors import ConfigError


class Executor(Protocol):
    """Anything with an ordered, lazily consumed ``map``."""

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """``fn`` of each of ``items``, yielded in input order."""
        ...


def ordered_window(submit: Callable[[Any], Any], result: Callable[[Any], Any], items: Iterable[Any],
                   window: int) -> Iterator[Any]:
    """Yield ``result(submit(item))`` for each item in input order, with at most ``window`` submitted
    and not yet yielded, so a long input is never held in memory at once."""
    pending: deque[Any] = deque()
    for item in items:
        pending.append(submit(item))
        if len(pending) >= window:
            yield result(pending.popleft())
    while pending:
        yield result(pending.popleft())


class LocalExecutor:
    """Run in this process (``workers=1``) or in ``workers`` processes, results in input order.

    At most ``2 × workers`` items are in flight.
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
            yield from ordered_window(lambda item: pool.submit(fn, item), Future.result, items, 2 * self.workers)


def make_executor(kind: str, workers: int = 1, ray_address: str | None = None) -> Executor:
    """The executor named by the ``executor`` setting: ``"local"`` (``workers`` processes) or ``"ray"``
    (a Ray cluster at ``ray_address``, or a new local one when ``None``)."""
    if kind == "local":
        return LocalExecutor(workers)
    if kind == "ray":
        from gonerd.pipeline.ray_executor import RayExecutor

        return RayExecutor(ray_address)
    raise ConfigError(f"executor: expected one of {', '.join(EXECUTORS)}, got {kind!r}")
