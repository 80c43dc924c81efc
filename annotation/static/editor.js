"use strict";
// The span editor shared by the annotator and adjudication pages.
// Document text only ever reaches the page through textContent / text nodes, never as HTML.

const LABELS = ["PER", "ORG", "LOC", "MISC"];
const FIRST_TOKENS = 1500;  // drawn at once (more than a screen); the rest follows in the next frame

let csrfToken = null;

async function api(method, path, body) {
  if (csrfToken === null && method !== "GET") {
    csrfToken = (await api("GET", "/api/me")).csrf;
  }
  const options = {method, headers: {}};
  if (method !== "GET") {
    options.headers["X-CSRF-Token"] = csrfToken;
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body || {});
  }
  const response = await fetch(path, options);
  if (response.status === 401) {
    window.location.assign("/login");
    throw new Error("not logged in");
  }
  const data = await response.json();
  if (!response.ok) {
    const error = new Error(data.error || response.statusText);
    error.status = response.status;
    error.data = data;
    throw error;
  }
  return data;
}

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

async function setupPage() {
  const me = await api("GET", "/api/me");
  csrfToken = me.csrf;
  document.getElementById("user").textContent = `${me.name} (${me.role})`;
  document.getElementById("logout").addEventListener("click", async () => {
    await api("POST", "/api/logout");
    window.location.assign("/login");
  });
  const schema = await api("GET", "/api/schema");
  const labels = document.getElementById("labels");
  schema.labels.forEach((label, i) => {
    const item = element("li", null, `label ent-${label}`);
    item.append(element("kbd", String(i + 1)), " ", element("strong", label), " ",
                element("span", schema.descriptions[label]));
    labels.append(item);
  });
  const guidance = document.getElementById("guidance");
  guidance.append(element("h2", "MISC is only"));
  const positive = element("ul");
  for (const example of schema.misc_examples.positive) {
    const item = element("li", `${example.kind}: `);
    item.append(element("mark", example.misc.join(" · ")), element("span", ` — ${example.text}`, "example"));
    positive.append(item);
  }
  guidance.append(positive, element("h2", "Not MISC"));
  const negative = element("ul");
  for (const example of schema.misc_examples.negative) {
    negative.append(element("li", `${example.why}: ${example.text}`, "example"));
  }
  guidance.append(negative);
  return me;
}

class Editor {
  constructor(kind, onChange) {
    this.kind = kind;
    this.onChange = onChange || (() => {});
    this.container = document.getElementById("text");
    this.status = document.getElementById("save-status");
    this.conflict = document.getElementById("conflict");
    this.doc = null;
    this.tokens = [];         // token elements by index
    this.spans = new Map();   // start -> [start, end, label]: the work being edited
    this.owner = [];          // token index -> start of the span covering it, or -1
    this.prelabels = [];
    this.cursor = null;       // {type: "span"|"pre", start, end, label}
    this.selection = null;    // [start, end)
    this.version = 0;
    this.pending = [];
    this.saving = false;
    this.requests = 0;        // documents asked for so far; only the latest answer is drawn
    this.container.addEventListener("mouseup", () => this.selectFromMouse());
    document.addEventListener("keydown", (event) => this.key(event));
  }

  // A document was asked for: the text is not ready from this moment, and the returned ticket tells
  // whether a later request has overtaken this one (the page's own first open vs. a click, say).
  request() {
    delete this.container.dataset.ready;
    return ++this.requests;
  }

  latest(ticket) {
    return ticket === this.requests;
  }

  // Draw the first 1,500 tokens at once and the rest in the next frame; resolves when all is drawn.
  // Each line of the text is its own block, so an edit re-lays out one line, not the document.
  load(doc) {
    const started = performance.now();
    this.doc = doc;
    this.version = doc.work.version;
    this.pending = [];
    this.cursor = null;
    this.selection = null;
    this.conflict.hidden = true;
    this.container.replaceChildren();
    delete this.container.dataset.ready;
    const n = doc.offsets.length / 2;
    this.tokens = new Array(n);
    this.owner = new Array(n).fill(-1);
    this.spans = new Map(doc.work.spans.map((s) => [s[0], s]));
    this.prelabels = doc.prelabels;
    const text = doc.text;
    const classes = this.initialClasses(n);
    let block = null;
    const draw = (from, to) => {
      const fragment = document.createDocumentFragment();
      const newBlock = () => {
        block = document.createElement("div");
        block.className = "line";
        fragment.append(block);
      };
      if (from === 0) {
        newBlock();
        if (n > 0 && doc.offsets[0] > 0) block.append(text.slice(0, doc.offsets[0]));
      }
      for (let i = from; i < to; i++) {
        const start = doc.offsets[2 * i], end = doc.offsets[2 * i + 1];
        const token = document.createElement("span");
        token.className = classes[i];
        token.dataset.i = i;
        token.textContent = text.slice(start, end);
        this.tokens[i] = token;
        block.append(token);
        const next = i + 1 < n ? doc.offsets[2 * i + 2] : text.length;
        if (next > end) {
          const after = text.slice(end, next);
          block.append(after);
          if (after.includes("\n") && i + 1 < n) newBlock();
        }
      }
      this.container.append(fragment);
    };
    draw(0, Math.min(n, FIRST_TOKENS));
    return new Promise((resolve) => {
      requestAnimationFrame(() => {
        if (this.doc !== doc) return;  // another document was opened meanwhile
        draw(Math.min(n, FIRST_TOKENS), n);
        this.container.dataset.ready = "1";
        window.gonerdRenderMs = performance.now() - started;
        resolve();
      });
    });
  }

  // The class of every token before it is drawn (pre-labels and spans), so drawing paints too.
  initialClasses(n) {
    const classes = new Array(n).fill("tok");
    for (const [start, end, label] of this.prelabels) {
      for (let i = start; i < end; i++) classes[i] += ` pre pre-${label}`;
      classes[start] += " pre-b";
      classes[end - 1] += " pre-e";
    }
    for (const [start, end, label] of this.spans.values()) {
      for (let i = start; i < end; i++) {
        classes[i] += ` ent ent-${label}`;
        this.owner[i] = start;
      }
      classes[start] += " ent-b";
      classes[end - 1] += " ent-e";
    }
    return classes;
  }

  paintAll() {
    this.owner.fill(-1);
    const classes = this.initialClasses(this.tokens.length);
    this.tokens.forEach((token, i) => { token.className = classes[i]; });
  }

  paint([start, end, label], on) {
    for (let i = start; i < end; i++) {
      const classes = this.tokens[i].classList;
      for (const l of LABELS) classes.remove(`ent-${l}`);
      classes.remove("ent", "ent-b", "ent-e");
      if (on) classes.add("ent", `ent-${label}`);
      this.owner[i] = on ? start : -1;
    }
    if (on) {
      this.tokens[start].classList.add("ent-b");
      this.tokens[end - 1].classList.add("ent-e");
    }
  }

  // The token at a selection boundary (node, offset): the token containing it, else the next token
  // (forward) or the previous one, across line blocks.
  tokenOf(node, offset, forward) {
    if (node.nodeType === Node.ELEMENT_NODE && !node.classList.contains("tok")) {
      const child = node.childNodes[forward ? offset : offset - 1];
      if (!child) return null;
      node = child;
    }
    const holder = node.nodeType === Node.TEXT_NODE ? node.parentNode : node;
    if (holder.classList && holder.classList.contains("tok")) return Number(holder.dataset.i);
    const walker = document.createTreeWalker(this.container, NodeFilter.SHOW_ELEMENT, {
      acceptNode: (el) => (el.classList.contains("tok") ? NodeFilter.FILTER_ACCEPT : NodeFilter.FILTER_SKIP),
    });
    walker.currentNode = node;
    const found = forward ? walker.nextNode() : walker.previousNode();
    return found ? Number(found.dataset.i) : null;
  }

  selectFromMouse() {
    const selection = window.getSelection();
    if (!selection.rangeCount) return;
    const range = selection.getRangeAt(0);
    if (range.collapsed) {
      const i = this.tokenOf(range.startContainer, range.startOffset, true);
      selection.removeAllRanges();
      if (i === null) return;
      this.clearSelection();
      if (this.owner[i] >= 0) this.setCursor({type: "span", ...this.spanAt(this.owner[i])});
      else {
        const pre = this.prelabels.find((p) => p[0] <= i && i < p[1]);
        this.setCursor(pre ? {type: "pre", start: pre[0], end: pre[1], label: pre[2]} : null);
      }
      return;
    }
    const start = this.tokenOf(range.startContainer, range.startOffset, true);
    let end = this.tokenOf(range.endContainer, range.endOffset, false);
    if (range.endContainer.nodeType === Node.TEXT_NODE && range.endOffset === 0 && end !== null &&
        range.endContainer.parentNode.classList.contains("tok") && end > start) {
      end -= 1;  // the selection stops right before this token
    }
    selection.removeAllRanges();
    if (start === null || end === null || end < start) return;
    this.select(start, end + 1);
  }

  select(start, end) {
    this.clearSelection();
    this.setCursor(null);
    this.selection = [start, end];
    for (let i = start; i < end; i++) this.tokens[i].classList.add("sel");
  }

  clearSelection() {
    if (this.selection) {
      for (let i = this.selection[0]; i < this.selection[1]; i++) this.tokens[i].classList.remove("sel");
    }
    this.selection = null;
  }

  spanAt(start) {
    const [s, e, label] = this.spans.get(start);
    return {start: s, end: e, label};
  }

  setCursor(cursor) {
    if (this.cursor) {
      for (let i = this.cursor.start; i < this.cursor.end; i++) this.tokens[i].classList.remove("cur");
    }
    this.cursor = cursor;
    if (cursor) {
      for (let i = cursor.start; i < cursor.end; i++) this.tokens[i].classList.add("cur");
      this.tokens[cursor.start].scrollIntoView({block: "nearest"});
    }
  }

  // Spans and the pre-labels no span covers, in text order: what ←/→ step through.
  items() {
    const items = [...this.spans.values()].map(([start, end, label]) => ({type: "span", start, end, label}));
    for (const [start, end, label] of this.prelabels) {
      let free = true;
      for (let i = start; i < end && free; i++) free = this.owner[i] < 0;
      if (free) items.push({type: "pre", start, end, label});
    }
    return items.sort((a, b) => a.start - b.start);
  }

  move(step) {
    const items = this.items();
    if (!items.length) return;
    const at = this.cursor ? this.cursor.start : (step > 0 ? -1 : Infinity);
    const next = step > 0 ? items.find((x) => x.start > at) : items.reverse().find((x) => x.start < at);
    if (next) {
      this.clearSelection();
      this.setCursor(next);
    }
  }

  key(event) {
    if (!this.doc || event.target.tagName === "INPUT" || event.ctrlKey || event.metaKey || event.altKey) return;
    const label = LABELS[Number(event.key) - 1];
    if (label && this.selection) {
      this.add(this.selection[0], this.selection[1], label);
    } else if (label && this.cursor && this.cursor.type === "span") {
      this.relabel(this.cursor.start, label);
    } else if (label && this.cursor) {
      this.add(this.cursor.start, this.cursor.end, label);
    } else if (event.key === "Enter" && this.cursor && this.cursor.type === "pre") {
      this.add(this.cursor.start, this.cursor.end, this.cursor.label);
    } else if ((event.key === "Delete" || event.key === "Backspace") && this.cursor && this.cursor.type === "span") {
      this.remove(this.cursor.start);
    } else if (event.key === "Escape") {
      this.clearSelection();
      this.setCursor(null);
    } else if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      this.move(event.key === "ArrowRight" ? 1 : -1);
    } else {
      return;
    }
    event.preventDefault();
  }

  overlaps(start, end) {
    for (let i = start; i < end; i++) if (this.owner[i] >= 0) return true;
    return false;
  }

  add(start, end, label) {
    if (this.overlaps(start, end)) {
      this.say("That overlaps a span: remove it first (Del).", "error");
      return false;
    }
    const span = [start, end, label];
    this.spans.set(start, span);
    this.paint(span, true);
    this.clearSelection();
    this.setCursor({type: "span", start, end, label});
    this.save({op: "add", start, end, label});
    return true;
  }

  relabel(start, label) {
    const span = this.spans.get(start);
    if (!span || span[2] === label) return;
    span[2] = label;
    this.paint(span, true);
    this.setCursor({type: "span", start, end: span[1], label});
    this.save({op: "relabel", start, label});
  }

  remove(start) {
    const span = this.spans.get(start);
    if (!span) return;
    this.spans.delete(start);
    this.paint(span, false);
    this.setCursor(null);
    this.save({op: "remove", start});
  }

  say(message, kind) {
    this.status.textContent = message;
    this.status.dataset.kind = kind;
  }

  // Edits go to the server one at a time, each naming the version it was made on.
  save(edit) {
    this.pending.push(edit);
    this.say(`saving… (${this.pending.length})`, "busy");
    this.onChange();
    this.flush();
  }

  async flush() {
    if (this.saving) return;
    this.saving = true;
    const docId = this.doc.id;
    while (this.pending.length && this.doc.id === docId) {
      const edit = this.pending[0];
      try {
        const result = await api("POST", `/api/documents/${docId}/edits`,
                                 {...edit, base_version: this.version, kind: this.kind});
        this.version = result.version;
        this.pending.shift();
        this.say(`saved ✓ v${this.version}`, "ok");
      } catch (error) {
        this.pending = [];
        this.refused(error);
      }
    }
    this.saving = false;
  }

  // A refused edit: show why, and show the server's state, so nothing unsaved looks saved.
  async refused(error) {
    const current = error.status === 409 ? error.data : (await api(
      "GET", `/api/documents/${this.doc.id}?kind=${this.kind}`)).work;
    this.version = current.version;
    this.spans = new Map(current.spans.map((s) => [s[0], s]));
    this.setCursor(null);
    this.clearSelection();
    this.paintAll();
    this.conflict.textContent = error.status === 409
      ? `This document was changed elsewhere (now version ${current.version}); your last edit was not saved. ` +
        "The current version is shown."
      : `Edit refused: ${error.message}. The saved version is shown.`;
    this.conflict.hidden = false;
    this.say("not saved", "error");
    this.onChange();
  }

  async setStatus(status) {
    while (this.saving || this.pending.length) await new Promise((r) => setTimeout(r, 20));
    const result = await api("POST", `/api/documents/${this.doc.id}/status`,
                             {base_version: this.version, status, kind: this.kind});
    this.version = result.version;
    this.say(`${status} ✓`, "ok");
  }
}
