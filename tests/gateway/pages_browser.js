// Headless Chromium (playwright-core, /usr/bin/chromium) drives the Trades, Backtest and Settings
// pages against a live engine and qf-gateway.
//   node pages_browser.js URL ADMIN_TOKEN CAPTURE SCREENSHOT_PREFIX
// Trades: a market order placed from the form fills and its order id appears in the fills table;
// a limit far from the mid shows the engine's refusal (price_band); the side filter hides it.
// Backtest: the capture offered by the page is started, the run completes and its equity curve
// is drawn (an SVG polyline with points), its metrics shown. Settings: a limit set from the page
// is in force afterwards; an invalid one shows the engine's refusal. The token is asked once and
// never appears in the URL. Overview: the signal model panel shows the model in force and one
// drift row per instrument. Prints one JSON line.
'use strict';
const { chromium } = require('playwright-core');
const [url, token, capture, shot] = process.argv.slice(2);
const T = { timeout: 60000 };

(async () => {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
  const errors = [];
  const out = {};
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    page.on('pageerror', (e) => errors.push(String(e)));
    // A refusal is a 409 answer, which Chromium logs as a failed resource: expected here.
    page.on('console', (m) => { if (m.type() === 'error' && !/status of 409/.test(m.text())) errors.push(m.text()); });
    const prompts = [];
    page.on('dialog', (d) => { prompts.push(d.message()); d.accept(token); });
    await page.goto(url + '#/trades', { waitUntil: 'load', timeout: 30000 });
    if (!(await page.locator('#page-trades').isVisible()) || (await page.locator('#page-overview').isVisible())) throw new Error('#/trades did not show the Trades page alone');

    // Trades: a market order fills and shows in the fills table.
    await page.waitForFunction(() => [...document.querySelectorAll('#order-instrument option')].some((o) => o.value === 'binance-spot:BTCUSDT'), null, T);
    await page.selectOption('#order-instrument', 'binance-spot:BTCUSDT');
    await page.fill('#order-qty', '0.002');
    await page.click('#order-submit');
    await page.waitForFunction(() => document.getElementById('order-result').className === 'accepted', null, T);
    out.filled = await page.textContent('#order-result');
    const id = (out.filled.match(/order (\d+)/) || [])[1];
    if (!out.filled.startsWith('filled: order ') || !id) throw new Error(`order result ${out.filled}`);
    out.order_id = Number(id);
    await page.waitForFunction((oid) => [...document.querySelectorAll('#trade-fills tbody tr')].some((tr) => tr.children[1].textContent === oid), id, T);
    // The engine's refusal, shown.
    await page.selectOption('#order-type', 'limit');
    await page.fill('#order-price', '1.00');
    await page.selectOption('#order-side', 'sell');
    await page.click('#order-submit');
    await page.waitForFunction(() => document.getElementById('order-result').className === 'refused', null, T);
    out.refused = await page.textContent('#order-result');
    // Filters: sells only hides the buy.
    await page.selectOption('#fills-side', 'sell');
    await page.waitForFunction(() => document.querySelectorAll('#trade-fills tbody tr').length === 0, null, T);
    await page.selectOption('#fills-side', 'buy');
    await page.waitForFunction(() => document.querySelectorAll('#trade-fills tbody tr').length >= 1, null, T);
    await page.selectOption('#positions-side', 'long');
    await page.waitForFunction(() => [...document.querySelectorAll('#trade-positions tbody tr')].map((tr) => tr.children[0].textContent).join() === 'binance-spot:BTCUSDT', null, T);
    out.position_qty = await page.textContent('#trade-positions tbody tr td:nth-child(3)');
    await page.screenshot({ path: shot + 'trades.png', fullPage: true });

    // Backtest: start the capture, watch it finish, its curve drawn.
    await page.click('nav a[data-page="backtest"]');
    await page.waitForFunction(() => !document.getElementById('page-backtest').hidden, null, T);
    await page.waitForFunction((c) => [...document.querySelectorAll('#bt-capture option')].some((o) => o.value === c), capture, T);
    await page.selectOption('#bt-capture', capture);
    await page.fill('#bt-overrides', '{"paper": {"taker_fee_bps": 5}}');
    await page.click('#bt-start');
    await page.waitForFunction(() => /^job \d+ /.test(document.getElementById('bt-result').textContent), null, T);
    out.job = Number((await page.textContent('#bt-result')).split(' ')[1]);
    await page.waitForFunction(() => { const p = document.querySelector('#bt-curves svg polyline'); return p && p.getAttribute('points').split(' ').length > 1; }, null, { timeout: 120000 });
    out.points = (await page.getAttribute('#bt-curves svg polyline', 'points')).split(' ').length;
    out.curve_job = Number(await page.getAttribute('#bt-curves svg polyline', 'data-job'));
    out.metric_rows = await page.$$eval('#bt-metrics tbody tr', (rows) => rows.map((r) => [r.children[0].textContent, r.children[1].textContent]));
    await page.screenshot({ path: shot + 'backtest.png', fullPage: true });

    // Settings: a limit set from the page is in force; an invalid one is refused with the reason.
    await page.click('nav a[data-page="settings"]');
    const span = 'span[data-limit="max_order_notional"]';
    await page.waitForFunction((s) => { const e = document.querySelector(s); return e && e.textContent !== '-'; }, span, T);
    out.limit_before = await page.textContent(span);
    await page.fill('input[data-limit="max_order_notional"]', '4321.5');
    await page.click('button[data-limit="max_order_notional"]');
    await page.waitForFunction((s) => document.querySelector(s).textContent === '4321.5', span, T);
    await page.fill('input[data-limit="max_drawdown"]', '2');
    await page.click('button[data-limit="max_drawdown"]');
    await page.waitForFunction(() => document.getElementById('limit-result').className === 'refused', null, T);
    out.limit_refused = await page.textContent('#limit-result');
    out.config_shown = (await page.textContent('#settings-config')).includes('"instruments"');
    await page.screenshot({ path: shot + 'settings.png', fullPage: true });

    // Overview: the learned model in force (/api/health's model) and its drift table (/api/drift).
    await page.goto(url + '#/', { waitUntil: 'load', timeout: 30000 });
    await page.waitForFunction(() => document.getElementById('model-id').dataset.id, null, T);
    out.model_id = await page.textContent('#model-id');
    out.model_validation = await page.textContent('#model-validation');
    await page.waitForFunction(() => document.querySelectorAll('#drift tbody tr').length === 1, null, T);
    out.drift_key = await page.$eval('#drift tbody tr', (tr) => tr.dataset.key);

    out.prompts = prompts;
    if (prompts.length !== 1) throw new Error(`the token was asked ${prompts.length} times: ${JSON.stringify(prompts)}`);
    if (page.url().includes(token)) throw new Error('token in the URL');
    out.stored = await page.evaluate(() => [sessionStorage.getItem('qf-admin-token') !== null, localStorage.length]);
    if (errors.length) throw new Error(`page errors: ${errors.join('; ')}`);
    console.log(JSON.stringify({ ok: true, ...out }));
  } catch (e) {
    console.log(JSON.stringify({ ok: false, why: String(e), errors, ...out }));
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
})();
