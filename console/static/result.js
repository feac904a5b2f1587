// Rendering of MCP content: a tool's result, a resource's contents, a
// prompt's messages. Text stays text; images and audio become data: URLs.

import {h, pretty} from "./dom.js";

function dataURL(mime, b64) {
  return "data:" + (mime || "application/octet-stream") + ";base64," + b64;
}

// resourceContents renders one item of resources/read or an embedded
// resource.
export function resourceContents(r) {
  const head = h("div", {class: "res-head"}, h("code", {}, r.uri || ""), r.mimeType ? h("span", {class: "muted"}, " " + r.mimeType) : null);
  let body;
  if (typeof r.text === "string") body = h("pre", {class: "text"}, r.text);
  else if (typeof r.blob === "string" && (r.mimeType || "").startsWith("image/")) body = h("img", {src: dataURL(r.mimeType, r.blob), alt: r.uri || "image"});
  else if (typeof r.blob === "string") body = h("p", {class: "muted"}, Math.floor(r.blob.length * 3 / 4) + " bytes of binary data");
  return h("div", {class: "resource"}, head, body);
}

// content renders one content block.
export function content(c) {
  switch (c.type) {
  case "text":
    return h("pre", {class: "text"}, c.text);
  case "image":
    return h("img", {class: "content-image", src: dataURL(c.mimeType, c.data), alt: "image from the tool"});
  case "audio":
    return h("audio", {controls: true, src: dataURL(c.mimeType, c.data)});
  case "resource":
    return h("div", {class: "embedded"}, h("div", {class: "label"}, "embedded resource"), resourceContents(c.resource || {}));
  case "resource_link":
    return h("div", {class: "embedded"}, h("div", {class: "label"}, "resource link"),
      h("div", {}, h("code", {}, c.uri), c.name ? " " + c.name : ""), c.description ? h("div", {class: "hint"}, c.description) : null);
  default:
    return h("pre", {class: "text"}, pretty(c));
  }
}

// toolResult renders a CallToolResult.
export function toolResult(res) {
  const items = (res.content || []).map(content);
  return h("div", {class: "result" + (res.isError ? " is-error" : ""), "data-is-error": res.isError ? "true" : "false"},
    res.isError ? h("div", {class: "error-banner"}, "The tool reported an error (isError)") : null,
    items.length ? items : h("p", {class: "muted"}, "No content."),
    res.structuredContent !== undefined ? h("div", {}, h("div", {class: "label"}, "structured content"), h("pre", {class: "json"}, pretty(res.structuredContent))) : null,
    h("details", {}, h("summary", {}, "raw result"), h("pre", {class: "json"}, pretty(res))));
}

// promptMessages renders a GetPromptResult.
export function promptMessages(res) {
  return h("div", {class: "result"},
    res.description ? h("p", {class: "hint"}, res.description) : null,
    (res.messages || []).map((m) => h("div", {class: "message"}, h("div", {class: "label"}, m.role), content(m.content || {}))),
    h("details", {}, h("summary", {}, "raw result"), h("pre", {class: "json"}, pretty(res))));
}

// errorBox renders a failure of a request.
export function errorBox(e) {
  return h("div", {class: "result is-error", role: "alert"},
    h("div", {class: "error-banner"}, e.code !== undefined ? "Error " + e.code : "Error"),
    h("pre", {class: "text"}, e.message),
    e.data !== undefined ? h("pre", {class: "json"}, pretty(e.data)) : null);
}
