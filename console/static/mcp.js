// A small MCP client over Streamable HTTP (2025-11-25), as a web page
// writes one: POST each message with Accept for both JSON and an event
// stream, read whichever comes back, keep the Mcp-Session-Id, open the
// session's GET stream for what is not about a request (log messages,
// list changes). The console uses it on the proxy's aggregate endpoint
// (/mcp), where tools and prompts are named SERVER__NAME.

import {errorText, headers, readEvents, refused} from "./api.js";

export const protocolVersion = "2025-11-25";

// RPCError is a JSON-RPC error answer.
export class RPCError extends Error {
  constructor(error) {
    super(error.message || "JSON-RPC error " + error.code);
    this.code = error.code;
    this.data = error.data;
  }
}

export class MCPClient {
  constructor(url) {
    this.url = url;
    this.sessionId = "";
    this.nextId = 1;
    this.server = null; // the initialize result
    this.listeners = new Set();
    this.standalone = null;
  }

  // onNotification registers fn for notifications that are not progress
  // of a request (notifications/message, list_changed, ...).
  onNotification(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  dispatch(msg) {
    for (const fn of this.listeners) fn(msg);
  }

  headers(extra = {}) {
    const h = headers({"Content-Type": "application/json", Accept: "application/json, text/event-stream", ...extra});
    if (this.sessionId) h["Mcp-Session-Id"] = this.sessionId;
    if (this.server) h["MCP-Protocol-Version"] = this.server.protocolVersion;
    return h;
  }

  // connect opens a session: initialize, notifications/initialized, the
  // GET stream.
  async connect() {
    this.sessionId = "";
    this.server = null;
    const {result, res} = await this.exchange("initialize", {
      protocolVersion,
      capabilities: {},
      clientInfo: {name: "mcpscript-console", version: "0.1.0"},
    });
    this.sessionId = res.headers.get("Mcp-Session-Id") || "";
    this.server = result;
    await this.notify("notifications/initialized");
    this.openStandalone();
    if (result.capabilities && result.capabilities.logging) {
      // Servers send log messages only to sessions that chose a level.
      await this.exchange("logging/setLevel", {level: "info"}).catch(() => {});
    }
    return result;
  }

  // request sends a request and returns its result. With onProgress, it
  // asks for progress and hands each notifications/progress params to it.
  async request(method, params = {}, {onProgress, signal} = {}) {
    if (!this.server) await this.connect();
    try {
      return (await this.exchange(method, params, {onProgress, signal})).result;
    } catch (e) {
      if (e.sessionLost) {
        // The proxy forgot the session (restarted, idle): open a new one.
        await this.connect();
        return (await this.exchange(method, params, {onProgress, signal})).result;
      }
      throw e;
    }
  }

  async exchange(method, params, {onProgress, signal} = {}) {
    const id = this.nextId++;
    let token;
    if (onProgress) {
      token = "console-" + id;
      params = {...params, _meta: {...(params && params._meta), progressToken: token}};
    }
    const res = await fetch(this.url, {
      method: "POST",
      headers: this.headers(),
      body: JSON.stringify({jsonrpc: "2.0", id, method, params}),
      signal,
    });
    const ctype = res.headers.get("Content-Type") || "";
    if (!ctype.startsWith("text/event-stream")) {
      const text = await res.text();
      let msg = null;
      try {
        msg = JSON.parse(text);
      } catch {
        // not JSON
      }
      if (res.status === 401) throw refused(errorText(msg || text, 401));
      if (res.status === 404 && this.sessionId && method !== "initialize") {
        const e = new Error("session not found");
        e.sessionLost = true;
        throw e;
      }
      if (msg && msg.error) throw new RPCError(msg.error);
      if (!res.ok || !msg) throw new Error(errorText(msg || text, res.status));
      return {result: msg.result, res};
    }
    let answer = null;
    await readEvents(res.body, (ev) => {
      let msg;
      try {
        msg = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (msg.id === id && ("result" in msg || "error" in msg)) answer = msg;
      else if (msg.method === "notifications/progress" && token && msg.params && msg.params.progressToken === token) onProgress(msg.params);
      else if (msg.method) this.dispatch(msg);
    });
    if (!answer) throw new Error(method + ": the stream ended without an answer");
    if (answer.error) throw new RPCError(answer.error);
    return {result: answer.result, res};
  }

  async notify(method, params) {
    const body = {jsonrpc: "2.0", method};
    if (params) body.params = params;
    const res = await fetch(this.url, {method: "POST", headers: this.headers(), body: JSON.stringify(body)});
    if (!res.ok) throw new Error(method + ": " + errorText(await res.text(), res.status));
  }

  // openStandalone reads the session's GET stream in the background.
  openStandalone() {
    if (this.standalone) this.standalone.abort();
    const ctl = new AbortController();
    this.standalone = ctl;
    fetch(this.url, {headers: this.headers({Accept: "text/event-stream"}), signal: ctl.signal})
      .then((res) => {
        if (!res.ok || !(res.headers.get("Content-Type") || "").startsWith("text/event-stream")) return;
        return readEvents(res.body, (ev) => {
          try {
            const msg = JSON.parse(ev.data);
            if (msg.method) this.dispatch(msg);
          } catch {
            // a priming event or junk
          }
        });
      })
      .catch(() => {});
  }

  // list returns every item of a list method, following cursors.
  async list(method, key) {
    const out = [];
    let cursor;
    for (let i = 0; i < 100; i++) {
      const res = await this.request(method, cursor ? {cursor} : {});
      out.push(...(res[key] || []));
      if (!res.nextCursor) break;
      cursor = res.nextCursor;
    }
    return out;
  }

  async close() {
    if (this.standalone) this.standalone.abort();
    if (this.sessionId) {
      await fetch(this.url, {method: "DELETE", headers: this.headers()}).catch(() => {});
    }
    this.sessionId = "";
    this.server = null;
  }
}

// splitName splits an aggregate name SERVER__NAME at its first "__".
export function splitName(full) {
  const i = full.indexOf("__");
  return i < 0 ? {server: "", name: full} : {server: full.slice(0, i), name: full.slice(i + 2)};
}
