"""The release build (issue 21): every web page and DOJ press release of the shared data → dataset, statistics, card.

    nice -n 10 .venv/bin/python bench/release_build.py      # the same as `make release`

Reads the sources named in ``configs/release_shared.toml`` from the data root (``shared/data`` beside
the repository, ``GONERD_DATA`` or ``--data-root``), writes each as a JSONL input of the document
pipeline into ``OUT/inputs/`` and runs ``gonerd build`` on them into ``OUT`` (default ``release_out/``,
gitignored) with the default pre-labeler. The bundled hand labels of the documents that are among the
sources replace their pre-labels and score the pre-labeler (with CoNLL-2003 testb and the MISC gold
sets, as ``make demo`` does); CoNLL-2003 is the comparison column of the tables when present. The
card, Tables 1/9/10 and Figure 1 are copied into ``data_cards/gonerd-shared/`` (the data is not).

``--limit KEY=N`` builds from the first N records of a source (a smoke run; its card goes to
``OUT/card`` unless ``--card-dir`` says otherwise). Without the data root the build is skipped with
a message (exit 0), except under ``CI=true``, where the shared data must be present (exit 1).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gonerd.config import BuildConfig, LabelConfig, PipelineConfig, data_root, load_config, with_overrides
from gonerd.errors import ConfigError

REPO = Path(__file__).resolve().parents[1]
CONFIG = Path("configs") / "release_shared.toml"
CARD_DIR = Path("data_cards") / "gonerd-shared"
OUT = Path("release_out")
SOURCE_KINDS = ("manifest", "releases")
CONLL_FILES = ("eng.train", "eng.testa", "eng.testb")
RELEASE_BLOCK = "release"


@dataclass(frozen=True)
class Source:
    """One source of the data root: its folder or file and what its PROVENANCE.md says about it.

    ``kind`` "manifest": a web-page manifest (``id``, ``url``, ``html`` path relative to it);
    "releases": re-assembled press releases (``unique_id``, ``press_release_date``, ``text``), each
    given ``domain`` since they have no URL.
    """

    key: str
    name: str
    kind: str
    path: str
    upstream: str
    licence: str
    domain: str | None = None


@dataclass(frozen=True)
class ReleaseConfig:
    """The release: sources, the data left out and why, hand labels, and the pipeline/label/build settings."""

    sources: list[Source]
    not_used: dict[str, str] = field(default_factory=dict)
    hand_labels: str | None = None
    docs: PipelineConfig = field(default_factory=PipelineConfig)
    label: LabelConfig = field(default_factory=LabelConfig)
    build: BuildConfig = field(default_factory=BuildConfig)


def load_release_config(path: str | Path) -> ReleaseConfig:
    """The release settings of a TOML/YAML file; a bad source kind or a repeated key is a :class:`ConfigError`."""
    config = load_config(path, ReleaseConfig)
    seen: set[str] = set()
    for i, source in enumerate(config.sources):
        if source.kind not in SOURCE_KINDS:
            raise ConfigError(f"{path}.sources[{i}].kind: expected one of {', '.join(SOURCE_KINDS)}, "
                              f"got {source.kind!r}")
        if source.kind == "releases" and not source.domain:
            raise ConfigError(f"{path}.sources[{i}].domain: releases have no URL, so they need a stated domain")
        if source.key in seen:
            raise ConfigError(f"{path}.sources[{i}].key: {source.key!r} is used twice")
        seen.add(source.key)
    return config


def missing_data(config: ReleaseConfig, root: Path) -> str | None:
    """Why the release cannot be built from ``root`` (the first source file it lacks), or ``None``."""
    for source in config.sources:
        if not (root / source.path).is_file():
            return f"shared data not found: {root / source.path} (set GONERD_DATA or --data-root)"
    return None


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def source_records(source: Source, root: Path, inputs: Path, limit: int | None = None
                   ) -> list[tuple[str, str, dict[str, Any]]]:
    """``(document id, part, JSONL input record)`` of the first ``limit`` entries of ``source``.

    A page keeps its benchmark id and URL, and points at its HTML file by a path relative to
    ``inputs`` (where the record is written); its part is the benchmark it comes from. A release
    gets ``url`` null and the stated domain; its id is the one the reader hashes from ``source_id``.
    """
    from gonerd.records import document_id

    path = root / source.path
    rows = _jsonl(path)[:limit]
    if source.kind == "manifest":
        return [(e["id"], e["source"], {"id": e["id"], "url": e["url"],
                                        "html_path": os.path.relpath(path.parent / e["html"], inputs)}) for e in rows]
    return [(document_id(None, r["unique_id"]), source.key,
             {"url": None, "domain": source.domain, "source_id": r["unique_id"], "date": r["press_release_date"],
              "text": r["text"]}) for r in rows]


def write_inputs(config: ReleaseConfig, root: Path, inputs: Path, limits: dict[str, int]
                 ) -> tuple[list[Path], dict[str, tuple[str, str]]]:
    """Write ``inputs/<key>.jsonl`` per source; returns the files and the (source key, part) of each input
    line, keyed as the reader names a record's ``source`` (``inputs/<key>.jsonl:<line>``)."""
    inputs.mkdir(parents=True, exist_ok=True)
    files, parts = [], {}
    for source in config.sources:
        rows = source_records(source, root, inputs, limits.get(source.key))
        target = inputs / f"{source.key}.jsonl"
        target.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for _, _, r in rows), encoding="utf-8")
        files.append(target)
        parts.update({f"{target}:{line}": (source.key, part) for line, (_, part, _) in enumerate(rows, start=1)})
    return files, parts


def hand_labels_of(gold: Path, ids: set[str], out: Path) -> Path | None:
    """The CoNLL hand labels of the documents in ``ids``: ``gold`` itself when it labels only those,
    else a copy restricted to them at ``out`` (``None`` when it labels none of them)."""
    from gonerd.conll import DOCSTART

    kept: list[str] = []
    keep = everything = True
    for line in gold.read_text(encoding="utf-8").splitlines(keepends=True):
        if line.startswith(DOCSTART):
            keep = len(line.split()) > 1 and line.split()[1] in ids
            everything &= keep
        if keep:
            kept.append(line)
    if everything:
        return gold
    if not any(line.startswith(DOCSTART) for line in kept):
        return None
    out.write_text("".join(kept), encoding="utf-8")
    return out


def label_eval(config: LabelConfig, root: Path, docs: Path, gold: Path | None, conll: bool) -> dict[str, Any]:
    """``gonerd eval-labels``' default evaluation (CoNLL testb when ``conll``, the packaged MISC gold sets)
    plus the hand-labelled documents ``gold`` of ``docs`` when given."""
    from gonerd.commands import eval_labels as ev

    return ev.run_eval_labels(config, root / "conll2003" / "eng.testb" if conll else None,
                              (ev.DEFAULT_MISC_GOLD, ev.DEFAULT_MISC_DEV),
                              (*ev.DEFAULT_MISC_CONLL, ev.DEFAULT_MISC_CONLL_DEV) if conll else (), root,
                              gonerd_gold=gold, docs=docs if gold else None)


def part_counts(parts: dict[str, tuple[str, str]], kept: list[str], exclusions: list[dict[str, Any]]
                ) -> dict[tuple[str, str], dict[str, Any]]:
    """Per (source key, part): input records, those in the dataset, and the filters that dropped the others.

    Records are matched by their ``source`` (input file and line): a page saved without its URL gets
    the id of the canonical URL it names, so ids do not identify inputs.
    """
    counts: dict[tuple[str, str], dict[str, Any]] = {}
    for where in parts.values():
        counts.setdefault(where, {"input": 0, "dataset": 0, "dropped": Counter()})["input"] += 1
    for source in kept:
        counts[parts[source]]["dataset"] += 1
    for entry in exclusions:
        if entry.get("source") in parts:
            counts[parts[entry["source"]]]["dropped"][entry["filter"]] += 1
    return counts


def dataset_facts(dd: Any) -> dict[str, Any]:
    """What the release block says about a built ``DatasetDict``: documents, domain counts, the splits of the
    hand-labelled documents and the three longest documents (tokens, id, domain)."""
    columns = ["id", "domain", "tokens", "label_source"]
    rows = [(split, r) for split, ds in dd.items() for r in ds.select_columns(columns)]
    return {"documents": len(rows), "domains": Counter(r["domain"] for _, r in rows),
            "human": Counter(split for split, r in rows if r["label_source"].startswith("human:")),
            "longest": sorted(((len(r["tokens"]), r["id"], r["domain"]) for _, r in rows), reverse=True)[:3]}


def _sample_note(config: ReleaseConfig, facts: dict[str, Any]) -> str:
    """The sample actually drawn, or, without one, how far the domains are from the default (the paper's) shares."""
    from gonerd.config import SampleConfig

    shares = config.docs.sample.domain_shares
    if shares:
        return "Domain-weighted sample: " + ", ".join(f"{d} target {s:.0%}" for d, s in shares.items()) + "."
    n = facts["documents"]
    paper = [f"{d} is {facts['domains'][d] / n:.1%} of the documents ({facts['domains'][d]:,} of {n:,}; the paper "
             f"upweights it to about {s:.0%}, which would keep at most {int(facts['domains'][d] / s):,} documents)"
             for d, s in SampleConfig().domain_shares.items()]
    return ("No domain-weighted sample: every document that passes the filters and deduplication is kept, so "
            + "; ".join(paper) + ".")


def release_markdown(config: ReleaseConfig, counts: dict[tuple[str, str], dict[str, Any]], facts: dict[str, Any],
                     command: str, label_source: str) -> str:
    """The card's ``release`` block: the command, each source with its provenance, licence and counts,
    what was left out and why, the sample and labeler choices (``facts`` from :func:`dataset_facts`)."""
    from gonerd.dataset import UNKNOWN_DOMAIN

    names = {s.key: s for s in config.sources}
    lines = ["## Release build", "",
             f"Built with `{command}` (settings: `{CONFIG.as_posix()}`) from the data root (`shared/data` beside the "
             "repository, or `GONERD_DATA`). The script writes each source as JSONL input for the document "
             "pipeline (`inputs/`): a page keeps its benchmark id and URL and is read from its unmodified HTML "
             "file; a release gets `url` null and its stated domain.", "",
             "| source | part | read | in dataset | dropped by |", "|---|---|---:|---:|---|"]
    for (key, part), c in sorted(counts.items()):
        dropped = ", ".join(f"{f} {n}" for f, n in c["dropped"].most_common()) or "-"
        lines.append(f"| {names[key].name} (`{names[key].path}`) | {part} | {c['input']:,} | {c['dataset']:,} "
                     f"| {dropped} |")
    total = {k: sum(c[k] for c in counts.values()) for k in ("input", "dataset")}
    lines += [f"| total | | {total['input']:,} | {total['dataset']:,} | |", ""]
    lines += [f"- **{s.name}**: {s.upstream}. Licence: {s.licence}." for s in config.sources]
    lines += ["", "Not used:", ""] + [f"- `{name}/`: {why}." for name, why in config.not_used.items()]
    lines += ["", _sample_note(config, facts)]
    if facts["domains"][UNKNOWN_DOMAIN]:
        lines.append(f"{facts['domains'][UNKNOWN_DOMAIN]:,} documents have no URL: benchmark pages saved without one "
                     "that name no canonical URL either (those that do take it, and its domain); their domain is "
                     f"`{UNKNOWN_DOMAIN}` in Table 10.")
    lines.append("Longest documents: " + ", ".join(f"`{i}` ({d}) {n:,} tokens" for n, i, d in facts["longest"]) + ".")
    lines += ["", f"Pre-labels: `{label_source}`, the default labeler (spaCy with its document fixes, MISC rules), "
                  "without a token-classification model (`--ner-model`): the CoNLL model the vote labeler would use "
                  "is not published, so such labels could not be rebuilt from this repository."]
    if facts["human"]:
        lines.append(f"{sum(facts['human'].values()):,} documents are also in the bundled sample's hand labels "
                     f"(`{config.hand_labels}`): their labels are those (`human:gold`), and they score the pre-labels "
                     "under Labeling. By split: " + ", ".join(f"{s} {n}" for s, n in facts["human"].items()) + ".")
    return "\n".join(lines)


def with_block(card: str, name: str, body: str, after: str = "sources") -> str:
    """``card`` with the generated block ``name`` holding ``body``: replaced where it is, else put after the
    block ``after``."""
    from gonerd.card import BEGIN, END, block, blocks

    new = block(name, body)
    if name in blocks(card):
        start, end = card.index(BEGIN.format(name)), card.index(END.format(name)) + len(END.format(name))
        return card[:start] + new + card[end:]
    anchor = card.index(END.format(after)) + len(END.format(after))
    return card[:anchor] + "\n\n" + new + card[anchor:]


def build_release(config: ReleaseConfig, root: Path, out: Path, card_dir: Path, *, limits: dict[str, int] | None = None,
                  conll: bool = True, command: str = "make release", progress: bool = True) -> dict[str, Any]:
    """Build the release into ``out`` and its card and statistics into ``card_dir``; returns a summary.

    The pipeline runs inside ``out`` so that the card names its inputs as ``inputs/``, not by a
    path of this machine.
    """
    from gonerd.commands.build import run_build
    from gonerd.dataset import SPLITS, load_gonerd
    from gonerd.label.io import read_documents
    from gonerd.pipeline import run_docs

    root, card_dir = root.resolve(), card_dir.resolve()
    out.mkdir(parents=True, exist_ok=True)
    out = out.resolve()
    conll_files = [root / "conll2003" / f for f in CONLL_FILES] if conll else []
    conll = conll and all(f.is_file() for f in conll_files)
    pipeline = with_overrides(config.docs, {"read.html_root": str(root)})
    with contextlib.chdir(out):
        files, parts = write_inputs(config, root, Path("inputs"), limits or {})
        run_docs(files, "documents", pipeline, progress=progress)
        source_of = {d["id"]: d["source"] for d in read_documents(Path("documents"))}
        gold = (hand_labels_of(REPO / config.hand_labels, set(source_of), out / "hand_labels.conll")
                if config.hand_labels else None)
        evaluation = label_eval(config.label, root, out / "documents", gold, conll)
        (out / "eval_labels.json").write_text(json.dumps(evaluation, indent=2, ensure_ascii=False) + "\n",
                                              encoding="utf-8")
        summary = run_build(files, ".", pipeline_config=pipeline, label_config=config.label,
                            build_config=config.build, conll=conll_files if conll else None,
                            eval_labels=out / "eval_labels.json", card_copy=card_dir, corrections=gold,
                            annotator=None, progress=progress)
    dd = load_gonerd(out)
    kept = [source_of[i] for s in SPLITS for i in dd[s]["id"]]
    counts = part_counts(parts, kept, _jsonl(out / "documents" / "exclusions.jsonl"))
    body = release_markdown(config, counts, dataset_facts(dd), command, evaluation["label_source"])
    card = with_block((out / "README.md").read_text(encoding="utf-8"), RELEASE_BLOCK, body)
    (out / "README.md").write_text(card, encoding="utf-8")
    (card_dir / "README.md").write_text(card, encoding="utf-8")
    return {**summary, "card": str(card_dir / "README.md"), "stats": str(card_dir / "stats" / "stats.json"),
            "parts": {f"{k}/{p}": {"input": c["input"], "dataset": c["dataset"], "dropped": dict(c["dropped"])}
                      for (k, p), c in counts.items()}}


def in_ci() -> bool:
    """True under ``CI=true``, where the shared data must be present."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def _limits(items: list[str], config: ReleaseConfig) -> dict[str, int]:
    keys = [s.key for s in config.sources]
    limits = {}
    for item in items:
        key, _, n = item.partition("=")
        if key not in keys or not n.isdigit() or int(n) < 1:
            raise ConfigError(f"--limit {item!r}: expected KEY=N with KEY one of {', '.join(keys)} and N ≥ 1")
        limits[key] = int(n)
    return limits


def main(argv: list[str] | None = None) -> int:
    """Run the release build from the command line; 0 when built or skipped (no shared data outside CI)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", type=Path, default=REPO / CONFIG, help=f"release settings (default {CONFIG})")
    p.add_argument("--data-root", type=Path, help="the shared data folder (default: GONERD_DATA, else shared/data "
                                                  "beside the repository)")
    p.add_argument("--out", type=Path, default=REPO / OUT, help=f"build directory (default {OUT}/)")
    p.add_argument("--card-dir", type=Path, help=f"where the card and statistics go (default {CARD_DIR}/; "
                                                 "with --limit, OUT/card)")
    p.add_argument("--limit", action="append", default=[], metavar="KEY=N",
                   help="only the first N records of source KEY (repeatable; a smoke run)")
    p.add_argument("--no-conll", action="store_true", help="no CoNLL-2003 column and no CoNLL label scores")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    try:
        config = load_release_config(args.config)
        limits = _limits(args.limit, config)
    except ConfigError as e:
        p.error(str(e))
    root = data_root(args.data_root)
    missing = missing_data(config, root)
    if missing:
        if in_ci():
            sys.exit(f"release build: error: {missing} (CI=true: the shared data must be present)")
        print(f"release build skipped: {missing}")
        return 0
    card_dir = args.card_dir or (args.out / "card" if limits else REPO / CARD_DIR)
    command = " ".join(["make release"] if not (limits or args.no_conll) else
                       ["python bench/release_build.py", *(f"--limit {x}" for x in args.limit),
                        *(["--no-conll"] if args.no_conll else [])])
    summary = build_release(config, root, args.out, card_dir, limits=limits, conll=not args.no_conll,
                            command=command, progress=not args.quiet)
    print(json.dumps({k: summary[k] for k in ("documents", "human", "splits", "table1", "card", "stats", "parts")},
                     indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
