"""Load on the annotation server: concurrent writers, a shared document, ``kill -9`` and restart.

Against the real server (``gonerd annotate serve`` in a subprocess on 127.0.0.1):

1. ``--writers`` annotators (default 20), each with its own account and documents, save single
   edits (add / relabel / remove a span) for ``--seconds`` (default 60), one every ``--pace``
   seconds on average (default 0.25 s, faster than a person labels): save latency p50/p95/p99 and
   edits/s; then for ``--stress-seconds`` back to back (no pause: the server's limit on these 2
   cores, load generator included). Afterwards every document must equal the replay of its
   writer's acknowledged edits and the audit must attribute each edit to its writer.
2. The same number of clients edit *one* shared work at once (``--shared-seconds``): a stale edit
   is refused (409) and retried on the new version; at the end every acknowledged span is present.
3. The writers start again, the server gets ``kill -9`` mid-load and is restarted on the same
   database: every acknowledged edit is present (at most the one in flight per writer is extra).
4. With Playwright and Debian Chromium: time to open and fully draw a 7,000-token document with
   467 pre-labels, and to add a region (key press to the next frame).

``--screenshots DIR --labeled LABELED`` instead writes PNGs of the annotator and adjudication views.

Baseline: Label Studio 1.23.2 measured on this machine (``../shared/ENVIRONMENT.md``).
Result: ``bench/results/annotate_load.json``.

    python bench/bench_annotate.py [--writers 20] [--seconds 60] [--shared-seconds 15]
    python bench/bench_annotate.py --screenshots bench/results --labeled runs/demo/labeled
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from common import print_table, save_result

from annotation.store import Store

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "gonerd" / "sample"
CHROMIUM = Path("/usr/bin/chromium")
DOC_TOKENS = 2000
LONG_TOKENS = 7000
LABELS = ("PER", "ORG", "LOC", "MISC")
# Label Studio 1.23.2, dev server + SQLite, 20 writers for 60 s (../shared/ENVIRONMENT.md)
LABEL_STUDIO = {"save_p50_ms": 3900, "save_p95_ms": 6900, "open_7k_ms": 2900, "add_region_7k_ms": 190,
                "shared_document_lost_share": 0.92}


def real_words(n: int, offset: int = 0) -> str:
    """``n`` words of the bundled DOJ releases (repeated as needed), starting ``offset`` words in."""
    words: list[str] = []
    texts = [json.loads(line)["text"] for line in (SAMPLE / "doj_releases.jsonl").read_text().splitlines()]
    while len(words) < n + offset:
        for text in texts:
            words += text.split()
    return " ".join(words[offset:offset + n])


def document(doc_id: str, n: int, offset: int, prelabel_every: int = 15) -> dict[str, Any]:
    """A store document of ``n`` real words (a line break every 40), pre-labels every ``prelabel_every``."""
    words = real_words(n, offset).split(" ")
    whitespace = ["\n" if (i + 1) % 40 == 0 else " " for i in range(n - 1)] + [""]
    return {"id": doc_id, "text": "".join(w + s for w, s in zip(words, whitespace)), "tokens": words,
            "whitespace": whitespace, "prelabels": [(i, i + 2, "PER") for i in range(5, n - 2, prelabel_every)],
            "label_source": "bench", "meta": {}}


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: Path, port: int) -> subprocess.Popen:
    """``gonerd annotate serve`` on ``db``; returns once it answers."""
    log = db.with_name("server.log")
    with log.open("ab") as err:
        proc = subprocess.Popen([sys.executable, "-m", "gonerd.cli", "annotate", "serve", "--db", str(db),
                                 "--host", "127.0.0.1", "--port", str(port)], stderr=err)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            httpx.get(f"http://127.0.0.1:{port}/login", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the server did not start:\n{log.read_text(errors='replace')[-2000:]}")


def client(url: str, name: str) -> httpx.Client:
    """A logged-in client sending its CSRF token."""
    c = httpx.Client(base_url=url, timeout=30)
    r = c.post("/api/login", json={"name": name, "password": f"{name}-password"})
    r.raise_for_status()
    c.headers["X-CSRF-Token"] = r.json()["csrf"]
    return c


class Writer(threading.Thread):
    """One annotator saving single edits to their own documents until ``stop`` is set."""

    def __init__(self, url: str, name: str, stop: threading.Event, seed: int, pace: float = 0.0) -> None:
        super().__init__(daemon=True)
        self.pace = pace  # mean seconds between edits (exponential think time); 0: back to back
        self.http = client(url, name)
        self.name, self.stop, self.rng = name, stop, random.Random(seed)
        self.docs = [item["document"] for item in self.http.get("/api/queue").json()["items"]]
        self.state = {d: self.http.get(f"/api/documents/{d}").json()["work"] for d in self.docs}
        self.acked: dict[int, list[dict]] = {d: [] for d in self.docs}
        self.in_flight: tuple[int, dict] | None = None
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def next_edit(self, doc: int) -> dict[str, Any]:
        """A random relabel, removal or addition on ``doc`` that the server must accept (additions avoid
        tokens already in a span; a document with over 40 spans only loses or changes them)."""
        spans = {s[0]: s for s in self.state[doc]["spans"]}
        if spans and (len(spans) > 40 or self.rng.random() < 0.3):
            start = self.rng.choice(list(spans))
            if self.rng.random() < 0.5:
                return {"op": "relabel", "start": start, "label": self.rng.choice(LABELS)}
            return {"op": "remove", "start": start}
        taken = {i for s, e, _ in spans.values() for i in range(s, e)}
        while True:
            start = self.rng.randrange(DOC_TOKENS - 3)
            end = start + self.rng.randint(1, 3)
            if not taken & set(range(start, end)):
                return {"op": "add", "start": start, "end": end, "label": self.rng.choice(LABELS)}

    def run(self) -> None:
        """Send edits, one at a time, until ``stop`` is set, recording each latency and any error."""
        while not self.stop.is_set():
            if self.pace and self.stop.wait(self.rng.expovariate(1 / self.pace)):
                return
            doc = self.rng.choice(self.docs)
            edit = self.next_edit(doc)
            self.in_flight = (doc, edit)
            began = time.perf_counter()
            try:
                r = self.http.post(f"/api/documents/{doc}/edits",
                                   json={**edit, "base_version": self.state[doc]["version"]})
            except httpx.TransportError:
                return  # the server is gone (kill -9): this edit was never acknowledged
            if r.status_code != 200:
                self.errors.append(f"{r.status_code} {r.text}")
                self.in_flight = None
                continue
            self.latencies.append(time.perf_counter() - began)
            apply(self.state[doc], edit, r.json()["version"])
            self.acked[doc].append(edit)
            self.in_flight = None


def apply(work: dict[str, Any], edit: dict[str, Any], version: int) -> None:
    """Apply an acknowledged edit to a local copy of the work."""
    spans = {s[0]: list(s) for s in work["spans"]}
    if edit["op"] == "add":
        spans[edit["start"]] = [edit["start"], edit["end"], edit["label"]]
    elif edit["op"] == "remove":
        del spans[edit["start"]]
    else:
        spans[edit["start"]][2] = edit["label"]
    work["spans"], work["version"] = sorted(spans.values()), version


def check(writers: list[Writer], allow_in_flight: bool) -> dict[str, int]:
    """Compare the server's state with each writer's acknowledged edits; count what differs."""
    lost = extra = 0
    for w in writers:
        for doc in w.docs:
            server = w.http.get(f"/api/documents/{doc}").json()["work"]
            expected = w.state[doc]
            if server["spans"] == expected["spans"] and server["version"] == expected["version"]:
                continue
            one_more = server["version"] == expected["version"] + 1
            if allow_in_flight and w.in_flight and w.in_flight[0] == doc and one_more:
                probe = json.loads(json.dumps(expected))
                apply(probe, w.in_flight[1], server["version"])
                if probe["spans"] == server["spans"]:
                    extra += 1
                    continue
            lost += 1
    return {"documents_differing": lost, "in_flight_applied": extra}


def audit_misattributed(db: Path) -> int:
    """Edits on annotation work recorded under another user than the work's owner."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM edits e JOIN assignments a ON a.id = e.assignment_id"
                            " WHERE a.kind = 'annotation' AND e.user_id != a.user_id").fetchone()[0]


def percentiles(latencies: list[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds."""
    ms = sorted(x * 1000 for x in latencies)
    if not ms:
        return {}
    q = statistics.quantiles(ms, n=100)
    return {"n": len(ms), "p50_ms": round(q[49], 2), "p95_ms": round(q[94], 2), "p99_ms": round(q[98], 2),
            "max_ms": round(ms[-1], 2)}


def run_for(threads: list[threading.Thread], stop: threading.Event, seconds: float) -> float:
    """Start ``threads``, set ``stop`` after ``seconds``, wait for them; returns the wall time."""
    began = time.perf_counter()
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join()
    return time.perf_counter() - began


def own_documents_phase(url: str, n: int, seconds: float, pace: float, seed: int) -> dict[str, Any]:
    """``n`` writers saving edits to their own documents for ``seconds`` (``pace``: mean seconds between
    a writer's edits, 0 for back to back): latency, throughput, and the check of every document."""
    stop = threading.Event()
    writers = [Writer(url, f"w{i}", stop, seed=seed + i, pace=pace) for i in range(n)]
    wall = run_for(writers, stop, seconds)
    return {"writers": n, "mean_seconds_between_edits": pace, "seconds": round(wall, 1),
            **percentiles([x for w in writers for x in w.latencies]),
            "edits_per_s": round(sum(len(w.latencies) for w in writers) / wall, 1),
            "errors": sum(len(w.errors) for w in writers), **check(writers, allow_in_flight=False)}


def shared_phase(url: str, n: int, seconds: float, doc: int) -> dict[str, Any]:
    """``n`` sessions of one account add spans to one work at once; 409s are retried."""
    stop = threading.Event()
    acked: list[tuple[int, int]] = []
    latencies: list[float] = []
    conflicts = [0]
    lock = threading.Lock()

    sessions = [client(url, "shared") for _ in range(n)]

    def run(k: int) -> None:
        http = sessions[k]
        slot = k
        while not stop.is_set() and slot < DOC_TOKENS:
            work = http.get(f"/api/documents/{doc}").json()["work"]
            began = time.perf_counter()
            r = http.post(f"/api/documents/{doc}/edits", json={"base_version": work["version"], "op": "add",
                                                               "start": slot, "end": slot + 1, "label": "PER"})
            with lock:
                if r.status_code == 200:
                    latencies.append(time.perf_counter() - began)
                    acked.append((slot, slot + 1))
                    slot += n
                elif r.status_code == 409:
                    conflicts[0] += 1
        http.close()

    run_for([threading.Thread(target=run, args=(k,)) for k in range(n)], stop, seconds)
    http = client(url, "shared")
    final = {(s, e) for s, e, _ in http.get(f"/api/documents/{doc}").json()["work"]["spans"]}
    http.close()
    return {"acknowledged": len(acked), "conflicts_refused": conflicts[0], "present": len(final & set(acked)),
            "lost": len(set(acked) - final), "unacknowledged_present": len(final - set(acked)),
            **percentiles(latencies)}


def kill_phase(db: Path, port: int, n: int, seconds: float) -> dict[str, Any]:
    """Writers under load, ``kill -9`` of the server after ``seconds``, restart, and the check."""
    url = f"http://127.0.0.1:{port}"
    server = start_server(db, port)
    stop = threading.Event()
    writers = [Writer(url, f"w{i}", stop, seed=1000 + i) for i in range(n)]
    for w in writers:
        w.start()
    time.sleep(seconds)
    os.kill(server.pid, signal.SIGKILL)
    server.wait()
    for w in writers:
        w.join(timeout=30)
    server = start_server(db, port)
    try:
        result = check(writers, allow_in_flight=True)
    finally:
        server.terminate()
        server.wait()
    return {"acknowledged": sum(len(a) for w in writers for a in w.acked.values()), **result}


def browser_login(browser: Any, url: str, name: str) -> Any:
    """A new page logged in as ``name`` with its first document drawn."""
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{url}/login")
    page.fill("#name", name)
    page.fill("#password", f"{name}-password")
    page.click("button[type=submit]")
    page.wait_for_selector("#text[data-ready='1']")
    return page


def screenshots(out: Path, labeled: Path) -> None:
    """PNGs of the annotator and adjudication views on the first documents of ``labeled`` (a
    ``gonerd label``/``build`` output): alice accepts every pre-label, bob relabels every third as
    ORG and leaves out every fifth (edits made through the store)."""
    from playwright.sync_api import sync_playwright

    from annotation.formats import read_input

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "demo.db"
        store = Store(db)
        for name in ("alice", "bob", "root"):
            store.add_user(name, f"{name}-password", "admin" if name == "root" else "annotator")
        store.add_documents("doj", read_input(labeled)[:3])
        store.assign("doj", ["alice", "bob"], 2)
        doc_id = store.document_ids("doj")[0]
        pre = store.document(doc_id)["prelabels"]
        bob = [(s, e, "ORG" if k % 3 == 2 else label) for k, (s, e, label) in enumerate(pre) if k % 5 != 4]
        for name, spans in (("alice", pre), ("bob", bob)):
            user = store.user(name)
            for version, (start, end, label) in enumerate(spans):
                store.edit(doc_id, user, version, "add", start, end, label)
            store.set_status(doc_id, user, len(spans), "done")
        store.close()
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = start_server(db, port)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
                page = browser_login(browser, url, "alice")
                page.evaluate("(doc) => openDocument(doc)", doc_id)
                page.wait_for_selector("#text[data-ready='1']")
                for key in ("ArrowRight", "ArrowRight", "ArrowRight"):
                    page.keyboard.press(key)
                page.screenshot(path=out / "annotate_annotator.png")
                page = browser_login(browser, url, "root")
                page.screenshot(path=out / "annotate_adjudication.png")
                browser.close()
        finally:
            server.terminate()
            server.wait()
    print(f"wrote {out / 'annotate_annotator.png'} and {out / 'annotate_adjudication.png'}")


def browser_phase(url: str, doc: int) -> dict[str, Any] | None:
    """Open the 7,000-token document and add a region in Chromium; None without a browser."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("browser figures skipped: pip install playwright==1.65.2 (and apt-get install chromium)")
        return None
    if not CHROMIUM.is_file():
        print(f"browser figures skipped: no {CHROMIUM}")
        return None
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        page = browser_login(browser, url, "reader")
        opens, adds = [], []
        for _ in range(5):
            opens.append(page.evaluate("""async (doc) => {
                const t = performance.now();
                await openDocument(doc);
                document.body.getBoundingClientRect();
                await new Promise((r) => requestAnimationFrame(() => setTimeout(r)));
                return performance.now() - t;
            }""", doc))
        for k in range(5):
            adds.append(page.evaluate("""(start) => new Promise((resolve) => {
                editor.select(start, start + 2);
                const t = performance.now();
                document.dispatchEvent(new KeyboardEvent("keydown", {key: "2"}));
                requestAnimationFrame(() => resolve(performance.now() - t));
            })""", 3000 + 7 * k))
        tokens = page.locator("#text .tok").count()
        browser.close()
    return {"tokens": tokens, "open_7k_ms": round(statistics.median(opens), 1),
            "add_region_7k_ms": round(statistics.median(adds), 1), "open_runs_ms": [round(x, 1) for x in opens],
            "add_runs_ms": [round(x, 1) for x in adds]}


def setup(db: Path, n: int) -> int:
    """Accounts w0..w{n-1}, ``shared`` and ``reader``; 2 documents per writer, a shared one, a 7k one."""
    store = Store(db)
    for name in [f"w{i}" for i in range(n)] + ["shared", "reader"]:
        store.add_user(name, f"{name}-password")
    store.add_documents("load", [document(f"d{i}", DOC_TOKENS, 97 * i) for i in range(2 * n)])
    for i in range(n):
        with store.write() as conn:
            for doc_id in store.document_ids("load")[2 * i:2 * i + 2]:
                conn.execute("INSERT INTO assignments (document_id, user_id, kind) VALUES (?, ?, 'annotation')",
                             (doc_id, store.user(f"w{i}").id))
    store.add_documents("shared", [document("shared", DOC_TOKENS, 0)])
    store.assign("shared", ["shared"], 1)
    store.add_documents("long", [document("long", LONG_TOKENS, 0)])
    store.assign("long", ["reader"], 1)
    store.close()
    return store.document_ids("long")[0]


def main() -> None:
    """Run the phases and save ``bench/results/annotate_load.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--pace", type=float, default=0.25,
                        help="mean seconds between one writer's edits in the main phase (default 0.25)")
    parser.add_argument("--stress-seconds", type=float, default=20,
                        help="then the writers save back to back for this long")
    parser.add_argument("--shared-seconds", type=float, default=15)
    parser.add_argument("--kill-after", type=float, default=8)
    parser.add_argument("--screenshots", type=Path, metavar="DIR",
                        help="only write PNGs of the two views into DIR (needs --labeled and Chromium)")
    parser.add_argument("--labeled", type=Path, help="a `gonerd label`/`build` labeled output for --screenshots")
    args = parser.parse_args()
    if args.screenshots:
        screenshots(args.screenshots, args.labeled)
        return
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "annotate.db"
        long_doc = setup(db, args.writers)
        shared_doc = Store(db).document_ids("shared")[0]
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        server = start_server(db, port)
        try:
            own = own_documents_phase(url, args.writers, args.seconds, args.pace, seed=0)
            stress = own_documents_phase(url, args.writers, args.stress_seconds, 0.0, seed=100)
            own["misattributed"] = stress["misattributed"] = audit_misattributed(db)
            shared = shared_phase(url, args.writers, args.shared_seconds, shared_doc)
            browser = browser_phase(url, long_doc)
        finally:
            server.terminate()
            server.wait()
        killed = kill_phase(db, port, args.writers, args.kill_after)
    ours = {"own_documents": own, "back_to_back": stress, "shared_document": shared, "kill_9_restart": killed, "browser": browser}
    rows = [("save p50 (ms)", f"{LABEL_STUDIO['save_p50_ms']}", f"{own.get('p50_ms')}"),
            ("save p95 (ms)", f"{LABEL_STUDIO['save_p95_ms']}", f"{own.get('p95_ms')}"),
            ("edits/s (all writers)", "-", f"{own['edits_per_s']}"),
            ("back to back: save p50 / p95 (ms)", "-", f"{stress.get('p50_ms')} / {stress.get('p95_ms')}"),
            ("back to back: edits/s", "-", f"{stress['edits_per_s']}"),
            ("documents differing from acked edits / mis-attributed edits", "-",
             f"{own['documents_differing'] + stress['documents_differing']} / {own['misattributed']}"),
            ("shared work: acked / lost / refused 409", f"{LABEL_STUDIO['shared_document_lost_share']:.0%} lost",
             f"{shared['acknowledged']} / {shared['lost']} / {shared['conflicts_refused']}"),
            ("kill -9: acked edits missing", "-", f"{killed['documents_differing']}")]
    if browser:
        rows += [("open 7k-token doc (ms)", f"{LABEL_STUDIO['open_7k_ms']}", f"{browser['open_7k_ms']}"),
                 ("add a region at 7k (ms)", f"{LABEL_STUDIO['add_region_7k_ms']}", f"{browser['add_region_7k_ms']}")]
    print_table(f"Annotation server, {args.writers} writers", rows,
                ("figure", "Label Studio 1.23.2", "gonerd annotate"))
    ratio = LABEL_STUDIO["save_p95_ms"] / own["p95_ms"] if own.get("p95_ms") else 0.0
    path = save_result("annotate_load", {"tool": "Label Studio 1.23.2", **LABEL_STUDIO}, ours, ratio,
                       "ms (ratio: Label Studio save p95 / ours)")
    print(f"\nsaved {path}")


if __name__ == "__main__":
    main()
