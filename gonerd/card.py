"""The dataset card (Hub ``README.md``), generated from a build's measured numbers.

The card is a YAML header (Hub metadata) and markdown. Generated markdown lives between
``<!-- gonerd:begin NAME -->`` and ``<!-- gonerd:end NAME -->``; everything else is hand-written
and survives regeneration (:func:`merge_card`). In the header, the keys in ``GENERATED_KEYS`` are
regenerated and any other key is kept.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from gonerd.config import BuildConfig
from gonerd.errors import InputError
from gonerd.schema import MISC_EXAMPLES, MISC_KINDS, TAGS, TYPE_DESCRIPTIONS

BEGIN, END = "<!-- gonerd:begin {} -->", "<!-- gonerd:end {} -->"
_BLOCK = re.compile(r"<!-- gonerd:begin (?P<name>[\w-]+) -->\n?(?P<body>.*?)<!-- gonerd:end (?P=name) -->", re.S)
_FRONT = re.compile(r"\A---\n(?P<yaml>.*?)\n---\n?", re.S)
GENERATED_KEYS = ("pretty_name", "license", "license_name", "language", "multilinguality", "task_categories",
                  "task_ids", "size_categories", "source_datasets", "annotations_creators", "language_creators",
                  "tags", "configs", "dataset_info")
STATS_DIR = "stats"
FIGURE_PATH = f"{STATS_DIR}/figure1.png"
# The files of the statistics folder a card cites (copied with the card by ``gonerd build --card-copy``).
STATS_FILES = ("stats.json", "stats.md")

BIBTEX = """@inproceedings{brown-etal-2023-efficient,
    title = "Efficient Transformer Knowledge Distillation: A Performance Review",
    author = "Brown, Nathan  and
      Williamson, Ashton  and
      Anderson, Tahj  and
      Lawrence, Logan",
    editor = "Wang, Mingxuan  and
      Zitouni, Imed",
    booktitle = "Proceedings of the 2023 Conference on Empirical Methods in Natural Language Processing: Industry Track",
    month = dec,
    year = "2023",
    address = "Singapore",
    publisher = "Association for Computational Linguistics",
    url = "https://aclanthology.org/2023.emnlp-industry.6",
    doi = "10.18653/v1/2023.emnlp-industry.6",
    pages = "54--65",
}"""

HAND_WRITTEN = """## Intended uses

Evaluating and training long-context named-entity recognition models: one example is one whole
document (its length distribution is under Statistics).

## Licensing

The texts belong to their publishers; US Department of Justice press releases are in the public
domain (17 U.S.C. 105). Use for research only and respect each publisher's terms.
"""


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` bucket for ``n`` examples."""
    for limit, name in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"),
                        (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M")):
        if n < limit:
            return name
    return "10M<n<100M"


def block(name: str, body: str) -> str:
    """A generated block: ``body`` between the begin/end markers of ``name``."""
    return f"{BEGIN.format(name)}\n{body.rstrip()}\n{END.format(name)}"


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """The card's YAML header as a dict (empty when absent) and the markdown after it."""
    m = _FRONT.match(text)
    if not m:
        return {}, text
    return yaml.safe_load(m.group("yaml")) or {}, text[m.end():]


def join_front_matter(meta: dict[str, Any], body: str) -> str:
    """A card from its YAML header and markdown body."""
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=120) + "---\n\n" + body.lstrip()


def blocks(text: str) -> dict[str, str]:
    """The generated blocks of a card, by name."""
    return {m.group("name"): m.group("body") for m in _BLOCK.finditer(text)}


def hand_written(text: str) -> tuple[dict[str, Any], str]:
    """What a person may have edited: header keys outside ``GENERATED_KEYS`` and the body with blocks emptied."""
    meta, body = split_front_matter(text)
    kept = {k: v for k, v in meta.items() if k not in GENERATED_KEYS}
    emptied = _BLOCK.sub(lambda m: f"{BEGIN.format(m.group('name'))}{END.format(m.group('name'))}", body)
    return kept, emptied.strip()


def merge_card(existing: str | None, generated: str) -> str:
    """Regenerate the blocks and generated header keys of ``existing``, keeping everything hand-written.

    Blocks missing from ``existing`` are appended at its end.
    """
    if not existing:
        return generated
    new_meta, new_body = split_front_matter(generated)
    old_meta, old_body = split_front_matter(existing)
    fresh = blocks(new_body)
    body = _BLOCK.sub(lambda m: block(m.group("name"), fresh.get(m.group("name"), m.group("body"))), old_body)
    missing = [name for name in fresh if name not in blocks(old_body)]
    body = body.rstrip() + "".join(f"\n\n{block(name, fresh[name])}" for name in missing) + "\n"
    meta = {**new_meta, **{k: v for k, v in old_meta.items() if k not in GENERATED_KEYS}}
    return join_front_matter(meta, body)


def dataset_info_yaml(split_sizes: dict[str, dict[str, int]], download_size: int) -> dict[str, Any]:
    """The ``dataset_info`` header entry: features with ClassLabel names, split sizes, byte sizes."""
    from gonerd.dataset import features

    splits = [{"name": s, "num_bytes": v["num_bytes"], "num_examples": v["num_examples"]}
              for s, v in split_sizes.items() if v["num_examples"]]
    return {"features": features()._to_yaml_list(), "splits": splits, "download_size": download_size,
            "dataset_size": sum(v["num_bytes"] for v in split_sizes.values())}


def _stage_table(report: dict[str, Any]) -> str:
    lines = ["| stage | in | out | dropped |", "|---|---:|---:|---:|"]
    lines += [f"| {s['stage']} | {s['in']:,} | {s['out']:,} | {s['in'] - s['out']:,} |" for s in report["stages"]]
    by_filter = report.get("exclusions_by_filter") or {}
    if by_filter:
        lines += ["", "Exclusions by filter: " + ", ".join(f"{k} {v:,}" for k, v in by_filter.items()) + "."]
    return "\n".join(lines)


def _is_metric(node: Any) -> bool:
    return isinstance(node, dict) and {"precision", "recall", "f1"} <= set(node)


def _has_metric(node: Any) -> bool:
    return _is_metric(node) or (isinstance(node, dict) and any(_has_metric(v) for v in node.values()))


def _quality(label_eval: dict[str, Any] | None, eval_file: str) -> str:
    if not label_eval:
        return ("**Quality: not measured** for this build (no label evaluation was given). The pre-labels "
                "have not been compared with hand labels; treat them as silver labels.")
    rows: list[str] = []
    notes: list[str] = []

    def walk(node: dict[str, Any], path: list[str]) -> None:
        # File names only: the evaluating machine's directories mean nothing to card readers.
        scalars = {k: Path(v).name if k in ("file", "path", "docs") and isinstance(v, str) else v for k, v in node.items()
                   if isinstance(v, (str, int, float)) and not isinstance(v, bool)}
        if scalars:
            notes.append(f"- {' / '.join(path) or 'evaluated'}: " + ", ".join(f"{k} `{v}`" for k, v in scalars.items()))
        for k, v in node.items():
            if _is_metric(v):
                rows.append(f"| {' / '.join(path + [str(k)])} | {v['precision']:.3f} | {v['recall']:.3f} "
                            f"| {v['f1']:.3f} | {v.get('support', '')} |")
            elif _has_metric(v):
                walk(v, path + [str(k)])

    walk(label_eval, [])
    own = ("`gonerd_gold` is hand-labelled documents of this dataset; the other gold sets are other texts"
           if "gonerd_gold" in label_eval else "the gold texts are not this dataset's documents")
    return "\n".join(["**Quality, measured** against hand-labeled gold (from the label-evaluation JSON given to the "
                      f"build, `{eval_file}`; {own}):", "", *notes, "",
                      "| gold / entities | precision | recall | F1 | support |", "|---|---:|---:|---:|---:|", *rows])


def _longer_than(table1: dict[str, Any]) -> str:
    """``"70.6% longer than 512 tokens, 2.9% longer than 4,096"`` from Table 1's share rows ('' when none)."""
    shares = [(int(k.removeprefix("share > ")), v) for k, v in table1.items() if k.startswith("share > ")]
    return ", ".join(f"{v:.1%} longer than {n:,}" + " tokens" * (i == 0) for i, (n, v) in enumerate(sorted(shares)))


def _conll_note(comparisons: list[dict[str, Any]]) -> str:
    """What the card may say about the CoNLL-2003 column: a reproduction of the paper only when the
    comparison (:func:`gonerd.stats.compare_with_paper`) ran and every figure matched."""
    from gonerd.stats import compare_with_paper

    conll = [s for s in comparisons if s["name"].startswith("CoNLL-2003")]
    if not conll:
        return "."
    rows = compare_with_paper(conll[0])
    differing = [r for r in rows if not r["equal"]]
    note = "; CoNLL-2003 columns count sentences (DOCSTART lines excluded)"
    if not differing:
        return note + (f", and with that count all {len(rows)} CoNLL-2003 figures the paper prints (Tables 1 and 9, "
                       "at the paper's rounding) are reproduced.")
    return note + "; they differ from the paper's figures in " + ", ".join(
        f"{r['table']} {r['row']} {r['key']} ({r['ours']:g}, paper {r['paper']:g})" for r in differing) + "."


def _weakest_type(label_eval: dict[str, Any] | None) -> str:
    """The pre-labels' weakest entity type on this dataset's own hand-labelled documents, if measured."""
    scores = (label_eval or {}).get("gonerd_gold", {}).get("scores", {})
    types = {t: s["f1"] for t, s in scores.items() if t != "ALL" and s.get("support")}
    if not types:
        return "no hand-labelled documents of this dataset were scored for this build."
    weakest = min(types, key=types.get)
    return (f"against this dataset's hand-labelled documents they reach entity F1 {scores['ALL']['f1']:.3f}, "
            f"weakest on {weakest} ({types[weakest]:.3f}).")


def _schema() -> str:
    lines = ["| type | what it covers |", "|---|---|"]
    lines += [f"| {t} | {d} |" for t, d in TYPE_DESCRIPTIONS.items()]
    lines += ["", "MISC examples (the marked text is MISC):", ""]
    lines += [f"- {ex['kind']}: “{ex['text']}” → {', '.join(f'`{m}`' for m in ex['misc'])}"
              for ex in MISC_EXAMPLES["positive"]]
    lines += ["", "Not MISC: " + "; ".join(f"“{ex['text']}” ({ex['why']})" for ex in MISC_EXAMPLES["negative"])]
    return "\n".join(lines)


def render_card(*, stats: list[dict[str, Any]], stats_markdown: str, split_sizes: dict[str, dict[str, int]],
                download_size: int, label_sources: Counter, report: dict[str, Any] | None = None,
                label_eval: dict[str, Any] | None = None, config: BuildConfig | None = None,
                figure: str | None = FIGURE_PATH, report_file: str = "report.json",
                eval_file: str = "eval_labels.json") -> str:
    """The full card (header + hand-written template + generated blocks) from a build's numbers.

    ``stats[0]`` is the dataset's :func:`gonerd.stats.compute_stats` dict (others are comparisons),
    ``split_sizes`` maps split → ``num_examples``/``num_bytes``, ``report`` is the document
    pipeline's ``report.json``, ``label_eval`` an optional label-quality JSON; ``report_file`` and
    ``eval_file`` are the names the card gives those two files as the sources of its figures.
    """
    config = config or BuildConfig()
    ours = stats[0]
    n_docs = sum(v["num_examples"] for v in split_sizes.values())
    t1, t9 = ours["table1_lengths"], ours["table9_tags"]
    t10 = ours.get("table10_domains")
    human = any(src.startswith("human:") for src in label_sources)
    meta = {
        "pretty_name": config.pretty_name, "license": config.license,
        **({"license_name": "publishers-terms-research-only"} if config.license == "other" else {}),
        "language": ["en"], "multilinguality": ["monolingual"], "task_categories": ["token-classification"],
        "task_ids": ["named-entity-recognition"], "size_categories": [size_category(n_docs)],
        "source_datasets": ["original"],
        "annotations_creators": ["machine-generated"] + (["expert-generated"] if human else []),
        "language_creators": ["found"], "tags": ["long-context", "ner"],
        "configs": [{"config_name": "default", "data_files": [
            {"split": s, "path": f"data/{s}-*"} for s, v in split_sizes.items() if v["num_examples"]]}],
        "dataset_info": dataset_info_yaml(split_sizes, download_size),
    }
    sizes = ", ".join(f"{s} {v['num_examples']:,}" for s, v in split_sizes.items())
    longer = _longer_than(t1)
    summary = (f"# {config.pretty_name}\n\nA long-context named-entity recognition dataset built like GONERD "
               f"(Brown et al., 2023): {n_docs:,} whole documents ({sizes}), {t9['Total']['count']:,} tokens, "
               f"tagged PER / ORG / LOC / MISC in IOB2. One example is one document: mean length "
               f"{t1['mean']:.1f} tokens, median {t1['50%']:.0f}" + (f", {longer}." if longer else "."))
    fields = ("`id` string, `url` string (null when the source has none), `domain` string (registrable domain), "
              "`tokens` list of strings (words: spaCy tokens, no whitespace-only ones), `ner_tags` list of ClassLabel "
              f"({', '.join(TAGS)}), `label_source` string.")
    if report:
        by_dir = Counter(str(Path(p).parent) for p in report["inputs"])
        sources = (f"Built from {report['n_input_files']} input file(s): "
                   + ", ".join(f"`{d}/` ({n})" for d, n in by_dir.most_common()) + ".")
        sample = report.get("sample") or {}
        if sample.get("target_shares"):
            sources += (" Domain-weighted sample (seed {}): ".format(sample.get("seed"))
                        + ", ".join(f"{d} target {t:.0%}, achieved {sample['achieved_shares'].get(d, 0):.1%}"
                                    for d, t in sample["target_shares"].items())
                        + " (the paper upweights justice.gov to about 25%).")
    else:
        sources = "Input files: not recorded for this build (no document-pipeline report was given)."
    if t10:
        sources += (f"\n\n{t10['total']['domains']} domains; the top {len(t10['top'])} hold "
                    f"{t10['top'][-1]['cdf']:.1%} of the documents (Table 10 below).")
    filtering = (f"Counts per stage of the document pipeline (in → out), from its report `{report_file}`:\n\n"
                 + _stage_table(report)
                 if report else "Filtering counts: not recorded for this build (no document-pipeline report).")
    labeling = ("Labels are **pre-labels** unless the source says `human:`. Sources in this build:\n\n"
                + "\n".join(f"- `{src}`: {n:,} documents" for src, n in label_sources.most_common())
                + "\n\n" + _quality(label_eval, eval_file))
    statistics = ("Sequences are whole documents" + _conll_note(stats[1:])
                  + f" Tables from `{STATS_DIR}/stats.json` (also `{STATS_DIR}/stats.md`), which the statistics stage "
                  "(`gonerd stats`) wrote.\n\n" + stats_markdown.strip())
    if figure:
        from gonerd.figure import CAPTION

        statistics += f"\n\n![Figure 1: sequence length KDE]({figure})\n\n*Figure 1.* {CAPTION}"
    share_top = t10["top"][0] if t10 else None
    n_human = sum(n for src, n in label_sources.items() if src.startswith("human:"))
    limitations = "\n".join([
        *([f"- **Domain bias:** the largest domain, {share_top['domain']}, alone is {share_top['pdf']:.1%} of the "
           f"documents; the top {len(t10['top'])} hold {t10['top'][-1]['cdf']:.1%}."] if share_top else []),
        f"- **Pre-labels, not hand labels:** {n_docs - n_human:,} of {n_docs:,} documents carry machine pre-labels "
        "(`label_source` not `human:`); " + _weakest_type(label_eval),
        f"- **MISC differs from CoNLL-2003:** it covers only {', '.join(MISC_KINDS)}.",
        *([f"- **Long sequences:** {longer}. `gonerd kd` reads a document longer than a model's limit in overlapping "
           "windows of sub-tokens and scores each word in the window where it has the most context; words are "
           "dropped only with `--truncate`, which reports them."] if longer else []),
        "- **Splits** are by document and stratified by domain; domains with fewer than "
        f"{config.min_domain_docs} documents are pooled and split together, so a small domain may sit in one split only.",
    ])
    body = "\n\n".join([
        block("summary", summary), block("fields", "## Fields\n\n" + fields), HAND_WRITTEN.strip(),
        block("sources", "## Sources and domains\n\n" + sources), block("filtering", "## Filtering\n\n" + filtering),
        block("labeling", "## Labeling\n\n" + labeling), block("schema", "## Label schema\n\n" + _schema()),
        block("statistics", "## Statistics\n\n" + statistics),
        block("limitations", "## Limitations\n\n" + limitations),
        block("citation", "## Citation\n\n```bibtex\n" + BIBTEX + "\n```"),
    ]) + "\n"
    return join_front_matter(meta, body)


def read_json(path: str | Path) -> dict[str, Any]:
    """A JSON object from ``path``; unreadable or invalid files raise :class:`InputError`."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise InputError(f"cannot read ({e.strerror})", str(path)) from e
    except json.JSONDecodeError as e:
        raise InputError(f"not valid JSON: {e.msg}", str(path), line=e.lineno) from e
    if not isinstance(data, dict):
        raise InputError("expected a JSON object", str(path))
    return data


def _source_name(path: str | Path | None, dataset_dir: Path) -> str:
    """How the card names a source file: relative to the dataset folder when inside it, else by file name
    (the machine's directories mean nothing to card readers)."""
    if path is None:
        return ""
    path = Path(path).resolve()
    return str(path.relative_to(dataset_dir.resolve())) if path.is_relative_to(dataset_dir.resolve()) else path.name


def write_card(dataset_dir: str | Path, *, report_path: str | Path | None = None,
               eval_path: str | Path | None = None, config: BuildConfig | None = None) -> Path:
    """Generate ``dataset_dir/README.md`` from the build's files, merging into an existing card."""
    from gonerd.dataset import SPLITS, load_gonerd, shard_path

    dataset_dir = Path(dataset_dir)
    stats_dir = dataset_dir / STATS_DIR
    stats = json.loads((stats_dir / "stats.json").read_text(encoding="utf-8"))["corpora"]
    dd = load_gonerd(dataset_dir)
    split_sizes = {s: {"num_examples": len(dd[s]), "num_bytes": dd[s].data.nbytes} for s in SPLITS}
    download_size = sum((dataset_dir / shard_path(s)).stat().st_size for s in SPLITS
                        if (dataset_dir / shard_path(s)).is_file())
    label_sources = Counter(src for s in SPLITS for src in dd[s]["label_source"])
    report = read_json(report_path) if report_path else None
    label_eval = read_json(eval_path) if eval_path else None
    generated = render_card(stats=stats, stats_markdown=(stats_dir / "stats.md").read_text(encoding="utf-8"),
                            split_sizes=split_sizes, download_size=download_size, label_sources=label_sources,
                            report=report, label_eval=label_eval, config=config,
                            figure=FIGURE_PATH if (dataset_dir / FIGURE_PATH).is_file() else None,
                            report_file=_source_name(report_path, dataset_dir),
                            eval_file=_source_name(eval_path, dataset_dir))
    path = dataset_dir / "README.md"
    existing = path.read_text(encoding="utf-8") if path.is_file() else None
    path.write_text(merge_card(existing, generated), encoding="utf-8")
    return path
