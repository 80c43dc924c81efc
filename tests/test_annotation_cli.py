"""``gonerd annotate`` end to end: users, import, assign, a served app, agreement, export → build corrections."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from annotation.formats import read_input
from annotation.store import Store
from annotation_server import free_port
from gonerd.cli import main
from gonerd.dataset import load_gonerd
from gonerd.label.merge import spans_to_iob2
from gonerd.label import import_corrections, read_labeled

SAMPLE = Path(__file__).resolve().parents[1] / "gonerd" / "sample"


def add_user(monkeypatch, db: Path, name: str, *extra: str) -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{name}-password\n"))
    return main(["annotate", "users", "add", "--db", str(db), name, "--password-stdin", *extra])


def test_annotate_commands_end_to_end(monkeypatch, tmp_path, capsys) -> None:
    db = tmp_path / "a.db"
    for name in ("alice", "bob"):
        assert add_user(monkeypatch, db, name) == 0
    assert add_user(monkeypatch, db, "root", "--role", "admin") == 0
    assert main(["annotate", "users", "list", "--db", str(db)]) == 0
    assert "root\tadmin" in capsys.readouterr().out
    gold = SAMPLE / "gold_test.conll"
    assert main(["annotate", "import", "--db", str(db), "gold", str(gold),
                 "--annotators", "alice,bob", "--k", "2"]) == 0
    assert "imported 6 documents" in capsys.readouterr().out

    # alice keeps the gold spans of every document, bob drops the first span of each
    store = Store(db)
    for doc_id in store.document_ids("gold"):
        spans = store.document(doc_id)["prelabels"]
        for name, own in (("alice", spans), ("bob", spans[1:])):
            user = store.user(name)
            for version, (start, end, label) in enumerate(own):
                store.edit(doc_id, user, version, "add", start, end, label)
            store.set_status(doc_id, user, len(own), "done")
        store.edit(doc_id, store.user("root"), 0, "add", *spans[0], kind="final")

    out = tmp_path / "agreement.json"
    assert main(["annotate", "agreement", "--db", str(db), "gold", "--json", str(out)]) == 0
    table = capsys.readouterr().out
    pair = json.loads(out.read_text())["pairs"][0]
    assert (pair["a"], pair["b"], pair["documents"]) == ("alice", "bob", 6)
    overall = pair["labels"]["ALL"]
    assert overall["spans_a"] - overall["spans_b"] == 6 == overall["spans_a"] - overall["matched"]
    assert 0 < overall["kappa"] < 1 and f"{overall['f1']:.3f}" in table

    conll = tmp_path / "final.conll"
    assert main(["annotate", "export", "--db", str(db), "gold", str(conll), "--format", "conll"]) == 0
    assert conll.read_text().startswith("-DOCSTART- ")
    spans_jsonl = tmp_path / "alice.jsonl"
    assert main(["annotate", "export", "--db", str(db), "gold", str(spans_jsonl), "--source", "alice"]) == 0
    assert len(spans_jsonl.read_text().splitlines()) == 6

    # bob's work as the DatasetDict of `gonerd build`, split by a build config: the tokens and tags of his CoNLL
    bob_conll, hf, config = tmp_path / "bob.conll", tmp_path / "bob_hf", tmp_path / "build.toml"
    config.write_text("train = 0.5\nvalidation = 0\ntest = 0.5\n", encoding="utf-8")
    assert main(["annotate", "export", "--db", str(db), "gold", str(bob_conll), "--format", "conll",
                 "--source", "bob"]) == 0
    assert main(["annotate", "export", "--db", str(db), "gold", str(hf), "--format", "hf", "--source", "bob",
                 "--build-config", str(config)]) == 0
    dd = load_gonerd(hf)
    assert {s: len(ds) for s, ds in dd.items()} == {"train": 3, "validation": 0, "test": 3}
    tag_name = dd["train"].features["ner_tags"].feature.int2str
    exported = {r["id"]: (r["tokens"], tag_name(r["ner_tags"]), r["label_source"]) for ds in dd.values() for r in ds}
    assert exported == {d["id"]: (d["tokens"], spans_to_iob2(len(d["tokens"]), d["prelabels"]), "human:bob")
                        for d in read_input(bob_conll)}
    assert main(["annotate", "export", "--db", str(db), "gold", str(bob_conll), "--build-config", str(config)]) == 2
    assert "hf format only" in capsys.readouterr().err


def test_import_errors_exit_2_naming_the_file(monkeypatch, tmp_path, capsys) -> None:
    db = tmp_path / "a.db"
    assert main(["annotate", "import", "--db", str(db), "p", str(tmp_path / "absent.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gonerd annotate: error: ") and "absent.jsonl" in err
    assert main(["annotate", "assign", "--db", str(db), "nothing", "--annotators", "zed"]) == 2
    assert "no user 'zed'" in capsys.readouterr().err


def test_corrections_made_in_the_tool_feed_build(monkeypatch, tmp_path) -> None:
    """labeled.parquet → annotate import → adjudicate → export → what `--import-corrections` applies."""
    from gonerd.label import label_documents, write_labeled
    from label_pipeline import pipeline
    from test_annotation_formats import TEXTS

    nlp, labelers = pipeline()
    records = list(label_documents([{"id": "r1", "text": TEXTS["r1"]}], labelers=labelers, nlp=nlp, progress=False))
    labeled = write_labeled(records, tmp_path / "label" / "labeled.parquet")
    db = tmp_path / "a.db"
    assert add_user(monkeypatch, db, "root", "--role", "admin") == 0
    assert main(["annotate", "import", "--db", str(db), "p", str(labeled.parent)]) == 0
    store = Store(db)
    doc_id = store.document_ids("p")[0]
    store.edit(doc_id, store.user("root"), 0, "add", 0, 1, "LOC", kind="final")
    out = tmp_path / "corrections.jsonl"
    assert main(["annotate", "export", "--db", str(db), "p", str(out)]) == 0
    fixed = import_corrections(read_labeled(labeled), out)[0]
    assert fixed["label_source"] == "human:root" and fixed["spans"][0]["label"] == "LOC"
    assert sum(t != "O" for t in fixed["ner_tags"]) == 1


def test_serve_runs_the_app_on_the_given_port(tmp_path) -> None:
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "gonerd.cli", "annotate", "serve", "--db", str(tmp_path / "s.db"),
                               "--host", "127.0.0.1", "--port", str(port)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"server did not start: {server.stderr.read().decode()}")
                time.sleep(0.1)
        assert response.status_code == 200 and 'id="login-form"' in response.text
        assert httpx.get(f"http://127.0.0.1:{port}/api/queue").status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert "has no accounts yet" in server.stderr.read().decode()


def test_order_puts_the_most_uncertain_documents_first(monkeypatch, tmp_path, capsys) -> None:
    db = tmp_path / "a.db"
    assert add_user(monkeypatch, db, "alice") == 0
    gold = SAMPLE / "gold_test.conll"
    assert main(["annotate", "import", "--db", str(db), "gold", str(gold), "--annotators", "alice", "--k", "1"]) == 0
    store = Store(db)
    keys = [store.document(d)["key"] for d in store.document_ids("gold")]
    scores = tmp_path / "scores.jsonl"
    scores.write_text("".join(json.dumps({"id": k, "uncertainty": i / 10}) + "\n" for i, k in enumerate(keys)))
    assert main(["annotate", "order", "--db", str(db), "gold", str(scores)]) == 0
    assert [i["key"] for i in store.queue(store.user("alice"))] == keys[::-1]
    scores.write_text(json.dumps({"id": keys[0], "uncertainty": "high"}) + "\n")
    assert main(["annotate", "order", "--db", str(db), "gold", str(scores)]) == 2
    assert "line 1, field 'uncertainty': missing or not a number" in capsys.readouterr().err
