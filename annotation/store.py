"""SQLite store of the annotation tool: projects, documents, users, sessions, assignments, spans, edits.

One database file in WAL mode with foreign keys on; the schema is created and upgraded by numbered
migrations (``PRAGMA user_version``). Every query is parameterised.

Spans are token spans ``(start, end, label)`` (``end`` exclusive) over a document's words. Each
assignment (one annotator's work on one document, or an admin's adjudicated final version) carries a
``version``; an edit names the version it saw, and a stale one raises :class:`Conflict` carrying the
current state, so concurrent writers never overwrite each other silently. Every accepted edit is one
transaction that also appends to the ``edits`` audit table.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gonerd.errors import InputError
from gonerd.schema import ENTITY_TYPES

ROLES = ("admin", "annotator")
KINDS = ("annotation", "final")
STATUSES = ("todo", "done", "skipped")
OPS = ("add", "remove", "relabel")
SESSION_SECONDS = 12 * 3600
NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")

Span = tuple[int, int, str]

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE users (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'annotator')),
        created_at REAL NOT NULL
    ) STRICT;
    CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        expires_at REAL NOT NULL
    ) STRICT;
    CREATE TABLE projects (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        created_at REAL NOT NULL
    ) STRICT;
    CREATE TABLE documents (
        id INTEGER PRIMARY KEY,
        project_id INTEGER NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        doc_key TEXT NOT NULL,
        position INTEGER NOT NULL,
        text TEXT NOT NULL,
        tokens TEXT NOT NULL,
        whitespace TEXT NOT NULL,
        prelabels TEXT NOT NULL,
        label_source TEXT,
        meta TEXT NOT NULL,
        UNIQUE (project_id, doc_key)
    ) STRICT;
    CREATE TABLE assignments (
        id INTEGER PRIMARY KEY,
        document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL REFERENCES users(id),
        kind TEXT NOT NULL CHECK (kind IN ('annotation', 'final')),
        status TEXT NOT NULL DEFAULT 'todo' CHECK (status IN ('todo', 'done', 'skipped')),
        version INTEGER NOT NULL DEFAULT 0,
        UNIQUE (document_id, user_id, kind)
    ) STRICT;
    CREATE UNIQUE INDEX one_final ON assignments(document_id) WHERE kind = 'final';
    CREATE TABLE spans (
        assignment_id INTEGER NOT NULL REFERENCES assignments(id) ON DELETE CASCADE,
        start INTEGER NOT NULL,
        end INTEGER NOT NULL CHECK (end > start),
        label TEXT NOT NULL CHECK (label IN ('PER', 'ORG', 'LOC', 'MISC')),
        PRIMARY KEY (assignment_id, start)
    ) STRICT;
    CREATE TABLE edits (
        id INTEGER PRIMARY KEY,
        assignment_id INTEGER NOT NULL REFERENCES assignments(id) ON DELETE CASCADE,
        user_id INTEGER NOT NULL REFERENCES users(id),
        version INTEGER NOT NULL,
        op TEXT NOT NULL,
        payload TEXT NOT NULL,
        at REAL NOT NULL,
        UNIQUE (assignment_id, version)
    ) STRICT;
    """,
    # 2: review order; documents with the highest priority (e.g. the pre-labeler's uncertainty) first
    """
    ALTER TABLE documents ADD COLUMN priority REAL;
    """,
)


class StoreError(Exception):
    """A request the store refuses; ``status`` is the HTTP status the server answers with."""

    status = 400


class NotFound(StoreError):
    """The document or assignment does not exist, or is not the caller's to see."""

    status = 404


class Conflict(StoreError):
    """An edit based on a stale version; carries the current ``version`` and ``spans``."""

    status = 409

    def __init__(self, version: int, spans: list[Span]) -> None:
        super().__init__(f"stale edit: the current version is {version}")
        self.version, self.spans = version, spans


@dataclass(frozen=True)
class User:
    """An account: ``role`` is ``admin`` or ``annotator``."""

    id: int
    name: str
    role: str


def check_name(name: str, what: str) -> str:
    """``name`` when it is a usable user or project name (letters, digits, ``_.-``), else InputError."""
    if not name or len(name) > 64 or not set(name) <= NAME_CHARS:
        raise InputError(f"{what} name {name!r} must be 1-64 letters, digits, '_', '.' or '-'", field=what)
    return name


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Store:
    """The annotation database at ``path`` (created and migrated on first use); safe across threads."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._local = threading.local()
        self._hasher = None
        # one writer at a time inside this process: threads queue on a lock instead of sleeping in
        # SQLite's busy handler, whose back-off would add tens of milliseconds under load
        self._write_lock = threading.Lock()
        with self.write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise InputError(f"database schema {version} is newer than this gonerd ({len(MIGRATIONS)})",
                                 str(self.path))
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in filter(str.strip, script.split(";")):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number:d}")

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (autocommit mode: transactions are explicit)."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
            db.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode loses nothing when the process dies (kill -9); only a power cut can
            # drop the last commits, and it keeps each save to one write without an fsync.
            db.execute("PRAGMA synchronous = NORMAL")
            db.execute("PRAGMA foreign_keys = ON")
            self._local.db = db
        return db

    def close(self) -> None:
        """Close this thread's connection."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction (``BEGIN IMMEDIATE``): committed on success, rolled back on error."""
        db = self.connection()
        with self._write_lock:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    # --- users and sessions -------------------------------------------------------------------

    def _password_hasher(self) -> Any:
        if self._hasher is None:
            from argon2 import PasswordHasher

            self._hasher = PasswordHasher()
        return self._hasher

    def add_user(self, name: str, password: str, role: str = "annotator") -> User:
        """Create an account with an argon2-hashed password; InputError if the name is taken."""
        check_name(name, "user")
        if role not in ROLES:
            raise InputError(f"unknown role {role!r} (known: {', '.join(ROLES)})", field="role")
        if len(password) < 8:
            raise InputError("password must have at least 8 characters", field="password")
        hashed = self._password_hasher().hash(password)
        try:
            with self.write() as db:
                cur = db.execute("INSERT INTO users (name, password_hash, role, created_at) VALUES (?, ?, ?, ?)",
                                 (name, hashed, role, time.time()))
        except sqlite3.IntegrityError as e:
            raise InputError(f"user {name!r} already exists", field="user") from e
        return User(cur.lastrowid, name, role)

    def users(self) -> list[User]:
        """All accounts by name."""
        rows = self.connection().execute("SELECT id, name, role FROM users ORDER BY name").fetchall()
        return [User(*r) for r in rows]

    def user(self, name: str) -> User:
        """The account called ``name``; InputError if there is none."""
        row = self.connection().execute("SELECT id, name, role FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise InputError(f"no user {name!r}", field="user")
        return User(*row)

    def authenticate(self, name: str, password: str) -> User | None:
        """The user when ``password`` is theirs, else None (a hash is checked either way)."""
        from argon2.exceptions import VerificationError

        row = self.connection().execute("SELECT id, name, role, password_hash FROM users WHERE name = ?",
                                        (name,)).fetchone()
        hasher = self._password_hasher()
        # an unknown name costs one verification too, so timing does not tell which names exist
        stored = row[3] if row else hasher.hash(secrets.token_hex(8))
        try:
            hasher.verify(stored, password)
        except VerificationError:
            return None
        return User(*row[:3]) if row else None

    def create_session(self, user: User) -> tuple[str, str]:
        """A new session for ``user``: ``(token, csrf)``; only the token's hash is stored."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        with self.write() as db:
            db.execute("DELETE FROM sessions WHERE expires_at < ?", (time.time(),))
            db.execute("INSERT INTO sessions (token_hash, user_id, csrf, expires_at) VALUES (?, ?, ?, ?)",
                       (_hash_token(token), user.id, csrf, time.time() + SESSION_SECONDS))
        return token, csrf

    def session(self, token: str) -> tuple[User, str] | None:
        """``(user, csrf)`` of a live session token, else None."""
        row = self.connection().execute(
            "SELECT u.id, u.name, u.role, s.csrf FROM sessions s JOIN users u ON u.id = s.user_id"
            " WHERE s.token_hash = ? AND s.expires_at > ?", (_hash_token(token), time.time())).fetchone()
        return (User(*row[:3]), row[3]) if row else None

    def end_session(self, token: str) -> None:
        """Forget a session token (logout)."""
        with self.write() as db:
            db.execute("DELETE FROM sessions WHERE token_hash = ?", (_hash_token(token),))

    # --- projects and documents ---------------------------------------------------------------

    def project_id(self, name: str, create: bool = False) -> int:
        """The id of project ``name`` (created when ``create``); InputError if it does not exist."""
        check_name(name, "project")
        db = self.connection()
        row = db.execute("SELECT id FROM projects WHERE name = ?", (name,)).fetchone()
        if row:
            return row[0]
        if not create:
            raise InputError(f"no project {name!r}", field="project")
        with self.write() as db:
            return db.execute("INSERT INTO projects (name, created_at) VALUES (?, ?)", (name, time.time())).lastrowid

    def projects(self) -> list[str]:
        """Project names."""
        return [r[0] for r in self.connection().execute("SELECT name FROM projects ORDER BY name")]

    def add_documents(self, project: str, documents: Sequence[dict[str, Any]]) -> int:
        """Add documents (``id``, ``text``, ``tokens``, ``whitespace``, ``prelabels``, ``label_source``,
        ``meta``) to ``project``, creating it; returns how many. A document id already in the
        project raises InputError and nothing is added."""
        pid = self.project_id(project, create=True)
        try:
            with self.write() as db:
                first = db.execute("SELECT COALESCE(MAX(position), -1) + 1 FROM documents WHERE project_id = ?",
                                   (pid,)).fetchone()[0]
                db.executemany(
                    "INSERT INTO documents (project_id, doc_key, position, text, tokens, whitespace, prelabels,"
                    " label_source, meta) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [(pid, d["id"], first + i, d["text"], json.dumps(d["tokens"]), json.dumps(d["whitespace"]),
                      json.dumps([list(s) for s in d["prelabels"]]), d.get("label_source"),
                      json.dumps(d.get("meta") or {})) for i, d in enumerate(documents)])
        except sqlite3.IntegrityError as e:
            raise InputError(f"a document id is already in project {project!r} ({e})", field="id") from e
        return len(documents)

    def document(self, doc_id: int) -> dict[str, Any]:
        """One document: ``id`` (row id), ``key``, ``project``, ``text``, ``tokens``, ``whitespace``,
        ``prelabels``, ``label_source``, ``meta``."""
        row = self.connection().execute(
            "SELECT d.id, d.doc_key, p.name, d.text, d.tokens, d.whitespace, d.prelabels, d.label_source, d.meta"
            " FROM documents d JOIN projects p ON p.id = d.project_id WHERE d.id = ?", (doc_id,)).fetchone()
        if row is None:
            raise NotFound(f"no document {doc_id}")
        return {"id": row[0], "key": row[1], "project": row[2], "text": row[3], "tokens": json.loads(row[4]),
                "whitespace": json.loads(row[5]), "prelabels": [tuple(s) for s in json.loads(row[6])],
                "label_source": row[7], "meta": json.loads(row[8])}

    def set_priorities(self, project: str, priorities: dict[str, float]) -> int:
        """Set the review priority of documents of ``project`` by document id (queues show the highest
        first); an id not in the project raises InputError and nothing changes. Returns how many."""
        pid = self.project_id(project)
        with self.write() as db:
            for key, priority in priorities.items():
                if db.execute("UPDATE documents SET priority = ? WHERE project_id = ? AND doc_key = ?",
                              (float(priority), pid, key)).rowcount != 1:
                    raise InputError(f"no document {key!r} in project {project!r}", field="id")
        return len(priorities)

    def document_ids(self, project: str) -> list[int]:
        """Row ids of a project's documents in import order."""
        pid = self.project_id(project)
        return [r[0] for r in self.connection().execute(
            "SELECT id FROM documents WHERE project_id = ? ORDER BY position", (pid,))]

    # --- assignments --------------------------------------------------------------------------

    def assign(self, project: str, annotators: Sequence[str], k: int) -> int:
        """Give every document of ``project`` to ``k`` of ``annotators`` (least loaded first, in the
        given order on ties); documents keep the annotators they already have. Returns how many
        assignments were made."""
        users = [self.user(n) for n in annotators]
        if not 1 <= k <= len(users):
            raise InputError(f"k={k} needs between 1 and {len(users)} annotators", field="k")
        pid = self.project_id(project)
        made = 0
        with self.write() as db:
            load = {u.id: db.execute("SELECT COUNT(*) FROM assignments WHERE user_id = ? AND kind = 'annotation'",
                                     (u.id,)).fetchone()[0] for u in users}
            for (doc_id,) in db.execute("SELECT id FROM documents WHERE project_id = ? ORDER BY position",
                                        (pid,)).fetchall():
                have = {r[0] for r in db.execute(
                    "SELECT user_id FROM assignments WHERE document_id = ? AND kind = 'annotation'", (doc_id,))}
                free = sorted((u for u in users if u.id not in have), key=lambda u: load[u.id])
                for user in free[:max(0, k - len(have))]:
                    db.execute("INSERT INTO assignments (document_id, user_id, kind) VALUES (?, ?, 'annotation')",
                               (doc_id, user.id))
                    load[user.id] += 1
                    made += 1
        return made

    def queue(self, user: User) -> list[dict[str, Any]]:
        """The user's assignments (annotation kind) in project and import order."""
        rows = self.connection().execute(
            "SELECT d.id, d.doc_key, p.name, a.status, a.version, json_array_length(d.tokens)"
            " FROM assignments a JOIN documents d ON d.id = a.document_id JOIN projects p ON p.id = d.project_id"
            " WHERE a.user_id = ? AND a.kind = 'annotation' ORDER BY p.name, d.priority DESC NULLS LAST, d.position",
            (user.id,)).fetchall()
        return [{"document": r[0], "key": r[1], "project": r[2], "status": r[3], "version": r[4], "n_tokens": r[5]}
                for r in rows]

    def _assignment(self, db: sqlite3.Connection, doc_id: int, user: User, kind: str,
                    create: bool = False) -> tuple[int, int, str]:
        row = db.execute("SELECT id, version, status FROM assignments WHERE document_id = ? AND user_id = ?"
                         " AND kind = ?", (doc_id, user.id, kind)).fetchone()
        if row is None and kind == "final" and user.role == "admin":
            row = db.execute("SELECT id, version, status FROM assignments WHERE document_id = ? AND kind = 'final'",
                             (doc_id,)).fetchone()
            if row is None and create:
                if db.execute("SELECT 1 FROM documents WHERE id = ?", (doc_id,)).fetchone() is None:
                    raise NotFound(f"no document {doc_id}")
                aid = db.execute("INSERT INTO assignments (document_id, user_id, kind) VALUES (?, ?, 'final')",
                                 (doc_id, user.id)).lastrowid
                row = (aid, 0, "todo")
        if row is None:
            # the same answer for "no such document" and "not yours": blind mode tells nothing
            raise NotFound(f"document {doc_id} is not assigned to {user.name}")
        return row

    @staticmethod
    def _spans(db: sqlite3.Connection, assignment_id: int) -> list[Span]:
        return [tuple(r) for r in db.execute("SELECT start, end, label FROM spans WHERE assignment_id = ?"
                                             " ORDER BY start", (assignment_id,))]

    def work(self, doc_id: int, user: User, kind: str = "annotation") -> dict[str, Any]:
        """``{version, status, spans}`` of the user's own work on a document (for an admin and
        ``kind="final"``: the adjudicated version, empty until first edited)."""
        db = self.connection()
        if kind == "final" and user.role != "admin":
            raise NotFound("only an admin adjudicates")
        try:
            aid, version, status = self._assignment(db, doc_id, user, kind)
        except NotFound:
            if kind != "final":
                raise
            self.document(doc_id)
            return {"version": 0, "status": "todo", "spans": []}
        return {"version": version, "status": status, "spans": self._spans(db, aid)}

    def all_work(self, doc_id: int) -> dict[str, dict[str, Any]]:
        """Every annotator's work on a document by name (for adjudication by an admin only)."""
        db = self.connection()
        rows = db.execute("SELECT a.id, u.name, a.status, a.version FROM assignments a JOIN users u ON u.id = a.user_id"
                          " WHERE a.document_id = ? AND a.kind = 'annotation' ORDER BY u.name", (doc_id,)).fetchall()
        return {name: {"status": status, "version": version, "spans": self._spans(db, aid)}
                for aid, name, status, version in rows}

    def edit(self, doc_id: int, user: User, base_version: int, op: str, start: int, end: int | None = None,
             label: str | None = None, kind: str = "annotation") -> int:
        """Apply one edit (``add`` a span, ``remove`` or ``relabel`` the span starting at ``start``) to
        the user's work on a document; returns the new version.

        Raises :class:`Conflict` when ``base_version`` is not the current version, and
        :class:`StoreError` for an edit that does not fit (overlap, unknown label, outside the text).
        """
        if op not in OPS:
            raise StoreError(f"unknown op {op!r} (known: {', '.join(OPS)})")
        if op != "remove" and label not in ENTITY_TYPES:
            raise StoreError(f"unknown label {label!r} (known: {', '.join(ENTITY_TYPES)})")
        with self.write() as db:
            aid, version = self._current(db, doc_id, user, kind, base_version)
            current = db.execute("SELECT end, label FROM spans WHERE assignment_id = ? AND start = ?",
                                 (aid, start)).fetchone()
            if op == "add":
                n_tokens = db.execute("SELECT json_array_length(tokens) FROM documents WHERE id = ?",
                                      (doc_id,)).fetchone()[0]
                if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= n_tokens):
                    raise StoreError(f"span {start!r}-{end!r} is outside the document's {n_tokens} tokens")
                overlap = db.execute("SELECT start, end FROM spans WHERE assignment_id = ? AND start < ? AND end > ?",
                                     (aid, end, start)).fetchone()
                if overlap:
                    raise StoreError(f"span {start}-{end} overlaps span {overlap[0]}-{overlap[1]}")
                db.execute("INSERT INTO spans (assignment_id, start, end, label) VALUES (?, ?, ?, ?)",
                           (aid, start, end, label))
                payload = {"start": start, "end": end, "label": label}
            elif current is None:
                raise StoreError(f"no span starts at token {start}")
            elif op == "remove":
                db.execute("DELETE FROM spans WHERE assignment_id = ? AND start = ?", (aid, start))
                payload = {"start": start, "end": current[0], "label": current[1]}
            else:
                db.execute("UPDATE spans SET label = ? WHERE assignment_id = ? AND start = ?", (label, aid, start))
                payload = {"start": start, "end": current[0], "label": label, "was": current[1]}
            return self._bump(db, aid, user, version, op, payload)

    def _current(self, db: sqlite3.Connection, doc_id: int, user: User, kind: str, base_version: int
                 ) -> tuple[int, int]:
        """``(assignment id, version)`` of the work an edit changes, when ``base_version`` is current."""
        if kind == "final" and user.role != "admin":
            raise NotFound("only an admin adjudicates")
        aid, version, _ = self._assignment(db, doc_id, user, kind, create=True)
        if base_version != version:
            raise Conflict(version, self._spans(db, aid))
        return aid, version

    @staticmethod
    def _bump(db: sqlite3.Connection, aid: int, user: User, version: int, op: str, payload: dict) -> int:
        db.execute("UPDATE assignments SET version = ? WHERE id = ?", (version + 1, aid))
        db.execute("INSERT INTO edits (assignment_id, user_id, version, op, payload, at) VALUES (?, ?, ?, ?, ?, ?)",
                   (aid, user.id, version + 1, op, json.dumps(payload), time.time()))
        return version + 1

    def set_status(self, doc_id: int, user: User, base_version: int, status: str, kind: str = "annotation") -> int:
        """Mark the user's work ``done``, ``skipped`` or back to ``todo`` (a versioned, audited edit)."""
        if status not in STATUSES:
            raise StoreError(f"unknown status {status!r} (known: {', '.join(STATUSES)})")
        with self.write() as db:
            aid, version = self._current(db, doc_id, user, kind, base_version)
            db.execute("UPDATE assignments SET status = ? WHERE id = ?", (status, aid))
            return self._bump(db, aid, user, version, "status", {"status": status})

    def audit(self, doc_id: int) -> list[dict[str, Any]]:
        """Every edit made on a document, oldest first: who, which work, version, op, payload, time."""
        rows = self.connection().execute(
            "SELECT u.name, a.kind, owner.name, e.version, e.op, e.payload, e.at FROM edits e"
            " JOIN assignments a ON a.id = e.assignment_id JOIN users u ON u.id = e.user_id"
            " JOIN users owner ON owner.id = a.user_id WHERE a.document_id = ? ORDER BY e.id", (doc_id,)).fetchall()
        return [{"user": r[0], "kind": r[1], "owner": r[2], "version": r[3], "op": r[4], "payload": json.loads(r[5]),
                 "at": r[6]} for r in rows]

    def progress(self, project: str) -> dict[str, dict[str, int]]:
        """Per annotator: how many of their documents are todo/done/skipped in ``project``."""
        pid = self.project_id(project)
        out: dict[str, dict[str, int]] = {}
        for name, status, n in self.connection().execute(
                "SELECT u.name, a.status, COUNT(*) FROM assignments a JOIN users u ON u.id = a.user_id"
                " JOIN documents d ON d.id = a.document_id WHERE d.project_id = ? AND a.kind = 'annotation'"
                " GROUP BY u.name, a.status", (pid,)):
            out.setdefault(name, dict.fromkeys(STATUSES, 0))[status] = n
        return out

    def project_work(self, project: str) -> list[dict[str, Any]]:
        """Every document of ``project`` with its pre-labels, each annotator's spans and status, and
        the final spans (``None`` when not adjudicated): what export and agreement read."""
        db = self.connection()
        out = []
        for doc_id in self.document_ids(project):
            doc = self.document(doc_id)
            final = db.execute("SELECT a.id, u.name FROM assignments a JOIN users u ON u.id = a.user_id"
                               " WHERE a.document_id = ? AND a.kind = 'final'", (doc_id,)).fetchone()
            doc["annotators"] = self.all_work(doc_id)
            doc["final"] = {"by": final[1], "spans": self._spans(db, final[0])} if final else None
            out.append(doc)
        return out
