// Chat: answers streamed from POST /v1/query (SSE events query, delta, citations, done,
// error), citations as numbered chips that open the cited passage, conversations
// (private or shared with the tenant) with follow-ups and export. Readers hold no
// conversations, so they ask single questions.

import { call, current, json, stream } from "./api.js";
import { attempt, download, h, ms, toast, when } from "./ui.js";

const TECHNIQUES = ["", "hybrid", "dense", "sparse", "hybrid_rerank", "multi_query", "hyde"];
let conversationId = null;
let controller = null;
let thread, list, form, askButton, stopButton, exportBox;

const converses = () => current()?.role !== "reader";

/** Build the view once: conversation list, thread, question form. */
export function mount(root) {
  list = h("ul", { id: "conversations", class: "plain" });
  thread = h("div", { id: "thread", "aria-live": "polite" });
  askButton = h("button", { type: "submit", class: "primary" }, "Ask");
  stopButton = h("button", { type: "button", id: "stop", hidden: true, onclick: () => controller?.abort() }, "Stop");
  exportBox = h(
    "div",
    { class: "export", hidden: true },
    h("button", { class: "small", onclick: () => exportAs("markdown") }, "Export Markdown"),
    h("button", { class: "small", onclick: () => exportAs("json") }, "Export JSON"),
  );
  form = h(
    "form",
    { id: "ask-form", onsubmit: ask },
    h("label", { for: "question" }, "Question"),
    h("textarea", { id: "question", name: "question", rows: 2, required: true, maxlength: 8192, onkeydown: submitOnEnter }),
    h(
      "details",
      { class: "advanced" },
      h("summary", {}, "Advanced"),
      h("label", { for: "technique" }, "Technique"),
      h("select", { id: "technique", name: "technique" }, TECHNIQUES.map((t) => h("option", { value: t }, t || "default"))),
      h("label", { for: "top-k" }, "Top k"),
      h("input", { id: "top-k", name: "top_k", type: "number", min: 1, max: 100, placeholder: "5" }),
    ),
    h("div", { class: "buttons" }, askButton, stopButton),
  );
  const side = h(
    "aside",
    { class: "side converser-only", "aria-label": "Conversations" },
    h("h2", {}, "Conversations"),
    h("label", { for: "visibility" }, "New conversation is"),
    h("select", { id: "visibility" }, h("option", { value: "private" }, "private"), h("option", { value: "tenant" }, "shared with the tenant")),
    h("button", { class: "small", onclick: () => select(null) }, "New conversation"),
    list,
  );
  root.append(h("div", { class: "chat" }, side, h("div", { class: "talk" }, h("h1", {}, "Chat"), exportBox, thread, form)));
}

/** Show the conversation list (for those who may converse) and an empty thread. */
export async function load() {
  if (converses()) await attempt(refreshList, "Conversations");
}

async function refreshList() {
  const { conversations } = await json("/v1/conversations?limit=50");
  list.replaceChildren(
    ...conversations.map((c) =>
      h(
        "li",
        {},
        h(
          "button",
          { class: "conversation", "aria-current": c.id === conversationId ? "true" : null, onclick: () => select(c.id) },
          c.title || "Untitled",
          h("small", {}, ` ${c.visibility === "tenant" ? "shared" : "private"} · ${when(c.updated_at)}`),
        ),
      ),
    ),
  );
}

async function select(id) {
  conversationId = id;
  thread.replaceChildren();
  exportBox.hidden = !id;
  if (id) {
    const conversation = await attempt(() => json(`/v1/conversations/${id}`), "Conversation");
    for (const m of conversation?.messages ?? []) {
      if (m.role === "user") thread.append(question(m.content));
      else {
        const turn = answerBox();
        finish(turn, { answer: m.content, citations: m.citations ?? [], timings: m.timings, error: m.error });
      }
    }
  }
  if (converses()) await attempt(refreshList, "Conversations");
  document.getElementById("question").focus();
}

function submitOnEnter(event) {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    form.requestSubmit();
  }
}

async function ask(event) {
  event.preventDefault();
  const text = form.question.value.trim();
  if (!text || controller) return;
  const body = { question: text, stream: true };
  if (form.technique.value) body.technique = form.technique.value;
  if (form.top_k.value) body.top_k = Number(form.top_k.value);
  if (converses()) {
    if (!conversationId) {
      const visibility = document.getElementById("visibility").value;
      const created = await attempt(() => json("/v1/conversations", { method: "POST", body: { visibility } }), "Conversation");
      if (!created) return;
      conversationId = created.id;
      exportBox.hidden = false;
    }
    body.conversation_id = conversationId;
  }
  form.question.value = "";
  thread.append(question(text));
  const turn = answerBox();
  await streamAnswer(body, turn);
  if (converses()) await attempt(refreshList, "Conversations");
}

async function streamAnswer(body, turn) {
  controller = new AbortController();
  askButton.disabled = true;
  stopButton.hidden = false;
  turn.box.setAttribute("aria-busy", "true");
  let result = { answer: "", citations: [] };
  try {
    await stream("/v1/query", { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" }, signal: controller.signal }, (name, data) => {
      if (name === "delta") {
        result.answer += data.text;
        turn.text.append(data.text);
      } else if (name === "citations") result.citations = data;
      else if (name === "done") result = data;
      else if (name === "error") result = { ...result, error: `${data.error} (${data.code})` };
    });
  } catch (error) {
    result.error = error.name === "AbortError" ? "Stopped." : error.message;
  } finally {
    controller = null;
    askButton.disabled = false;
    stopButton.hidden = true;
  }
  finish(turn, result);
}

function question(text) {
  return h("div", { class: "msg user" }, h("p", {}, text));
}

function answerBox() {
  const text = h("p", { class: "answer" });
  const box = h("div", { class: "msg assistant" }, text);
  thread.append(box);
  return { box, text };
}

/** Show the final answer: [n] markers and chips open the cited passages; timings small. */
function finish(turn, { answer, citations = [], timings, error, cached }) {
  const byN = new Map(citations.map((c) => [c.n, c]));
  const parts = (answer || "").split(/(\[\d+\])/);
  turn.text.replaceChildren(
    ...parts.map((part) => {
      const n = Number(part.slice(1, -1));
      return /^\[\d+\]$/.test(part) && byN.has(n) ? h("button", { class: "marker", onclick: () => openPassage(byN.get(n), answer), "aria-label": `Source ${n}` }, part) : part;
    }),
  );
  turn.box.removeAttribute("aria-busy");
  if (citations.length) {
    turn.box.append(
      h(
        "ol",
        { class: "chips", "aria-label": "Sources" },
        citations.map((c) =>
          h("li", {}, h("button", { class: "chip", onclick: () => openPassage(c, answer) }, h("b", {}, String(c.n)), ` ${c.filename}${c.page ? ` p. ${c.page}` : ""}`)),
        ),
      ),
    );
  }
  if (error) turn.box.append(h("p", { class: "error" }, error));
  const t = timings || {};
  const bits = [t.retrieve_ms != null && `retrieve ${ms(t.retrieve_ms)}`, t.generate_ms != null && `generate ${ms(t.generate_ms)}`, t.total_ms != null && `total ${ms(t.total_ms)}`, cached && "cached"];
  if (bits.some(Boolean)) turn.box.append(h("p", { class: "timings" }, bits.filter(Boolean).join(" · ")));
}

/** The passage dialog: file, page, heading, and the passage with the cited text marked. */
function openPassage(citation, answer) {
  const dialog = document.getElementById("passage");
  const cited = (answer || "")
    .split(/(?<=\[\d+\])\s*/)
    .filter((s) => s.includes(`[${citation.n}]`))
    .map((s) => s.replace(/\s*\[\d+\]/g, "").trim())
    .filter(Boolean);
  dialog.querySelector("h2").textContent = `${citation.n}. ${citation.title || citation.filename}`;
  dialog.querySelector(".meta").textContent = [citation.filename, citation.page && `page ${citation.page}`, citation.heading, `score ${citation.score?.toFixed(3)}`].filter(Boolean).join(" · ");
  dialog.querySelector("blockquote").replaceChildren(...highlight(citation.quote || "", cited));
  dialog.showModal();
}

function highlight(text, sentences) {
  const spans = [];
  for (const s of sentences) {
    // The same words in order: the passage keeps the Markdown (links, code marks, line
    // breaks) that the answer's sentence has lost, so anything else may lie between.
    const words = s.match(/\w+/g);
    const found = words && new RegExp(words.join("\\W+")).exec(text);
    if (found) spans.push([found.index, found.index + found[0].length]);
  }
  if (!spans.length) return [text];
  spans.sort((a, b) => a[0] - b[0]);
  const out = [];
  let pos = 0;
  for (const [start, end] of spans) {
    if (start < pos) continue;
    out.push(text.slice(pos, start), h("mark", {}, text.slice(start, end)));
    pos = end;
  }
  out.push(text.slice(pos));
  return out;
}

async function exportAs(format) {
  if (!conversationId) return;
  const response = await attempt(() => call(`/v1/conversations/${conversationId}/export?format=${format}`), "Export");
  if (!response) return;
  download(`conversation-${conversationId}.${format === "json" ? "json" : "md"}`, await response.text(), format === "json" ? "application/json" : "text/markdown");
  toast(`Exported as ${format === "json" ? "JSON" : "Markdown"}`);
}
