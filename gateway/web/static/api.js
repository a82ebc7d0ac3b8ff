// The HTTP API with the signed-in session: bearer tokens, silent refresh, SSE over fetch.
// EventSource cannot send an Authorization header (nor POST), so streams are read with
// fetch and parsed here: `event:`, `data:` and `id:` lines, dispatched on a blank line.

const KEY = "ragbus.session";

/** @typedef {{access_token: string, refresh_token: string, expires_at: number, tenant: string, role: string, label: string}} Session */

/** An API refusal: HTTP status, the body's `code` and its readable `detail`. */
export class ApiError extends Error {
  constructor(status, code, detail) {
    super(typeof detail === "string" ? detail : JSON.stringify(detail));
    this.status = status;
    this.code = code;
  }
}

/** @type {Session | null} */
let session = JSON.parse(sessionStorage.getItem(KEY) || "null");
let refreshing = null;
let timer = 0;
const listeners = new Set();

/** The current session, or null when signed out. */
export const current = () => session;

/** Call `fn(session)` whenever the session changes (sign in, refresh, sign out). */
export const onSession = (fn) => listeners.add(fn);

function store(tokens, label) {
  session = tokens && {
    access_token: tokens.access_token,
    refresh_token: tokens.refresh_token,
    expires_at: Date.now() + tokens.expires_in * 1000,
    tenant: tokens.tenant,
    role: tokens.role,
    label: label ?? session?.label ?? "",
  };
  if (session) sessionStorage.setItem(KEY, JSON.stringify(session));
  else sessionStorage.removeItem(KEY);
  clearTimeout(timer);
  // Refresh a minute before the access token expires, so no request meets an expired one.
  if (session) timer = setTimeout(refresh, Math.max(5000, session.expires_at - Date.now() - 60000));
  listeners.forEach((fn) => fn(session));
}

async function failure(response) {
  const body = await response.json().catch(() => ({}));
  return new ApiError(response.status, body.code, body.detail ?? response.statusText);
}

/** Exchange an API key, or a tenant user's password, for tokens (POST /v1/auth/token). */
export async function signIn(grant, label) {
  const response = await fetch("/v1/auth/token", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(grant),
  });
  if (!response.ok) throw await failure(response);
  store(await response.json(), label);
}

/** Rotate the refresh token; signs out if it is refused. One refresh at a time. */
export function refresh() {
  if (!session) return Promise.resolve(false);
  refreshing ??= fetch("/v1/auth/refresh", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ refresh_token: session.refresh_token }),
  })
    .then(async (r) => (r.ok ? (store(await r.json()), true) : (store(null), false)))
    .catch(() => false)
    .finally(() => (refreshing = null));
  return refreshing;
}

/** Revoke the refresh token and forget the session. */
export async function signOut() {
  const token = session?.refresh_token;
  store(null);
  if (token) {
    await fetch("/v1/auth/logout", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ refresh_token: token }),
    }).catch(() => {});
  }
}

/**
 * fetch() with the bearer token. A token about to expire (a tab that slept through
 * its timer) is refreshed first; a 401 all the same is retried once after a refresh.
 */
export async function call(path, init = {}) {
  if (session && session.expires_at - Date.now() < 30000) await refresh();
  for (let attempt = 0; ; attempt++) {
    if (!session) throw new ApiError(401, "signed_out", "Signed out");
    const headers = { ...init.headers, Authorization: `Bearer ${session.access_token}` };
    const response = await fetch(path, { ...init, headers });
    if (response.status === 401 && attempt === 0 && (await refresh())) continue;
    if (!response.ok) throw await failure(response);
    return response;
  }
}

/** A JSON request: `body` is sent as JSON; the reply's JSON (or null) is returned. */
export async function json(path, { body, ...init } = {}) {
  if (body !== undefined) {
    init.headers = { "Content-Type": "application/json", ...init.headers };
    init.body = JSON.stringify(body);
  }
  const response = await call(path, init);
  return response.status === 204 ? null : response.json();
}

/**
 * Read a Server-Sent Events response, calling `onEvent(name, data, id)` per event.
 * Resolves when the stream ends; rejects with AbortError when `init.signal` aborts.
 */
export async function stream(path, init, onEvent) {
  const headers = { Accept: "text/event-stream", ...init.headers };
  const response = await call(path, { ...init, headers });
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = { name: "message", data: [], id: null };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    // A chunk may end between the \r and \n of one line end: keep a last \r for later.
    const cut = buffer.endsWith("\r") ? buffer.length - 1 : buffer.length;
    const lines = buffer.slice(0, cut).split(/\r\n|\r|\n/);
    buffer = lines.pop() + buffer.slice(cut);
    for (const line of lines) {
      if (line === "") {
        if (event.data.length) onEvent(event.name, JSON.parse(event.data.join("\n")), event.id);
        event = { name: "message", data: [], id: null };
        continue;
      }
      const colon = line.indexOf(":");
      if (colon === 0) continue; // a comment: the server's keep-alive ping
      const field = colon < 0 ? line : line.slice(0, colon);
      const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
      if (field === "event") event.name = text;
      else if (field === "data") event.data.push(text);
      else if (field === "id") event.id = text;
    }
  }
}

// A session restored from the tab's storage gets its refresh timer again.
if (session) store({ ...session, expires_in: (session.expires_at - Date.now()) / 1000 });
