// The Hooks page: the hooks and filters requests pass, in order, with
// their calls, refusals, failures and own time (GET /api/hooks).

import {api} from "./api.js";
import {h} from "./dom.js";

export function hooksPage(main) {
  const body = h("tbody");
  const note = h("p", {class: "muted"});
  const table = h("table", {id: "hooks", class: "grid"},
    h("thead", {}, h("tr", {}, ["#", "Name", "Kind", "Calls", "Denied", "Failed", "p50 ms", "p99 ms"].map((t) => h("th", {}, t)))), body);
  main.replaceChildren(h("section", {class: "page"}, h("h1", {}, "Hooks and filters"), note, table,
    h("p", {class: "muted small"}, "Times are each one's own, per request: the rest of the chain and the server are not counted.")));
  const load = async () => {
    try {
      const res = await api("/api/hooks");
      const hooks = res.hooks || [];
      note.textContent = !res.measured ? "This proxy does not report hook statistics."
        : hooks.length ? "" : "No hooks or filters are loaded (scripts.hooks and filters in the config).";
      table.hidden = !hooks.length;
      body.replaceChildren(...hooks.map((x, i) => h("tr", {"data-hook": x.name},
        h("td", {class: "num"}, String(i + 1)), h("td", {}, h("code", {}, x.name)), h("td", {}, x.kind),
        h("td", {class: "num calls"}, String(x.calls)), h("td", {class: "num denied"}, String(x.denied)),
        h("td", {class: "num failed"}, String(x.failed)), h("td", {class: "num"}, String(x.p50Ms)), h("td", {class: "num"}, String(x.p99Ms)))));
    } catch (e) {
      note.textContent = "Could not load: " + e.message;
    }
  };
  load();
  const t = setInterval(load, 2000);
  return () => clearInterval(t);
}
