// Headless Chromium (playwright-core, /usr/bin/chromium) against the dashboard.
//   node browser.js URL EXPECTED_MODE SCREENSHOT
// Checks: the mode badge shows the engine's mode and is large and visible; the BTCUSDT bid cell
// changes over the WebSocket; the chart and latency panels render. Prints one JSON line.
'use strict';
const { chromium } = require('playwright-core');
const [url, mode, shot] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  const errors = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(url, { waitUntil: 'load', timeout: 30000 });
    await page.waitForFunction((m) => document.getElementById('mode-badge').textContent === m, mode, { timeout: 30000 });
    const badge = await page.locator('#mode-badge').boundingBox();
    if (!badge || badge.width < 80 || badge.height < 30) throw new Error(`badge too small ${JSON.stringify(badge)}`);
    if (!(await page.locator('#mode-badge').isVisible())) throw new Error('badge not visible');
    const cell = 'td[data-key="binance-spot:BTCUSDT"][data-field="bid"]';
    await page.waitForSelector(cell, { timeout: 30000 });
    const first = await page.textContent(cell);
    if (!/^\d+\.\d\d$/.test(first)) throw new Error(`bid cell ${first}`);
    await page.waitForFunction(([sel, v]) => document.querySelector(sel).textContent !== v, [cell, first], { timeout: 30000 });
    const second = await page.textContent(cell);
    await page.waitForFunction(() => document.querySelectorAll('#latency .stage').length === 5, null, { timeout: 30000 });
    await page.waitForFunction(() => document.querySelector('#chart canvas') !== null, null, { timeout: 30000 });
    await page.waitForFunction(() => document.querySelectorAll('#regimes .bar').length === 3, null, { timeout: 30000 });
    const health = await page.textContent('td[data-key="coinbase:ETH-USD"][data-field="health"]');
    await page.screenshot({ path: shot, fullPage: true });
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
    console.log(JSON.stringify({ ok: true, first, second, health, badge }));
  } catch (e) {
    console.log(JSON.stringify({ ok: false, why: String(e), errors }));
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
})();
