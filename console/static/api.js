// The console's access to the proxy: the bearer token (kept in
// sessionStorage, so it ends with the tab), JSON calls to /api, and event
// streams read with fetch, which can send the Authorization header where
// EventSource cannot.

const tokenKey = "mcpscript.token";

export function token() {
  return sessionStorage.getItem(tokenKey) || "";
}

export function setToken(t) {
  if (t) sessionStorage.setItem(tokenKey, t);
  else sessionStorage.removeItem(tokenKey);
}

// AuthError is a 401: the token is missing, wrong or revoked.
export class AuthError extends Error {}

// onAuthError is called once per refusal; app.js asks for a token again.
let authHandler = () => {};
export function onAuthError(fn) {
  authHandler = fn;
}
// refused reports a refusal to the handler and returns the AuthError.
export function refused(message) {
  authHandler(message);
  return new AuthError(message);
}

// headers returns the headers of an authorized request.
export function headers(extra = {}) {
  const out = {...extra};
  if (token()) out.Authorization = "Bearer " + token();
  return out;
}

// errorText extracts the message of an error answer: a JSON-RPC error
// object, an {"error": "..."} or plain text.
export function errorText(body, status) {
  if (body && typeof body === "object") {
    if (body.error && typeof body.error === "object" && body.error.message) return body.error.message;
    if (typeof body.error === "string") return body.error;
  }
  return (typeof body === "string" && body) || "HTTP " + status;
}

// api sends a request to the proxy and returns the JSON answer; an error
// status throws an Error with the proxy's message (status and data set).
export async function api(path, {method = "GET", body} = {}) {
  const res = await fetch(path, {
    method,
    headers: headers({Accept: "application/json", ...(body ? {"Content-Type": "application/json"} : {})}),
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let data = text;
  try {
    data = JSON.parse(text);
  } catch {
    // not JSON: keep the text
  }
  if (res.status === 401) throw refused(errorText(data, 401));
  if (!res.ok) {
    const e = new Error(errorText(data, res.status));
    e.status = res.status;
    e.data = data;
    throw e;
  }
  return data;
}

// readEvents reads a text/event-stream body to its end, calling onEvent
// with {event, data, id} for each event that has data.
export async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  let ev = {event: "message", data: [], id: ""};
  for (;;) {
    const {value, done} = await reader.read();
    if (done) return;
    buf += value;
    let i;
    while ((i = buf.search(/\r\n|\r|\n/)) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + (buf[i] === "\r" && buf[i + 1] === "\n" ? 2 : 1));
      if (line === "") {
        if (ev.data.length) onEvent({event: ev.event, data: ev.data.join("\n"), id: ev.id});
        ev = {event: "message", data: [], id: ""};
        continue;
      }
      if (line.startsWith(":")) continue; // a comment: a heartbeat
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let val = colon < 0 ? "" : line.slice(colon + 1);
      if (val.startsWith(" ")) val = val.slice(1);
      if (field === "event") ev.event = val;
      else if (field === "data") ev.data.push(val);
      else if (field === "id") ev.id = val;
    }
  }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// stream keeps an event stream of the API open, reconnecting with backoff
// when it breaks, and returns a function that closes it. onState gets
// "live", "reconnecting" or "closed".
export function stream(path, onEvent, onState = () => {}) {
  const ctl = new AbortController();
  let stopped = false;
  (async () => {
    let delay = 500;
    while (!stopped) {
      try {
        const res = await fetch(path, {headers: headers({Accept: "text/event-stream"}), signal: ctl.signal});
        if (res.status === 401) {
          refused("unauthorized");
          stopped = true;
          break;
        }
        if (!res.ok) throw new Error(errorText(await res.text(), res.status));
        onState("live");
        delay = 500;
        await readEvents(res.body, onEvent);
      } catch (e) {
        if (stopped) break;
        console.warn("stream", path, e);
      }
      if (stopped) break;
      onState("reconnecting");
      await sleep(delay);
      delay = Math.min(delay * 2, 10000);
    }
    onState("closed");
  })();
  return () => {
    stopped = true;
    ctl.abort();
  };
}
