"""The annotation store: migrations, accounts, sessions, assignments, versioned edits, audit, blind reads."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from annotation.store import MIGRATIONS, Conflict, NotFound, Store, StoreError
from gonerd.errors import InputError

DOC = {"id": "d1", "text": "Benjamin Coney, age 30, of Conway.", "tokens": ["Benjamin", "Coney", ",", "age", "30", ",",
       "of", "Conway", "."], "whitespace": [" ", "", " ", " ", "", " ", " ", "", ""],
       "prelabels": [(0, 2, "PER"), (7, 8, "LOC")], "label_source": "rules@1", "meta": {"url": "https://x.test/1"}}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    """One database with three accounts (argon2 hashing is slow on purpose), copied for each test."""
    path = tmp_path_factory.mktemp("template") / "a.db"
    s = Store(path)
    s.add_user("alice", "alice-password", "annotator")
    s.add_user("bob", "bob-password", "annotator")
    s.add_user("root", "root-password", "admin")
    s.close()
    return path


@pytest.fixture
def store(template, tmp_path) -> Store:
    shutil.copy(template, tmp_path / "a.db")
    s = Store(tmp_path / "a.db")
    s.add_documents("p", [DOC])
    s.assign("p", ["alice", "bob"], 2)
    return s


def test_database_is_wal_with_foreign_keys_and_current_schema(store, tmp_path) -> None:
    db = store.connection()
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    Store(tmp_path / "a.db")  # reopening runs no migration twice
    with pytest.raises(sqlite3.IntegrityError):
        with store.write() as w:
            w.execute("INSERT INTO assignments (document_id, user_id, kind) VALUES (999, 999, 'annotation')")


def test_newer_schema_is_refused(tmp_path) -> None:
    path = tmp_path / "new.db"
    sqlite3.connect(path).execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(InputError, match="newer"):
        Store(path)


def test_passwords_are_hashed_and_checked(store) -> None:
    row = store.connection().execute("SELECT password_hash FROM users WHERE name = 'alice'").fetchone()
    assert row[0].startswith("$argon2") and "alice-password" not in row[0]
    assert store.authenticate("alice", "alice-password").name == "alice"
    assert store.authenticate("alice", "wrong-password") is None
    assert store.authenticate("nobody", "alice-password") is None
    with pytest.raises(InputError, match="already exists"):
        store.add_user("alice", "another-password")
    with pytest.raises(InputError, match="user name"):
        store.add_user("bad name", "another-password")
    with pytest.raises(InputError, match="8 characters"):
        store.add_user("carol", "short")


def test_sessions_store_only_a_hash_and_end(store) -> None:
    alice = store.user("alice")
    token, csrf = store.create_session(alice)
    assert store.session(token) == (alice, csrf)
    assert store.connection().execute("SELECT COUNT(*) FROM sessions WHERE token_hash = ?", (token,)).fetchone()[0] == 0
    store.end_session(token)
    assert store.session(token) is None


def test_assign_gives_each_document_k_annotators_once(store) -> None:
    store.add_documents("p", [{**DOC, "id": "d2"}, {**DOC, "id": "d3"}])
    store.add_user("carol", "carol-password")
    assert store.assign("p", ["alice", "bob", "carol"], 2) == 4
    assert store.assign("p", ["alice", "bob", "carol"], 2) == 0
    counts = {n: len(store.queue(store.user(n))) for n in ("alice", "bob", "carol")}
    assert sum(counts.values()) == 6 and max(counts.values()) - min(counts.values()) <= 1
    with pytest.raises(InputError, match="k=4"):
        store.assign("p", ["alice", "bob"], 4)


def test_duplicate_document_id_adds_nothing(store) -> None:
    with pytest.raises(InputError, match="already in project"):
        store.add_documents("p", [{**DOC, "id": "new"}, DOC])
    assert len(store.document_ids("p")) == 1


def test_edits_are_versioned_and_a_stale_edit_is_refused_with_the_current_state(store) -> None:
    alice = store.user("alice")
    doc = store.document_ids("p")[0]
    assert store.edit(doc, alice, 0, "add", 0, 2, "PER") == 1
    assert store.edit(doc, alice, 1, "add", 7, 8, "ORG") == 2
    with pytest.raises(Conflict) as stale:
        store.edit(doc, alice, 1, "add", 4, 5, "MISC")
    assert stale.value.version == 2 and stale.value.spans == [(0, 2, "PER"), (7, 8, "ORG")]
    assert store.edit(doc, alice, 2, "relabel", 7, label="LOC") == 3
    assert store.edit(doc, alice, 3, "remove", 0) == 4
    assert store.work(doc, alice) == {"version": 4, "status": "todo", "spans": [(7, 8, "LOC")]}
    assert [(e["op"], e["version"], e["user"]) for e in store.audit(doc)] == [
        ("add", 1, "alice"), ("add", 2, "alice"), ("relabel", 3, "alice"), ("remove", 4, "alice")]
    assert store.audit(doc)[2]["payload"] == {"start": 7, "end": 8, "label": "LOC", "was": "ORG"}


@pytest.mark.parametrize(("op", "start", "end", "label", "message"), [
    ("add", 1, 3, "PER", "overlaps"), ("add", 5, 99, "PER", "outside"), ("add", 3, 3, "PER", "outside"),
    ("add", 3, 4, "DATE", "unknown label"), ("remove", 3, None, None, "no span"), ("merge", 0, 1, "PER", "unknown op"),
])
def test_bad_edits_are_refused_and_change_nothing(store, op, start, end, label, message) -> None:
    alice = store.user("alice")
    doc = store.document_ids("p")[0]
    store.edit(doc, alice, 0, "add", 0, 2, "PER")
    with pytest.raises(StoreError, match=message):
        store.edit(doc, alice, 1, op, start, end, label)
    assert store.work(doc, alice)["version"] == 1 and len(store.audit(doc)) == 1


def test_blind_mode_an_annotator_reads_only_their_own_work(store) -> None:
    alice, bob, root = store.user("alice"), store.user("bob"), store.user("root")
    doc = store.document_ids("p")[0]
    store.edit(doc, alice, 0, "add", 0, 2, "PER")
    assert store.work(doc, bob)["spans"] == []
    store.add_user("carol", "carol-password")  # not assigned
    with pytest.raises(NotFound):
        store.work(doc, store.user("carol"))
    with pytest.raises(NotFound):
        store.edit(doc, store.user("carol"), 0, "add", 0, 2, "PER")
    with pytest.raises(NotFound):
        store.work(doc, alice, "final")
    assert store.all_work(doc)["alice"]["spans"] == [(0, 2, "PER")]
    assert store.work(doc, root, "final") == {"version": 0, "status": "todo", "spans": []}
    assert store.edit(doc, root, 0, "add", 0, 2, "PER", kind="final") == 1
    assert store.project_work("p")[0]["final"] == {"by": "root", "spans": [(0, 2, "PER")]}


def test_status_is_a_versioned_edit(store) -> None:
    alice = store.user("alice")
    doc = store.document_ids("p")[0]
    assert store.set_status(doc, alice, 0, "done") == 1
    with pytest.raises(Conflict):
        store.set_status(doc, alice, 0, "skipped")
    with pytest.raises(StoreError, match="unknown status"):
        store.set_status(doc, alice, 1, "finished")
    assert store.progress("p") == {"alice": {"todo": 0, "done": 1, "skipped": 0},
                                   "bob": {"todo": 1, "done": 0, "skipped": 0}}


def test_concurrent_writers_on_one_document_lose_nothing(store) -> None:
    """Many threads add spans to one shared work: each edit is accepted once or refused, never lost."""
    alice = store.user("alice")
    doc = store.document_ids("p")[0]
    accepted: list[int] = []

    def writer(token: int) -> None:
        while True:
            version = store.work(doc, alice)["version"]
            try:
                store.edit(doc, alice, version, "add", token, token + 1, "PER")
            except Conflict:
                continue
            accepted.append(token)
            return

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(accepted) == list(range(9))
    assert store.work(doc, alice) == {"version": 9, "status": "todo", "spans": [(i, i + 1, "PER") for i in range(9)]}


def test_assign_never_adds_to_a_document_that_has_k_or_more(store) -> None:
    for name in ("carol", "dave", "erin"):
        store.add_user(name, f"{name}-password")
    assert store.assign("p", ["alice", "bob", "carol"], 3) == 1
    assert store.assign("p", ["alice", "bob", "carol", "dave", "erin"], 2) == 0


def test_a_version_1_database_is_migrated_keeping_its_data(tmp_path) -> None:
    path = tmp_path / "v1.db"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute("PRAGMA user_version = 1")
    db.execute("INSERT INTO projects (name, created_at) VALUES ('p', 0)")
    db.execute("INSERT INTO documents (project_id, doc_key, position, text, tokens, whitespace, prelabels, meta)"
               " VALUES (1, 'd1', 0, 'Hi', ?, ?, '[]', '{}')", ('["Hi"]', '[""]'))
    db.commit()
    db.close()
    store = Store(path)
    assert store.connection().execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) == 2
    assert store.document(1)["tokens"] == ["Hi"]
    assert store.set_priorities("p", {"d1": 0.5}) == 1


def test_queues_show_the_highest_priority_first(store) -> None:
    store.add_documents("p", [{**DOC, "id": "d2"}, {**DOC, "id": "d3"}])
    store.assign("p", ["alice", "bob"], 2)
    alice = store.user("alice")
    assert [i["key"] for i in store.queue(alice)] == ["d1", "d2", "d3"]
    store.set_priorities("p", {"d3": 0.9, "d2": 0.1})
    assert [i["key"] for i in store.queue(alice)] == ["d3", "d2", "d1"]
    with pytest.raises(InputError, match="no document 'd9'"):
        store.set_priorities("p", {"d1": 1.0, "d9": 0.5})
    assert [i["key"] for i in store.queue(alice)] == ["d3", "d2", "d1"]
