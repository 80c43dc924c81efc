"""Render a run report (per-stage counts in → out, exclusions, sample shares) as markdown."""

from __future__ import annotations

from typing import Any


def render_report(report: dict[str, Any]) -> str:
    """Markdown for a ``run_docs`` report dict."""
    lines = ["# gonerd docs — run report", "",
             f"{report['n_documents']} documents, {report['n_tokens']:,} tokens, from {report['n_input_files']} input file(s).",
             "", "| stage | in | out | dropped |", "|---|---:|---:|---:|"]
    for s in report["stages"]:
        lines.append(f"| {s['stage']} | {s['in']} | {s['out']} | {s['in'] - s['out']} |")
    lines += ["", "## Exclusions by filter", "", "| filter | records |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in report["exclusions_by_filter"].items()]
    sample = report["sample"]
    lines += ["", "## Domain-weighted sample", "",
              f"{sample['n']} of {sample['available']} documents drawn (seed {sample['seed']}).", "",
              "| domain | target share | achieved share |", "|---|---:|---:|"]
    lines += [f"| {d} | {t:.1%} | {sample['achieved_shares'][d]:.1%} |" for d, t in sample["target_shares"].items()]
    if sample["unmet"]:
        lines += ["", f"No documents at all for: {', '.join(sample['unmet'])} — those targets cannot be met."]
    lines += ["", "## Domains in the output", "", "| domain | documents |", "|---|---:|"]
    lines += [f"| {k} | {v} |" for k, v in report["domains"].items()]
    return "\n".join(lines) + "\n"
