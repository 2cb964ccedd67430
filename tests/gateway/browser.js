// Headless Chromium (playwright-core, /usr/bin/chromium) against the dashboard.
//   node browser.js URL EXPECTED_MODE SCREENSHOT ADMIN_TOKEN
// Checks: the mode badge shows the engine's mode and is large and visible; the BTCUSDT bid cell
// changes over the WebSocket; the chart and latency panels render; equity, drawdown, positions
// and the kill-switch state show, the composite book panel shows, and the kill-switch button (token from a prompt, asked once per session) trips the
// switch and resets it. Prints one JSON line.
'use strict';
const { chromium } = require('playwright-core');
const [url, mode, shot, token] = process.argv.slice(2);

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
    // Portfolio and kill switch.
    await page.waitForFunction(() => document.getElementById('kill-state').textContent === 'off', null, { timeout: 30000 });
    if (!(await page.locator('#kill-state').isVisible())) throw new Error('kill-switch state not visible');
    await page.waitForFunction(() => /^-?\d+\.\d\d$/.test(document.getElementById('equity').textContent), null, { timeout: 30000 });
    await page.waitForFunction(() => /^\d+\.\d\d%$/.test(document.getElementById('drawdown').textContent), null, { timeout: 30000 });
    await page.waitForFunction(() => document.querySelectorAll('#positions tbody tr').length === 3, null, { timeout: 30000 });
    const ethQty = await page.textContent('#positions td[data-key="coinbase:ETH-USD"][data-field="qty"]');
    if (ethQty !== '-0.5') throw new Error(`ETH-USD position ${ethQty}`);
    const equity = await page.textContent('#equity');
    // The composite panel (the fake's "BTC": best ask on coinbase, SOLUSDT excluded as not live).
    await page.waitForFunction(() => document.querySelector('.composite[data-asset="BTC"] b[data-field="included"]') !== null, null, { timeout: 30000 });
    const composite = {
      included: await page.textContent('.composite[data-asset="BTC"] b[data-field="included"]'),
      best_ask: await page.textContent('.composite[data-asset="BTC"] b[data-field="best_ask"]'),
      excluded: await page.textContent('.composite[data-asset="BTC"] tr[data-key="binance-usdm:SOLUSDT"] td[data-field="status"]'),
      levels: await page.locator('.composite[data-asset="BTC"] .composite-depth tbody tr').count(),
    };
    if (!(await page.locator('#composite-panel').isVisible())) throw new Error('composite panel not visible');
    const prompts = [];
    page.on('dialog', (d) => { prompts.push(d.message()); d.accept(token); });
    await page.selectOption('#kill-mode', 'reduce-only');
    await page.click('#kill-button');
    await page.waitForFunction(() => document.getElementById('kill-state').textContent === 'REDUCE-ONLY (command)', null, { timeout: 30000 });
    const tripped = await page.textContent('#kill-result');
    await page.screenshot({ path: shot, fullPage: true });
    await page.click('#kill-button');
    await page.waitForFunction(() => document.getElementById('kill-state').textContent === 'off', null, { timeout: 30000 });
    // The token is asked once per browser session (sessionStorage), not per control.
    if (prompts.length !== 1 || !prompts[0].includes('Admin token')) throw new Error(`prompts ${JSON.stringify(prompts)}`);
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
    console.log(JSON.stringify({ ok: true, first, second, health, badge, equity, tripped, prompts, composite }));
  } catch (e) {
    console.log(JSON.stringify({ ok: false, why: String(e), errors }));
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
})();
