// The Tools, Resources and Prompts pages. They speak MCP over the proxy's
// aggregate endpoint (/mcp), as any web client would: list, then call a
// tool through a form built from its input schema (with a progress bar
// and the server's log messages), read a resource, get a prompt.

import {FormError, buildForm} from "./form.js";
import {h, pretty} from "./dom.js";
import {MCPClient, splitName} from "./mcp.js";
import {errorBox, promptMessages, resourceContents, toolResult} from "./result.js";

let client = null;

// mcp returns the console's MCP session, opened on first use.
export function mcp() {
  if (!client) client = new MCPClient("/mcp");
  return client;
}

export async function closeMCP() {
  if (client) await client.close();
  client = null;
}

// failed shows why a request failed (a refused token has already sent
// the console back to its login).
function failed(box, e) {
  box.replaceChildren(errorBox(e));
}

// listPage is the frame of the three pages: a filterable list grouped by
// server on the left, the chosen item on the right.
function listPage(main, title, id, load, detail) {
  const filter = h("input", {type: "search", placeholder: "Filter", id: id + "-filter", "aria-label": "filter"});
  const list = h("div", {class: "list", id: id + "-list"}, h("p", {class: "muted"}, "Loading…"));
  const pane = h("div", {class: "detail", id: id + "-detail"}, h("p", {class: "muted"}, "Choose one on the left."));
  main.replaceChildren(h("section", {class: "page split"},
    h("div", {class: "side"}, h("h1", {}, title), filter, list), pane));
  let items = [];
  let chosen = "";
  const render = () => {
    const q = filter.value.trim().toLowerCase();
    const groups = new Map();
    for (const it of items) {
      if (q && !(it.key + " " + (it.description || "")).toLowerCase().includes(q)) continue;
      if (!groups.has(it.group)) groups.set(it.group, []);
      groups.get(it.group).push(it);
    }
    if (!groups.size) {
      list.replaceChildren(h("p", {class: "muted"}, items.length ? "Nothing matches." : "None."));
      return;
    }
    list.replaceChildren(...[...groups].map(([group, its]) => h("div", {class: "group"},
      h("div", {class: "group-name"}, group || "—"),
      its.map((it) => h("button", {type: "button", class: "item" + (it.key === chosen ? " chosen" : ""), "data-key": it.key,
        title: it.description || "", onclick: () => {
          chosen = it.key;
          render();
          detail(pane, it);
        }}, it.label)))));
  };
  filter.addEventListener("input", render);
  load().then((got) => {
    items = got;
    render();
    const want = decodeURIComponent((location.hash.split("/")[1] || ""));
    const hit = items.find((it) => it.key === want);
    if (hit) {
      chosen = hit.key;
      render();
      detail(pane, hit);
    }
  }).catch((e) => failed(list, e));
}

// toolsPage lists every tool and calls the chosen one.
export function toolsPage(main) {
  const load = async () => (await mcp().list("tools/list", "tools")).map((t) => {
    const {server, name} = splitName(t.name);
    return {key: t.name, group: server, label: t.title || (t.annotations && t.annotations.title) || name, description: t.description, tool: t};
  });
  listPage(main, "Tools", "tools", load, toolDetail);
}

function toolDetail(pane, it) {
  const t = it.tool;
  const form = buildForm(t.inputSchema, {id: "tool-form"});
  const progress = h("progress", {id: "progress", max: "1", value: "0", hidden: true});
  const progressText = h("span", {id: "progress-text", class: "muted small"});
  const log = h("div", {id: "log", class: "log", hidden: true});
  const result = h("div", {id: "result"});
  const call = h("button", {type: "submit", id: "call", class: "primary"}, "Call");
  const cancel = h("button", {type: "button", id: "cancel", hidden: true}, "Cancel");
  let ctl = null;
  cancel.addEventListener("click", () => ctl && ctl.abort());
  // The servers' log messages, while this tool is shown (the last 100).
  const onLog = (msg) => {
    if (msg.method !== "notifications/message") return;
    if (!log.isConnected) {
      stopLog();
      return;
    }
    const p = msg.params || {};
    log.hidden = false;
    log.appendChild(h("div", {class: "log-line level-" + p.level},
      h("span", {class: "level"}, p.level), " ", p.logger ? h("span", {class: "muted"}, p.logger + ": ") : null,
      typeof p.data === "string" ? p.data : JSON.stringify(p.data)));
    while (log.childElementCount > 100) log.firstChild.remove();
    log.scrollTop = log.scrollHeight;
  };
  const stopLog = mcp().onNotification(onLog);
  const submit = async (ev) => {
    ev.preventDefault();
    let args;
    try {
      args = form.value();
    } catch (e) {
      if (e instanceof FormError) {
        result.replaceChildren(errorBox(e));
        return;
      }
      throw e;
    }
    call.disabled = true;
    cancel.hidden = false;
    progress.hidden = false;
    progress.removeAttribute("value"); // indeterminate until the first report
    progressText.textContent = "calling…";
    result.replaceChildren();
    ctl = new AbortController();
    const started = performance.now();
    try {
      const res = await mcp().request("tools/call", {name: t.name, arguments: args}, {
        signal: ctl.signal,
        onProgress: (p) => {
          if (p.total) {
            progress.max = p.total;
            progress.value = p.progress;
          }
          const count = p.total ? p.progress + "/" + p.total : String(p.progress);
          progressText.textContent = !p.message ? count : p.message.includes(count) ? p.message : p.message + " (" + count + ")";
        },
      });
      result.replaceChildren(toolResult(res));
      progressText.textContent = "done in " + Math.round(performance.now() - started) + " ms";
      if (progress.hasAttribute("value")) progress.value = progress.max;
      else progress.hidden = true;
    } catch (e) {
      progressText.textContent = "";
      progress.hidden = true;
      if (e.name === "AbortError") result.replaceChildren(h("p", {class: "muted"}, "Cancelled."));
      else failed(result, e);
    } finally {
      call.disabled = false;
      cancel.hidden = true;
      ctl = null;
    }
  };
  const ann = t.annotations || {};
  const flags = ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"].filter((k) => ann[k] !== undefined)
    .map((k) => h("span", {class: "tag"}, k.replace("Hint", "") + ": " + ann[k]));
  pane.replaceChildren(
    h("h2", {}, t.title || it.label, " ", h("code", {class: "muted small"}, t.name)),
    t.description ? h("p", {class: "description"}, t.description) : null,
    flags.length ? h("div", {class: "tags"}, flags) : null,
    h("form", {onsubmit: submit}, form.el, h("div", {class: "buttons"}, call, cancel, progress, progressText)),
    log, result,
    h("details", {}, h("summary", {}, "input schema"), h("pre", {class: "json"}, pretty(t.inputSchema || {}))));
}

// resourcesPage lists resources and templates and reads the chosen one.
export function resourcesPage(main) {
  const load = async () => {
    const [res, tpl] = await Promise.all([
      mcp().list("resources/list", "resources"),
      mcp().list("resources/templates/list", "resourceTemplates").catch(() => []),
    ]);
    return [
      ...res.map((r) => ({key: r.uri, group: "resources", label: r.title || r.name || r.uri, description: r.description, resource: r})),
      ...tpl.map((r) => ({key: r.uriTemplate, group: "templates", label: r.title || r.name || r.uriTemplate, description: r.description, template: r})),
    ];
  };
  listPage(main, "Resources", "resources", load, resourceDetail);
}

function resourceDetail(pane, it) {
  const out = h("div", {id: "result"});
  const read = async (uri) => {
    out.replaceChildren(h("p", {class: "muted"}, "Reading…"));
    try {
      const res = await mcp().request("resources/read", {uri});
      out.replaceChildren(...(res.contents || []).map(resourceContents));
    } catch (e) {
      failed(out, e);
    }
  };
  if (it.resource) {
    const r = it.resource;
    pane.replaceChildren(h("h2", {}, it.label), h("p", {}, h("code", {}, r.uri), r.mimeType ? " " + r.mimeType : ""),
      r.description ? h("p", {class: "description"}, r.description) : null,
      h("button", {type: "button", id: "read", class: "primary", onclick: () => read(r.uri)}, "Read"), out);
    return;
  }
  const tpl = it.template.uriTemplate;
  const vars = [...new Set([...tpl.matchAll(/\{[+#./;?&]?([^}]+)\}/g)].flatMap((m) => m[1].split(",")))];
  const inputs = vars.map((v) => h("input", {type: "text", name: v, id: "f-" + v}));
  const fill = () => {
    let uri = tpl;
    vars.forEach((v, i) => {
      uri = uri.replace(new RegExp("\\{[+#./;?&]?" + v + "\\}"), encodeURIComponent(inputs[i].value));
    });
    return uri;
  };
  pane.replaceChildren(h("h2", {}, it.label), h("p", {}, h("code", {}, tpl)),
    it.description ? h("p", {class: "description"}, it.description) : null,
    h("form", {onsubmit: (ev) => {
      ev.preventDefault();
      read(fill());
    }}, vars.map((v, i) => h("div", {class: "field"}, h("label", {for: "f-" + v, class: "field-name"}, v), inputs[i])),
    h("div", {class: "buttons"}, h("button", {type: "submit", class: "primary", id: "read"}, "Read"))), out);
}

// promptsPage lists prompts and gets the chosen one with its arguments.
export function promptsPage(main) {
  const load = async () => (await mcp().list("prompts/list", "prompts")).map((p) => {
    const {server, name} = splitName(p.name);
    return {key: p.name, group: server, label: p.title || name, description: p.description, prompt: p};
  });
  listPage(main, "Prompts", "prompts", load, promptDetail);
}

function promptDetail(pane, it) {
  const p = it.prompt;
  const schema = {type: "object", properties: {}, required: []};
  for (const a of p.arguments || []) {
    schema.properties[a.name] = {type: "string", description: a.description};
    if (a.required) schema.required.push(a.name);
  }
  const form = buildForm(schema, {id: "prompt-form"});
  const out = h("div", {id: "result"});
  pane.replaceChildren(h("h2", {}, it.label, " ", h("code", {class: "muted small"}, p.name)),
    p.description ? h("p", {class: "description"}, p.description) : null,
    h("form", {onsubmit: async (ev) => {
      ev.preventDefault();
      try {
        const args = form.value();
        out.replaceChildren(h("p", {class: "muted"}, "Getting…"));
        out.replaceChildren(promptMessages(await mcp().request("prompts/get", {name: p.name, arguments: args})));
      } catch (e) {
        failed(out, e);
      }
    }}, form.el, h("div", {class: "buttons"}, h("button", {type: "submit", class: "primary", id: "get"}, "Get"))), out);
}

