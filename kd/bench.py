"""``gonerd kd bench``: the paper's Table 2 — size, time and peak memory of teachers and their students.

Each (model, length) is measured in a fresh Python process, so peak memory is that model's alone:
the resident-set high-water mark (``ru_maxrss``) on CPU, ``torch.cuda.max_memory_allocated`` when a
GPU is present. Time is the median of ``repeat`` forward passes of the encoder (no head) on one
batch of random token ids, after a warm-up pass, with a fixed number of threads. A student's time ratio
is measured apart, in one more fresh process holding the teacher and the student, timed in turns
(:func:`measure_pair`): two processes minutes apart see different loads on a shared machine, and
their ratio moved by up to 0.09 between two runs of the same table. A row where the
architecture runs full attention at that length (BigBird below its block-sparse minimum, LSG at
two blocks or less, Nyströmformer with as many landmarks as tokens) says so. A full-attention BERT
with fewer positions than the length gets its position table tiled in memory, as conversion does.
"""

from __future__ import annotations

import json
import math
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


def _load_encoder(path: str, length: int):
    """The encoder at ``path`` ready to run ``length`` tokens on the best device, or the reason it cannot."""
    import torch
    from transformers import AutoModel

    import kd.lsg  # noqa: F401  (registers lsg_bert)
    from kd.model import position_limit, resolve_model_path

    model = AutoModel.from_pretrained(str(resolve_model_path(path))).eval()
    if model.config.model_type == "nystromformer":
        from kd.nystrom import patch_nystromformer

        patch_nystromformer(model)
    if model.config.model_type == "big_bird" and length > 704:
        model.set_attention_type("block_sparse")  # it stays in full mode once a short input switched it
    if model.config.model_type == "bert":
        _extend_positions(model, length)
    if position_limit(model.config) < length:
        return f"the model has {position_limit(model.config)} positions"
    return model.to(torch.device("cuda" if torch.cuda.is_available() else "cpu"))


def _timed_call(model, batch_size: int, length: int):
    """A function running ``model`` on one fixed batch of random ids and returning its seconds."""
    import torch

    cuda = torch.cuda.is_available()
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(1000 if model.config.vocab_size > 2000 else 5, model.config.vocab_size, (batch_size, length),
                        generator=gen).to(model.device)
    mask = torch.ones_like(ids)

    def call() -> float:
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.inference_mode():
            model(input_ids=ids, attention_mask=mask)
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - start

    return call


def measure(path: str, length: int, batch_size: int = 1, repeat: int = 5, threads: int = 2) -> dict[str, Any]:
    """Parameters, seconds per batch (median, all runs) and peak memory of the encoder at ``path``.

    Meant to run alone in its process (see :func:`measure_in_subprocess`): the peak is the process's.
    """
    import torch

    from kd.model import full_attention_note

    torch.set_num_threads(threads)
    cuda = torch.cuda.is_available()
    model = _load_encoder(path, length)
    if isinstance(model, str):
        return {"skipped": model}
    call = _timed_call(model, batch_size, length)
    call()  # the first pass warms caches and allocators up
    times = [call() for _ in range(repeat)]
    peak_mb = (torch.cuda.max_memory_allocated() / 2**20 if cuda
               else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"params_m": sum(p.numel() for p in model.parameters()) / 1e6, "seconds": statistics.median(times),
            "seconds_all": times, "peak_mb": peak_mb, "memory": "cuda_max_allocated" if cuda else "rss_high_water",
            "full_attention": full_attention_note(model.config, length)}


def measure_pair(teacher: str, student: str, length: int, batch_size: int = 1, repeat: int = 5,
                 threads: int = 2, min_seconds: float = 5.0) -> dict[str, Any]:
    """Median seconds of ``teacher`` and ``student`` timed in turns in this process (the order swapped
    every round, after one warm-up pass each) and the student/teacher ratio of those medians.

    At least ``repeat`` rounds, more while they fit in ``min_seconds``: a short input's passes take a
    tenth of a second, and a handful of them leaves the ratio to a moment's load on a shared machine."""
    import torch

    torch.set_num_threads(threads)
    models = {"teacher": _load_encoder(teacher, length), "student": _load_encoder(student, length)}
    if skipped := [f"{role}: {m}" for role, m in models.items() if isinstance(m, str)]:
        return {"skipped": "; ".join(skipped)}
    calls = {role: _timed_call(model, batch_size, length) for role, model in models.items()}
    warm = sum(call() for call in calls.values())
    rounds = max(repeat, math.ceil(min_seconds / warm))
    times: dict[str, list[float]] = {role: [] for role in calls}
    for i in range(rounds):
        for role in (("teacher", "student") if i % 2 == 0 else ("student", "teacher")):
            times[role].append(calls[role]())
    medians = {role: statistics.median(t) for role, t in times.items()}
    return {"teacher_seconds": medians["teacher"], "student_seconds": medians["student"],
            "time_ratio": medians["student"] / medians["teacher"], "rounds": rounds}


def _in_subprocess(function: str, args: tuple, threads: int, timeout: float) -> dict[str, Any]:
    """The JSON result of ``kd.bench.<function>(*args)`` run in a fresh interpreter, or ``{"error": ...}``."""
    code = f"import json; from kd.bench import {function}; print(json.dumps({function}{args!r}))"
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env)
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_in_subprocess(path: str, length: int, *, batch_size: int, repeat: int, threads: int,
                          timeout: float = 3600) -> dict[str, Any]:
    """:func:`measure` in a fresh interpreter; its JSON result, or ``{"error": ...}`` when it failed."""
    return _in_subprocess("measure", (path, length, batch_size, repeat, threads), threads, timeout)


def measure_pair_in_subprocess(teacher: str, student: str, length: int, *, batch_size: int, repeat: int,
                               threads: int, timeout: float = 3600) -> dict[str, Any]:
    """:func:`measure_pair` in a fresh interpreter; its JSON result, or ``{"error": ...}`` when it failed."""
    return _in_subprocess("measure_pair", (teacher, student, length, batch_size, repeat, threads), threads, timeout)


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
    """One result per model and length; a student's also holds ``pair`` (:func:`measure_pair`), whose
    ratio is its ``time_ratio``, and its peak-memory ratio to the teacher."""
    from tqdm.auto import tqdm

    single = [(m, n) for m in models for n in lengths]
    pairs = [(m, n) for m in models if m.teacher for n in lengths]
    paths = {m.name: m.path for m in models}
    results: dict[tuple[str, int], dict[str, Any]] = {}
    with tqdm(total=len(single) + len(pairs), desc="kd bench", disable=not progress) as bar:
        for model, length in single:
            res = measure_in_subprocess(model.path, length, batch_size=batch_size, repeat=repeat, threads=threads)
            results[model.name, length] = {"model": model.name, "role": model.role, "teacher": model.teacher,
                                           "length": length, **res}
            bar.update()
        for model, length in pairs:
            row, teacher = results[model.name, length], results[model.teacher, length]
            if "seconds" in row and "seconds" in teacher:
                row["pair"] = measure_pair_in_subprocess(paths[model.teacher], model.path, length,
                                                         batch_size=batch_size, repeat=repeat, threads=threads)
                if "time_ratio" in row["pair"]:
                    row["time_ratio"] = row["pair"]["time_ratio"]
                row["memory_ratio"] = row["peak_mb"] / teacher["peak_mb"]
            bar.update()
    return list(results.values())


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
    if any("pair" in r for r in results):
        text += "\nTime ratios: student and teacher timed in turns in one process (seconds: each alone).\n"
    if notes:
        text += "\n* runs full attention at this length.\n" + "".join(f"- {n}\n" for n in dict.fromkeys(notes))
    return text


def bench_command(pairs: Sequence[str], baselines: Sequence[str], lengths: Sequence[int], *, batch_size: int,
                  repeat: int, threads: int, progress: bool = True) -> dict[str, Any]:
    """``gonerd kd bench``: measure every row and return the report (results, table, settings)."""
    import datetime as dt

    from kd.config import portable_path
    from kd.record import git_commit, library_versions, portable_command

    with tempfile.TemporaryDirectory(prefix="kd-bench-") as tmp:
        models = parse_models(pairs, baselines, Path(tmp))
        results = run_bench(models, lengths, batch_size=batch_size, repeat=repeat, threads=threads, progress=progress)
    return {"name": "kd_table2", "command": portable_command("gonerd", sys.argv[1:]),
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "machine": {"cpu_count": os.cpu_count(), "threads": threads}, "git": git_commit(),
            "versions": library_versions(), "batch_size": batch_size, "repeat": repeat, "lengths": list(lengths),
            "models": [{**m.__dict__, "path": m.made_from or portable_path(m.path)} for m in models], "results": results, "table": table2_markdown(results, lengths)}
