// Drives mcpscript's web console in headless Chromium (Debian's, through
// playwright-core) as a person would, against a running `mcpscript serve`
// with the demo server, server-everything and a hook denying echo calls
// that carry a secret (scripts/console-test.sh sets it up):
//
//   node console.mjs BASE_URL TOKEN SCREENSHOT_DIR
//
// Each step checks what the page shows and saves a screenshot.
import { chromium } from "playwright-core";
import { mkdirSync } from "node:fs";

const [base, token, shots] = process.argv.slice(2);
if (!base || !token || !shots) {
  console.error("usage: node console.mjs BASE_URL TOKEN SCREENSHOT_DIR");
  process.exit(2);
}
mkdirSync(shots, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const page = await browser.newPage({ viewport: { width: 1360, height: 860 } });
const problems = [];
let signedIn = false;
page.on("console", (m) => {
  // Chromium logs every refused request; those are checked below instead.
  if (m.type() === "error" && !m.text().includes("status of 401")) problems.push("console error: " + m.text());
});
page.on("response", (r) => {
  if (r.status() === 401 && signedIn) problems.push("401 after signing in: " + r.url());
});
page.on("pageerror", (e) => problems.push("page error: " + e.message));

let step = 0;
async function shot(name) {
  step++;
  await page.screenshot({ path: `${shots}/${String(step).padStart(2, "0")}-${name}.png` });
}
function check(cond, what) {
  if (!cond) throw new Error("check failed: " + what);
}
const timeout = { timeout: 20000 };

// openTool chooses a tool in the list of the Tools page.
async function openTool(name) {
  await page.goto(`${base}/console/#tools/${encodeURIComponent(name)}`);
  await page.waitForSelector(`#tools-list button[data-key="${name}"].chosen`, timeout);
  await page.waitForSelector("#tool-form", timeout);
}

let ok = false;
try {
  // 1. The page asks for the token; a wrong one is refused.
  await page.goto(`${base}/`);
  await page.waitForSelector("#login", timeout);
  await shot("login");
  await page.fill("#token", "not-the-token");
  await page.click("#login-submit");
  await page.waitForFunction(() => document.querySelector("#login-error")?.textContent.includes("refused"), null, timeout);
  await page.fill("#token", token);
  await page.click("#login-submit");
  await page.waitForSelector("#nav:not([hidden])", timeout);
  signedIn = true;

  // 2. Servers: both run, live.
  await page.waitForSelector('#servers tr[data-server="demo"][data-state="running"]', timeout);
  await page.waitForSelector('#servers tr[data-server="everything"][data-state="running"]', timeout);
  await page.waitForFunction(() => document.querySelector("#status")?.textContent.includes("live"), null, timeout);
  const pid = await page.textContent('#servers tr[data-server="demo"] td.pid');
  check(/^\d+$/.test(pid.trim()), "demo's pid is shown: " + pid);
  await shot("servers");

  // 3. A tool called through its form.
  await openTool("demo__echo");
  await page.fill('#tool-form [name="text"]', "hello from the console");
  await page.click("#call");
  await page.waitForSelector("#result pre.text", timeout);
  const echoed = await page.textContent("#result pre.text");
  check(echoed === "hello from the console", "echo's result: " + echoed);
  await shot("tool-echo");

  // Numbers and structured content: add.
  await openTool("demo__add");
  await page.fill('#tool-form [name="a"]', "2");
  await page.fill('#tool-form [name="b"]', "3.5");
  await page.click("#call");
  await page.waitForSelector("#result .result", timeout);
  const sum = await page.textContent("#result .result");
  check(sum.includes("5.5"), "add's result: " + sum);

  // A tool error (isError) is shown as one.
  await openTool("demo__fail");
  await page.fill('#tool-form [name="message"]', "on purpose");
  await page.click("#call");
  await page.waitForSelector('#result .result[data-is-error="true"]', timeout);
  check((await page.textContent("#result")).includes("on purpose"), "fail's message");

  // 4. A progress bar that moves: demo's count, five steps 400 ms apart.
  await openTool("demo__count");
  await page.fill('#tool-form [name="to"]', "5");
  await page.fill('#tool-form [name="delayMs"]', "400");
  await page.click("#call");
  const seen = new Set();
  const started = Date.now();
  let midShot = false;
  while (Date.now() - started < 15000) {
    const v = await page.evaluate(() => {
      const p = document.querySelector("#progress");
      return p && p.hasAttribute("value") ? Number(p.value) : null;
    });
    if (v !== null) seen.add(v);
    if (!midShot && v !== null && v >= 2 && v < 5) {
      await shot("progress");
      midShot = true;
    }
    if (await page.$("#result .result")) break;
    await page.waitForTimeout(100);
  }
  check(seen.size >= 3, "the progress bar took several values: " + [...seen]);
  const counted = await page.textContent("#result pre.text");
  check(counted === "counted to 5", "count's result: " + counted);

  // server-everything: its long operation reports progress too, and its
  // tiny image shows.
  await openTool("everything__trigger-long-running-operation");
  await page.fill('#tool-form [name="duration"]', "2");
  await page.fill('#tool-form [name="steps"]', "4");
  await page.click("#call");
  await page.waitForFunction(() => {
    const p = document.querySelector("#progress");
    return p && p.hasAttribute("value") && Number(p.value) > 0;
  }, null, timeout);
  await page.waitForSelector("#result .result", timeout);
  check((await page.textContent("#result")).includes("Long running operation completed"), "long operation's result");
  await openTool("everything__get-tiny-image");
  await page.click("#call");
  await page.waitForSelector("#result img.content-image", timeout);
  const imgOK = await page.evaluate(() => {
    const img = document.querySelector("#result img.content-image");
    return img.complete && img.naturalWidth > 0;
  });
  check(imgOK, "the image decoded");
  await shot("tool-image");

  // The server's log messages show while its tool is open.
  await openTool("everything__toggle-simulated-logging");
  await page.click("#call");
  await page.waitForSelector("#log .log-line", timeout);
  check((await page.textContent("#log")).includes("message"), "a log message: " + (await page.textContent("#log")));
  await page.click("#call"); // and off again

  // 5. The form builder: nested objects, arrays, enums, booleans, raw JSON.
  const formOK = await page.evaluate(async () => {
    const { buildForm } = await import("/console/form.js");
    const f = buildForm({
      type: "object", required: ["name", "mode"],
      properties: {
        name: { type: "string" }, mode: { enum: ["fast", "slow"] }, flag: { type: "boolean" },
        n: { type: "integer", minimum: 1 }, tags: { type: "array", items: { type: "string" }, default: ["a"] },
        inner: { type: "object", properties: { x: { type: "number" } } },
        any: { oneOf: [{ type: "string" }, { type: "number" }] },
      },
    });
    document.body.appendChild(f.el);
    const set = (sel, v) => {
      const el = f.el.querySelector(sel);
      el.value = v;
    };
    set('[name="name"]', "Ada");
    set('[name="mode"]', "1");
    set('[name="flag"]', "true");
    set('[name="n"]', "3");
    set('[name="inner.x"]', "1.5");
    set('[name="any"]', "42");
    const got = JSON.stringify(f.value());
    set('[name="n"]', "0");
    let bad = "";
    try {
      f.value();
    } catch (e) {
      bad = e.message;
    }
    f.el.remove();
    return { got, bad };
  });
  check(formOK.got === JSON.stringify({ name: "Ada", mode: "slow", flag: true, n: 3, tags: ["a"], inner: { x: 1.5 }, any: 42 }),
    "form value: " + formOK.got);
  check(formOK.bad === "n: must be at least 1", "form validation: " + formOK.bad);

  // 6. A denial by the hook shows as an error, and in the live traffic.
  await openTool("demo__echo");
  await page.fill('#tool-form [name="text"]', "a secret");
  await page.click("#call");
  await page.waitForSelector("#result .result.is-error", timeout);
  const denial = await page.textContent("#result");
  check(denial.includes("-32003") && denial.includes("no secrets through the console"), "denial shown: " + denial);
  await page.click('a[href="#traffic"]');
  await page.waitForSelector('#traffic tr[data-outcome="denied"]', timeout);
  await page.selectOption("#f-decision", "deny");
  await page.waitForFunction(() => {
    const rows = document.querySelectorAll("#traffic tbody tr");
    return rows.length === 1 && rows[0].dataset.outcome === "denied";
  }, null, timeout);
  const row = await page.textContent("#traffic tbody tr");
  check(row.includes("deny by deny.js: no secrets through the console") && row.includes("echo"), "denied row: " + row);
  await page.click("#traffic tbody tr");
  await page.waitForSelector("#record-detail", timeout);
  const detail = JSON.parse(await page.textContent("#record-detail"));
  check(detail.outcome === "denied" && detail.code === -32003 && detail.caller.transport === "streamable-http" &&
    /^[0-9a-f]{64}$/.test(detail.argsSha256) && detail.arguments === undefined, "record detail: " + JSON.stringify(detail));
  await page.selectOption("#f-decision", "");
  await page.waitForFunction(() => document.querySelectorAll("#traffic tbody tr").length > 5, null, timeout);
  await shot("traffic");
  await page.fill("#f-tool", "count");
  await page.waitForFunction(() => [...document.querySelectorAll("#traffic tbody tr")].every((r) => r.textContent.includes("count")), null, timeout);

  // 7. The hook's counts.
  await page.click('a[href="#hooks"]');
  await page.waitForSelector('#hooks tr[data-hook="deny.js"]', timeout);
  const calls = Number(await page.textContent('#hooks tr[data-hook="deny.js"] td.calls'));
  const denied = Number(await page.textContent('#hooks tr[data-hook="deny.js"] td.denied'));
  check(calls >= 7 && denied === 1, `hook counts: ${calls} calls, ${denied} denied`);
  await shot("hooks");

  // 8. Resources and prompts.
  await page.goto(`${base}/console/#resources/${encodeURIComponent("demo://readme")}`);
  await page.waitForSelector("#read", timeout);
  await page.click("#read");
  await page.waitForSelector("#result .resource pre.text", timeout);
  check((await page.textContent("#result")).includes("mcpscript demo server"), "readme read");
  await shot("resources");
  await page.goto(`${base}/console/#prompts/demo__greet`);
  await page.waitForSelector("#prompt-form", timeout);
  await page.fill('#prompt-form [name="name"]', "Ada");
  await page.click("#get");
  await page.waitForSelector("#result .message", timeout);
  check((await page.textContent("#result")).includes("Ada"), "prompt rendered");

  // 9. Stop a server and see its state change; start it again.
  await page.click('a[href="#servers"]');
  await page.click('#servers tr[data-server="everything"] button[data-action="stop"]');
  await page.waitForSelector('#servers tr[data-server="everything"][data-state="stopped"]', timeout);
  check((await page.textContent('#servers tr[data-server="everything"] td.pid')).trim() === "—", "no pid when stopped");
  await shot("server-stopped");
  await page.click('#servers tr[data-server="everything"] button[data-action="start"]');
  await page.waitForSelector('#servers tr[data-server="everything"][data-state="running"]', timeout);

  // 10. Signing out forgets the token.
  signedIn = false;
  await page.click("#signout");
  await page.waitForSelector("#login", timeout);
  check(await page.evaluate(() => sessionStorage.getItem("mcpscript.token")) === null, "token forgotten");

  check(problems.length === 0, "no errors in the page: " + problems.join("; "));
  ok = true;
  console.log(`console: ok: ${step} screenshots in ${shots}`);
} catch (e) {
  console.error("console:", e.message);
  for (const p of problems) console.error(" ", p);
  await shot("failure").catch(() => {});
} finally {
  await browser.close();
}
process.exit(ok ? 0 : 1);
