"""The annotation app's HTTP API on a real uvicorn server: sessions, CSRF, blind mode, versioned
edits, adjudication, export, and the page's safety against HTML in document text."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import httpx
import pytest

from annotation.store import Store
from annotation_server import login, make_doc, serve

STATIC = Path(__file__).resolve().parents[1] / "annotation" / "static"
XSS = '<script>alert("x")</script> <img src=x onerror=alert(1)> Jane Doe of Boston.'
PASSWORDS = {"alice": "alice-password", "bob": "bob-password", "carol": "carol-password", "root": "root-password"}


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("api") / "template.db"
    store = Store(path)
    for name, password in PASSWORDS.items():
        store.add_user(name, password, "admin" if name == "root" else "annotator")
    store.add_documents("demo", [make_doc("plain", "Benjamin Coney of Conway, Arkansas, age 30.", [(0, 2, "PER")]),
                                 make_doc("xss", XSS, [(7, 9, "PER")])])
    store.assign("demo", ["alice", "bob"], 2)
    store.close()
    return path


@pytest.fixture
def server_url(template, tmp_path):
    db = tmp_path / "a.db"
    shutil.copy(template, db)
    with serve(db) as url:
        yield url


@pytest.fixture
def alice(server_url) -> httpx.Client:
    with login(server_url, "alice", PASSWORDS["alice"]) as client:
        yield client


def first_doc(client: httpx.Client) -> int:
    return client.get("/api/queue").json()["items"][0]["document"]


def test_without_a_session_only_the_login_page_answers(server_url) -> None:
    client = httpx.Client(base_url=server_url)
    for path in ("/api/me", "/api/schema", "/api/queue", "/api/documents/1", "/api/projects", "/api/adjudication/1",
                 "/api/export?project=demo"):
        assert client.get(path).status_code == 401, path
    for path in ("/api/documents/1/edits", "/api/documents/1/status", "/api/logout"):
        assert client.post(path, json={}).status_code == 401, path
    for path in ("/", "/adjudicate"):
        response = client.get(path)
        assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert client.get("/login").status_code == 200
    assert client.get("/nowhere").status_code == 404


def test_login_checks_password_content_type_and_origin(server_url) -> None:
    client = httpx.Client(base_url=server_url)
    assert client.post("/api/login", json={"name": "alice", "password": "wrong-password"}).status_code == 401
    assert client.post("/api/login", json={"name": "nobody", "password": "x"}).status_code == 401
    form = client.post("/api/login", data={"name": "alice", "password": PASSWORDS["alice"]})
    assert form.status_code == 415
    foreign = client.post("/api/login", json={"name": "alice", "password": PASSWORDS["alice"]},
                          headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 403 and "gonerd_session" not in client.cookies
    ok = client.post("/api/login", json={"name": "alice", "password": PASSWORDS["alice"]})
    assert ok.status_code == 200 and ok.json()["role"] == "annotator"
    cookie = ok.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/api/me").json()["name"] == "alice"


def test_state_changes_need_the_csrf_token(alice) -> None:
    doc = first_doc(alice)
    edit = {"base_version": 0, "op": "add", "start": 0, "end": 2, "label": "PER"}
    token = alice.headers.pop("X-CSRF-Token")
    assert alice.post(f"/api/documents/{doc}/edits", json=edit).status_code == 403
    assert alice.post(f"/api/documents/{doc}/edits", json=edit, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert alice.post("/api/logout", json={}).status_code == 403
    alice.headers["X-CSRF-Token"] = token
    cross = alice.post(f"/api/documents/{doc}/edits", json=edit, headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    assert alice.get(f"/api/documents/{doc}").json()["work"]["version"] == 0  # nothing was applied
    assert alice.post(f"/api/documents/{doc}/edits", json=edit).json() == {"version": 1}


def test_single_edits_are_acknowledged_versioned_and_stale_ones_refused(alice) -> None:
    doc = first_doc(alice)
    url = f"/api/documents/{doc}"
    opened = alice.get(url).json()
    assert opened["work"] == {"version": 0, "status": "todo", "spans": []}
    assert opened["prelabels"] == [[0, 2, "PER"]] and len(opened["offsets"]) == 2 * 7
    assert alice.post(f"{url}/edits", json={"base_version": 0, "op": "add", "start": 0, "end": 2,
                                            "label": "PER"}).json() == {"version": 1}
    stale = alice.post(f"{url}/edits", json={"base_version": 0, "op": "add", "start": 3, "end": 4, "label": "LOC"})
    assert stale.status_code == 409 and stale.json()["version"] == 1 and stale.json()["spans"] == [[0, 2, "PER"]]
    assert alice.post(f"{url}/edits", json={"base_version": 1, "op": "relabel", "start": 0,
                                            "label": "ORG"}).json() == {"version": 2}
    overlap = alice.post(f"{url}/edits", json={"base_version": 2, "op": "add", "start": 1, "end": 3, "label": "LOC"})
    assert overlap.status_code == 400 and "overlaps" in overlap.json()["error"]
    assert alice.post(f"{url}/status", json={"base_version": 2, "status": "done"}).json() == {"version": 3}
    assert alice.get(url).json()["work"] == {"version": 3, "status": "done", "spans": [[0, 2, "ORG"]]}
    queue = alice.get("/api/queue").json()
    assert queue["progress"] == {"todo": 1, "done": 1, "skipped": 0}


@pytest.mark.parametrize(("body", "status"), [
    ({"base_version": "0", "op": "add", "start": 0, "end": 1, "label": "PER"}, 400),
    ({"base_version": 0, "op": "add", "start": 0, "end": 1, "label": "PER", "kind": "other"}, 400),
    ({"base_version": 0, "op": "add", "start": 0, "end": 1, "label": "PER", "pad": "x" * 70_000}, 413),
])
def test_bad_requests_are_refused(alice, body, status) -> None:
    assert alice.post(f"/api/documents/{first_doc(alice)}/edits", json=body).status_code == status
    raw = alice.post(f"/api/documents/{first_doc(alice)}/edits", content=b"{not json",
                     headers={"Content-Type": "application/json"})
    assert raw.status_code == 400


def test_blind_mode_annotators_see_only_their_own_work(server_url, alice) -> None:
    doc = first_doc(alice)
    alice.post(f"/api/documents/{doc}/edits", json={"base_version": 0, "op": "add", "start": 0, "end": 2,
                                                    "label": "PER"})
    with login(server_url, "bob", PASSWORDS["bob"]) as bob:
        assert bob.get(f"/api/documents/{doc}").json()["work"]["spans"] == []
        for path in (f"/api/adjudication/{doc}", "/api/projects", "/api/export?project=demo"):
            assert bob.get(path).status_code == 403, path
        assert bob.get(f"/api/documents/{doc}?kind=final").status_code == 404
        assert bob.get("/adjudicate").status_code == 403
    with login(server_url, "carol", PASSWORDS["carol"]) as carol:
        assert carol.get(f"/api/documents/{doc}").status_code == 404
        assert carol.get("/api/documents/999").status_code == 404  # the same answer as "not yours"
        edit = carol.post(f"/api/documents/{doc}/edits", json={"base_version": 1, "op": "remove", "start": 0})
        assert edit.status_code == 404
    assert alice.get(f"/api/documents/{doc}").json()["work"]["spans"] == [[0, 2, "PER"]]


def test_adjudication_and_export(server_url, alice) -> None:
    doc = first_doc(alice)
    alice.post(f"/api/documents/{doc}/edits", json={"base_version": 0, "op": "add", "start": 0, "end": 2,
                                                    "label": "PER"})
    with login(server_url, "root", PASSWORDS["root"]) as root:
        view = root.get(f"/api/adjudication/{doc}").json()
        assert view["annotators"]["alice"]["spans"] == [[0, 2, "PER"]] and view["annotators"]["bob"]["spans"] == []
        assert view["work"]["version"] == 0
        assert root.post(f"/api/documents/{doc}/edits", json={"base_version": 0, "op": "add", "start": 0, "end": 2,
                                                             "label": "PER", "kind": "final"}).json() == {"version": 1}
        exported = root.get("/api/export", params={"project": "demo", "format": "jsonl"})
        assert exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
        rows = [json.loads(line) for line in exported.text.splitlines()]
        assert rows == [{"id": "plain", "annotator": "root", "text": "Benjamin Coney of Conway, Arkansas, age 30.",
                         "spans": [{"start": 0, "end": 14, "label": "PER"}]}]
        conll = root.get("/api/export", params={"project": "demo", "format": "conll"}).text
        assert conll.splitlines()[:3] == ["-DOCSTART- plain root", "Benjamin B-PER", "Coney I-PER"]
        studio = root.get("/api/export", params={"project": "demo", "format": "label-studio"})
        assert studio.json()[0]["annotations"][0]["result"][0]["value"]["text"] == "Benjamin Coney"
        assert 'filename="demo-final.json"' in studio.headers["content-disposition"]
        assert root.get("/api/export", params={"project": "demo", "format": "xml"}).status_code == 400
        assert root.get("/api/export", params={"project": "nope"}).status_code == 400
        assert [p["name"] for p in root.get("/api/projects").json()["projects"]] == ["demo"]


def test_document_text_is_data_never_markup(server_url, alice) -> None:
    items = alice.get("/api/queue").json()["items"]
    xss = next(i["document"] for i in items if i["key"] == "xss")
    response = alice.get(f"/api/documents/{xss}")
    assert response.headers["content-type"] == "application/json" and response.json()["text"] == XSS
    page = alice.get("/")
    assert page.status_code == 200 and "<script>alert" not in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    for script in STATIC.glob("*.js"):
        source = script.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, f"{script.name} uses {sink}"


def test_logout_ends_the_session(alice) -> None:
    assert alice.post("/api/logout", json={}).status_code == 200
    assert alice.get("/api/me").status_code == 401
