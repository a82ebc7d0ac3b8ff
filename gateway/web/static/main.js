// The app shell: sign in, then Library, Chat and (for admins) Admin, by the URL's hash.
// The tenant and the role are the session's (POST /v1/auth/token answers them); the
// role decides which controls exist at all: readers get no upload or delete buttons.

import * as admin from "./admin.js";
import { current, onSession, signIn, signOut } from "./api.js";
import * as chat from "./chat.js";
import * as library from "./library.js";
import { attempt } from "./ui.js";

const views = { library, chat, admin };
const $ = (id) => document.getElementById(id);
let mounted = false;

function route() {
  const session = current();
  $("signin-view").hidden = Boolean(session);
  $("nav").hidden = $("sign-out").hidden = !session;
  if (!session) {
    for (const name of Object.keys(views)) $(`${name}-view`).hidden = true;
    $("who").textContent = "";
    $("signin-key").focus();
    return;
  }
  if (!mounted) {
    for (const [name, view] of Object.entries(views)) view.mount($(`${name}-view`));
    mounted = true;
  }
  document.body.dataset.role = session.role;
  $("who").textContent = `${session.label} · ${session.tenant} · ${session.role}`;
  let name = location.hash.slice(1) || "library";
  if (!(name in views) || (name === "admin" && session.role !== "admin")) name = "library";
  for (const [other] of Object.entries(views)) $(`${other}-view`).hidden = other !== name;
  for (const link of document.querySelectorAll("#nav a")) link.setAttribute("aria-current", link.hash === `#${name}` ? "page" : "false");
  attempt(() => views[name].load(), name).then(() => {
    document.body.dataset.ready = name;
    performance.mark(`ragbus:${name}-ready`); // the first load's benchmark reads this
  });
}

async function submitSignIn(event) {
  event.preventDefault();
  const form = event.target;
  const error = $("signin-error");
  error.textContent = "";
  const key = form.api_key.value.trim();
  const grant = key
    ? { grant_type: "api_key", api_key: key }
    : { grant_type: "password", tenant: form.tenant.value.trim(), username: form.username.value.trim(), password: form.password.value };
  try {
    await signIn(grant, key ? `key ${key.slice(0, 16)}…` : grant.username);
    form.reset();
  } catch (e) {
    error.textContent = `Sign-in refused: ${e.message}`;
  }
}

$("signin-form").addEventListener("submit", submitSignIn);
$("sign-out").addEventListener("click", () => signOut());
$("new-key").querySelector("button").addEventListener("click", () => $("new-key").close());
$("passage").querySelector("button").addEventListener("click", () => $("passage").close());
window.addEventListener("hashchange", route);
let signedIn = Boolean(current());
onSession((session) => {
  // A refresh changes only the tokens; sign-in and sign-out change the page.
  if (Boolean(session) !== signedIn) {
    signedIn = Boolean(session);
    // Signed out: start afresh, so nothing of the last user's views or state remains.
    if (!session) location.replace("/");
    else route();
  }
});
route();
