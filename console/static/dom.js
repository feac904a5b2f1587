// Small helpers to build the page from elements, never from HTML strings:
// whatever a server sends is shown as text.

// h creates an element: attrs sets attributes ("class", "for", ...),
// properties ("value", "checked") and listeners ("onclick"); children are
// nodes, strings, numbers or arrays of them; null and false are skipped.
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "class") el.className = v;
    else if (k === "value" || k === "checked" || k === "indeterminate") el[k] = v;
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// toast shows a short message in the corner for a few seconds.
export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const t = h("div", {class: "toast " + kind, role: kind === "error" ? "alert" : "status"}, message);
  box.appendChild(t);
  setTimeout(() => t.remove(), kind === "error" ? 8000 : 4000);
}

// ago formats how long ago an ISO time was, e.g. "3m ago".
export function ago(iso) {
  if (!iso) return "";
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return s + "s ago";
  if (s < 3600) return Math.floor(s / 60) + "m ago";
  if (s < 86400) return Math.floor(s / 3600) + "h ago";
  return Math.floor(s / 86400) + "d ago";
}

// pretty formats a value as indented JSON.
export function pretty(v) {
  return JSON.stringify(v, null, 2);
}
