"""Labeled documents → the GONERD ``DatasetDict``: document-level, domain-stratified splits.

One example is one whole document. The dataset directory follows the Hub layout::

    DIR/data/{train,validation,test}-00000-of-00001.parquet   (load_dataset("parquet", ...))
    DIR/arrow/                                               (load_from_disk)
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gonerd.config import BuildConfig, check_hand_labelled_split
from gonerd.conll import iob2_errors
from gonerd.errors import ConfigError, InputError
from gonerd.label.merge import is_whitespace
from gonerd.schema import TAGS

if TYPE_CHECKING:
    import datasets

SPLITS = ("train", "validation", "test")
COLUMNS = ("id", "url", "domain", "tokens", "ner_tags", "label_source")
DATA_DIR = "data"
ARROW_DIR = "arrow"
UNKNOWN_DOMAIN = "unknown"


def features() -> datasets.Features:
    """The dataset's features: strings, token sequence and ``ClassLabel`` tags in schema order."""
    import datasets

    return datasets.Features({
        "id": datasets.Value("string"),
        "url": datasets.Value("string"),
        "domain": datasets.Value("string"),
        "tokens": datasets.Sequence(datasets.Value("string")),
        "ner_tags": datasets.Sequence(datasets.ClassLabel(names=list(TAGS))),
        "label_source": datasets.Value("string"),
    })


def shard_path(split: str) -> str:
    """Path of a split's single parquet shard, relative to the dataset directory (Hub layout)."""
    return f"{DATA_DIR}/{split}-00000-of-00001.parquet"


def check_record(record: dict[str, Any], where: str) -> dict[str, Any]:
    """Validate one labeled document and return its dataset row; bad fields raise :class:`InputError`.

    Tags must be known and in strict IOB2 order (an ``I-X`` continues a ``B-X`` or ``I-X``); tokens
    are words, never whitespace-only. Errors name ``where`` (the document) and the token index.
    """
    for name in ("id", "tokens", "ner_tags"):
        if record.get(name) is None:
            raise InputError("missing field", where, field=name)
    tokens, tags = list(record["tokens"]), list(record["ner_tags"])
    if len(tokens) != len(tags):
        raise InputError(f"{len(tokens)} tokens but {len(tags)} tags", where, field="ner_tags")
    bad = sorted({t for t in tags if t not in TAGS})
    if bad:
        raise InputError(f"unknown tag(s) {', '.join(map(repr, bad))} (known: {', '.join(TAGS)})", where,
                         field="ner_tags")
    problems = iob2_errors(tags)
    if problems:
        more = f" (and {len(problems) - 1} more)" if problems[1:] else ""
        raise InputError(f"not strict IOB2: {problems[0]}{more}", where, field="ner_tags")
    blank = next((i for i, t in enumerate(tokens) if is_whitespace(t)), None)
    if blank is not None:
        raise InputError(f"token {blank} is whitespace-only ({tokens[blank]!r}); tokens are words "
                         "(relabel with `gonerd label`)", where, field="tokens")
    return {"id": str(record["id"]), "url": record.get("url"),
            "domain": record.get("domain") or UNKNOWN_DOMAIN, "tokens": tokens, "ner_tags": tags,
            "label_source": record.get("label_source") or "unknown"}


def split_documents(rows: list[dict[str, Any]], config: BuildConfig) -> dict[str, list[dict[str, Any]]]:
    """Assign whole documents to train/validation/test, stratified by domain, seeded.

    Domains with fewer than ``min_domain_docs`` documents cannot be stratified one by one; they are
    pooled into one stratum of small domains (a web crawl has many). Strata are taken largest first
    (the pool last), shuffled within, and each document goes to the split with the largest deficit:
    the stratum's own deficit (so every domain is spread in proportion) plus the overall deficit
    (so later strata even out the totals).
    When some but not all documents were labelled by a person, they are ``config.hand_labelled_split``
    (GONERD's test split is its hand-labelled documents) and the other documents are dealt to the other
    splits by their ratios. The result depends only on the document ids, domains, label sources and the seed.
    """
    ratios = {"train": config.train, "validation": config.validation, "test": config.test}
    if any(r < 0 for r in ratios.values()) or sum(ratios.values()) <= 0:
        raise ConfigError(f"build: split ratios must be >= 0 and not all 0, got {ratios}")
    pinned_to = config.hand_labelled_split
    check_hand_labelled_split(pinned_to, "build.hand_labelled_split")
    out: dict[str, list[dict[str, Any]]] = {s: [] for s in SPLITS}
    hand = [r for r in rows if r["label_source"].startswith("human:")] if pinned_to else []
    # when every document is hand-labelled (an annotation export) none is set apart
    if hand and len(hand) < len(rows):
        out[pinned_to] = sorted(hand, key=lambda r: r["id"])
        rows = [r for r in rows if not r["label_source"].startswith("human:")]
        ratios[pinned_to] = 0.0  # the split is the hand-labelled documents; the others share the rest
        if sum(ratios.values()) <= 0:
            ratios = {s: float(s != pinned_to) for s in SPLITS}
    share = {s: r / sum(ratios.values()) for s, r in ratios.items()}
    by_domain: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_domain[row["domain"]].append(row)
    eligible: list[list[dict[str, Any]]] = []
    small: list[dict[str, Any]] = []
    for domain in sorted(by_domain, key=lambda d: (-len(by_domain[d]), d)):
        docs = sorted(by_domain[domain], key=lambda r: r["id"])
        if len(docs) < config.min_domain_docs:
            small += docs
        else:
            random.Random(f"{config.seed}:{domain}").shuffle(docs)
            eligible.append(docs)
    if small:
        small.sort(key=lambda r: r["id"])
        random.Random(f"{config.seed}:small-domains").shuffle(small)
        eligible.append(small)
    dealt = {s: 0 for s in SPLITS}
    for docs in eligible:
        in_domain = {s: 0 for s in SPLITS}
        for i, row in enumerate(docs, start=1):
            seen = sum(dealt.values()) + 1
            deficit = {s: (share[s] * i - in_domain[s]) + (share[s] * seen - dealt[s]) for s in SPLITS}
            split = max(SPLITS, key=deficit.__getitem__)
            out[split].append(row)
            in_domain[split] += 1
            dealt[split] += 1
    return out


def _check_unique(rows: list[dict[str, Any]]) -> None:
    seen: set[str] = set()
    for i, row in enumerate(rows):
        if row["id"] in seen:
            raise InputError(f"duplicate document id {row['id']!r}", f"record {i}", field="id")
        seen.add(row["id"])


def build_dataset(labeled_records: Iterable[dict[str, Any]], out_dir: str | Path,
                  config: BuildConfig | None = None) -> datasets.DatasetDict:
    """Split labeled documents, save parquet shards and an arrow copy under ``out_dir``, return the dict.

    ``labeled_records`` follow the labeled-document contract (``id, url, domain, tokens,
    ner_tags`` IOB2 strings, ``label_source``); extra fields are ignored.
    """
    import datasets
    import pyarrow.parquet as pq

    config = config or BuildConfig()
    rows = [check_record(r, f"record {i} (id {r.get('id')!r})") for i, r in enumerate(labeled_records)]
    if not rows:
        raise InputError("no labeled documents to build a dataset from")
    _check_unique(rows)
    parts = split_documents(rows, config)
    feats = features()
    dd = datasets.DatasetDict({
        split: datasets.Dataset.from_dict({c: [r[c] for r in parts[split]] for c in COLUMNS}, features=feats,
                                          split=datasets.Split(split))
        for split in SPLITS
    })
    out_dir = Path(out_dir)
    (out_dir / DATA_DIR).mkdir(parents=True, exist_ok=True)
    for split, ds in dd.items():
        # The parquet loader rejects empty files, so an empty split has no shard.
        shard = out_dir / shard_path(split)
        if len(ds):
            # The arrow table carries the features (ClassLabel names) in its schema metadata.
            pq.write_table(ds.data.table, shard)
        elif shard.exists():
            shard.unlink()
    # An empty split saved with no shard cannot be read back by load_from_disk: give it one empty shard.
    dd.save_to_disk(str(out_dir / ARROW_DIR), num_shards={split: 1 for split, ds in dd.items() if not len(ds)})
    return dd


def load_gonerd(path: str | Path) -> datasets.DatasetDict:
    """Load a dataset directory written by :func:`build_dataset` (parquet shards, else the arrow copy)."""
    import datasets

    path = Path(path)
    shards = {s: str(path / shard_path(s)) for s in SPLITS if (path / shard_path(s)).is_file()}
    if shards:
        loaded = datasets.load_dataset("parquet", data_files=shards, features=features())
        empty = {c: [] for c in COLUMNS}
        return datasets.DatasetDict({s: loaded[s] if s in loaded else datasets.Dataset.from_dict(empty, features())
                                     for s in SPLITS})
    for candidate in (path / ARROW_DIR, path):
        if (candidate / "dataset_dict.json").is_file():
            return datasets.load_from_disk(str(candidate))
    raise InputError(f"not a gonerd dataset directory (no {DATA_DIR}/*.parquet shards nor {ARROW_DIR}/)", str(path))
