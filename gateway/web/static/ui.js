// Small DOM helpers shared by the views.

/**
 * Create an element: `h("button", {class: "x", onclick: fn}, "text", child)`.
 * Attributes starting with "on" become listeners; `null`/`false` ones are skipped.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name in el && typeof value !== "string") el[name] = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  el.append(...children.flat().filter((c) => c !== null && c !== undefined && c !== false));
  return el;
}

/** Show a short message in the live region (read out by screen readers). */
export function toast(message, kind = "info") {
  const box = document.getElementById("toast");
  box.textContent = message;
  box.dataset.kind = kind;
  box.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => (box.hidden = true), 6000);
}

/** "12 ms" or "1.2 s". */
export const ms = (value) =>
  value === null || value === undefined ? "" : value < 1000 ? `${Math.round(value)} ms` : `${(value / 1000).toFixed(1)} s`;

/** A local date and time, short. */
export const when = (iso) => (iso ? new Date(iso).toLocaleString() : "");

/** Run an async action; a failure is shown as a toast instead of an uncaught error. */
export async function attempt(action, what) {
  try {
    return await action();
  } catch (error) {
    if (error.name !== "AbortError") toast(`${what}: ${error.message}`, "error");
    return undefined;
  }
}

/** Save `text` as a file named `filename`. */
export function download(filename, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  h("a", { href: url, download: filename }).click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
