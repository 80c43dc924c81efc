"""NER examples from CoNLL files and token-classification datasets, validated row by row.

Every example carries whole-word tokens and IOB2 tag names. ``target`` is the token range that is
labelled and scored; it is the whole sequence except in ``context`` mode, where a sentence is fed
together with the rest of its document.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from gonerd.conll import iob2_errors, read_conll
from gonerd.errors import InputError

UNITS = ("sentence", "document", "context")


@dataclass
class NerExample:
    """One sequence to tag: tokens, gold IOB2 tags, and the token range ``target`` that is scored."""

    id: str
    tokens: list[str]
    tags: list[str]
    target: tuple[int, int] | None = None

    @property
    def span(self) -> tuple[int, int]:
        """The scored token range ``[start, end)`` (the whole sequence unless ``target`` is set)."""
        return self.target if self.target is not None else (0, len(self.tokens))


@dataclass
class NerSplit:
    """The examples of one split plus where they came from, for error messages and reports.

    ``label_sources`` counts the rows per ``label_source`` value when the dataset has that column (a
    GONERD build: ``human:…`` for hand labels, the pre-labeler's name otherwise); empty for CoNLL files.
    """

    name: str
    source: str
    examples: list[NerExample]
    label_sources: dict[str, int] = field(default_factory=dict)


def validate_example(ex: NerExample, labels: Iterable[str], *, source: str, split: str, row: int) -> None:
    """Raise :class:`InputError` naming file, split and row if ``ex`` cannot be trained or scored on."""
    where = f"split {split!r}, row {row} (id {ex.id!r})"
    if not ex.tokens:
        raise InputError(f"{where}: empty document (no tokens)", source, offset=row, field="tokens")
    if len(ex.tokens) != len(ex.tags):
        raise InputError(f"{where}: {len(ex.tokens)} tokens but {len(ex.tags)} tags", source,
                         offset=row, field="ner_tags")
    known = set(labels)
    unknown = sorted({t for t in ex.tags if t not in known})
    if unknown:
        raise InputError(f"{where}: unknown label(s) {', '.join(unknown)} (known: {', '.join(labels)})",
                         source, offset=row, field="ner_tags")
    problems = iob2_errors(ex.tags)
    if problems:
        raise InputError(f"{where}: tags are not IOB2 ({'; '.join(problems[:3])})", source,
                         offset=row, field="ner_tags")


def conll_examples(path: str | Path, *, unit: str = "sentence", split: str | None = None,
                   labels: Iterable[str] | None = None) -> NerSplit:
    """Read a CoNLL file (IOB1 converted per sentence to IOB2) into examples of the chosen ``unit``.

    ``document`` keeps ``-DOCSTART-`` documents whole; ``context`` yields one example per sentence
    whose tokens are the whole document and whose ``target`` is the sentence.
    """
    if unit not in UNITS:
        raise InputError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}", str(path), field="unit")
    docs = read_conll(path)
    out: list[NerExample] = []
    for doc in docs:
        if unit == "document":
            out.append(NerExample(doc.id, doc.tokens, doc.tags))
            continue
        tokens, tags = doc.tokens, doc.tags
        for i, (sent, start) in enumerate(zip(doc.sentences, doc.sentence_starts)):
            if unit == "sentence":
                out.append(NerExample(f"{doc.id}:{i}", list(sent.tokens), list(sent.tags)))
            else:
                out.append(NerExample(f"{doc.id}:{i}", tokens, tags, (start, start + len(sent.tokens))))
    name = split or Path(path).name
    result = NerSplit(name, str(path), out)
    if labels is not None:
        for row, ex in enumerate(out):
            validate_example(ex, labels, source=str(path), split=name, row=row)
    return result


def _tag_names(feature: Any) -> list[str] | None:
    """The ClassLabel names of a ``Sequence(ClassLabel)`` feature, ``None`` for string tags."""
    inner = getattr(feature, "feature", None)
    return list(inner.names) if hasattr(inner, "names") else None


PARQUET_LAYOUTS = ("{split}.parquet", "{split}-*.parquet", "data/{split}-*.parquet", "{split}/*.parquet")


def parquet_files(path: Path, split: str) -> list[Path]:
    """The parquet files of ``split`` under the folder ``path``, all from one of :data:`PARQUET_LAYOUTS`.

    Raises :class:`InputError` when there are none, or when two layouts hold the split (reading
    both would count every row twice), naming the files of each.
    """
    found = [files for layout in PARQUET_LAYOUTS if (files := sorted(path.glob(layout.format(split=split))))]
    if not found:
        raise InputError(f"no dataset for split {split!r} (expected save_to_disk output or "
                         f"{split}.parquet / data/{split}-*.parquet)", str(path), field="split")
    if len(found) > 1:
        names = " and ".join(", ".join(str(f.relative_to(path)) for f in files) for files in found)
        raise InputError(f"split {split!r} is stored in {len(found)} layouts: {names}; keep one", str(path),
                         field="split")
    return found[0]


def _load_hf_split(path: Path, split: str):
    import datasets

    datasets.disable_progress_bars()
    if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
        ds = datasets.load_from_disk(str(path))
        if isinstance(ds, datasets.DatasetDict):
            if split not in ds:
                raise InputError(f"no split {split!r} (has: {', '.join(ds)})", str(path), field="split")
            return ds[split], str(path)
        return ds, str(path)
    files = [path] if path.is_file() and path.suffix == ".parquet" else parquet_files(path, split)
    return datasets.Dataset.from_parquet([str(f) for f in files], keep_in_memory=True), str(files[0])


def dataset_examples(path: str | Path, split: str, *, labels: Iterable[str], tokens_field: str = "tokens",
                     tags_field: str | None = None, limit: int | None = None) -> NerSplit:
    """Load ``split`` of a token-classification dataset at ``path`` (``save_to_disk`` or parquet).

    The tag column is ``tags_field`` or the first ``Sequence(ClassLabel)`` feature (``ner_tags`` in
    GONERD); string tags are accepted too. Every row is validated against ``labels``.
    """
    path = Path(path)
    if not path.exists():
        raise InputError("no such dataset", str(path))
    ds, source = _load_hf_split(path, split)
    if tokens_field not in ds.features:
        raise InputError(f"split {split!r}: no {tokens_field!r} column (has: {', '.join(ds.features)})",
                         source, field=tokens_field)
    if tags_field is None:
        tags_field = next((k for k, f in ds.features.items() if _tag_names(f) is not None),
                          "ner_tags" if "ner_tags" in ds.features else None)
    if tags_field is None or tags_field not in ds.features:
        raise InputError(f"split {split!r}: no tag column (a Sequence(ClassLabel) feature)", source,
                         field=tags_field or "ner_tags")
    names = _tag_names(ds.features[tags_field])
    labels = tuple(labels)
    out: list[NerExample] = []
    sources: Counter[str] = Counter()
    has_sources = "label_source" in ds.features
    n = len(ds) if limit is None else min(limit, len(ds))
    for row in range(n):
        rec = ds[row]
        raw = rec[tags_field]
        if names is not None:
            bad = [t for t in raw if not 0 <= t < len(names)]
            if bad:
                raise InputError(f"split {split!r}, row {row}: tag id(s) {bad[:3]} outside the "
                                 f"{len(names)} ClassLabel names", source, offset=row, field=tags_field)
            tags = [names[t] for t in raw]
        else:
            tags = list(raw)
        ex = NerExample(str(rec.get("id", f"{split}:{row}")), list(rec[tokens_field]), tags)
        validate_example(ex, labels, source=source, split=split, row=row)
        out.append(ex)
        if has_sources:
            sources[str(rec["label_source"])] += 1
    return NerSplit(split, source, out, dict(sorted(sources.items())))


def load_split(source: str | Path, split: str, *, labels: Iterable[str], unit: str = "sentence",
               limit: int | None = None) -> NerSplit:
    """Examples of ``split`` from a CoNLL file (any file that is not a dataset) or a dataset path."""
    path = Path(source)
    if path.is_file() and path.suffix != ".parquet":
        result = conll_examples(path, unit=unit, split=split, labels=labels)
        if limit is not None:
            result.examples = result.examples[:limit]
        return result
    return dataset_examples(path, split, labels=labels, limit=limit)
