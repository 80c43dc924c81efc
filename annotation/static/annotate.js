"use strict";
// The annotator's page: queue and progress, one document at a time, done / skip.

let editor = null;
let queueItems = [];

async function refreshQueue(openId) {
  const data = await api("GET", "/api/queue");
  queueItems = data.items;
  const p = data.progress;
  document.getElementById("progress").textContent =
    `${p.done} done · ${p.skipped} skipped · ${p.todo} to do of ${queueItems.length}`;
  const list = document.getElementById("queue");
  list.replaceChildren();
  for (const item of queueItems) {
    const button = element("button", `${item.project} · ${item.key} (${item.n_tokens} tokens)`, `status-${item.status}`);
    button.type = "button";
    button.dataset.doc = item.document;
    if (item.document === openId) button.setAttribute("aria-current", "true");
    button.addEventListener("click", () => openDocument(item.document));
    const row = element("li");
    row.append(button, element("span", ` ${item.status}`, "status"));
    list.append(row);
  }
}

async function openDocument(docId) {
  const ticket = editor.request();
  const doc = await api("GET", `/api/documents/${docId}`);
  if (!editor.latest(ticket)) return;
  document.getElementById("doc-title").textContent = `${doc.project} · ${doc.key}`;
  for (const id of ["done", "skip", "accept-all"]) document.getElementById(id).disabled = false;
  await editor.load(doc);
  if (editor.latest(ticket)) await refreshQueue(docId);
}

async function finish(status) {
  try {
    await editor.setStatus(status);
  } catch (error) {
    await editor.refused(error);
    return;
  }
  const current = editor.doc.id;
  await refreshQueue(current);
  const next = queueItems.find((item) => item.status === "todo" && item.document !== current);
  if (next) await openDocument(next.document);
}

async function acceptAll() {
  for (const [start, end, label] of editor.prelabels) {
    if (!editor.overlaps(start, end)) editor.add(start, end, label);
  }
}

async function main() {
  await setupPage();
  editor = new Editor("annotation");
  document.getElementById("done").addEventListener("click", () => finish("done"));
  document.getElementById("skip").addEventListener("click", () => finish("skipped"));
  document.getElementById("accept-all").addEventListener("click", acceptAll);
  await refreshQueue(null);
  const first = queueItems.find((item) => item.status === "todo") || queueItems[0];
  if (first) await openDocument(first.document);
}

main();
