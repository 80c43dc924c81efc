"""The Ray executor: ``gonerd docs`` and ``gonerd label`` on a local Ray cluster give the local run's files.

One Ray cluster (2 CPUs, loopback only) serves the whole module. Every comparison is byte for byte
against the local executor's files, on the bundled sample and on a synthetic corpus whose planted
near-duplicates lie in different shards.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from gonerd.config import LabelConfig, PipelineConfig, SampleConfig
from gonerd.pipeline import read_documents, run_docs
from tests.conftest import DOJ, PAGES, REPO
from tests.test_pipeline_run import kill_after_first_shard

pytestmark = pytest.mark.slow

DOCS_OUTPUTS = ("documents.parquet", "exclusions.jsonl", "report.json", "report.md")
SHARD_SIZE = 4
# (release copied, edit): a "longer" copy gains a sentence, so it is kept and the release dropped
PLANTED = ((1, "longer"), (4, "shorter"), (8, "longer"))


@pytest.fixture(scope="module")
def ray_address() -> Any:
    """A 2-CPU Ray cluster on 127.0.0.1 for the module (Ray's settings: tests/conftest.py); its GCS address."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=200 * 1024**2, log_to_driver=False)
    address = ray.get_runtime_context().gcs_address
    assert address.startswith("127.0.0.1:")
    yield address
    ray.shutdown()


def assert_same_files(a: Path, b: Path, names: tuple[str, ...]) -> None:
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def _edit_words(text: str, rng: random.Random, share: float) -> str:
    words = text.split(" ")
    for k in rng.sample(range(len(words)), int(len(words) * share)):
        words[k] = words[k].upper() + "x"
    return " ".join(words)


def synthetic_corpus(path: Path) -> list[tuple[str, str]]:
    """Write the DOJ releases followed by edited copies of three of them (JSONL); returns the
    planted (kept id, dropped id) pairs. Each copy lies shards away from its original."""
    rng = random.Random(7)
    releases = [json.loads(line)["text"] for line in DOJ.read_text(encoding="utf-8").splitlines()]
    rows = [{"id": f"r{i}", "url": f"https://www.justice.gov/r{i}", "text": t} for i, t in enumerate(releases)]
    pairs = []
    for i, edit in PLANTED:
        text = _edit_words(releases[i], rng, 0.04)
        text = text + " The case was investigated by the FBI." if edit == "longer" else text.rsplit(".", 2)[0] + "."
        copy = f"copy{i}"
        rows.append({"id": copy, "url": f"https://example.org/{copy}", "text": text})
        pairs.append((copy, f"r{i}") if edit == "longer" else (f"r{i}", copy))
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    shard = {r["id"]: k // SHARD_SIZE for k, r in enumerate(rows)}
    assert all(shard[a] != shard[b] for a, b in pairs)
    return pairs


SYNTHETIC_CONFIG = PipelineConfig(shard_size=SHARD_SIZE, sample=SampleConfig(domain_shares={}))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, str]], Path]:
    """(corpus file, planted pairs, local run's output dir) of the synthetic corpus."""
    work = tmp_path_factory.mktemp("synthetic")
    pairs = synthetic_corpus(work / "corpus.jsonl")
    run_docs([work / "corpus.jsonl"], work / "local", SYNTHETIC_CONFIG, progress=False)
    return work / "corpus.jsonl", pairs, work / "local"


def ray_config(config: Any) -> Any:
    return dataclasses.replace(config, executor="ray")


def test_a_bad_ray_address_is_one_line_before_any_work(tmp_path):
    import ray

    from gonerd.errors import ConfigError

    assert not ray.is_initialized()  # this test runs before the module's cluster starts
    with pytest.raises(ConfigError, match="ray_address '127.0.0.1:port': cannot connect to a Ray cluster") as err:
        run_docs([DOJ], tmp_path / "out", ray_config(PipelineConfig(ray_address="127.0.0.1:port")), progress=False)
    assert "\n" not in str(err.value) and not (tmp_path / "out" / "documents.parquet").exists()


def test_docs_on_ray_equal_the_local_run_on_the_sample(ray_address, sample_run, tmp_path):
    local, _ = sample_run
    run_docs([PAGES, DOJ], tmp_path, ray_config(PipelineConfig()), progress=False)
    assert json.loads((tmp_path / "run.json").read_text())["executor"] == "RayExecutor"
    assert_same_files(tmp_path, local, DOCS_OUTPUTS)


def test_near_duplicates_in_different_shards_are_found_on_ray(ray_address, synthetic, tmp_path):
    corpus, pairs, local = synthetic
    run_docs([corpus], tmp_path, ray_config(SYNTHETIC_CONFIG), progress=False)
    assert_same_files(tmp_path, local, DOCS_OUTPUTS)
    near = {e["id"]: e["reason"] for e in map(json.loads, (local / "exclusions.jsonl").read_text().splitlines())
            if e["filter"] == "near-duplicate"}
    # the longest copy wins, whichever shard it is in
    assert near == {dropped: f"near-duplicate of {kept} (estimated Jaccard ≥ 0.4)" for kept, dropped in pairs}
    assert {kept for kept, _ in pairs} <= {d["id"] for d in read_documents(local)}


def _datasketch_pairs(signatures: list, config: Any) -> list[tuple[int, int]]:
    """Candidate pairs as datasketch's MinHashLSH finds them (insert all, query each): the reference."""
    from datasketch import MinHash, MinHashLSH

    from gonerd.pipeline.dedup import SCHEME

    lsh = MinHashLSH(threshold=config.threshold, num_perm=config.num_perm)
    hashes = [MinHash(num_perm=config.num_perm, seed=config.seed, hashvalues=s, scheme=SCHEME) for s in signatures]
    for i, mh in enumerate(hashes):
        lsh.insert(str(i), mh)
    return sorted({(i, int(k)) for i, mh in enumerate(hashes) for k in lsh.query(mh) if int(k) > i})


def test_band_grouping_finds_datasketchs_candidates_in_any_buckets_and_executor(ray_address, synthetic):
    from gonerd.config import DedupConfig
    from gonerd.pipeline.dedup import minhash_signature, near_duplicate_pairs
    from gonerd.pipeline.ray_executor import RayExecutor

    corpus, _, _ = synthetic
    texts = [json.loads(line)["text"] for line in corpus.read_text().splitlines()]
    # shorter windows of the releases share more bands: candidates below the threshold too
    texts += [t[: len(t) // 3] for t in texts]
    config = DedupConfig(threshold=0.3)
    signatures = [minhash_signature(t, config) for t in texts]
    reference = _datasketch_pairs(signatures, config)
    assert len(reference) > len(texts) // 4
    found = near_duplicate_pairs(signatures, config)
    assert near_duplicate_pairs(signatures, config, buckets=5) == found
    assert near_duplicate_pairs(signatures, config, RayExecutor(), buckets=3) == found
    assert [(i, j) for i, j, _ in found] == [p for p in reference
                                             if (signatures[p[0]] == signatures[p[1]]).mean() >= config.threshold]
    assert len(found) < len(reference)  # some candidates were verified away


def _crash_once(item: Any, fn: Any, marker: Path) -> Any:
    """``fn(item)``, except that the first call to compute something kills its worker process."""
    if item is not None and not marker.exists():
        marker.touch()
        os._exit(1)
    return fn(item)


def test_a_killed_worker_is_retried_and_the_output_is_unchanged(ray_address, synthetic, tmp_path):
    import ray

    from gonerd.pipeline.ray_executor import RayExecutor

    # Ray workers cannot import this test module: send _crash_once's code along with it
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

    class CrashingRayExecutor(RayExecutor):
        def map(self, fn, items):
            return super().map(partial(_crash_once, fn=fn, marker=tmp_path / "crashed"), items)

    corpus, _, local = synthetic
    run_docs([corpus], tmp_path / "out", SYNTHETIC_CONFIG, executor=CrashingRayExecutor(), progress=False)
    assert (tmp_path / "crashed").exists()
    assert_same_files(tmp_path / "out", local, DOCS_OUTPUTS)


def test_a_killed_ray_run_resumes_to_the_same_files(ray_address, sample_run, tmp_path):
    local, _ = sample_run
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "gonerd.cli", "docs", str(PAGES), str(DOJ), "--out", str(out), "--quiet",
           "--set", "shard_size=4", "--executor", "ray", "--ray-address", ray_address]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = len(kill_after_first_shard(cmd, out, env))
    assert 1 <= done < 20

    rerun = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    run = json.loads((out / "run.json").read_text())
    assert run["executor"] == "RayExecutor" and run["shards"] == 20 and run["shards_reused"] >= done
    assert_same_files(out, local, ("documents.parquet", "exclusions.jsonl"))


def test_labels_of_the_sample_on_ray_equal_one_local_stream(ray_address, tmp_path):
    from labeled_sample import labeled_sample, sample_documents

    from gonerd.commands.label import run_label
    from gonerd.label.io import write_labeled

    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps(d) + "\n" for d in sample_documents()), encoding="utf-8")
    summary = run_label(docs, tmp_path / "ray", ray_config(LabelConfig()), progress=False)
    assert summary["documents"] == 65 and summary["entities"]["PER"] > 0
    # the reference: the same documents labeled in this process as one stream (shared with other tests)
    write_labeled(labeled_sample(), tmp_path / "local" / "labeled.parquet")
    assert_same_files(tmp_path / "ray", tmp_path / "local", ("labeled.parquet",))


def test_labels_of_the_synthetic_corpus_on_ray_equal_the_local_labels(ray_address, synthetic, tmp_path, monkeypatch):
    from gonerd.commands import label

    _, _, docs = synthetic
    monkeypatch.setattr(label, "CHUNK_DOCS", 8)
    config = LabelConfig(batch_size=2)
    label.run_label(docs, tmp_path / "local", dataclasses.replace(config, workers=2), progress=False)
    label.run_label(docs, tmp_path / "ray", ray_config(config), progress=False)
    assert_same_files(tmp_path / "ray", tmp_path / "local", ("labeled.parquet",))


def test_executor_setting_is_checked_and_a_missing_ray_is_one_line(monkeypatch):
    from gonerd.config import with_overrides
    from gonerd.errors import ConfigError
    from gonerd.pipeline.executor import LocalExecutor, make_executor

    with pytest.raises(ConfigError, match="config.executor: expected one of local, ray, got 'spark'"):
        with_overrides(PipelineConfig(), {"executor": "spark"})
    assert isinstance(make_executor("local", 2), LocalExecutor)
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets when the extra is not installed
    with pytest.raises(ConfigError, match=r"pip install 'gonerd\[ray\]'") as err:
        make_executor("ray")
    assert "\n" not in str(err.value)
