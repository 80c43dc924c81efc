"""``gonerd kd bench``: the paper's Table 2 — size, time and peak memory of teachers and their students.

Each (model, length) is measured in a fresh Python process, so peak memory is that model's alone:
the resident-set high-water mark (``ru_maxrss``) on CPU, ``torch.cuda.max_memory_allocated`` when a
GPU is present. Time is the median of ``repeat`` forward passes of the encoder (no head) on one
batch of random token ids, after a warm-up pass, with a fixed number of threads. A row where the
architecture runs full attention at that length (BigBird below its block-sparse minimum, LSG at
two blocks or less, Nyströmformer with as many landmarks as tokens) says so. A full-attention BERT
with fewer positions than the length gets its position table tiled in memory, as conversion does.
"""

from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from gonerd.errors import InputError

LENGTHS = (512, 1024, 2048, 4096)


@dataclass(frozen=True)
class BenchModel:
    """One row group of the table: a model folder, its display name, and the teacher it is a student of."""

    name: str
    path: str
    role: str  # "teacher", "student" or "baseline"
    teacher: str | None = None
    made_from: str | None = None  # a student made here: the teacher and layers it copies


def _extend_positions(model, length: int) -> None:
    """Tile a BERT position table in memory up to ``length`` (the full-attention baseline at long lengths)."""
    import torch

    from kd.convert import tiled_positions

    emb = model.embeddings
    table = emb.position_embeddings.weight.data
    if table.shape[0] >= length:
        return
    emb.position_embeddings = torch.nn.Embedding.from_pretrained(tiled_positions(table, length), freeze=False)
    for name in ("position_ids", "token_type_ids"):
        if hasattr(emb, name):
            emb.register_buffer(name, torch.zeros((1, length), dtype=torch.long) + (
                torch.arange(length) if name == "position_ids" else 0), persistent=False)
    model.config.max_position_embeddings = length


def measure(path: str, length: int, batch_size: int = 1, repeat: int = 5, threads: int = 2) -> dict[str, Any]:
    """Parameters, seconds per batch (median, all runs) and peak memory of the encoder at ``path``.

    Meant to run alone in its process (see :func:`measure_in_subprocess`): the peak is the process's.
    """
    import torch
    from transformers import AutoModel

    import kd.lsg  # noqa: F401  (registers lsg_bert)
    from kd.model import full_attention_note, position_limit, resolve_model_path

    torch.set_num_threads(threads)
    cuda = torch.cuda.is_available()
    model = AutoModel.from_pretrained(str(resolve_model_path(path))).eval()
    if model.config.model_type == "nystromformer":
        from kd.nystrom import patch_nystromformer

        patch_nystromformer(model)
    if model.config.model_type == "big_bird" and length > 704:
        model.set_attention_type("block_sparse")  # it stays in full mode once a short input switched it
    if model.config.model_type == "bert":
        _extend_positions(model, length)
    if position_limit(model.config) < length:
        return {"skipped": f"the model has {position_limit(model.config)} positions"}
    device = torch.device("cuda" if cuda else "cpu")
    model.to(device)
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(1000 if model.config.vocab_size > 2000 else 5, model.config.vocab_size, (batch_size, length),
                        generator=gen).to(device)
    mask = torch.ones_like(ids)
    times = []
    with torch.inference_mode():
        for i in range(repeat + 1):
            if cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            model(input_ids=ids, attention_mask=mask)
            if cuda:
                torch.cuda.synchronize()
            if i:  # the first pass warms caches and allocators up
                times.append(time.perf_counter() - start)
    peak_mb = (torch.cuda.max_memory_allocated() / 2**20 if cuda
               else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"params_m": sum(p.numel() for p in model.parameters()) / 1e6, "seconds": statistics.median(times),
            "seconds_all": times, "peak_mb": peak_mb, "memory": "cuda_max_allocated" if cuda else "rss_high_water",
            "full_attention": full_attention_note(model.config, length)}


def measure_in_subprocess(path: str, length: int, *, batch_size: int, repeat: int, threads: int,
                          timeout: float = 3600) -> dict[str, Any]:
    """:func:`measure` in a fresh interpreter; its JSON result, or ``{"error": ...}`` when it failed."""
    code = ("import json, sys; from kd.bench import measure; "
            f"print(json.dumps(measure({path!r}, {length}, {batch_size}, {repeat}, {threads})))")
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def parse_models(pairs: Sequence[str], baselines: Sequence[str], workdir: Path) -> list[BenchModel]:
    """``NAME=TEACHER[,STUDENT]`` pairs and ``NAME=PATH`` baselines as rows; a missing student is made
    from every other teacher layer (untrained: time and memory do not depend on the weights)."""
    from kd.student import init_student

    rows = []
    for spec in baselines:
        name, sep, path = spec.partition("=")
        if not sep:
            raise InputError(f"--baseline expects NAME=PATH, got {spec!r}", field="baseline")
        rows.append(BenchModel(name, path, "baseline"))
    for spec in pairs:
        name, sep, paths = spec.partition("=")
        if not sep:
            raise InputError(f"--pair expects NAME=TEACHER[,STUDENT], got {spec!r}", field="pair")
        teacher, _, student = paths.partition(",")
        made_from = None
        if not student:
            student = str(init_student(teacher, workdir / f"{name}-student"))
            made_from = f"{teacher}, every other layer (untrained)"
        rows += [BenchModel(name, teacher, "teacher"),
                 BenchModel(f"{name} student", student, "student", name, made_from)]
    return rows


def run_bench(models: Sequence[BenchModel], lengths: Sequence[int] = LENGTHS, *, batch_size: int = 1,
              repeat: int = 5, threads: int = 2, progress: bool = True) -> list[dict[str, Any]]:
    """One result per model and length, with the student/teacher time and memory ratios filled in."""
    from tqdm.auto import tqdm

    results = []
    jobs = [(m, n) for m in models for n in lengths]
    for model, length in tqdm(jobs, desc="kd bench", disable=not progress):
        res = measure_in_subprocess(model.path, length, batch_size=batch_size, repeat=repeat, threads=threads)
        results.append({"model": model.name, "role": model.role, "teacher": model.teacher, "length": length, **res})
    by_key = {(r["model"], r["length"]): r for r in results}
    for r in results:
        t = by_key.get((r["teacher"], r["length"])) if r["teacher"] else None
        if t and "seconds" in r and "seconds" in t:
            r["time_ratio"] = r["seconds"] / t["seconds"]
            r["memory_ratio"] = r["peak_mb"] / t["peak_mb"]
    return results


def table2_markdown(results: Sequence[dict[str, Any]], lengths: Sequence[int]) -> str:
    """The paper's Table 2 layout: params, seconds and peak MB per length; student rows as "↳" with ratios."""
    head = ["Model", "Params (M)", *[f"s @{n}" for n in lengths], *[f"MB @{n}" for n in lengths],
            *[f"time ratio @{n}" for n in lengths]]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    models = list(dict.fromkeys(r["model"] for r in results))
    notes = []
    for name in models:
        rows = {r["length"]: r for r in results if r["model"] == name}
        first = next(iter(rows.values()))
        label = "↳ student" if first["role"] == "student" else name
        cells = [label, next((f"{r['params_m']:.1f}" for r in rows.values() if "params_m" in r), "-")]
        for key, fmt in (("seconds", "{:.3f}"), ("peak_mb", "{:.0f}"), ("time_ratio", "{:.2f}")):
            for n in lengths:
                r = rows.get(n, {})
                mark = "*" if r.get("full_attention") and key == "seconds" else ""
                cells.append(fmt.format(r[key]) + mark if key in r else "-")
        for n in lengths:
            r = rows.get(n, {})
            if r.get("full_attention"):
                notes.append(f"{name} @{n}: full attention ({r['full_attention']})")
            if "skipped" in r or "error" in r:
                notes.append(f"{name} @{n}: {r.get('skipped') or r.get('error')}")
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    if notes:
        text += "\n* runs full attention at this length.\n" + "".join(f"- {n}\n" for n in dict.fromkeys(notes))
    return text


def bench_command(pairs: Sequence[str], baselines: Sequence[str], lengths: Sequence[int], *, batch_size: int,
                  repeat: int, threads: int, progress: bool = True) -> dict[str, Any]:
    """``gonerd kd bench``: measure every row and return the report (results, table, settings)."""
    import datetime as dt

    from kd.config import portable_path
    from kd.record import git_commit, library_versions

    with tempfile.TemporaryDirectory(prefix="kd-bench-") as tmp:
        models = parse_models(pairs, baselines, Path(tmp))
        results = run_bench(models, lengths, batch_size=batch_size, repeat=repeat, threads=threads, progress=progress)
    return {"name": "kd_table2", "command": " ".join(["gonerd", *sys.argv[1:]]),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "machine": {"cpu_count": os.cpu_count(), "threads": threads}, "git": git_commit(),
            "versions": library_versions(), "batch_size": batch_size, "repeat": repeat, "lengths": list(lengths),
            "models": [{**m.__dict__, "path": m.made_from or portable_path(m.path)} for m in models], "results": results, "table": table2_markdown(results, lengths)}
