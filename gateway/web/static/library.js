// The library: the tenant's documents, uploads (files and folders), live progress.
// Progress comes from GET /v1/documents/{id}/events. A browser opens at most six
// HTTP/1.1 connections per host, so at most STREAMS documents are watched at once
// and the others wait their turn (their row shows the status of the last read).

import { call, current, json, stream } from "./api.js";
import { attempt, h, toast, when } from "./ui.js";

const STREAMS = 3;
const UPLOADS = 2;
const FINAL = new Set(["indexed", "failed", "deleted"]);
const docs = new Map(); // id -> document JSON (plus `duplicate` from an upload)
const rows = new Map(); // id -> <tr>
const waiting = [];
let watching = 0;
let body;

const canWrite = () => current()?.role !== "reader";

/** Build the view once: drop zone, filters and the table. */
export function mount(root) {
  const input = h("input", { type: "file", id: "file-input", multiple: true, onchange: (e) => upload([...e.target.files]) });
  const folder = h("input", { type: "file", id: "folder-input", webkitdirectory: true, onchange: (e) => upload([...e.target.files]) });
  const zone = h(
    "div",
    { class: "dropzone", id: "dropzone", ondragover: (e) => (e.preventDefault(), zone.classList.add("over")), ondragleave: () => zone.classList.remove("over"), ondrop: dropped },
    h("p", {}, "Drop files or folders here, or"),
    input,
    h("label", { class: "button", for: "file-input" }, "Choose files"),
    folder,
    h("label", { class: "button", for: "folder-input" }, "Choose a folder"),
  );
  const search = h("input", { type: "search", id: "doc-search", placeholder: "Search by name", oninput: filter });
  const status = h(
    "select",
    { id: "doc-status", onchange: filter },
    ["all", "in progress", "indexed", "failed"].map((s) => h("option", { value: s }, s)),
  );
  body = h("tbody", { id: "doc-rows" });
  root.append(
    h("h1", {}, "Library"),
    h("div", { class: "writer-only" }, zone),
    h(
      "div",
      { class: "filters", role: "search" },
      h("label", { for: "doc-search" }, "Name"),
      search,
      h("label", { for: "doc-status" }, "Status"),
      status,
      h("span", { id: "doc-count", "aria-live": "polite" }),
    ),
    h(
      "div",
      { class: "scroll" },
      h(
        "table",
        { class: "docs" },
        h("caption", { class: "sr-only" }, "Documents"),
        h("thead", {}, h("tr", {}, ["Document", "Status", "Progress", "Added", "Actions"].map((c) => h("th", { scope: "col" }, c)))),
        body,
      ),
    ),
  );
}

/** (Re)load the tenant's documents and watch those still in progress. */
export async function load() {
  const { documents } = await json("/v1/documents?limit=1000");
  docs.clear();
  rows.clear();
  body.replaceChildren();
  for (const doc of documents) show(doc);
  filter();
}

function show(doc) {
  const known = docs.get(doc.id);
  doc = { ...known, ...doc };
  docs.set(doc.id, doc);
  const row = render(doc);
  const old = rows.get(doc.id);
  if (old) old.replaceWith(row);
  else body.prepend(row);
  rows.set(doc.id, row);
  applyFilter(row, doc);
  countSoon();
  if (!FINAL.has(doc.status) && !doc.watched && !doc.local) {
    doc.watched = true;
    waiting.push(doc.id);
    nextWatch();
  }
}

function render(doc) {
  const progress = doc.progress ?? { done: 0, total: 0 };
  const badges = [
    doc.version > 1 ? h("span", { class: "badge" }, `v${doc.version}`) : null,
    doc.duplicate ? h("span", { class: "badge dup" }, "duplicate") : null,
  ];
  const failure = doc.status === "failed" ? h("p", { class: "error" }, doc.error || "failed", doc.error_code ? h("code", {}, ` ${doc.error_code}`) : null) : null;
  const actions = canWrite() && !doc.local ? [
    h("button", { class: "small", onclick: () => reprocess(doc.id), "aria-label": `Reprocess ${doc.filename}` }, "Reprocess"),
    h("button", { class: "small danger", onclick: (e) => remove(doc.id, e.target), "aria-label": `Delete ${doc.filename}` }, "Delete"),
  ] : [];
  const chunks = progress.total ? `${progress.done}/${progress.total} chunks` : doc.chunks ? `${doc.chunks} chunks` : "";
  return h(
    "tr",
    { "data-id": doc.id, "data-status": doc.status },
    h("td", { class: "name" }, h("span", {}, doc.filename), ...badges, failure),
    h("td", {}, h("span", { class: `status s-${doc.status}` }, doc.status)),
    h("td", {}, progress.total && !FINAL.has(doc.status) ? h("progress", { max: progress.total, value: progress.done, "aria-label": `${doc.filename} progress` }) : null, h("span", { class: "chunks" }, chunks)),
    h("td", { class: "when" }, when(doc.created_at)),
    h("td", { class: "actions" }, actions),
  );
}

function nextWatch() {
  while (watching < STREAMS && waiting.length) {
    const id = waiting.shift();
    watching++;
    watch(id).finally(() => {
      watching--;
      nextWatch();
    });
  }
}

async function watch(id) {
  await attempt(
    () =>
      stream(`/v1/documents/${id}/events`, {}, (name, data) => {
        if (name === "document") show(data);
        else if (name === "status") show({ id, status: data.status, progress: data.progress, error: data.error });
      }),
    "Progress",
  );
  const doc = docs.get(id);
  if (!doc) return;
  doc.watched = false;
  // The `end` event has no error code: read the final row once.
  if (doc.status === "failed") await attempt(async () => show(await json(`/v1/documents/${id}`)), "Document");
  // A stream cut before a final status (a restart, a network blip) is opened again.
  else if (!FINAL.has(doc.status)) setTimeout(() => docs.has(id) && show(docs.get(id)), 3000);
}

async function upload(files) {
  if (!files.length) return;
  toast(`Uploading ${files.length} file${files.length > 1 ? "s" : ""}`);
  const queue = [...files];
  const worker = async () => {
    for (let file; (file = queue.shift()); ) await uploadOne(file);
  };
  await Promise.all(Array.from({ length: UPLOADS }, worker));
}

async function uploadOne(file) {
  const temp = `upload-${Math.random().toString(36).slice(2)}`;
  const name = file.webkitRelativePath || file.name;
  show({ id: temp, filename: name, status: "uploading", local: true });
  const form = new FormData();
  form.append("file", file, name);
  try {
    const reply = await call("/v1/documents", { method: "POST", body: form });
    const [doc] = (await reply.json()).documents;
    rows.get(temp)?.remove();
    rows.delete(temp);
    docs.delete(temp);
    show(doc);
  } catch (error) {
    show({ id: temp, filename: name, status: "failed", error: error.message, error_code: error.code, local: true });
  }
}

// Dropped folders are walked with the File and Directory Entries API.
async function dropped(event) {
  event.preventDefault();
  event.currentTarget.classList.remove("over");
  if (!canWrite()) return;
  const entries = [...event.dataTransfer.items].map((i) => i.webkitGetAsEntry?.()).filter(Boolean);
  const files = entries.length ? (await Promise.all(entries.map(walk))).flat() : [...event.dataTransfer.files];
  upload(files);
}

async function walk(entry) {
  if (entry.isFile) return [await new Promise((ok, no) => entry.file(ok, no))];
  const reader = entry.createReader();
  const found = [];
  for (let batch; (batch = await new Promise((ok, no) => reader.readEntries(ok, no))).length; ) found.push(...batch);
  return (await Promise.all(found.map(walk))).flat();
}

async function reprocess(id) {
  const doc = await attempt(() => json(`/v1/documents/${id}/reprocess`, { method: "POST" }), "Reprocess");
  if (doc) show({ ...doc, error: null, error_code: null, duplicate: false });
}

async function remove(id, button) {
  if (button.dataset.confirm !== "yes") {
    button.dataset.confirm = "yes";
    button.textContent = "Confirm delete";
    setTimeout(() => ((button.dataset.confirm = ""), (button.textContent = "Delete")), 5000);
    return;
  }
  if (await attempt(() => json(`/v1/documents/${id}`, { method: "DELETE" }), "Delete")) {
    rows.get(id)?.remove();
    rows.delete(id);
    docs.delete(id);
    filter();
    toast("Deleted");
  }
}

function applyFilter(row, doc) {
  const term = document.getElementById("doc-search")?.value.trim().toLowerCase() ?? "";
  const wanted = document.getElementById("doc-status")?.value ?? "all";
  const group = FINAL.has(doc.status) ? doc.status : "in progress";
  row.hidden = (wanted !== "all" && wanted !== group) || !doc.filename.toLowerCase().includes(term);
}

function filter() {
  for (const [id, row] of rows) applyFilter(row, docs.get(id));
  count();
}

// Counted once per frame, however many rows changed in it.
let counting = 0;
const countSoon = () => (counting ||= requestAnimationFrame(count));

function count() {
  counting = 0;
  const shown = [...rows.values()].filter((r) => !r.hidden).length;
  document.getElementById("doc-count").textContent = `${shown} of ${rows.size} documents`;
}
