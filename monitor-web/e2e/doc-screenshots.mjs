// Screenshots for docs/dashboard.md, from a running `pipetrack demo`:
//   pipetrack demo --bind 127.0.0.1:8765 &   # wait a minute for the stalled script
//   BASE_URL=http://127.0.0.1:8765/ node doc-screenshots.mjs ../../docs/img
import path from "node:path";
import { mkdir } from "node:fs/promises";
import { chromium } from "playwright-core";

const base = process.env.BASE_URL || "http://127.0.0.1:8765/";
const out = process.argv[2] || "../../docs/img";
await mkdir(out, { recursive: true });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync", "--disable-background-networking"],
});
const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
const shot = (name) => page.screenshot({ path: path.join(out, `${name}.png`) });

await page.goto(base);
const live = page.locator('li.script[data-script="DAILY_07_Live_Geocoding.R"]');
await live.scrollIntoViewIfNeeded();
await live.locator("details.live summary").click().catch(() => {});
await page.waitForTimeout(2500);
await page.evaluate(() => window.scrollTo(0, document.querySelector('li[data-script="DAILY_07_Live_Geocoding.R"]').getBoundingClientRect().top + window.scrollY - 380));
await shot("status");
await page.goto(base);
await shot("status-top");
await live.locator("a.script-name").click();
await page.waitForTimeout(1500);
await shot("run-detail");
await page.goto(`${base}history?status=failed&sort=duration`);
await shot("history");
await page.goto(`${base}trends?script=DAILY_03_Hexagon_Prospecting.R`);
await page.evaluate(() => document.querySelector(".charts").scrollIntoView());
await shot("trends");
await page.goto(`${base}errors`);
await shot("errors");
await page.setViewportSize({ width: 390, height: 844 });
await page.goto(base);
await shot("status-phone");
await browser.close();
