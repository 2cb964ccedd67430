// Headless Chromium (playwright-core, /usr/bin/chromium) on the dashboard's history panel.
//   node history_browser.js URL CANDLES FILLS SCREENSHOT
// Checks: the panel shows (the gateway has a store), the equity chart renders, the candle chart
// has CANDLES 1 m bars, the fills table shows min(20, FILLS) rows newest first; no page errors.
// Prints one JSON line.
'use strict';
const { chromium } = require('playwright-core');
const [url, candles, fills, shot] = process.argv.slice(2);

(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  const errors = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1600 } });
    page.on('pageerror', (e) => errors.push(String(e)));
    page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
    await page.goto(url, { waitUntil: 'load', timeout: 30000 });
    await page.waitForFunction(() => !document.getElementById('history-panel').hidden, null, { timeout: 30000 });
    await page.waitForFunction(() => document.querySelector('#history-equity canvas') !== null, null, { timeout: 30000 });
    await page.waitForFunction((n) => document.getElementById('history-candles').dataset.candles === n, candles, { timeout: 30000 });
    const rows = Math.min(20, Number(fills));
    await page.waitForFunction((n) => document.querySelectorAll('#history-fills tbody tr').length === n, rows, { timeout: 30000 });
    const total = await page.getAttribute('#history-fills', 'data-total');
    if (total !== fills) throw new Error(`fills total ${total}, want ${fills}`);
    await page.screenshot({ path: shot, fullPage: true });
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
    console.log(JSON.stringify({ ok: true, candles: Number(candles), rows }));
  } catch (e) {
    console.log(JSON.stringify({ ok: false, error: String(e), errors }));
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
})();
