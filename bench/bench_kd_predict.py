"""Long-document NER prediction: tokens/s of ``gonerd kd predict`` (fp32 and int8) vs ``transformers.pipeline``.

All three run the same model on the same long documents (DOJ releases concatenated to ≥ 2,000 spaCy
tokens each), with the same window length, the same overlap (``stride``) and batch size, timed
interleaved in one process. Ours tokenises with spaCy, windows each document and scores each word
from the window where it has the most context; the baseline is ``pipeline("token-classification",
stride=..., aggregation_strategy="first")``; int8 is the model's ``gonerd kd export --int8`` copy
(ONNX Runtime dynamic quantization; made into a temporary folder unless ``--int8-model`` names one).
Throughput counts spaCy tokens per second (tokenisation included on both sides). Agreement: F1 of
our fp32 character spans against the pipeline's, exact (start, end, type) and by overlap of the same
type. Accuracy: entity F1 of fp32 and int8 on CoNLL-2003 testb (``<data root>/conll2003/eng.testb``).

    python bench/bench_kd_predict.py [--model runs/conll_minilm_3ep/best] [--repeat 3]   (from the repository root)
    -> bench/results/kd_predict_long_docs.json (``--result-name`` to write another name)

``--scan`` measures instead the int8 choices of ``kd export`` (:mod:`kd.export`): the graph as
exported or fused, weight scales per tensor or per output channel — testb F1 of each and its
tokens/s on the long documents, interleaved (-> bench/results/kd_int8_scan.json).
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path

from common import SHARED_DATA, best_of, print_table, save_result

from kd.config import portable_path

DEFAULT_MODEL = Path("runs/conll_minilm_3ep/best")


@functools.cache
def english():
    """spaCy's English tokenizer, made once per process as ``gonerd kd predict`` makes it once per command
    (made per timed call, its construction and cold vocabulary took 1.3 s of a 17 s call in a profile)."""
    import spacy

    return spacy.blank("en")


def long_documents(min_tokens: int, n_docs: int) -> list[str] | None:
    """DOJ releases joined (blank line between) into documents of at least ``min_tokens`` spaCy tokens."""
    src = SHARED_DATA / "doj_press_releases" / "releases_reassembled.jsonl"
    if not src.is_file():
        return None
    nlp = english()
    docs, parts, n = [], [], 0
    for line in src.open(encoding="utf-8"):
        text = json.loads(line)["text"]
        parts.append(text)
        n += len(nlp(text))
        if n >= min_tokens:
            docs.append("\n\n".join(parts))
            parts, n = [], 0
            if len(docs) == n_docs:
                break
    return docs


def ours(loaded, texts: list[str], max_length: int, stride: int, batch_size: int) -> list[set[tuple[int, int, str]]]:
    """Character spans per text from kd's windowed tagger (as ``gonerd kd predict`` runs it)."""
    from kd.predict import document_record, predict_documents, text_document

    docs = [text_document(english(), str(i), text) for i, text in enumerate(texts)]
    tags, _ = predict_documents(loaded, docs, max_length=max_length, stride=stride, batch_size=batch_size)
    return [{(s["start"], s["end"], s["label"]) for s in document_record(d, t, "")["spans"]} for d, t in zip(docs, tags)]


def baseline(pipe, texts: list[str], batch_size: int) -> list[set[tuple[int, int, str]]]:
    """Character spans per text from the transformers pipeline with stride."""
    return [{(e["start"], e["end"], e["entity_group"]) for e in ents} for ents in pipe(texts, batch_size=batch_size)]


def agreement(a: list[set], b: list[set]) -> dict[str, float]:
    """F1 of spans ``a`` against ``b``: exact match, and same-type overlap."""
    exact = sum(len(x & y) for x, y in zip(a, b))
    na, nb = sum(map(len, a)), sum(map(len, b))

    def overlaps(x, ys):
        return any(s < ye and ys_ < e and k == yk for s, e, k in [x] for ys_, ye, yk in ys)

    ov_a = sum(overlaps(x, y) for xs, y in zip(a, b) for x in xs)
    ov_b = sum(overlaps(x, y) for ys, y in zip(b, a) for x in ys)
    f1 = lambda p, r: 2 * p * r / (p + r) if p + r else 0.0  # noqa: E731
    return {"spans_ours": na, "spans_baseline": nb,
            "exact_f1": round(f1(exact / na if na else 0, exact / nb if nb else 0), 4),
            "overlap_f1": round(f1(ov_a / na if na else 0, ov_b / nb if nb else 0), 4)}


def conll_f1(loaded, max_length: int, stride: int, batch_size: int) -> dict[str, float] | None:
    """Entity F1 per type of ``loaded`` on CoNLL-2003 testb (sentences), or ``None`` without the data."""
    from kd.data import load_split
    from kd.evaluate import evaluate_split

    testb = SHARED_DATA / "conll2003" / "eng.testb"
    if not testb.is_file():
        return None
    split = load_split(str(testb), "testb", labels=loaded.labels, unit="sentence")
    scores = evaluate_split(loaded, split, max_length=max_length, stride=stride, batch_size=batch_size)["scores"]
    return {t: round(v["f1"], 4) for t, v in scores.items()}


def int8_model(model: str, given: str | None, tmp: Path) -> Path:
    """The int8 export to measure: ``given``, else one made now with ``gonerd kd export --int8`` into ``tmp``."""
    if given:
        return Path(given)
    from kd.export import export_int8

    export_int8(model, tmp / "int8")
    return tmp / "int8"


def scan(args: argparse.Namespace, texts: list[str]) -> None:
    """testb F1 and long-document tokens/s of each int8 variant ``kd export`` could make; saves kd_int8_scan."""
    import statistics
    import tempfile
    import time

    from kd.export import export_onnx, fuse, quantize_int8
    from kd.model import LoadedModel, load_model
    from kd.onnx_model import OnnxTokenClassifier

    loaded = load_model(args.model)
    variants: dict[str, LoadedModel] = {}
    with tempfile.TemporaryDirectory() as tmp:
        graphs = {"exported": Path(tmp) / "fp32.onnx", "fused": Path(tmp) / "fused.onnx"}
        export_onnx(load_model(args.model).model, graphs["exported"])
        fuse(graphs["exported"], graphs["fused"], loaded.model.config)
        for graph, path in graphs.items():
            for per_channel in (False, True):
                name = f"{graph}, {'per-channel' if per_channel else 'per-tensor'}"
                out = Path(tmp) / f"int8_{len(variants)}.onnx"
                quantize_int8(path, out, per_channel=per_channel)
                variants[name] = LoadedModel(OnnxTokenClassifier(out, loaded.model.config),
                                             loaded.tokenizer, loaded.labels, loaded.path, [])
    f1 = {"fp32": conll_f1(loaded, args.max_length, args.stride, 32)}
    f1.update({name: conll_f1(v, args.max_length, args.stride, 32) for name, v in variants.items()})
    times: dict[str, list[float]] = {name: [] for name in variants}
    for name, v in variants.items():
        ours(v, texts, args.max_length, args.stride, args.batch_size)  # warm-up
    for r in range(args.repeat):
        for name in list(variants)[:: 1 if r % 2 == 0 else -1]:  # ABBA: drifting load hits every variant alike
            start = time.perf_counter()
            ours(variants[name], texts, args.max_length, args.stride, args.batch_size)
            times[name].append(time.perf_counter() - start)
    n_tokens = sum(len(english()(t)) for t in texts)
    rows = {name: {"system": f"kd predict, int8 ({name})", "seconds": round(statistics.median(ts), 3),
                   "tokens_per_s": round(n_tokens / statistics.median(ts), 1),
                   "testb_f1": f1[name]["ALL"] if f1[name] else None} for name, ts in times.items()}
    print_table(f"int8 variants of {args.model}: testb F1 (fp32 {f1['fp32']}) and tokens/s on {len(texts)} documents",
                [(r["system"], str(r["testb_f1"]), f"{r['tokens_per_s']:.0f}") for r in rows.values()],
                ("variant", "testb F1", "tokens/s"))
    before, chosen = rows["exported, per-tensor"], rows["fused, per-channel"]
    path = save_result("kd_int8_scan", before, chosen, chosen["tokens_per_s"] / before["tokens_per_s"],
                       "spaCy tokens/s (higher is better)",
                       extra={"variants": rows, "conll2003_testb_f1": f1, "model": portable_path(args.model),
                              "n_docs": len(texts), "n_tokens": n_tokens, "max_length": args.max_length,
                              "stride": args.stride, "batch_size": args.batch_size, "repeat": args.repeat})
    print(f"saved {path}")


def main() -> None:
    """Time ``kd predict`` (fp32, int8) against ``transformers.pipeline`` on long documents; save the result."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(DEFAULT_MODEL))
    ap.add_argument("--int8-model", help="its `gonerd kd export --int8` folder (default: exported into a temp dir)")
    ap.add_argument("--min-tokens", type=int, default=2000)
    ap.add_argument("--docs", type=int, default=8)
    ap.add_argument("--max-length", type=int, default=512)
    ap.add_argument("--stride", type=int, default=128)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--result-name", default="kd_predict_long_docs", help="bench/results/NAME.json")
    ap.add_argument("--scan", action="store_true", help="the int8 variants instead (bench/results/kd_int8_scan.json)")
    args = ap.parse_args()

    import tempfile

    import torch
    from transformers import pipeline

    from kd.model import load_model

    if not Path(args.model).is_dir():
        print(f"skipped: no trained model at {args.model} (run `gonerd kd train-ner` first)")
        sys.exit(0)
    texts = long_documents(args.min_tokens, args.docs)
    if not texts:
        print(f"skipped: {SHARED_DATA / 'doj_press_releases'} not found")
        sys.exit(0)
    torch.set_num_threads(args.threads)
    if args.scan:
        scan(args, texts)
        return
    with tempfile.TemporaryDirectory() as tmp:
        quantized = load_model(int8_model(args.model, args.int8_model, Path(tmp)))
    loaded = load_model(args.model)
    loaded.tokenizer.model_max_length = args.max_length
    pipe = pipeline("token-classification", model=loaded.model, tokenizer=loaded.tokenizer, stride=args.stride,
                    aggregation_strategy="first", device=-1)
    n_tokens = sum(len(english()(t)) for t in texts)
    ours_spans = ours(loaded, texts, args.max_length, args.stride, args.batch_size)  # warm-up + outputs
    int8_spans = ours(quantized, texts, args.max_length, args.stride, args.batch_size)
    base_spans = baseline(pipe, texts, args.batch_size)
    # Interleaved, so a burst of load from other processes hits every side alike; fastest of each.
    runs = {"baseline": lambda: baseline(pipe, texts, args.batch_size),
            "ours": lambda: ours(loaded, texts, args.max_length, args.stride, args.batch_size),
            "int8": lambda: ours(quantized, texts, args.max_length, args.stride, args.batch_size)}
    best = {name: float("inf") for name in runs}
    for _ in range(args.repeat):
        for name, fn in runs.items():
            best[name] = min(best[name], best_of(fn, 1))
    systems = {"baseline": f"transformers.pipeline token-classification stride={args.stride} aggregation=first",
               "ours": f"gonerd kd predict fp32 (windows {args.max_length}, stride {args.stride}, most-context window)",
               "int8": "gonerd kd predict on the `gonerd kd export --int8` copy (ONNX Runtime int8)"}
    rows = {name: {"system": systems[name], "seconds": round(t, 3), "tokens_per_s": round(n_tokens / t, 1)}
            for name, t in best.items()}
    f1 = {"fp32": conll_f1(loaded, args.max_length, args.stride, 32),
          "int8": conll_f1(quantized, args.max_length, args.stride, 32)}
    ratio = rows["ours"]["tokens_per_s"] / rows["baseline"]["tokens_per_s"]
    ratio_int8 = rows["int8"]["tokens_per_s"] / rows["baseline"]["tokens_per_s"]
    print_table(f"NER prediction on {len(texts)} long documents ({n_tokens} spaCy tokens, model {args.model})",
                [(r["system"], f"{r['tokens_per_s']:.0f}", f"{r['seconds']:.2f}",
                  f"{r['tokens_per_s'] / rows['baseline']['tokens_per_s']:.2f}") for r in rows.values()],
                ("system", "tokens/s", "seconds", "× pipeline"))
    delta = None if f1["fp32"] is None else round(100 * (f1["int8"]["ALL"] - f1["fp32"]["ALL"]), 2)
    print(f"\nratio fp32/pipeline {ratio:.2f}, int8/pipeline {ratio_int8:.2f}; CoNLL-2003 testb F1 fp32 "
          f"{f1['fp32']}, int8 {f1['int8']} (int8 - fp32: {delta} points); agreement fp32 vs pipeline: "
          f"{agreement(ours_spans, base_spans)}")
    path = save_result(args.result_name, rows["baseline"], rows["ours"], ratio, "spaCy tokens/s (higher is better)",
                       extra={"int8": rows["int8"], "ratio_int8": round(ratio_int8, 4),
                              "conll2003_testb_f1": f1, "int8_minus_fp32_f1_points": delta,
                              "model": portable_path(args.model), "n_docs": len(texts), "n_tokens": n_tokens,
                              "max_length": args.max_length, "stride": args.stride, "batch_size": args.batch_size,
                              "agreement": agreement(ours_spans, base_spans),
                              "agreement_int8_vs_fp32": agreement(int8_spans, ours_spans)})
    print(f"saved {path}")


if __name__ == "__main__":
    main()
