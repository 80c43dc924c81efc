"use strict";
// The admin's page: every annotator's spans side by side, disagreements first, and the final version.

let editor = null;
let current = null;

function key(span) {
  return `${span[0]}:${span[1]}`;
}

// One row per token range any annotator (or the final version) labeled; a row disagrees when the
// annotators' labels for it are not all the same.
function rows(doc) {
  const names = Object.keys(doc.annotators);
  const byRange = new Map();
  const note = (who, span) => {
    const k = key(span);
    if (!byRange.has(k)) byRange.set(k, {start: span[0], end: span[1], labels: {}});
    byRange.get(k).labels[who] = span[2];
  };
  for (const name of names) for (const span of doc.annotators[name].spans) note(name, span);
  for (const span of editor.spans.values()) note("final", span);
  const out = [...byRange.values()].sort((a, b) => a.start - b.start);
  for (const row of out) {
    const given = names.map((n) => row.labels[n] || "—");
    row.agreed = given.every((l) => l === given[0]) && given[0] !== "—";
  }
  return {names, rows: out};
}

function drawTable() {
  const {names, rows: all} = rows(current);
  const table = document.getElementById("disagreements");
  const head = element("tr");
  for (const title of ["words", ...names, "final", ""]) head.append(element("th", title));
  table.tHead.replaceChildren(head);
  const body = document.createDocumentFragment();
  for (const row of all.sort((a, b) => a.agreed - b.agreed || a.start - b.start)) {
    const tr = element("tr", null, row.agreed ? "agreed" : "disagree");
    const words = current.text.slice(current.offsets[2 * row.start], current.offsets[2 * row.end - 1]);
    tr.append(element("td", words));
    for (const name of names) {
      const cell = element("td", null);
      const label = row.labels[name];
      if (label) {
        const use = element("button", label, `ent-${label}`);
        use.type = "button";
        use.title = `use ${name}'s ${label}`;
        use.addEventListener("click", () => choose(row.start, row.end, label));
        cell.append(use);
      } else {
        cell.textContent = "—";
      }
      tr.append(cell);
    }
    tr.append(element("td", row.labels.final || "—"));
    const go = element("button", "show", "show");
    go.type = "button";
    go.addEventListener("click", () => editor.tokens[row.start].scrollIntoView({block: "center"}));
    const last = element("td");
    last.append(go);
    tr.append(last);
    body.append(tr);
  }
  table.tBodies[0].replaceChildren(body);
}

// Make [start, end) carry `label` in the final version: remove what overlaps, then add.
function choose(start, end, label) {
  const existing = editor.spans.get(start);
  if (existing && existing[1] === end) {
    editor.relabel(start, label);
    return;
  }
  for (const span of [...editor.spans.values()]) {
    if (span[0] < end && span[1] > start) editor.remove(span[0]);
  }
  editor.add(start, end, label);
}

function acceptAgreed() {
  for (const row of rows(current).rows) {
    if (row.agreed && row.labels.final === undefined && !editor.overlaps(row.start, row.end)) {
      editor.add(row.start, row.end, Object.values(row.labels)[0]);
    }
  }
}

async function openDocument(docId) {
  const ticket = editor.request();
  const answer = await api("GET", `/api/adjudication/${docId}`);
  if (!editor.latest(ticket)) return;
  current = answer;
  document.getElementById("doc-title").textContent = `${current.project} · ${current.key}`;
  document.getElementById("accept-agreed").disabled = false;
  document.getElementById("done").disabled = false;
  // the annotators' spans stand in for pre-labels: ←/→ and Enter step through and accept them
  const seen = new Set();
  current.prelabels = [];
  for (const work of Object.values(current.annotators)) {
    for (const span of work.spans) {
      if (!seen.has(key(span) + span[2])) {
        seen.add(key(span) + span[2]);
        current.prelabels.push(span);
      }
    }
  }
  current.prelabels.sort((a, b) => a[0] - b[0]);
  await editor.load(current);
  if (!editor.latest(ticket)) return;
  for (const row of rows(current).rows) {
    if (!row.agreed) for (let i = row.start; i < row.end; i++) editor.tokens[i].classList.add("disagree");
  }
  drawTable();
  for (const [format, id] of [["jsonl", "export-jsonl"], ["conll", "export-conll"]]) {
    document.getElementById(id).href = `/api/export?project=${encodeURIComponent(current.project)}&format=${format}`;
  }
}

async function main() {
  await setupPage();
  editor = new Editor("final", () => current && drawTable());
  document.getElementById("accept-agreed").addEventListener("click", acceptAgreed);
  document.getElementById("done").addEventListener("click", () => editor.setStatus("done"));
  const data = await api("GET", "/api/projects");
  const list = document.getElementById("queue");
  for (const project of data.projects) {
    for (const doc of project.documents) {
      const button = element("button", `${project.name} · ${doc.key}`);
      button.type = "button";
      button.dataset.doc = doc.id;
      button.addEventListener("click", () => openDocument(doc.id));
      const row = element("li");
      row.append(button);
      list.append(row);
    }
  }
  if (data.projects.length && data.projects[0].documents.length) await openDocument(data.projects[0].documents[0].id);
}

main();
