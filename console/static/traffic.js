// The Traffic page: the audit trail live (GET /api/audit/stream), newest
// first, filtered by server, tool, caller, decision and outcome; a click
// shows a record whole, with its trace id.

import {stream} from "./api.js";
import {h, pretty} from "./dom.js";

const keep = 2000; // records kept in the page
const shown = 300; // rows drawn at most

function decisionsOf(r) {
  return (r.decisions || []).map((d) => d.kind + " by " + d.by + (d.reason ? ": " + d.reason : "")).join("; ");
}

function target(r) {
  return r.tool || r.prompt || r.uri || "";
}

// ms formats a latency: two decimals below 10 ms, whole numbers above.
function ms(v) {
  return v < 10 ? v.toFixed(2) : String(Math.round(v));
}

function time(iso) {
  const d = new Date(iso);
  return d.toLocaleTimeString([], {hour12: false}) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

export function trafficPage(main) {
  const records = [];
  const servers = new Set();
  const f = {
    server: h("select", {id: "f-server", "aria-label": "server"}, h("option", {value: ""}, "any server")),
    tool: h("input", {type: "search", id: "f-tool", placeholder: "tool, prompt or URI", "aria-label": "tool"}),
    caller: h("input", {type: "search", id: "f-caller", placeholder: "caller", "aria-label": "caller"}),
    decision: h("select", {id: "f-decision", "aria-label": "decision"},
      ["", "continue", "modified", "deny", "answered", "routed", "failed"].map((v) => h("option", {value: v}, v || "any decision"))),
    outcome: h("select", {id: "f-outcome", "aria-label": "outcome"},
      ["", "ok", "isError", "error", "denied"].map((v) => h("option", {value: v}, v || "any outcome"))),
  };
  const body = h("tbody");
  const table = h("table", {id: "traffic", class: "grid clickable"},
    h("thead", {}, h("tr", {}, ["Time", "Caller", "Server", "Request", "Decisions", "Outcome", "ms"].map((t) => h("th", {}, t)))), body);
  const count = h("span", {id: "traffic-count", class: "muted small"});
  const state = h("span", {class: "muted small"});
  const detail = h("aside", {id: "record", class: "record", hidden: true});
  let selected = 0;
  let missed = 0;

  const matches = (r) => {
    if (f.server.value && r.server !== f.server.value) return false;
    if (f.outcome.value && r.outcome !== f.outcome.value) return false;
    if (f.tool.value && !target(r).toLowerCase().includes(f.tool.value.toLowerCase())) return false;
    const c = r.caller || {};
    if (f.caller.value && ![c.transport, c.token, c.subject, c.session, c.clientName].join(" ").toLowerCase().includes(f.caller.value.toLowerCase())) return false;
    if (f.decision.value && !(r.decisions || []).some((d) => d.kind === f.decision.value)) return false;
    return true;
  };
  const show = (r) => {
    selected = r.seq;
    detail.hidden = false;
    detail.replaceChildren(
      h("div", {class: "record-head"}, h("h2", {}, "Record " + r.seq),
        h("button", {type: "button", class: "link", onclick: () => {
          detail.hidden = true;
          selected = 0;
          render();
        }}, "close")),
      r.traceId ? h("p", {}, "trace ", h("code", {id: "trace-id"}, r.traceId), r.spanId ? h("span", {class: "muted"}, " span " + r.spanId) : null)
        : h("p", {class: "muted"}, "not traced"),
      h("pre", {class: "json", id: "record-detail"}, pretty(r)));
    render();
  };
  const render = () => {
    const rows = [];
    let n = 0;
    for (let i = records.length - 1; i >= 0 && rows.length < shown; i--) {
      const r = records[i];
      if (!matches(r)) continue;
      n++;
      const c = r.caller || {};
      rows.push(h("tr", {"data-seq": String(r.seq), "data-outcome": r.outcome, class: r.seq === selected ? "selected" : "",
        onclick: () => show(r)},
        h("td", {class: "small", title: r.time}, time(r.time)),
        h("td", {class: "small"}, c.transport, c.token ? h("span", {class: "muted"}, " " + c.token) : null),
        h("td", {}, r.server),
        h("td", {}, h("span", {class: "muted"}, r.method), " ", target(r)),
        h("td", {class: "small decisions"}, decisionsOf(r)),
        h("td", {}, h("span", {class: "outcome outcome-" + r.outcome}, r.outcome), r.code ? h("span", {class: "muted small"}, " " + r.code) : null),
        h("td", {class: "num"}, ms(r.latencyMs))));
    }
    body.replaceChildren(...rows);
    count.textContent = records.length + " records" + (missed ? ", " + missed + " missed" : "");
  };
  for (const el of Object.values(f)) el.addEventListener("input", render);

  const stop = stream("/api/audit/stream", (ev) => {
    if (ev.event === "dropped") {
      missed = Number(ev.data);
      render();
      return;
    }
    if (ev.event !== "record") return;
    const r = JSON.parse(ev.data);
    if (records.length && r.seq <= records[records.length - 1].seq) return; // the backlog again, after a reconnect
    records.push(r);
    if (records.length > keep) records.splice(0, records.length - keep);
    if (!servers.has(r.server)) {
      servers.add(r.server);
      f.server.appendChild(h("option", {value: r.server}, r.server));
    }
    scheduleRender();
  }, (s) => {
    state.textContent = s === "live" ? "live" : s;
  });
  let pending = false;
  const scheduleRender = () => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => {
      pending = false;
      render();
    });
  };

  main.replaceChildren(h("section", {class: "page"},
    h("div", {class: "title-row"}, h("h1", {}, "Traffic"), state, count),
    h("div", {class: "filters"}, Object.values(f)),
    h("div", {class: "traffic-body"}, h("div", {class: "table-wrap"}, table), detail)));
  render();
  return stop;
}
