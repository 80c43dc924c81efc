"""The annotation tool in a real headless Chromium (Debian's, driven by Playwright; nothing downloaded).

Log in, open a 7,000-token document, annotate with mouse and keyboard, reload and see the labels,
see a conflict refused and shown, check that HTML in a document stays text, adjudicate, export.
Skipped with the install commands where the browser is absent; under ``CI=true`` that is a failure.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from conftest import in_ci

CHROMIUM = Path(os.environ.get("GONERD_CHROMIUM", "/usr/bin/chromium"))
INSTALL = ("apt-get install -y --no-install-recommends chromium && "
           "pip install playwright==1.65.2 pytest-playwright pytest-base-url")


def _missing() -> str | None:
    try:
        import playwright  # noqa: F401
        import pytest_playwright  # noqa: F401
    except ImportError:
        return f"browser tests need Playwright; install with: {INSTALL}"
    if not CHROMIUM.is_file():
        return f"browser tests need Chromium at {CHROMIUM}; install with: {INSTALL}"
    return None


if (_reason := _missing()) is not None:
    if in_ci():
        pytest.fail(_reason, pytrace=False)
    pytest.skip(_reason, allow_module_level=True)

from annotation.store import Store  # noqa: E402
from annotation_server import login, make_doc, serve  # noqa: E402
from playwright.sync_api import Page, expect  # noqa: E402

SAMPLE = Path(__file__).resolve().parents[1] / "gonerd" / "sample"
PASSWORDS = {"alice": "alice-password", "bob": "bob-password", "root": "root-password"}
XSS = '<img src=x onerror="window.pwned=1"> <script>window.pwned=2</script> Jane Doe spoke.'
LONG_TOKENS = 7000


def long_text() -> str:
    """Real DOJ release text, repeated to 7,000 words."""
    texts = [json.loads(line)["text"] for line in (SAMPLE / "doj_releases.jsonl").read_text().splitlines()]
    words: list[str] = []
    while len(words) < LONG_TOKENS:
        for text in texts:
            words += text.split()
    return " ".join(words[:LONG_TOKENS])


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium instead of a downloaded build."""
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": ["--no-sandbox"]}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    db = tmp_path_factory.mktemp("browser") / "a.db"
    store = Store(db)
    for name, password in PASSWORDS.items():
        store.add_user(name, password, "admin" if name == "root" else "annotator")
    long = make_doc("long", long_text(),
                    [(i, i + 2, "PER") for i in range(5, LONG_TOKENS - 2, 15)])
    docs = [make_doc("lines", "The case was handled by the Federal Bureau\nof Investigation in Little Rock.",
                     [(11, 13, "LOC")]),
            make_doc("xss", XSS, [(4, 6, "PER")]), long]
    store.add_documents("demo", docs)
    store.assign("demo", ["alice", "bob"], 2)
    store.close()
    with serve(db) as url:
        yield url


def log_in(page: Page, server: str, name: str) -> None:
    page.goto(f"{server}/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORDS[name])
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/adjudicate" if name == "root" else f"{server}/")


def open_doc(page: Page, key: str) -> None:
    page.click(f"#queue button:has-text('{key}')")
    expect(page.locator("#doc-title")).to_contain_text(key)
    expect(page.locator("#text[data-ready='1']")).to_have_count(1)


def drag(page: Page, first: int, last: int) -> None:
    """Select tokens ``first``..``last`` with the mouse, from inside the first word to inside the last."""
    boxes = []
    for i in (first, last):
        token = page.locator(f"#text .tok[data-i='{i}']")
        expect(token).to_be_visible()  # bounding_box() is None while the text is laid out again
        boxes.append(token.bounding_box())
    a, b = boxes
    page.mouse.move(a["x"] + 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] - 2, b["y"] + b["height"] / 2, steps=5)
    page.mouse.up()


def saved(page: Page) -> None:
    expect(page.locator("#save-status")).to_have_text(re.compile(r"saved ✓ v\d+"))


def test_chromium_launches(page: Page) -> None:
    page.set_content("<p id=x>ok</p>")
    assert page.text_content("#x") == "ok"


def test_long_document_is_drawn_in_full(page: Page, server: str) -> None:
    log_in(page, server, "bob")
    open_doc(page, "long")
    assert page.locator("#text .tok").count() == LONG_TOKENS
    assert page.locator("#text .tok.pre-b").count() == len(range(5, LONG_TOKENS - 2, 15))
    assert page.evaluate("window.gonerdRenderMs") > 0


def test_only_the_last_document_asked_for_is_drawn(page: Page, server: str) -> None:
    """A slow answer for an earlier request (the page's own first open, say) must not replace a later one."""
    log_in(page, server, "bob")
    expect(page.locator("#text[data-ready='1']")).to_have_count(1)
    ids = {item["key"]: item["document"] for item in page.evaluate("queueItems")}
    page.evaluate("""async ([slow, fast]) => {
      const real = api;
      api = async (method, path, body) => {
        const answer = await real(method, path, body);
        if (path === `/api/documents/${slow}`) await new Promise((resolve) => setTimeout(resolve, 400));
        return answer;
      };
      try { await Promise.all([openDocument(slow), openDocument(fast)]); } finally { api = real; }
    }""", [ids["long"], ids["lines"]])
    expect(page.locator("#doc-title")).to_contain_text("lines")
    expect(page.locator("#text[data-ready='1']")).to_have_count(1)
    assert page.locator("#text .tok").count() == 13
    expect(page.locator("#queue button[aria-current='true']")).to_contain_text("lines")


def test_keyboard_and_mouse_annotation_survives_reload(page: Page, server: str) -> None:
    log_in(page, server, "alice")
    open_doc(page, "lines")
    # "Federal Bureau\nof Investigation": one entity across the line break
    drag(page, 6, 9)
    expect(page.locator("#text .tok.sel")).to_have_count(4)
    page.keyboard.press("2")
    saved(page)
    expect(page.locator("#text .tok.ent-ORG")).to_have_count(4)
    page.keyboard.press("Escape")
    page.keyboard.press("ArrowRight")  # the ORG span, then the LOC pre-label
    page.keyboard.press("ArrowRight")
    expect(page.locator("#text .tok.cur")).to_have_count(2)
    page.keyboard.press("Enter")
    saved(page)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("1")  # relabel the ORG span PER
    saved(page)
    page.keyboard.press("3")  # and LOC
    saved(page)
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Delete")
    saved(page)
    page.reload()
    expect(page.locator("#text[data-ready='1']")).to_have_count(1)
    open_doc(page, "lines")
    words = page.locator("#text .tok.ent-LOC").all_text_contents()
    assert words == ["Federal", "Bureau", "of", "Investigation"]
    assert page.locator("#text .tok.ent").count() == 4


def test_a_stale_edit_is_refused_and_shown(page: Page, server: str) -> None:
    log_in(page, server, "bob")
    open_doc(page, "lines")
    doc_id = page.evaluate("editor.doc.id")
    with login(server, "bob", PASSWORDS["bob"]) as other_tab:
        version = other_tab.get(f"/api/documents/{doc_id}").json()["work"]["version"]
        assert other_tab.post(f"/api/documents/{doc_id}/edits", json={
            "base_version": version, "op": "add", "start": 0, "end": 1, "label": "MISC"}).status_code == 200
    drag(page, 3, 3)
    page.keyboard.press("4")
    expect(page.locator("#conflict")).to_be_visible()
    expect(page.locator("#save-status")).to_have_text("not saved")
    expect(page.locator("#text .tok.ent-MISC")).to_have_text(["The"])  # the server's state, not the lost edit


def test_html_in_a_document_is_shown_as_text(page: Page, server: str) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    log_in(page, server, "alice")
    open_doc(page, "xss")
    expect(page.locator("#text")).to_contain_text("<script>window.pwned=2</script>")
    assert page.locator("#text img, #text script").count() == 0
    assert page.evaluate("window.pwned === undefined") and not dialogs


def test_adjudicate_and_export(page: Page, server: str, tmp_path: Path) -> None:
    with login(server, "alice", PASSWORDS["alice"]) as alice:
        doc = next(i["document"] for i in alice.get("/api/queue").json()["items"] if i["key"] == "xss")
        alice.post(f"/api/documents/{doc}/edits", json={"base_version": 0, "op": "add", "start": 4, "end": 6,
                                                        "label": "PER"})
    log_in(page, server, "root")
    open_doc(page, "xss")
    row = page.locator("#disagreements tbody tr.disagree", has_text="Jane Doe")
    row.locator("button.ent-PER").click()
    saved(page)
    expect(page.locator("#text .tok.ent-PER")).to_have_text(["Jane", "Doe"])
    with page.expect_download() as download:
        page.click("#export-jsonl")
    path = tmp_path / "export.jsonl"
    download.value.save_as(path)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    start = XSS.index("Jane")
    assert rows == [{"id": "xss", "annotator": "root", "text": XSS,
                     "spans": [{"start": start, "end": start + len("Jane Doe"), "label": "PER"}]}]


def test_done_and_skip_update_the_queue_and_open_the_next_document(page: Page, server: str) -> None:
    log_in(page, server, "bob")
    open_doc(page, "xss")
    page.click("#done")
    expect(page.locator("#queue li", has_text="xss")).to_contain_text("done")
    expect(page.locator("#doc-title")).not_to_contain_text("xss")
    expect(page.locator("#progress")).to_contain_text("1 done")
    open_doc(page, "long")
    page.click("#skip")
    expect(page.locator("#queue li", has_text="long")).to_contain_text("skipped")
    expect(page.locator("#progress")).to_contain_text("1 skipped")
