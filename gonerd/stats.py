"""The paper's dataset statistics: Table 1 (sequence lengths), Table 9 (tags), Table 10 (domains).

Works on a gonerd dataset directory (one sequence = one document) and on CoNLL column files (one
sequence = one sentence, ``-DOCSTART-`` lines excluded, IOB1 converted to IOB2 per sentence): that
definition with pandas' ``describe`` (sample std, linear-interpolated percentiles) reproduces the
paper's CoNLL-2003 column exactly.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gonerd.schema import TAGS

LENGTH_ROWS = ("mean", "std", "min", "25%", "50%", "75%", "max")
# The CoNLL-2003 figures the paper prints (Brown et al., 2023): Table 1 to one decimal, Table 9 counts
# in thousands (to the digits printed) and shares to three decimals. (table, row, key, value, decimals)
PAPER_CONLL2003: tuple[tuple[str, str, str, float, int], ...] = (
    *(("Table 1", "lengths", k, v, 1) for k, v in
      (("mean", 14.5), ("std", 11.8), ("min", 1), ("25%", 6), ("50%", 10), ("75%", 22), ("max", 124))),
    ("Table 9", "Total", "count_k", 301, 0), ("Table 9", "O", "count_k", 251, 0), ("Table 9", "O", "p", .832, 3),
    ("Table 9", "B-PER", "count_k", 10, 0), ("Table 9", "B-PER", "p", .033, 3), ("Table 9", "B-PER", "p1", .198, 3),
    ("Table 9", "B-LOC", "count_k", 10.6, 1), ("Table 9", "B-LOC", "p", .035, 3), ("Table 9", "B-LOC", "p1", .210, 3),
    ("Table 9", "B-ORG", "p1", .184, 3), ("Table 9", "I-MISC", "p1", .034, 3),
)


@dataclass
class Corpus:
    """What the tables need from a corpus: sequence lengths, tag counts, per-sequence domains, splits."""

    name: str
    lengths: list[int]
    tag_counts: Counter
    domains: list[str] = field(default_factory=list)
    split_sizes: dict[str, dict[str, int]] = field(default_factory=dict)


def corpus_from_conll(paths: list[str | Path], name: str = "CoNLL-2003") -> Corpus:
    """Sentences of CoNLL files as sequences, IOB2 tags counted (DOCSTART lines are not sequences)."""
    from gonerd.conll import read_conll

    lengths: list[int] = []
    tags: Counter = Counter()
    split_sizes = {}
    for path in paths:
        n_seq = n_tok = 0
        for doc in read_conll(path):
            for sentence in doc.sentences:
                lengths.append(len(sentence.tokens))
                tags.update(sentence.tags)
                n_seq += 1
                n_tok += len(sentence.tokens)
        split_sizes[Path(path).name] = {"sequences": n_seq, "tokens": n_tok}
    return Corpus(name, lengths, tags, split_sizes=split_sizes)


def corpus_from_dataset(path: str | Path, name: str = "GONERD") -> Corpus:
    """Documents of a gonerd dataset directory (all splits) as sequences."""
    from gonerd.dataset import load_gonerd

    dd = load_gonerd(path)
    lengths: list[int] = []
    tags: Counter = Counter()
    domains: list[str] = []
    split_sizes = {}
    for split, ds in dd.items():
        names = ds.features["ner_tags"].feature.names
        split_tags = ds["ner_tags"]
        for seq in split_tags:
            lengths.append(len(seq))
            tags.update(names[t] for t in seq)
        domains += ds["domain"]
        split_sizes[split] = {"sequences": len(ds), "tokens": sum(len(s) for s in split_tags)}
    return Corpus(name, lengths, tags, domains, split_sizes)


def length_table(lengths: list[int], thresholds: tuple[int, ...] = (512, 4096)) -> dict[str, float]:
    """Table 1: pandas ``describe`` of sequence lengths plus the share of sequences above each threshold."""
    import pandas as pd

    if not lengths:
        raise ValueError("no sequences: cannot describe lengths")
    desc = pd.Series(lengths, dtype="int64").describe()
    out = {"count": int(desc["count"])}
    out.update({row: float(desc[row]) if len(lengths) > 1 or row != "std" else 0.0 for row in LENGTH_ROWS})
    for t in thresholds:
        out[f"share > {t}"] = sum(n > t for n in lengths) / len(lengths)
    return out


def tag_table(tag_counts: Counter) -> dict[str, dict[str, float | None]]:
    """Table 9: count, ``p`` (share of all tokens) and ``p1`` (share of non-O tokens) per tag, plus Total."""
    total = sum(tag_counts.values())
    non_o = total - tag_counts.get("O", 0)
    extra = sorted(set(tag_counts) - set(TAGS))
    rows: dict[str, dict[str, float | None]] = {}
    for tag in list(TAGS) + extra:
        n = tag_counts.get(tag, 0)
        rows[tag] = {"count": n, "p": n / total if total else 0.0,
                     "p1": None if tag == "O" else (n / non_o if non_o else 0.0)}
    rows["Total"] = {"count": total, "p": 1.0 if total else 0.0, "p1": 1.0 if non_o else 0.0}
    return rows


def domain_table(domains: list[str], top_k: int = 10) -> dict[str, Any]:
    """Table 10: the ``top_k`` domains by share with #, pdf and cdf; the rest summed; totals."""
    counts = Counter(domains)
    total = len(domains)
    rows, cdf = [], 0.0
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    for domain, n in ranked[:top_k]:
        cdf += n / total
        rows.append({"domain": domain, "count": n, "pdf": n / total, "cdf": cdf})
    rest = sum(n for _, n in ranked[top_k:])
    return {"top": rows, "rest": {"domains": max(len(ranked) - top_k, 0), "count": rest,
                                  "pdf": rest / total if total else 0.0},
            "total": {"domains": len(ranked), "count": total}}


def compute_stats(corpus: Corpus, *, thresholds: tuple[int, ...] = (512, 4096), top_domains: int = 10) -> dict:
    """All tables of one corpus as a JSON-ready dict."""
    out = {"name": corpus.name, "sequences": len(corpus.lengths), "splits": corpus.split_sizes,
           "table1_lengths": length_table(corpus.lengths, thresholds), "table9_tags": tag_table(corpus.tag_counts)}
    if corpus.domains:
        out["table10_domains"] = domain_table(corpus.domains, top_domains)
    return out


def compare_with_paper(stats: dict) -> list[dict[str, Any]]:
    """Each CoNLL-2003 figure the paper prints next to ``stats``' value rounded as the paper rounds it.

    ``stats`` is a :func:`compute_stats` dict; a row ``{"table", "row", "key", "paper", "ours",
    "equal"}`` per figure of ``PAPER_CONLL2003``.
    """
    rows = []
    for table, row, key, paper, decimals in PAPER_CONLL2003:
        if table == "Table 1":
            value = stats["table1_lengths"][key]
        else:
            tag = stats["table9_tags"][row]
            value = tag["count"] / 1000 if key == "count_k" else tag[key]
        ours = round(value, decimals)
        rows.append({"table": table, "row": row, "key": key, "paper": paper, "ours": ours, "equal": ours == paper})
    return rows


def _num(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"


def _k(n: int) -> str:
    # The paper's compact counts (251k, 10.6k) beside the exact ones.
    return f"{n / 1000:.3g}k" if n >= 1000 else str(n)


def stats_markdown(stats: list[dict]) -> str:
    """Markdown of Tables 1, 9 and 10 with one column group per corpus (``stats`` from :func:`compute_stats`)."""
    names = [s["name"] for s in stats]
    t1 = [s["table1_lengths"] for s in stats]
    lines = ["**Table 1.** Sequence length (tokens per sequence).", "",
             "| Length | " + " | ".join(names) + " |", "|---|" + "---:|" * len(stats)]
    keys = ["count", *LENGTH_ROWS] + [k for k in t1[0] if k.startswith("share >")]
    for key in keys:
        cells = [f"{t[key]:.1%}" if key.startswith("share") else (_num(round(t[key], 1)) if key in t else "")
                 for t in t1]
        label = {"std": "std. dev."}.get(key, key)
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "**Table 9.** Tag occurrences: p = share of all tokens, p¹ = share of non-O tokens.", "",
              "| Type | " + " | ".join(f"{n} # | p | p¹" for n in names) + " |",
              "|---|" + "---:|---:|---:|" * len(stats)]
    for tag in stats[0]["table9_tags"]:
        cells = []
        for s in stats:
            row = s["table9_tags"].get(tag, {"count": 0, "p": 0.0, "p1": 0.0})
            p1 = "-" if row["p1"] is None else f"{row['p1']:.3f}"
            cells.append(f"{row['count']:,} ({_k(row['count'])}) | {row['p']:.3f} | {p1}")
        lines.append(f"| {tag} | " + " | ".join(cells) + " |")
    for s in stats:
        if "table10_domains" not in s:
            continue
        t10 = s["table10_domains"]
        lines += ["", f"**Table 10.** Documents per domain in {s['name']}, by descending share.", "",
                  "| Website | # | pdf | cdf |", "|---|---:|---:|---:|"]
        lines += [f"| {r['domain']} | {r['count']:,} | {r['pdf']:.3f} | {r['cdf']:.3f} |" for r in t10["top"]]
        if t10["rest"]["count"]:
            lines.append(f"| … ({t10['rest']['domains']} more domains) | {t10['rest']['count']:,} | "
                         f"{t10['rest']['pdf']:.3f} | 1.000 |")
        lines.append(f"| Total ({t10['total']['domains']} domains) | {t10['total']['count']:,} | 1.0 | 1.0 |")
    return "\n".join(lines) + "\n"


def write_stats(corpora: list[Corpus], out_dir: str | Path, *, thresholds: tuple[int, ...] = (512, 4096),
                top_domains: int = 10, figure: bool = True) -> dict[str, Path]:
    """Compute the tables of ``corpora`` (first one is the subject) and write stats.json, stats.md, figure1.png."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stats = [compute_stats(c, thresholds=thresholds, top_domains=top_domains) for c in corpora]
    paths = {"json": out_dir / "stats.json", "markdown": out_dir / "stats.md"}
    paths["json"].write_text(json.dumps({"corpora": stats}, indent=2) + "\n", encoding="utf-8")
    paths["markdown"].write_text(stats_markdown(stats), encoding="utf-8")
    if figure:
        from gonerd.figure import length_kde

        paths["figure"] = length_kde({c.name: c.lengths for c in corpora}, out_dir / "figure1.png")
    return paths
