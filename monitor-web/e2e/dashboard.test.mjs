// End-to-end tests of the pipetrack dashboard in headless Chromium.
//
// ../test.sh starts `pipetrack serve` on a SQLite store seeded by
// `pipetrack demo --seed-only` (BASE_URL), a second one on the same store
// with a dashboard token (AUTH_URL, AUTH_TOKEN), and two live tracked scripts
// (`pipetrack demo-script succeeds`, which keeps advancing its tasks, and
// `pipetrack demo-script fails`, which fails with a traceback and a log file),
// then runs this file with CHROMIUM and SCREENSHOT_DIR set. Every page is
// visited; a screenshot of each is written to SCREENSHOT_DIR.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFile, mkdir } from "node:fs/promises";
import path from "node:path";
import { chromium } from "playwright-core";

const BASE_URL = process.env.BASE_URL;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const SHOTS = process.env.SCREENSHOT_DIR;
const AUTH_URL = process.env.AUTH_URL;
const AUTH_TOKEN = process.env.AUTH_TOKEN;
const LIVE_SCRIPT = "DAILY_07_Live_Geocoding.R";
const FAILING_SCRIPT = "DAILY_08_Live_Vendor_Feed.py";
if (!BASE_URL || !SHOTS || !AUTH_URL || !AUTH_TOKEN) {
  throw new Error("run through monitor-web/test.sh (BASE_URL, AUTH_URL, AUTH_TOKEN and SCREENSHOT_DIR must be set)");
}

let browser;
let context;
let page;
const problems = [];

before(async () => {
  await mkdir(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
      "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"],
  });
  context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
  page.on("console", (msg) => { if (msg.type() === "error") problems.push(`console: ${msg.text()}`); });
  page.on("pageerror", (err) => problems.push(`page error: ${err.message}`));
});

after(async () => {
  await browser?.close();
});

async function shot(name) {
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
}

/** A minimal RFC 4180 parser: quoted fields with commas, quotes and newlines. */
function parseCsv(text) {
  const rows = [];
  let row = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') { quoted = false; }
      else { field += c; }
    } else if (c === '"') { quoted = true; }
    else if (c === ",") { row.push(field); field = ""; }
    else if (c === "\n") { row.push(field); rows.push(row); row = []; field = ""; }
    else if (c !== "\r") { field += c; }
  }
  if (field !== "" || row.length) { row.push(field); rows.push(row); }
  return rows;
}

function seconds(text) {
  let total = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)([dhms])/g)) {
    total += Number(n) * { d: 86400, h: 3600, m: 60, s: 1 }[unit];
  }
  return total;
}

test("status page: every category, badges, summary strip, keyboard skip link", async () => {
  const response = await page.goto(BASE_URL);
  assert.equal(response.status(), 200);
  const categories = await page.locator("section.group h2").allTextContents();
  for (const category of ["DAILY", "STATIC", "PREREQ"]) {
    assert.ok(categories.some((c) => c.startsWith(category)), `category ${category} in ${categories}`);
  }
  assert.ok(await page.locator("li.script").count() >= 30, "the demo history has ~40 scripts");
  assert.match(await page.locator(".summary").innerText(), /running[\s\S]*failed today[\s\S]*completed today/);
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.className), "skip");
  await shot("status");
  await page.setViewportSize({ width: 390, height: 844 });
  await shot("status-phone");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no horizontal scrolling at phone width (overflow ${overflow}px)`);
  await page.setViewportSize({ width: 1280, height: 900 });
});

test("a running script expands and its tasks advance live without a reload", async () => {
  await page.goto(BASE_URL);
  const row = page.locator(`li.script[data-script="${LIVE_SCRIPT}"][data-state="running"]`);
  await row.waitFor({ timeout: 30_000 });
  await page.evaluate(() => { window.__notReloaded = true; });
  const details = row.locator("details.live");
  await details.locator("summary").click();
  assert.equal(await details.getAttribute("open"), "");
  const progressOf = async () => {
    const current = row.locator("details.live .task.t-current .task-name");
    const name = (await current.count()) ? await current.last().innerText() : "";
    const done = await row.locator("details.live .task.t-done").count();
    return `${done}:${name}:${await row.locator(".detail").innerText().catch(() => "")}`;
  };
  const before = await progressOf();
  await page.waitForFunction(
    ([script, seen]) => {
      const li = document.querySelector(`li.script[data-script="${script}"]`);
      if (!li) return false;
      const current = li.querySelectorAll("details.live .task.t-current .task-name");
      const name = current.length ? current[current.length - 1].textContent : "";
      const done = li.querySelectorAll("details.live .task.t-done").length;
      const detail = li.querySelector(".detail")?.textContent ?? "";
      return `${done}:${name}:${detail}` !== seen;
    },
    [LIVE_SCRIPT, before],
    { timeout: 30_000 },
  );
  assert.notEqual(await progressOf(), before, "the expanded run changed");
  assert.equal(await page.evaluate(() => window.__notReloaded), true, "updated in place, not reloaded");
  const stillOpen = page.locator(`li.script[data-script="${LIVE_SCRIPT}"] details.live[open]`);
  if (await page.locator(`li.script[data-script="${LIVE_SCRIPT}"][data-state="running"]`).count()) {
    assert.equal(await stillOpen.count(), 1, "the expanded detail stays open across updates");
  }
  assert.match(await page.locator("#live-state").innerText(), /Updated/);
  await shot("status-live-expanded");
});

test("run detail page shows tasks, messages and resource samples", async () => {
  await page.goto(BASE_URL);
  await page.locator(`li.script[data-script="${LIVE_SCRIPT}"] a.script-name`).click();
  await page.waitForURL(/\/runs\//);
  assert.match(await page.locator("h1").innerText(), new RegExp(LIVE_SCRIPT.replace(".", "\\.")));
  assert.ok(await page.locator("ol.tasks li.task").count() >= 1);
  await shot("run-detail");
});

test("history: filter by status, sort by duration, export the CSV and parse it", async () => {
  await page.goto(`${BASE_URL}history`);
  await page.selectOption("select[name=status]", "failed");
  await page.click("form.filters button[type=submit]");
  await page.waitForURL(/status=failed/);
  const badges = await page.locator("table.history tbody .badge").allTextContents();
  assert.ok(badges.length > 0, "the demo history has failures in the last 30 days");
  assert.ok(badges.every((b) => b === "failed"), `only failed runs: ${badges}`);
  await page.click("table.history th a:text('Duration')");
  await page.waitForURL(/sort=duration/);
  assert.equal(await page.locator("th[aria-sort]").innerText(), "Duration ▼");
  const durations = (await page.locator("table.history tbody td.num").allTextContents()).map(seconds);
  assert.deepEqual(durations, [...durations].sort((a, b) => b - a), "longest first");
  await shot("history");

  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#export-csv")]);
  const rows = parseCsv(await readFile(await download.path(), "utf8"));
  assert.deepEqual(rows[0].slice(0, 5), ["run_id", "script", "category", "status", "state"]);
  const body = rows.slice(1);
  assert.ok(body.length >= durations.length, "the export holds every page");
  assert.ok(body.every((r) => r[3] === "failed"), "the export has exactly the filter's runs");
  const exported = body.map((r) => Number(r[7]));
  assert.deepEqual(exported, [...exported].sort((a, b) => b - a), "in the page's order");
  const api = await (await page.request.get(`${BASE_URL}api/v1/history?status=failed&limit=1000`)).json();
  assert.equal(body.length, api.items.length, "same count as the API");
  const pinned = new URL(await page.locator("#export-csv").getAttribute("href"), BASE_URL);
  assert.match(pinned.searchParams.get("to") ?? "", /^\d{4}-\d\d-\d\dT/, "the export pins the page's range");
});

test("history: category and text filters, readable at phone width", async () => {
  await page.goto(`${BASE_URL}history`);
  await page.selectOption("select[name=category]", "STATIC");
  await page.click("form.filters button[type=submit]");
  await page.waitForURL(/category=STATIC/);
  const scripts = await page.locator("table.history tbody td:first-child a").allTextContents();
  assert.ok(scripts.length > 0, "the demo history has STATIC runs in the last 30 days");
  assert.ok(scripts.every((s) => s.startsWith("STATIC_")), `only STATIC scripts: ${scripts}`);
  assert.equal(await page.locator("select[name=category]").inputValue(), "STATIC", "the form keeps the filter");

  await page.goto(`${BASE_URL}history?status=failed`);
  const firstError = (await page.locator("table.history tbody td.err").first().innerText()).trim();
  const word = firstError.split(/[^A-Za-z]+/).find((w) => w.length >= 6);
  assert.ok(word, `a word to search for in ${firstError}`);
  await page.goto(`${BASE_URL}history`);
  await page.fill("input[name=q]", word);
  await page.click("form.filters button[type=submit]");
  await page.waitForURL(/[?&]q=/);
  const rows = page.locator("table.history tbody tr");
  assert.ok(await rows.count() > 0, `runs mentioning ${word}`);
  const api = await (await page.request.get(`${BASE_URL}api/v1/history?q=${encodeURIComponent(word)}&limit=50`)).json();
  assert.equal(await rows.count(), api.items.length, "the page lists what the text filter finds");
  for (const item of api.items) {
    const hay = [item.message, item.error_message, item.error_class].join(" ").toLowerCase();
    assert.ok(hay.includes(word.toLowerCase()), `${word} in ${hay}`);
  }
  await shot("history-text-filter");

  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(`${BASE_URL}history?status=failed`);
  await shot("history-phone");
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no page-wide horizontal scrolling at phone width (overflow ${overflow}px)`);
  await page.setViewportSize({ width: 1280, height: 900 });
});

test("trends: four charts, statistics, chart downloads as SVG and PNG", async () => {
  await page.goto(`${BASE_URL}trends?category=DAILY`);
  assert.equal(await page.locator("figure.chart svg").count(), 4);
  assert.match(await page.locator("table.stats").innerText(), /Average[\s\S]*Std\. deviation/);
  const titles = await page.locator("figure#chart-duration svg title").count();
  assert.ok(titles > 5, "hover titles on the points");
  await shot("trends");
  const [svg] = await Promise.all([page.waitForEvent("download"), page.click("#chart-duration a:text('SVG')")]);
  const svgText = await readFile(await svg.path(), "utf8");
  assert.match(svgText, /^<\?xml/);
  assert.match(svgText, /Duration \(minutes\)/);
  const [png] = await Promise.all([page.waitForEvent("download"), page.click("#chart-outcomes a:text('PNG')")]);
  const bytes = await readFile(await png.path());
  assert.deepEqual([...bytes.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  assert.ok(png.suggestedFilename().startsWith("pipetrack-outcomes-"), png.suggestedFilename());
});

test("errors: a group is marked resolved with a note", async () => {
  await page.goto(`${BASE_URL}errors`);
  const groups = page.locator("article.error-group");
  const before = await groups.count();
  assert.ok(before > 0, "the demo history has error groups");
  assert.ok(await page.locator("article.error-group pre.traceback").count() > 0, "groups show their traceback's start");
  await shot("errors");
  // Not the live failing script's group: it fails again every 20 s and would reopen.
  const first = groups.filter({ hasNotText: "provider_id" }).first();
  const id = await first.getAttribute("id");
  await first.locator("input[name=note]").fill("Fixed upstream; verified by the E2E test");
  await first.locator("button[type=submit]").click();
  await page.waitForURL(/done=/);
  assert.match(await page.locator(".notice").innerText(), /marked resolved/);
  assert.equal(await page.locator(`#${id}`).count(), 0, "the resolved group left the open list");
  await page.goto(`${BASE_URL}errors?resolved=1`);
  assert.match(await page.locator(`#${id} .resolution`).innerText(), /Fixed upstream; verified by the E2E test/);
  await page.locator(`#${id} a:text('latest run')`).click();
  await page.waitForURL(/\/runs\//);
  assert.equal(await page.locator(".error-box").count(), 1);
  await shot("failed-run");
});

test("error drill-down lists the group's runs and links to them", async () => {
  await page.goto(`${BASE_URL}errors`);
  const group = page.locator("article.error-group").first();
  const fingerprint = (await group.getAttribute("id")).replace("group-", "");
  await group.locator("a:text('All runs with this error')").click();
  await page.waitForURL(new RegExp(`/errors/${fingerprint}`));
  assert.equal(await page.locator("h1").innerText(), "Runs with this error");
  const runs = page.locator("table tbody tr");
  assert.ok(await runs.count() >= 1, "the group's runs are listed");
  assert.match(await page.locator(".crumbs").innerText(), new RegExp(fingerprint));
  await shot("error-runs");
  await runs.first().locator("td:first-child a").click();
  await page.waitForURL(/\/runs\/[0-9a-f-]+$/);
  assert.equal(await page.locator(".error-box").count(), 1);
});

test("a failed run's log: in the run page and as text", async () => {
  // The live failing script writes its log where the server can read it.
  let runId = "";
  const deadline = Date.now() + 60_000;
  while (!runId && Date.now() < deadline) {
    const status = await (await page.request.get(`${BASE_URL}api/v1/status`)).json();
    const script = status.scripts.find((s) => s.script_name === FAILING_SCRIPT);
    if (script?.latest?.status === "failed") { runId = script.latest.run_id; break; }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  assert.ok(runId, `${FAILING_SCRIPT} failed within 60 s`);
  await page.goto(`${BASE_URL}runs/${runId}`);
  assert.match(await page.locator(".error-box").innerText(), /ValueError[\s\S]*Traceback/);
  assert.match(await page.locator("pre.log").innerText(), /ERROR ValueError: column 'provider_id'/);
  await page.locator("a:text('open as text')").click();
  await page.waitForURL(new RegExp(`/runs/${runId}/log$`));
  const text = await page.locator("body").innerText();
  assert.match(text, /INFO starting DAILY_08_Live_Vendor_Feed\.py/);
  assert.match(text, /ERROR ValueError/);
  await shot("run-log");
});

test("sign-in page when the dashboard has a token", async () => {
  const other = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const signIn = await other.newPage();
  signIn.on("pageerror", (err) => problems.push(`page error (sign-in): ${err.message}`));
  await signIn.goto(AUTH_URL);
  await signIn.waitForURL(/\/login$/);
  assert.equal(await signIn.locator("h1").innerText(), "Sign in");
  await signIn.screenshot({ path: path.join(SHOTS, "login.png"), fullPage: true });
  await signIn.fill("input[name=token]", "not-the-token-at-all");
  await signIn.click("form.login button[type=submit]");
  assert.match(await signIn.locator("form.login .notice").innerText(), /not the dashboard's/);
  await signIn.fill("input[name=token]", AUTH_TOKEN);
  await signIn.click("form.login button[type=submit]");
  await signIn.waitForURL(AUTH_URL);
  assert.equal(await signIn.locator("h1").innerText(), "Status");
  assert.ok(await signIn.locator("li.script").count() >= 30, "signed in, the status page shows");
  await other.close();
});

test("no console errors or content-security-policy violations on any page", () => {
  assert.deepEqual(problems, []);
});
