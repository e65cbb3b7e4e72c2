// End-to-end tests of the web UI in headless Debian Chromium, against a real
// `pricetrack serve` with a fresh data directory. Run with tests/browser/run.sh.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const bin = process.env.PRICETRACK_BIN ||
  path.join(process.env.CARGO_TARGET_DIR || path.join(root, "target"), "debug", "pricetrack");
const artifacts = path.join(here, "artifacts");
const PASSWORD = "correct horse battery";

let server, base, token, dataDir, browser, context, page;
const external = [];

// DEBUG_SERVER=1 copies the server's log (info level) to stderr.
// Nothing may leave the machine: every provider points at a closed local port
// (the server is also started with --no-fetch; this covers "refresh now").
const CLOSED = "http://127.0.0.1:9";
const PROVIDERS = ["YAHOO", "STOOQ", "COINGECKO", "BINANCE", "ALPHAVANTAGE"];

function env() {
  const offline = Object.fromEntries(PROVIDERS.map((p) => [`PRICETRACK_PROVIDER_${p}_BASE_URL`, CLOSED]));
  return {
    ...process.env, ...offline, PRICETRACK_PROVIDER_YAHOO_COOKIE_URL: CLOSED,
    PRICETRACK_DATA: dataDir, DATABASE_URL: "", PRICETRACK_LOG_FORMAT: "json", RUST_LOG: process.env.DEBUG_SERVER ? "info,tower_http=debug" : "warn",
  };
}

/** Starts `pricetrack serve --no-fetch` (on a random port unless `bind` is given). */
function startServer(bind = "127.0.0.1:0") {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ["serve", "--no-fetch", "--bind", bind], { env: env(), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const timer = setTimeout(() => reject(new Error("server did not start: " + out)), 30000);
    child.stdout.on("data", (chunk) => {
      out += chunk;
      const t = out.match(/shown once\): (pt_[A-Za-z0-9_-]+)/);
      if (t) token = t[1];
      const l = out.match(/listening on (http:\/\/[0-9.:]+)/);
      if (l) { clearTimeout(timer); resolve({ child, url: l[1] }); }
    });
    child.stderr.on("data", (chunk) => { out += chunk; if (process.env.DEBUG_SERVER) process.stderr.write("SERVER " + chunk); });
    child.on("exit", (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
}

async function api(method, url, body, type = "application/json") {
  const r = await fetch(base + url, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": type },
    body: body === undefined ? undefined : type === "application/json" ? JSON.stringify(body) : body,
  });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${url}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

async function shot(name, p = page) {
  await p.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: true });
}

/** Daily bars from 2025-01-02 to yesterday, a gentle trend with waves. */
function dailyCsv() {
  const lines = ["time,open,high,low,close,volume"];
  const end = new Date();
  let price = 150;
  for (let d = new Date(Date.UTC(2025, 0, 2)), i = 0; d < end; d.setUTCDate(d.getUTCDate() + 1), i++) {
    const dow = d.getUTCDay();
    if (dow === 0 || dow === 6) continue;
    const open = price;
    const close = price * (1 + 0.012 * Math.sin(i / 9) + 0.0008);
    const high = Math.max(open, close) * 1.006;
    const low = Math.min(open, close) * 0.994;
    lines.push(`${d.toISOString().slice(0, 10)},${open.toFixed(2)},${high.toFixed(2)},${low.toFixed(2)},${close.toFixed(2)},${Math.round(2e6 + 5e5 * Math.cos(i / 5))}`);
    price = close;
  }
  return lines.join("\n") + "\n";
}

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  dataDir = mkdtempSync(path.join(tmpdir(), "pricetrack-browser-"));
  const started = await startServer();
  server = started.child;
  base = started.url;
  assert.ok(token, "the first start prints the admin token");
  const passwd = spawnSync(bin, ["user", "passwd", "admin", "--password-stdin"], { env: env(), input: PASSWORD + "\n" });
  assert.equal(passwd.status, 0, String(passwd.stderr));
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
  page = await context.newPage();
  page.on("request", (r) => { if (!r.url().startsWith(base) && !r.url().startsWith("data:")) external.push(r.url()); });
  page.on("pageerror", (e) => external.push("page error: " + e.message));
  // Refused forms answer 4xx on purpose; missing resources and server errors are faults.
  page.on("response", (r) => { if (r.status() === 404 || r.status() >= 500) external.push(`HTTP ${r.status()} ${r.url()}`); });
  page.on("console", (m) => {
    if (m.type() === "error" && !/Failed to load resource/.test(m.text())) external.push("console: " + m.text());
  });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

test("signing in leads to the dashboard; pages need a session", async () => {
  await page.goto(base + "/portfolios");
  assert.match(page.url(), /\/login\?next=%2Fportfolios|\/login\?next=\/portfolios/);
  await shot("login");
  await page.fill('input[name="username"]', "admin");
  await page.fill('input[name="password"]', "wrong password");
  await page.click('button[type="submit"]');
  await page.waitForSelector(".alert");
  assert.match(await page.textContent(".alert"), /wrong user name or password/);
  await page.fill('input[name="password"]', PASSWORD);
  await page.click('button[type="submit"]');
  await page.waitForURL(base + "/portfolios");
  assert.equal(await page.title(), "Portfolios · Pricetrack");
});

test("an admin adds an instrument with provider suggestions", async () => {
  await page.goto(base + "/instruments");
  await page.selectOption('select[name="kind"][data-kind]', "crypto");
  assert.match(await page.textContent("[data-suggestions]"), /coingecko/);
  await page.selectOption('select[name="kind"][data-kind]', "stock");
  await page.fill('#add-instrument input[name="symbol"]', "AAPL");
  await page.fill('#add-instrument input[name="name"]', "Apple <script>alert(1)</script>");
  await page.fill('#add-instrument input[name="currency"]', "USD");
  await page.fill('#add-instrument input[name="provider"]', "yahoo");
  await page.click('#add-instrument button[type="submit"]');
  await page.waitForURL(/\/instruments\/AAPL/);
  assert.match(await page.textContent("h1"), /Apple <script>alert\(1\)<\/script>/, "shown as text, not run");
  // A duplicate is refused beside the form, which keeps its values.
  await page.goto(base + "/instruments");
  await page.fill('#add-instrument input[name="symbol"]', "AAPL");
  await page.fill('#add-instrument input[name="name"]', "Again");
  await page.click('#add-instrument button[type="submit"]');
  await page.waitForSelector("form .alert");
  assert.match(await page.textContent("form .alert"), /already exists/);
  assert.equal(await page.inputValue('#add-instrument input[name="name"]'), "Again");
});

test("bars ingested through the API draw as candles and as a line", async () => {
  const report = await api("POST", "/api/v1/instruments/AAPL/bars?interval=1d", dailyCsv(), "text/csv");
  assert.ok(report.inserted > 200);
  await api("POST", "/api/v1/instruments", { symbol: "BTC-USD", name: "Bitcoin", kind: "crypto", currency: "USD", provider: "demo" });
  await page.goto(base + "/instruments/AAPL");
  await page.waitForSelector("svg.chart .candles path.up");
  const candles = await page.getAttribute("svg.chart .candles path.up", "d");
  assert.ok(candles.length > 1000, "candles are drawn");
  assert.ok(await page.$("svg.chart title"), "the chart has a title");
  assert.ok(await page.$("details.data-table table"), "and a data table alternative");
  // Hover shows the crosshair and OHLCV.
  const box = await (await page.$("svg.chart")).boundingBox();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.4);
  await page.waitForSelector(".tooltip");
  assert.match(await page.textContent(".tooltip"), /O .*H .*L .*C .*V /s);
  // Keyboard: a focused chart steps through its points with the arrow keys.
  await page.focus("#price-figure svg.chart");
  await page.keyboard.press("End");
  const newest = await page.textContent(".tooltip b");
  await page.keyboard.press("ArrowLeft");
  assert.notEqual(await page.textContent(".tooltip b"), newest, "one point back");
  await page.keyboard.press("Escape");
  assert.equal(await page.isVisible(".tooltip"), false);
  // Touch: a tap on the chart shows the point under the finger.
  const touch = await browser.newContext({ hasTouch: true, viewport: { width: 1280, height: 860 }, storageState: await context.storageState() });
  const tablet = await touch.newPage();
  await tablet.goto(base + "/instruments/AAPL");
  const tbox = await (await tablet.$("#price-figure svg.chart")).boundingBox();
  await tablet.touchscreen.tap(tbox.x + tbox.width * 0.3, tbox.y + tbox.height * 0.4);
  await tablet.waitForSelector(".tooltip", { state: "visible" });
  assert.match(await tablet.textContent(".tooltip"), /O .*C /s);
  await touch.close();
  // Line mode and period switching without a reload.
  await page.evaluate(() => { window.__stay = true; });
  await page.click('a[data-param="mode"][data-value="line"]');
  await page.waitForSelector("svg.chart path.line.primary");
  await page.click('a[data-param="period"][data-value="1M"]');
  await page.waitForFunction(() => document.querySelector('a[data-value="1M"]').getAttribute("aria-current") === "true");
  await page.waitForSelector('svg.chart[data-mode="line"]');
  assert.equal(await page.evaluate(() => window.__stay), true, "no full reload");
  await page.click('a[data-param="mode"][data-value="candles"]');
  await page.waitForSelector("svg.chart .candles");
  await page.click('a[data-param="period"][data-value="1Y"]');
  await page.waitForFunction(() => document.querySelector('a[data-value="1Y"]').getAttribute("aria-current") === "true");
  await page.waitForTimeout(300);
  await shot("instrument");
});

test("a portfolio is created and transactions added, refused, edited and deleted", async () => {
  await page.goto(base + "/portfolios");
  await page.fill('form[action="/portfolios"] input[name="name"]', "Long term <b>core</b>");
  await page.click('form[action="/portfolios"] button[type="submit"]');
  await page.waitForURL(/\/portfolios\/\d+$/);
  const pid = page.url().match(/\/portfolios\/(\d+)/)[1];
  assert.match(await page.textContent("h1"), /Long term <b>core<\/b>/);
  await page.goto(`${base}/portfolios/${pid}/transactions`);
  const form = `form[action="/portfolios/${pid}/transactions#new"]`;
  // Transfers take the fields of a trade; the symbol field suggests instruments.
  await page.selectOption(`${form} select[name="type"]`, "transfer_in");
  for (const field of ["symbol", "quantity", "price", "fee"]) {
    assert.ok(await page.isVisible(`${form} input[name="${field}"]`), `${field} shown for a transfer`);
  }
  assert.ok(!(await page.isVisible(`${form} input[name="amount"]`)), "amount hidden for a transfer");
  assert.equal(await page.getAttribute(`${form} input[name="symbol"]`, "list"), "tx-symbols");
  assert.deepEqual(await page.$$eval("datalist#tx-symbols option", (os) => os.map((o) => o.value)).then((v) => v.includes("AAPL")), true);
  // A deposit, then a buy.
  await page.selectOption(`${form} select[name="type"]`, "deposit");
  await page.fill(`${form} input[name="date"]`, "2025-02-03");
  await page.fill(`${form} input[name="amount"]`, "10000");
  await page.click(`${form} button[type="submit"]`);
  await page.waitForSelector(".notice");
  await page.selectOption(`${form} select[name="type"]`, "buy");
  await page.fill(`${form} input[name="date"]`, "2025-02-04");
  await page.fill(`${form} input[name="symbol"]`, "AAPL");
  await page.fill(`${form} input[name="quantity"]`, "10");
  await page.fill(`${form} input[name="price"]`, "152.5");
  await page.fill(`${form} input[name="fee"]`, "1");
  await page.fill(`${form} input[name="note"]`, "<script>alert('note')</script>");
  await page.click(`${form} button[type="submit"]`);
  await page.waitForSelector("table.tx tbody tr >> nth=1");
  assert.match(await page.textContent("table.tx"), /<script>alert\('note'\)<\/script>/);
  // A bad quantity is shown beside the field and the form keeps its values.
  await page.selectOption(`${form} select[name="type"]`, "sell");
  await page.fill(`${form} input[name="date"]`, "2025-03-03");
  await page.fill(`${form} input[name="symbol"]`, "AAPL");
  await page.fill(`${form} input[name="quantity"]`, "-5");
  await page.fill(`${form} input[name="price"]`, "160");
  await page.click(`${form} button[type="submit"]`);
  await page.waitForSelector(".field-error");
  assert.match(await page.textContent("label:has(input[name='quantity']) .field-error"), /greater than zero/);
  assert.equal(await page.inputValue(`${form} input[name="price"]`), "160");
  // Selling more than held is refused with the ledger's reason.
  await page.fill(`${form} input[name="quantity"]`, "50");
  await page.click(`${form} button[type="submit"]`);
  await page.waitForSelector(`${form} .alert`);
  assert.match(await page.textContent(`${form} .alert`), /held|hold/i);
  // Edit the buy: 12 instead of 10.
  await page.goto(`${base}/portfolios/${pid}/transactions?type=buy`);
  await page.click("table.tx a:text('Edit')");
  await page.fill('input[name="quantity"]', "12");
  await page.click('button:text("Save")');
  await page.waitForSelector(".notice");
  assert.match(await page.textContent("table.tx"), /12/);
  // Delete the deposit.
  page.once("dialog", (d) => d.accept());
  await page.goto(`${base}/portfolios/${pid}/transactions?type=deposit`);
  await page.click("table.tx button:text('Delete')");
  await page.waitForSelector(".notice");
  assert.match(await page.textContent(".notice"), /deleted/);
  await page.goto(`${base}/portfolios/${pid}/transactions`);
  assert.equal(await page.locator("table.tx tbody tr").count(), 1);
});

test("CSV import shows every bad line first, then imports a good file", async () => {
  await page.goto(base + "/portfolios");
  await page.click("table a:has-text('Long term')");
  const pid = page.url().match(/\/portfolios\/(\d+)/)[1];
  await page.goto(`${base}/portfolios/${pid}/transactions`);
  const bad = "date,type,symbol,quantity,price,fee,currency,note\n2025-04-01,buy,AAPL,5,170,0,USD,ok\n2025-04-02,buy,AAPL,abc,170,0,USD,bad quantity\n";
  await page.fill('textarea[name="csv"]', bad);
  await page.click('button:text("Preview import")');
  await page.waitForSelector(".import-preview .alert");
  assert.match(await page.textContent(".import-preview .alert"), /line 3/);
  await shot("import-errors");
  await page.goto(`${base}/portfolios/${pid}/transactions`);
  assert.equal(await page.locator("table.tx tbody tr").count(), 1, "nothing was written");
  const good = "date,type,symbol,quantity,price,fee,currency,note\n2025-04-01,buy,AAPL,5,170,0,USD,april\n2025-06-02,dividend,AAPL,,,,USD,Q2\n";
  await page.fill('textarea[name="csv"]', good.replace(",,,,USD,Q2", ",17,0.25,,USD,Q2"));
  await page.click('button:text("Preview import")');
  await page.waitForSelector(".import-preview .notice");
  assert.match(await page.textContent(".import-preview"), /april/);
  await page.click('.import-preview button:text("Import 2 transaction(s)")');
  await page.waitForSelector(".notice");
  assert.match(await page.textContent(".notice"), /Imported 2/);
  assert.equal(await page.locator("table.tx tbody tr").count(), 3);
  await shot("transactions");
  // The same file again: the preview names the rows it would skip.
  await page.fill('textarea[name="csv"]', good.replace(",,,,USD,Q2", ",17,0.25,,USD,Q2"));
  await page.click('button:text("Preview import")');
  await page.waitForSelector(".import-preview .duplicates");
  assert.match(await page.textContent(".import-preview"), /2 row\(s\) already in the portfolio will be skipped.*line 2/s);
  assert.match(await page.textContent(".import-preview"), /Nothing new to import/);
  await page.goto(`${base}/portfolios/${pid}`);
  await page.waitForSelector("table.holdings");
  assert.match(await page.textContent("table.holdings"), /AAPL/);
  await page.click('a[data-period="MAX"]');
  await page.waitForFunction(() => document.querySelector('a[data-period="MAX"]').getAttribute("aria-current") === "true");
  await page.waitForTimeout(300);
  await shot("portfolio");
});

test("a price update arrives live over SSE while the dashboard is open", async () => {
  await page.goto(base + "/watchlists");
  await page.fill('form[action="/watchlists"] input[name="name"]', "Tech");
  await page.click('form[action="/watchlists"] button[type="submit"]');
  await page.waitForSelector("form.add-item");
  await page.fill("form.add-item input[name='symbol']", "AAPL");
  await page.click("form.add-item button");
  await page.waitForSelector('tr[data-symbol="AAPL"]');
  await page.fill("form.add-item input[name='symbol']", "BTC-USD");
  await page.click("form.add-item button");
  await page.waitForSelector('tr[data-symbol="BTC-USD"]');
  await shot("watchlists");
  await page.goto(base + "/");
  await page.waitForSelector('tr[data-symbol="AAPL"]');
  await page.waitForFunction(() => document.body.getAttribute("data-live") === "on");
  const before = await page.textContent('tr[data-symbol="AAPL"] [data-f="last"]');
  const now = new Date();
  now.setUTCSeconds(0, 0);
  await api("POST", "/api/v1/instruments/AAPL/bars?interval=1m",
    [{ time: now.toISOString(), open: 321.0, high: 333.5, low: 320.5, close: 333.33, volume: 1200 }]);
  await page.waitForFunction(() => /333\.33/.test(document.querySelector('tr[data-symbol="AAPL"] [data-f="last"]').textContent), null, { timeout: 5000 });
  assert.notEqual(before, await page.textContent('tr[data-symbol="AAPL"] [data-f="last"]'));
  assert.match(await page.textContent(".banner"), /Simulated data/);
  await shot("dashboard");
  const phone = await context.newPage();
  await phone.setViewportSize({ width: 360, height: 780 });
  await phone.goto(base + "/");
  await phone.waitForSelector('tr[data-symbol="AAPL"]');
  const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `no horizontal scrolling at 360 px (overflow ${overflow})`);
  await shot("dashboard-phone", phone);
  // Charts are redrawn at the phone's width, so their labels stay legible.
  await phone.goto(base + "/instruments/AAPL");
  await phone.waitForFunction(() => {
    const svg = document.querySelector("#price-figure svg.chart");
    return svg && svg.viewBox.baseVal.width < 600;
  }, null, { timeout: 5000 });
  const labelPx = await phone.evaluate(() =>
    document.querySelector("#price-figure svg.chart .axis text").getBoundingClientRect().height);
  assert.ok(labelPx >= 9, `axis labels legible on a phone (${labelPx} px tall)`);
  const chartOverflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(chartOverflow <= 1, `no horizontal scrolling on the instrument page (overflow ${chartOverflow})`);
  await shot("instrument-phone", phone);
  await phone.close();
});

test("after a server restart an open page reconnects, catches up and updates live again", { timeout: 90000 }, async () => {
  await page.goto(base + "/");
  await page.waitForFunction(() => document.body.getAttribute("data-live") === "on");
  // SIGTERM with the live stream open: the server ends the stream and exits.
  const exited = new Promise((resolve) => server.once("exit", resolve));
  server.kill("SIGTERM");
  assert.equal(await exited, 0, "serve exits cleanly while a page streams from it");
  await page.waitForFunction(() => document.body.getAttribute("data-live") === "off");
  assert.match(await page.textContent("#live-status"), /Reconnecting/);
  // A price stored while the server is down (the CLI writes the database directly).
  const minute = new Date();
  minute.setUTCSeconds(0, 0);
  const late = path.join(dataDir, "late.csv");
  writeFileSync(late, `time,open,high,low,close,volume\n${minute.toISOString()},333,345,332,344.44,900\n`);
  const imported = spawnSync(bin, ["bars", "import", late, "--symbol", "AAPL", "--interval", "1m"], { env: env() });
  assert.equal(imported.status, 0, String(imported.stderr));
  const restarted = await startServer(base.replace("http://", ""));
  server = restarted.child;
  assert.equal(restarted.url, base, "the same address again");
  await page.waitForFunction(() => document.body.getAttribute("data-live") === "on", null, { timeout: 15000 });
  assert.match(await page.textContent("#live-status"), /Live/);
  // The reconnect first brings the quotes missed while away…
  await page.waitForFunction(() => /344\.44/.test(document.querySelector('tr[data-symbol="AAPL"] [data-f="last"]').textContent), null, { timeout: 5000 });
  // …and new bars keep arriving.
  await api("POST", "/api/v1/instruments/AAPL/bars?interval=1m",
    [{ time: minute.toISOString(), open: 333, high: 356, low: 332, close: 355.55, volume: 1500 }]);
  await page.waitForFunction(() => /355\.55/.test(document.querySelector('tr[data-symbol="AAPL"] [data-f="last"]').textContent), null, { timeout: 5000 });
});

test("the portfolio page and the dashboard totals follow live prices", async () => {
  await page.goto(base + "/portfolios");
  await page.click("table a:has-text('Long term')");
  await page.waitForSelector('table.holdings tr[data-symbol="AAPL"]');
  await page.waitForFunction(() => document.body.getAttribute("data-live") === "on");
  // Sorted by value; the order survives the redraw.
  await page.click("table.holdings th:has-text('Value')");
  const minute = new Date();
  minute.setUTCSeconds(0, 0);
  await api("POST", "/api/v1/instruments/AAPL/bars?interval=1m",
    [{ time: minute.toISOString(), open: 355, high: 401, low: 354, close: 400, volume: 2000 }]);
  const row = 'table.holdings tr[data-symbol="AAPL"]';
  await page.waitForFunction((sel) => /\$400\.00/.test(document.querySelector(sel + ' [data-f="last"]').textContent), row, { timeout: 5000 });
  // 17 shares (12 bought and edited, 5 imported) at $400.
  await page.waitForFunction((sel) => /\$6,800\.00/.test(document.querySelector(sel).textContent), row, { timeout: 5000 });
  assert.match(await page.textContent("#live-cards"), /\$6,800\.00|\$6,8\d\d/);
  assert.ok(await page.$("table.holdings th[aria-sort]"), "the chosen sort is kept");
  await shot("portfolio-live");

  await page.goto(base + "/");
  await page.waitForFunction(() => document.body.getAttribute("data-live") === "on");
  const total = await page.textContent("#live-total .big");
  const movers = await page.textContent("#live-movers");
  await api("POST", "/api/v1/instruments/AAPL/bars?interval=1m",
    [{ time: minute.toISOString(), open: 355, high: 421, low: 354, close: 420, volume: 2500 }]);
  await page.waitForFunction((before) => document.querySelector("#live-total .big").textContent !== before, total, { timeout: 5000 });
  await page.waitForFunction((before) => document.querySelector("#live-movers").textContent !== before, movers, { timeout: 5000 });
  assert.match(await page.textContent("#live-movers"), /AAPL.*\$420\.00/s);
});

test("settings, API tokens, then signing out", async () => {
  await page.goto(base + "/settings");
  await page.fill('form[action="/settings/tokens#tokens"] input[name="label"]', "browser test");
  await page.click('form[action="/settings/tokens#tokens"] button');
  await page.waitForSelector("[data-new-token]");
  const secret = (await page.textContent("[data-new-token]")).trim();
  const me = await fetch(base + "/api/v1/me", { headers: { Authorization: `Bearer ${secret}` } });
  assert.equal(me.status, 200);
  await page.selectOption('select[name="theme"]', "dark");
  await page.click('form[action="/settings"] button');
  await page.waitForSelector(".notice");
  assert.equal(await page.getAttribute("html", "data-theme"), "dark");
  await page.fill('form[action="/settings/keys"] input[name="key"]', "ALPHA-SECRET-9876");
  await page.click('form[action="/settings/keys"] button');
  await page.waitForSelector(".notice");
  const html = await page.content();
  assert.ok(html.includes("…9876") && !html.includes("ALPHA-SECRET"), "only the last 4 characters are shown");
  await shot("settings");
  await page.goto(base + "/instruments");
  await shot("instruments");
  await page.goto(base + "/portfolios");
  await shot("portfolios");
  await page.goto(base + "/");
  await shot("dashboard-dark");
  await page.click('button:text("Sign out")');
  await page.waitForURL(/\/login/);
  await page.goto(base + "/");
  assert.match(page.url(), /\/login/);
  assert.deepEqual(external, [], "no external requests, script errors or console errors");
});
