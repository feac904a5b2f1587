// The Servers page: each server's live state (from GET /api/events), its
// process, restarts and last error, with start, stop and restart buttons.

import {api, stream} from "./api.js";
import {ago, h, toast} from "./dom.js";

const servers = new Map(); // name -> status, kept by the event stream
const watchers = new Set();
let stopStream = null;

// watchServers keeps the states current for as long as the console runs.
export function watchServers(onState) {
  if (stopStream) return;
  stopStream = stream("/api/events", (ev) => {
    const data = JSON.parse(ev.data);
    if (ev.event === "servers") {
      servers.clear();
      for (const s of data.servers || []) servers.set(s.name, s);
    } else if (ev.event === "status") {
      servers.set(data.name, data);
    }
    for (const fn of watchers) fn();
  }, onState);
}

export function unwatchServers() {
  if (stopStream) stopStream();
  stopStream = null;
}

const actions = {
  start: (s) => s.state === "stopped" || s.state === "failed",
  stop: (s) => s.state === "running" || s.state === "restarting" || s.state === "starting",
  restart: (s) => s.state === "running" || s.state === "failed" || s.state === "stopped",
};

async function control(name, action, button) {
  button.disabled = true;
  button.classList.add("busy");
  try {
    await api("/api/servers/" + encodeURIComponent(name) + "/" + action, {method: "POST"});
    toast(name + ": " + action + " done");
  } catch (e) {
    toast(name + ": " + action + " failed: " + e.message, "error");
  } finally {
    button.classList.remove("busy");
    button.disabled = false;
  }
}

function row(s) {
  return h("tr", {"data-server": s.name, "data-state": s.state},
    h("td", {class: "name"}, h("strong", {}, s.name),
      s.serverInfo ? h("div", {class: "muted small"}, s.serverInfo.name + " " + s.serverInfo.version) : null),
    h("td", {}, h("span", {class: "state state-" + s.state}, s.state),
      s.since ? h("div", {class: "muted small", title: s.since}, ago(s.since)) : null),
    h("td", {class: "num pid"}, s.pid ? String(s.pid) : "—"),
    h("td", {class: "num"}, String(s.restarts)),
    h("td", {class: "small"}, s.protocolVersion || ""),
    h("td", {class: "error-cell"}, s.error ? h("details", {}, h("summary", {}, s.error.split("\n")[0]), h("pre", {class: "text"}, s.error)) : ""),
    h("td", {class: "actions"}, Object.keys(actions).map((a) =>
      h("button", {type: "button", "data-action": a, disabled: !actions[a](s), onclick: (ev) => control(s.name, a, ev.currentTarget)}, a))));
}

export function serversPage(main) {
  const body = h("tbody");
  const table = h("table", {id: "servers", class: "grid"},
    h("thead", {}, h("tr", {}, ["Server", "State", "PID", "Restarts", "MCP", "Last error", ""].map((t) => h("th", {}, t)))), body);
  const empty = h("p", {class: "muted"}, "Waiting for the server states…");
  const render = () => {
    empty.hidden = servers.size > 0;
    body.replaceChildren(...[...servers.values()].sort((a, b) => a.name.localeCompare(b.name)).map(row));
  };
  main.replaceChildren(h("section", {class: "page"}, h("h1", {}, "Servers"), empty, table));
  render();
  watchers.add(render);
  const tick = setInterval(render, 15000); // keeps "ago" current
  return () => {
    watchers.delete(render);
    clearInterval(tick);
  };
}
