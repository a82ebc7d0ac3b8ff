// Admin pages: pipeline health (backlog per stage, dead letters with replay), query
// history with timings and cache hits, and API keys (created once-shown, revoked).

import { json } from "./api.js";
import { attempt, h, ms, toast, when } from "./ui.js";

let health, history, keys;

const table = (caption, columns, rows) =>
  h(
    "div",
    { class: "scroll" },
    h(
      "table",
      {},
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: columns.length }, "None."))),
    ),
  );

/** Build the view once. */
export function mount(root) {
  health = h("section", { id: "health", "aria-labelledby": "health-h" });
  history = h("section", { id: "history", "aria-labelledby": "history-h" });
  keys = h("section", { id: "keys", "aria-labelledby": "keys-h" });
  root.append(h("h1", {}, "Admin"), health, keys, history);
}

/** Fetch and show every admin section. */
export async function load() {
  await Promise.all([attempt(loadHealth, "Pipeline"), attempt(loadKeys, "Keys"), attempt(loadHistory, "History")]);
}

async function loadHealth() {
  const [pipeline, { dead_letters: letters }] = await Promise.all([json("/v1/admin/pipeline"), json("/v1/admin/dead-letters")]);
  health.replaceChildren(
    h("h2", { id: "health-h" }, "Pipeline"),
    table(
      "Backlog per stage (all tenants)",
      ["Stage", "Waiting", "In flight"],
      pipeline.stages.map((s) => h("tr", {}, h("td", {}, s.stage), h("td", {}, String(s.backlog)), h("td", {}, String(s.in_flight)))),
    ),
    table(
      `Dead letters of this tenant (${letters.length})`,
      ["When", "Subject", "Reason", "Error", "About", ""],
      letters.map((d) =>
        h(
          "tr",
          { "data-letter": d.id },
          h("td", { class: "when" }, when(d.occurred_at)),
          h("td", {}, h("code", {}, d.subject)),
          h("td", {}, d.reason, h("br"), h("code", {}, d.error_code)),
          h("td", { class: "error" }, d.error),
          h("td", {}, Object.entries(d.about).map(([k, v]) => h("div", {}, `${k}: ${v}`))),
          h("td", {}, h("button", { class: "small", onclick: () => replay(d.id), "aria-label": `Replay dead letter ${d.id}` }, "Replay")),
        ),
      ),
    ),
  );
}

async function replay(id) {
  const done = await attempt(() => json(`/v1/admin/dead-letters/${id}/replay`, { method: "POST" }), "Replay");
  if (done) {
    toast(`Replayed on ${done.subject}`);
    await attempt(loadHealth, "Pipeline");
  }
}

async function loadHistory() {
  const { queries } = await json("/v1/queries?limit=100");
  history.replaceChildren(
    h("h2", { id: "history-h" }, "Query history"),
    table(
      "Newest first",
      ["When", "Question", "Status", "Retrieve", "Generate", "Total", "Cache"],
      queries.map((q) => {
        const t = q.timings || {};
        const total = t.total_ms ?? (q.completed_at ? new Date(q.completed_at) - new Date(q.created_at) : null);
        return h(
          "tr",
          {},
          h("td", { class: "when" }, when(q.created_at)),
          h("td", {}, q.question),
          h("td", {}, q.status, q.error_code ? h("code", {}, ` ${q.error_code}`) : null),
          h("td", {}, ms(t.retrieve_ms)),
          h("td", {}, ms(t.generate_ms)),
          h("td", {}, ms(total)),
          h("td", {}, q.cached ? "hit" : ""),
        );
      }),
    ),
  );
}

async function loadKeys() {
  const { keys: list } = await json("/v1/admin/keys");
  const name = h("input", { id: "key-name", required: true, maxlength: 128 });
  const role = h("select", { id: "key-role" }, ["reader", "member", "admin"].map((r) => h("option", { value: r, selected: r === "member" }, r)));
  keys.replaceChildren(
    h("h2", { id: "keys-h" }, "API keys"),
    h(
      "form",
      { class: "inline", onsubmit: (e) => (e.preventDefault(), createKey(name.value, role.value)) },
      h("label", { for: "key-name" }, "Name"),
      name,
      h("label", { for: "key-role" }, "Role"),
      role,
      h("button", { type: "submit" }, "Create key"),
    ),
    table(
      "Keys of this tenant",
      ["Name", "Prefix", "Role", "Created", "Last used", ""],
      list.map((k) =>
        h(
          "tr",
          { "data-key": k.id },
          h("td", {}, k.name),
          h("td", {}, h("code", {}, k.prefix)),
          h("td", {}, k.role),
          h("td", { class: "when" }, when(k.created_at)),
          h("td", { class: "when" }, when(k.last_used_at)),
          h("td", {}, k.revoked_at ? `revoked ${when(k.revoked_at)}` : h("button", { class: "small danger", onclick: () => revoke(k), "aria-label": `Revoke key ${k.name}` }, "Revoke")),
        ),
      ),
    ),
  );
}

async function createKey(name, role) {
  const key = await attempt(() => json("/v1/admin/keys", { method: "POST", body: { name, role } }), "Create key");
  if (!key) return;
  const dialog = document.getElementById("new-key");
  dialog.querySelector("output").value = key.key;
  dialog.showModal();
  await attempt(loadKeys, "Keys");
}

async function revoke(key) {
  if (await attempt(() => json(`/v1/admin/keys/${key.id}`, { method: "DELETE" }), "Revoke")) {
    toast(`Revoked ${key.name}`);
    await attempt(loadKeys, "Keys");
  }
}
