// The console's entry: sign in with the proxy's bearer token (kept in
// sessionStorage), then one page at a time, chosen by the URL's hash.

import {api, onAuthError, setToken, token} from "./api.js";
import {h} from "./dom.js";
import {closeMCP, promptsPage, resourcesPage, toolsPage} from "./catalog.js";
import {serversPage, unwatchServers, watchServers} from "./servers.js";
import {trafficPage} from "./traffic.js";
import {hooksPage} from "./hooks.js";

const pages = {
  servers: serversPage,
  tools: toolsPage,
  resources: resourcesPage,
  prompts: promptsPage,
  traffic: trafficPage,
  hooks: hooksPage,
};

const main = document.getElementById("main");
const nav = document.getElementById("nav");
const status = document.getElementById("status");
const signout = document.getElementById("signout");
let leave = null; // cleans up the current page
let signedIn = false;

function route() {
  if (!signedIn) return;
  const name = (location.hash.slice(1).split("/")[0]) || "servers";
  const page = pages[name] || pages.servers;
  if (leave) leave();
  leave = null;
  for (const a of nav.querySelectorAll("a")) a.classList.toggle("current", a.getAttribute("href") === "#" + name);
  document.title = name[0].toUpperCase() + name.slice(1) + " · mcpscript console";
  leave = page(main) || null;
}

function start() {
  signedIn = true;
  nav.hidden = false;
  signout.hidden = !token();
  watchServers((s) => {
    status.textContent = s === "live" ? "● live" : s;
    status.className = s === "live" ? "live" : "muted";
  });
  route();
}

function stop() {
  signedIn = false;
  if (leave) leave();
  leave = null;
  unwatchServers();
  closeMCP();
  nav.hidden = true;
  signout.hidden = true;
  status.textContent = "";
}

function login(message = "") {
  stop();
  const input = h("input", {type: "password", id: "token", name: "token", autocomplete: "current-password", required: true,
    placeholder: "bearer token", "aria-label": "bearer token"});
  const error = h("p", {id: "login-error", class: "error", role: "alert"}, message);
  const form = h("form", {id: "login", class: "login", onsubmit: async (ev) => {
    ev.preventDefault();
    setToken(input.value.trim());
    error.textContent = "";
    try {
      await api("/api/servers");
      start();
    } catch (e) {
      setToken("");
      error.textContent = "That token was refused: " + e.message;
    }
  }},
  h("h1", {}, "Sign in"),
  h("p", {class: "muted"}, "The proxy asks for a bearer token: one of sseProxy.authenticate.bearer in its config. It stays in this tab only."),
  input, h("button", {type: "submit", class: "primary", id: "login-submit"}, "Sign in"), error);
  main.replaceChildren(form);
  input.focus();
}

onAuthError((message) => {
  if (!signedIn) return;
  setToken("");
  login("The proxy refused the token (" + message + "). Sign in again.");
});

signout.addEventListener("click", () => {
  setToken("");
  login();
});
window.addEventListener("hashchange", route);

(async () => {
  try {
    await api("/api/servers"); // with the token of this tab, or none when the proxy needs none
    start();
  } catch (e) {
    login(token() ? "The proxy refused the token: " + e.message : "");
  }
})();
