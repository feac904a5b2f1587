// Drives headless Chromium (Debian's, through playwright-core) against
// mcpscript serve with auth on, and checks what web pages get:
//
//   node browser.mjs PAGE_PORT OTHER_PORT PROXY_URL TOKEN SERVE_LOG [SCREENSHOT.png]
//
// 1. page.html: query token, EventSource /sse, CORS POST, answer on the stream.
// 2. The mcp-runner README's JavaScript client example, as written
//    (recipes/mcp-runner.js, copied from its README: EventSource('/sse')
//    without a token, POST to the bare /sse/messages), against a proxy with
//    tokenlessStreams: a call, a reload and a call, a second tab (its bare
//    POST is ambiguous and refused, and so are the first tab's until the
//    second closes), then a call again.
// 3. mcpscript's own README Security recipe, as written (read from
//    README.md at run time), in two tabs at once and after a reload: each
//    tab gets its own answer and nothing else.
// 4. The mcp-runner example from an origin not in sseProxy.cors: the
//    browser blocks it, and serve's log (at its default level) says which
//    origin and which key to set.
//
// Both READMEs hard-code the proxy's address (localhost:3000,
// 127.0.0.1:3000); Chromium maps those to PROXY_URL (--host-resolver-rules),
// and the config accepts them as Host. The only change to the mcp-runner
// example is its placeholder token, which serve refuses: the page is served
// with TOKEN in its place, as a user would write their own.
import http from "node:http";
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [pagePort, otherPort, proxy, token, serveLog, screenshot] = process.argv.slice(2);
const here = (p) => new URL(p, import.meta.url);
const proxyPort = new URL(proxy).port;

const runnerRecipe = readFileSync(here("./recipes/mcp-runner.js"), "utf8");
if (!runnerRecipe.includes("your-secure-token-here")) throw new Error("recipes/mcp-runner.js: no placeholder token to replace");
const readme = readFileSync(here("../../README.md"), "utf8");
const marker = "<!-- scripts/browser-test.sh runs the next block as written, in Chromium -->\n```js\n";
const at = readme.indexOf(marker);
if (at < 0) throw new Error("README.md: the Security recipe's marker is missing");
const ownRecipe = readme.slice(at + marker.length, readme.indexOf("```", at + marker.length));

const pages = {
  "/": readFileSync(here("./page.html")),
  "/mcp-runner.html": `<!doctype html><meta charset="utf-8"><title>mcp-runner recipe</title>
<script>
${runnerRecipe.replaceAll("your-secure-token-here", token)}
</script>`,
  "/mcpscript.html": `<!doctype html><meta charset="utf-8"><title>mcpscript recipe</title>
<script type="module">
const secret = ${JSON.stringify(token)};
${ownRecipe}
</script>`,
};
const serve = (port) => new Promise((resolve) => {
  const server = http.createServer((req, res) => {
    const body = pages[new URL(req.url, "http://x").pathname];
    res.writeHead(body ? 200 : 404, {"Content-Type": "text/html; charset=utf-8"});
    res.end(body ?? "not found");
  });
  server.listen(Number(port), "127.0.0.1", () => resolve(server));
});
const servers = [await serve(pagePort), await serve(otherPort)];

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    `--host-resolver-rules=MAP localhost:3000 127.0.0.1:${proxyPort}, MAP 127.0.0.1:3000 127.0.0.1:${proxyPort}`],
});

let failures = 0;
const fail = (msg) => { console.error("browser: FAIL: " + msg); failures++; };
const check = (ok, msg) => { if (!ok) fail(msg); return ok; };

// A tab whose console messages are kept: {text, args} with args as values.
async function tab(context, url, name) {
  const page = await context.newPage();
  const log = [];
  let done = Promise.resolve(); // entries are added in order, once their values are read
  page.on("console", (m) => {
    done = done.then(async () => {
      const args = [];
      for (const a of m.args()) args.push(await a.jsonValue().catch(() => undefined));
      log.push({text: m.text(), args});
      console.error(`${name} console: ${m.text()}`);
    });
  });
  page.on("pageerror", (e) => console.error(`${name} page error: ${e.message}`));
  await page.goto(url);
  return {page, log, name};
}

// waitLog waits until the tab logged an entry matching pred after index from.
async function waitLog(t, from, pred, what, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const hit = t.log.slice(from).find(pred);
    if (hit) return hit;
    if (Date.now() > deadline) {
      fail(`${t.name}: no ${what} within ${ms} ms`);
      return undefined;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
}

const startsWith = (s) => (e) => e.text.startsWith(s);

// streamsGone waits until the proxy has n sessions open on /sse (its
// metrics), and fails when that takes a second or more: a stream whose tab
// closed must be dropped when its connection closes, not at the next
// heartbeat (15 s). Chromium closes a closed tab's connections a moment
// after page.close() returns.
async function streamsGone(n, what) {
  const start = Date.now();
  for (;;) {
    const res = await fetch(proxy + "/metrics", {headers: {Authorization: "Bearer " + token}});
    const m = /^mcpscript_sessions\{server="\*",transport="reference-sse"\} (\d+)$/m.exec(await res.text());
    if (m && Number(m[1]) === n) {
      console.error(`browser: ${what}: the proxy dropped the stream ${Date.now() - start} ms after`);
      return;
    }
    if (Date.now() - start >= 1000) {
      fail(`${what}: the proxy has ${m?.[1]} streams on /sse 1 s after, want ${n}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}

try {
  const context = await browser.newContext();

  // 1. page.html
  {
    const before = failures;
    const page = await context.newPage();
    page.on("console", (m) => console.error("page.html console:", m.text()));
    await page.goto(`http://127.0.0.1:${pagePort}/?proxy=${encodeURIComponent(proxy)}&token=${encodeURIComponent(token)}`);
    await page.waitForFunction(() => document.getElementById("out").textContent !== "", null, {timeout: 20000});
    const got = {out: await page.textContent("#out"), ack: await page.textContent("#ack"), denied: await page.textContent("#denied")};
    if (screenshot) await page.screenshot({path: screenshot});
    const want = {out: "hello from chromium", ack: "202", denied: "401"};
    for (const k of Object.keys(want)) check(got[k] === want[k], `page.html: ${k} = ${JSON.stringify(got[k])}, want ${JSON.stringify(want[k])}`);
    await page.close();
    if (failures === before) console.log("browser: ok: page.html (query token, EventSource /sse, CORS POST, 401 without a token)");
  }

  // 2. The mcp-runner recipe.
  {
    const before = failures;
    const url = `http://127.0.0.1:${pagePort}/mcp-runner.html`;
    const wantText = "fetched https://modelcontextprotocol.io";
    // call runs callTool() once the stream is open and returns what the
    // POST answered and, when accepted, the JSON-RPC response of the stream.
    const call = async (t, expectAnswer) => {
      const from = t.log.length;
      await t.page.evaluate(() => callTool());
      const initiated = await waitLog(t, from, startsWith("Tool call initiated:"), "'Tool call initiated:'");
      let response;
      if (expectAnswer) {
        response = (await waitLog(t, from, startsWith("Received JSON-RPC response:"), "'Received JSON-RPC response:'"))?.args[1];
      }
      return {initiated: initiated?.args[1], response};
    };
    const answered = (t, got, what) =>
      check(got.initiated?.status === "accepted" && got.response?.result?.content?.[0]?.text === wantText,
        `${t.name} ${what}: initiated ${JSON.stringify(got.initiated)}, response ${JSON.stringify(got.response)}`);
    const refused = (t, got, what) =>
      check(/cannot tell which.*sessionId=/.test(got.initiated?.error?.message ?? ""),
        `${t.name} ${what}: want the ambiguous-POST error, got ${JSON.stringify(got.initiated)}`);

    const a = await tab(context, url, "mcp-runner tab A");
    await waitLog(a, 0, startsWith("Received endpoint path:"), "endpoint event");
    answered(a, await call(a, true), "first call");

    let from = a.log.length;
    await a.page.reload();
    await waitLog(a, from, startsWith("Received endpoint path:"), "endpoint event after the reload");
    await streamsGone(1, "tab A reloaded");
    answered(a, await call(a, true), "call after a reload");

    const b = await tab(context, url, "mcp-runner tab B");
    await waitLog(b, 0, startsWith("Received endpoint path:"), "endpoint event");
    refused(b, await call(b, false), "call while tab A is open");
    refused(a, await call(a, false), "call while tab B is open");
    await b.page.close();
    await streamsGone(1, "tab B closed");
    answered(a, await call(a, true), "call after tab B closed");
    check(a.log.filter(startsWith("Received JSON-RPC response:")).length === 3, `${a.name}: answers it did not ask for: ${JSON.stringify(a.log.map((e) => e.text))}`);
    await a.page.close();
    if (failures === before) console.log("browser: ok: the mcp-runner README's recipe as written (tokenless stream, bare POST): a call, a reload, a second tab refused with a clear error, a call after it closed");
  }

  // 3. mcpscript's own recipe, two tabs at once, then a reload.
  {
    const before = failures;
    const url = `http://127.0.0.1:${pagePort}/mcpscript.html`;
    const isAnswer = (e) => e.args[0]?.id === 1 && e.args[0]?.result?.content?.[0]?.text === "hi";
    const [c, d] = await Promise.all([tab(context, url, "mcpscript tab C"), tab(context, url, "mcpscript tab D")]);
    await Promise.all([waitLog(c, 0, isAnswer, "echo answer"), waitLog(d, 0, isAnswer, "echo answer")]);
    const from = c.log.length;
    await c.page.reload();
    await waitLog(c, from, isAnswer, "echo answer after the reload");
    await new Promise((r) => setTimeout(r, 300)); // time for a stray answer to show up
    for (const t of [c, d]) {
      const messages = t.log.filter((e) => typeof e.args[0] === "object" && e.args[0]?.jsonrpc === "2.0");
      check(messages.length === (t === c ? 2 : 1) && messages.every(isAnswer), `${t.name}: messages ${JSON.stringify(messages.map((e) => e.args[0]))}`);
    }
    await c.page.close();
    await d.page.close();
    if (failures === before) console.log("browser: ok: mcpscript's README recipe as written, in two tabs at once and after a reload, each tab its own answer");
  }

  // 4. An origin not in sseProxy.cors.
  {
    const before = failures;
    const t = await tab(context, `http://127.0.0.1:${otherPort}/mcp-runner.html`, "unlisted origin");
    const from = t.log.length;
    await t.page.evaluate(() => callTool().catch((e) => console.log("callTool failed: " + e.message)));
    await waitLog(t, from, startsWith("callTool failed:"), "a failed callTool (blocked by CORS)");
    const origin = `http://127.0.0.1:${otherPort}`;
    const deadline = Date.now() + 5000;
    let lines = [];
    while (Date.now() < deadline) {
      lines = readFileSync(serveLog, "utf8").split("\n").filter((l) => l.includes(origin) && l.includes("sseProxy.cors.allowedOrigins"));
      if (lines.some((l) => l.includes("preflight"))) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    check(lines.some((l) => l.includes("WARN") && l.includes("preflight")), `serve's log has no warning about the refused preflight from ${origin}: ${JSON.stringify(lines)}`);
    await t.page.close();
    if (failures === before) console.log("browser: ok: a page of an origin not in sseProxy.cors is blocked, and serve's log names the origin and the key");
  }
} finally {
  await browser.close();
  for (const s of servers) s.close();
}
process.exit(failures ? 1 : 0);
