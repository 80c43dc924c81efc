"""Run pipeline stages as Ray tasks: the same ordered ``map`` as the local executor, on a cluster.

Each item becomes one Ray task running the unchanged stage function, so the output is the one a
local run gives. A task whose worker dies (killed, out of memory, node lost) is re-run by Ray up to
``max_retries`` times; an error raised by the stage itself is not retried and reaches the caller.
Ray is imported only when this executor is made: it is the optional extra ``gonerd[ray]``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from gonerd.errors import ConfigError, GonerdError
from gonerd.pipeline.executor import ordered_window

# Ray would otherwise report usage statistics over the network; the pipeline never goes online.
QUIET_ENVIRONMENT = {"RAY_USAGE_STATS_ENABLED": "0"}


def import_ray() -> Any:
    """The ``ray`` module, or a one-line :class:`ConfigError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError("executor 'ray' needs Ray, which is not installed: pip install 'gonerd[ray]' "
                          "(or use --executor local)") from None
    return ray


def _apply(fn: Callable[[Any], Any], item: Any) -> Any:
    return fn(item)


class RayExecutor:
    """Ordered ``map`` over Ray tasks on the cluster at ``address`` (``None``: a new local cluster,
    ``"auto"``: the one ``ray start`` began on this machine).

    If Ray is already initialised in this process (a test, or ``gonerd build`` running its second
    stage) that connection is used. At most ``2 × cluster CPUs`` tasks are in flight.
    """

    def __init__(self, address: str | None = None, *, max_retries: int = 3) -> None:
        ray = import_ray()
        for key, value in QUIET_ENVIRONMENT.items():
            os.environ.setdefault(key, value)
        if not ray.is_initialized():
            try:
                ray.init(address=address, include_dashboard=False if address is None else None,
                         log_to_driver=False)
            except (ConnectionError, ValueError) as e:  # ValueError: a malformed address
                raise ConfigError(f"ray_address {address!r}: cannot connect to a Ray cluster ({e})") from None
        self.max_retries = max_retries
        self.window = 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
        self._ray = ray
        self._task = ray.remote(_apply).options(max_retries=max_retries, retry_exceptions=False)

    def map(self, fn: Callable[[Any], Any], items: Iterable[Any]) -> Iterator[Any]:
        """Yield ``fn(item)`` for each item, in input order, each computed by one Ray task."""
        fn_ref = self._ray.put(fn)
        yield from ordered_window(lambda item: self._task.remote(fn_ref, item), self._result, items, self.window)

    def _result(self, ref: Any) -> Any:
        try:
            return self._ray.get(ref)
        except self._ray.exceptions.RayTaskError as e:
            # a stage's own one-line error (bad input...) reaches the CLI as itself, not as a remote traceback
            if isinstance(e.cause, GonerdError):
                raise e.cause from None
            raise
