"""Upload a built dataset directory to the Hugging Face Hub (parquet shards, card, figure, tables).

The Hub card is never silently replaced: when the repo already has a ``README.md`` whose
hand-written parts (see :func:`gonerd.card.hand_written`) differ from the local card, the push
stops, unless ``overwrite_card`` is set, and leaves a merged proposal next to the local card.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gonerd.card import hand_written, merge_card
from gonerd.dataset import DATA_DIR
from gonerd.errors import ConfigError, GonerdError, InputError

if TYPE_CHECKING:
    from huggingface_hub import HfApi

DEFAULT_ENDPOINT = "https://huggingface.co"
# Seconds. A Hub that accepts the connection but never answers would otherwise hang the push forever
# (huggingface_hub's client has no timeout); a commit of many shards can take the Hub tens of seconds.
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 60.0
CONNECT_TIMEOUT_ENV = "GONERD_HUB_CONNECT_TIMEOUT"
READ_TIMEOUT_ENV = "GONERD_HUB_TIMEOUT"
EXTRA_FILES = ("stats/figure1.png", "stats/stats.json", "stats/stats.md")
MERGED_CARD = "README.merged.md"


@dataclass(frozen=True)
class UploadItem:
    """One file to upload: where it goes in the repo, where it is locally, its size in bytes."""

    path_in_repo: str
    local_path: Path
    size: int


def plan_upload(dataset_dir: str | Path) -> list[UploadItem]:
    """The files a push sends: ``README.md``, ``data/*.parquet`` and the statistics files present."""
    root = Path(dataset_dir)
    card = root / "README.md"
    shards = sorted((root / DATA_DIR).glob("*.parquet"))
    if not card.is_file():
        raise InputError("no README.md card (run `gonerd build` first)", str(root))
    if not shards:
        raise InputError(f"no parquet shards under {DATA_DIR}/ (run `gonerd build` first)", str(root))
    paths = [card, *shards] + [root / p for p in EXTRA_FILES if (root / p).is_file()]
    return [UploadItem(p.relative_to(root).as_posix(), p, p.stat().st_size) for p in paths]


def check_repo_id(repo_id: str) -> None:
    """Raise :class:`InputError` unless ``repo_id`` is ``OWNER/NAME``."""
    if repo_id.count("/") != 1 or not all(repo_id.split("/")):
        raise InputError(f"repo id must be OWNER/NAME, got {repo_id!r}", field="repo_id")


def resolve_endpoint(endpoint: str | None) -> str:
    """``endpoint``, else ``HF_ENDPOINT`` from the environment, else the public Hub."""
    return (endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


@dataclass(frozen=True)
class HubTimeouts:
    """Seconds to wait for a connection to the Hub, and for each answer (read) once connected."""

    connect: float
    read: float


def _seconds(value: float | str | None, env: str, default: float, name: str) -> float:
    raw = value if value is not None else os.environ.get(env) or default
    try:
        seconds = float(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected a number of seconds, got {raw!r}") from None
    if not (seconds > 0 and math.isfinite(seconds)):
        raise ConfigError(f"{name}: must be a positive number of seconds, got {raw!r}")
    return seconds


def resolve_timeouts(connect: float | None = None, read: float | None = None) -> HubTimeouts:
    """Timeouts from the arguments, else ``GONERD_HUB_CONNECT_TIMEOUT`` / ``GONERD_HUB_TIMEOUT``, else the
    defaults (10 s / 60 s); a value that is not a positive number is a :class:`ConfigError` naming it."""
    return HubTimeouts(
        connect=_seconds(connect, CONNECT_TIMEOUT_ENV, DEFAULT_CONNECT_TIMEOUT, f"--connect-timeout / {CONNECT_TIMEOUT_ENV}"),
        read=_seconds(read, READ_TIMEOUT_ENV, DEFAULT_READ_TIMEOUT, f"--timeout / {READ_TIMEOUT_ENV}"))


@contextmanager
def hub_api(endpoint: str | None = None, token: str | None = None, *, connect_timeout: float | None = None,
            read_timeout: float | None = None) -> Iterator[HfApi]:
    """An ``HfApi`` for the resolved endpoint (``api.endpoint``) whose HTTP client has connect/read timeouts.

    Every Hub or network failure inside the ``with`` block — HTTP errors, refused connections,
    timeouts — leaves it as a one-line :class:`GonerdError` naming the endpoint (and the timeout
    that expired). Any command that talks to the Hub (``gonerd push``, a model push) goes through here.
    """
    import httpx2
    from huggingface_hub import HfApi, set_client_factory
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.utils._http import default_client_factory

    endpoint = resolve_endpoint(endpoint)
    timeouts = resolve_timeouts(connect_timeout, read_timeout)

    def client_factory() -> httpx2.Client:
        client = default_client_factory()
        client.timeout = httpx2.Timeout(timeouts.read, connect=timeouts.connect)
        return client

    set_client_factory(client_factory)
    try:
        yield HfApi(endpoint=endpoint, token=token)
    except (HfHubHTTPError, httpx2.TransportError, OSError) as e:
        raise _hub_error(e, endpoint, timeouts) from e
    finally:
        set_client_factory(default_client_factory)


def _remote_card(api: Any, repo_id: str, revision: str | None) -> str | None:
    from huggingface_hub.errors import RemoteEntryNotFoundError, RevisionNotFoundError

    with tempfile.TemporaryDirectory() as cache:
        try:
            path = api.hf_hub_download(repo_id, "README.md", repo_type="dataset", revision=revision, cache_dir=cache)
        except (RemoteEntryNotFoundError, RevisionNotFoundError):
            return None
        return Path(path).read_text(encoding="utf-8")


def _sections(body: str) -> dict[str, str]:
    parts = re.split(r"^(#+\s+.*)$", body, flags=re.M)
    sections = {"(text before the first heading)": parts[0].strip()}
    for heading, text in zip(parts[1::2], parts[2::2]):
        sections[heading.lstrip("#").strip()] = text.strip()
    return sections


def check_card(local: str, remote: str | None, dataset_dir: Path) -> None:
    """Raise when ``remote``'s hand-written parts differ from ``local``'s; write a merged proposal first."""
    if remote is None:
        return
    local_meta, local_body = hand_written(local)
    remote_meta, remote_body = hand_written(remote)
    if (local_meta, local_body) == (remote_meta, remote_body):
        return
    ours, theirs = _sections(local_body), _sections(remote_body)
    sections = [name for name in dict.fromkeys([*theirs, *ours]) if ours.get(name) != theirs.get(name)]
    keys = sorted(k for k in set(local_meta) | set(remote_meta) if local_meta.get(k) != remote_meta.get(k))
    merged = dataset_dir / MERGED_CARD
    merged.write_text(merge_card(remote, local), encoding="utf-8")
    what = ", ".join([f"section {n!r}" for n in sections] + [f"header key {k!r}" for k in keys])
    raise GonerdError(f"the Hub card has hand-written parts that differ from {dataset_dir / 'README.md'} ({what}); "
                      f"a merge keeping the Hub's hand-written parts is in {merged} — review it, copy it to "
                      "README.md and push again, or pass --overwrite-card")


def _hub_error(e: Exception, endpoint: str, timeouts: HubTimeouts) -> GonerdError:
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(e, httpx2.ConnectTimeout):
        return GonerdError(f"cannot reach the Hub at {endpoint}: no connection within the {timeouts.connect:g} s "
                           f"connect timeout (--connect-timeout, {CONNECT_TIMEOUT_ENV})")
    if isinstance(e, httpx2.TimeoutException):
        return GonerdError(f"the Hub at {endpoint} did not answer within the {timeouts.read:g} s timeout "
                           f"(--timeout, {READ_TIMEOUT_ENV})")
    if isinstance(e, HfHubHTTPError) and e.response is not None:
        status = e.response.status_code
        if status == 401:
            return GonerdError(f"authentication failed at {endpoint} (HTTP 401): the token is missing or was "
                               "rejected — set HF_TOKEN or run `hf auth login`")
        if status == 403:
            return GonerdError(f"permission denied at {endpoint} (HTTP 403): the token cannot write to this repo")
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        return GonerdError(f"the Hub at {endpoint} answered HTTP {status}: {first}")
    if isinstance(e, (httpx2.TransportError, OSError)):
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        return GonerdError(f"cannot reach the Hub at {endpoint}: {reason}")
    return GonerdError(f"push to {endpoint} failed: {e}")


def push_dataset(dataset_dir: str | Path, repo_id: str, *, token: str | None = None, endpoint: str | None = None,
                 private: bool = False, revision: str | None = None, commit_message: str | None = None,
                 overwrite_card: bool = False, dry_run: bool = False, connect_timeout: float | None = None,
                 read_timeout: float | None = None) -> dict[str, Any]:
    """Upload ``dataset_dir`` to the dataset repo ``repo_id`` in one commit; ``dry_run`` sends nothing.

    ``token`` defaults to ``HF_TOKEN`` or the saved login; ``endpoint`` to ``HF_ENDPOINT``; the
    timeouts as :func:`resolve_timeouts`. Returns ``{repo_id, endpoint, revision, files: [{path,
    size}], commit_url, commit_oid}`` (no commit fields on a dry run). Hub and network failures raise
    :class:`GonerdError` with a one-line message (:func:`hub_api`).
    """
    from huggingface_hub import CommitOperationAdd

    root = Path(dataset_dir)
    check_repo_id(repo_id)
    items = plan_upload(root)
    endpoint = resolve_endpoint(endpoint)
    result: dict[str, Any] = {"repo_id": repo_id, "endpoint": endpoint, "revision": revision or "main",
                              "files": [{"path": i.path_in_repo, "size": i.size} for i in items]}
    if dry_run:
        return result
    local_card = (root / "README.md").read_text(encoding="utf-8")
    with hub_api(endpoint, token, connect_timeout=connect_timeout, read_timeout=read_timeout) as api:
        api.create_repo(repo_id, repo_type="dataset", private=private, exist_ok=True)
        if revision and revision != "main":
            api.create_branch(repo_id, branch=revision, repo_type="dataset", exist_ok=True)
        if not overwrite_card:
            check_card(local_card, _remote_card(api, repo_id, revision), root)
        n_shards = sum(i.path_in_repo.startswith(DATA_DIR + "/") for i in items)
        info = api.create_commit(
            repo_id, [CommitOperationAdd(i.path_in_repo, str(i.local_path)) for i in items], repo_type="dataset",
            revision=revision, commit_message=commit_message or f"Upload dataset ({n_shards} parquet shard(s), card)")
    result.update(commit_url=info.commit_url, commit_oid=info.oid)
    return result
