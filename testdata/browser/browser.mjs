// Loads page.html in headless Chromium (Debian's, driven by playwright-core)
// from its own origin and checks that the page reached mcpscript's proxy:
//   node browser.mjs PAGE_PORT PROXY_URL TOKEN [SCREENSHOT.png]
import http from "node:http";
import { readFileSync } from "node:fs";
import { chromium } from "playwright-core";

const [pagePort, proxy, token, screenshot] = process.argv.slice(2);
const html = readFileSync(new URL("./page.html", import.meta.url));
const server = http.createServer((req, res) => {
  res.writeHead(200, {"Content-Type": "text/html; charset=utf-8"});
  res.end(html);
});
await new Promise((resolve) => server.listen(Number(pagePort), "127.0.0.1", resolve));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
let failed = false;
try {
  const page = await browser.newPage();
  page.on("console", (m) => console.error("page console:", m.text()));
  await page.goto(`http://127.0.0.1:${pagePort}/?proxy=${encodeURIComponent(proxy)}&token=${encodeURIComponent(token)}`);
  await page.waitForFunction(() => document.getElementById("out").textContent !== "", null, {timeout: 20000});
  const got = {
    out: await page.textContent("#out"),
    ack: await page.textContent("#ack"),
    denied: await page.textContent("#denied"),
  };
  if (screenshot) await page.screenshot({path: screenshot});
  const want = {out: "hello from chromium", ack: "202", denied: "401"};
  for (const k of Object.keys(want)) {
    if (got[k] !== want[k]) {
      console.error(`browser: ${k} = ${JSON.stringify(got[k])}, want ${JSON.stringify(want[k])}`);
      failed = true;
    }
  }
  if (!failed) console.log("browser: ok: query token, EventSource /sse, CORS POST, echo answered on the stream, 401 without a token");
} finally {
  await browser.close();
  server.close();
}
process.exit(failed ? 1 : 0);
