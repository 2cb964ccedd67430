// Dashboard pages beside the overview (app.js): Trades (paper orders, fills, positions),
// Backtest (jobs, progress, side-by-side comparison) and Settings (config, risk limits). Hash
// routes (#/trades, #/backtest, #/settings; anything else is the overview), one <main> each; only
// the page on screen is polled. Controls go through app.js's adminPost (the session's token).
'use strict';

const PAGES = ['overview', 'trades', 'backtest', 'settings'];
const pages = { current: 'overview', instruments: [], jobs: new Map(), curves: new Map(), compare: new Set(), mine: new Set() };

function route() {
  const name = (location.hash.match(/^#\/(\w+)/) || [])[1];
  pages.current = PAGES.includes(name) ? name : 'overview';
  for (const p of PAGES) $('page-' + p).hidden = p !== pages.current;
  for (const a of document.querySelectorAll('nav a')) a.classList.toggle('current', a.dataset.page === pages.current);
  refreshPage();
}

function refreshPage() {
  if (pages.current === 'trades') refreshTrades();
  else if (pages.current === 'backtest') refreshBacktests();
  else if (pages.current === 'settings') refreshSettings();
}

const getJson = (u) => fetch(u).then((r) => (r.ok ? r.json() : Promise.reject(new Error(`${u}: ${r.status}`))));
// A table body from rows of cell texts; `cls` per row (optional).
function fillTable(table, rows, cls) {
  const body = $(table).tBodies[0];
  body.replaceChildren(...rows.map((cells, i) => {
    const tr = el('tr', cls ? cls(i) : null);
    for (const c of cells) tr.appendChild(c instanceof Node ? el('td').appendChild(c).parentNode : el('td', null, String(c)));
    return tr;
  }));
}
// The options of a <select> (the first, "all", kept), its choice kept when still offered.
function setOptions(select, values, keepFirst) {
  const s = $(select);
  const chosen = s.value;
  const fixed = keepFirst ? [s.options[0]] : [];
  s.replaceChildren(...fixed, ...values.map((v) => { const o = el('option', null, v.label || v); o.value = v.value || v; return o; }));
  if ([...s.options].some((o) => o.value === chosen)) s.value = chosen;
}

// ---- Trades ---------------------------------------------------------------------------------

async function refreshTrades() {
  try {
    const [inst, fills, positions] = await Promise.all(['/api/instruments', '/api/fills?limit=64', '/api/positions'].map(getJson));
    const keys = inst.instruments.map((i) => i.key);
    if (keys.join() !== pages.instruments.join()) {
      pages.instruments = keys;
      setOptions('order-instrument', keys, false);
      setOptions('fills-instrument', keys, true);
      setOptions('positions-instrument', keys, true);
    }
    const fi = $('fills-instrument').value, fs = $('fills-side').value;
    const shown = fills.fills.filter((f) => (!fi || f.instrument === fi) && (!fs || f.side === fs));
    fillTable('trade-fills', shown.map((f) => [f.time, f.order_id, f.instrument, f.side, qty(f.qty), money(f.price),
      money(f.notional), money(f.fee), money(f.realized)]), (i) => 'side-' + shown[i].side);
    const pi = $('positions-instrument').value, ps = $('positions-side').value;
    const held = positions.positions.filter((p) => (!pi || p.key === pi) && (!ps || p.side === ps));
    fillTable('trade-positions', held.map((p) => [p.key, p.side, qty(p.qty), money(p.avg_cost), money(p.mark),
      money(p.notional), money(p.realized), money(p.unrealized), money(p.fees)]), (i) => 'pos-' + held[i].side);
    $('trade-fills').dataset.rows = shown.length;
  } catch (e) {
    $('order-result').textContent = String(e);
  }
}

async function placeOrder(ev) {
  ev.preventDefault();
  const type = $('order-type').value;
  const body = { instrument: $('order-instrument').value, side: $('order-side').value, type, qty: $('order-qty').value.trim() };
  if (type === 'limit') body.price = $('order-price').value.trim();
  const out = $('order-result');
  out.className = '';
  const r = await adminPost('/api/orders', body, 'place a paper order');
  if (!r) return;
  const d = r.doc;
  if (d.accepted) {
    out.className = 'accepted';
    // the engine rounds the quantity down to the lot: say so when it sent less than was asked
    const sent = d.qty !== Number(body.qty) ? ` (sent ${qty(d.qty)}: rounded down to the lot)` : '';
    out.textContent = (d.pending ? `accepted: order ${d.order_id} on its way to the book`
      : d.filled_qty > 0 ? `filled: order ${d.order_id}, ${qty(d.filled_qty)} @ ${money(d.avg_price)}, fee ${money(d.fee)}`
        : `accepted: order ${d.order_id}, nothing filled (IOC)`) + sent;
  } else {
    out.className = 'refused';
    // the engine's pre-trade refusal (its text: below_lot names the lot), or the gateway's reason
    out.textContent = d.refusal ? d.text || `refused: ${d.refusal}` : `${r.status}: ${d.error || d.text}`;
  }
  out.dataset.refusal = d.refusal || '';
  refreshTrades();
}

// ---- Backtest -------------------------------------------------------------------------------

async function refreshBacktests() {
  try {
    if (!$('bt-capture').options.length) {
      const c = await getJson('/api/backtests/captures');
      setOptions('bt-capture', c.captures.map((x) => ({ value: x.capture, label: `${x.capture} (${(x.bytes / 1e6).toFixed(1)} MB)` })), false);
    }
    const { jobs } = await getJson('/api/backtests');
    for (const j of jobs) {
      pages.jobs.set(j.id, j);
      if (j.state === 'done' && pages.mine.has(j.id)) { pages.mine.delete(j.id); pages.compare.add(j.id); }
    }
    renderJobs(jobs);
    await renderComparison();
  } catch (e) {
    $('bt-result').textContent = String(e);
  }
}

function renderJobs(jobs) {
  const rows = jobs.slice().reverse().map((j) => {
    const box = el('input');
    box.type = 'checkbox';
    box.disabled = j.state !== 'done';
    box.checked = pages.compare.has(j.id);
    box.dataset.job = j.id;
    box.addEventListener('change', () => { box.checked ? pages.compare.add(j.id) : pages.compare.delete(j.id); renderComparison(); });
    const bar = el('progress');
    bar.max = j.progress.total || 1;
    bar.value = j.state === 'done' ? bar.max : j.progress.messages;
    bar.title = `${j.progress.messages} of ${j.progress.total} messages`;
    const b = j.backtest;
    let action = '';
    if (j.state === 'queued' || j.state === 'running') {
      action = el('button', null, 'cancel');
      action.type = 'button';
      action.addEventListener('click', async () => { await adminPost(`/api/backtests/${j.id}/cancel`, {}, 'cancel a backtest'); refreshBacktests(); });
    }
    return [box, j.id, j.capture, j.error ? `${j.state}: ${j.error}` : j.state, bar,
      b ? money(b.realized) : '-', b ? pct(b.max_drawdown) : '-', b ? b.trades : '-', action];
  });
  fillTable('bt-jobs', rows, (i) => 'job-' + jobs[jobs.length - 1 - i].state);
}

const COLOURS = ['#3498db', '#e67e22', '#2ecc71', '#9b59b6', '#e74c3c', '#1abc9c'];

// The ticked finished runs: one SVG with an equity curve each (time from the run's start on x),
// and their metrics side by side.
async function renderComparison() {
  const ids = [...pages.compare].filter((id) => pages.jobs.get(id) && pages.jobs.get(id).state === 'done').sort((a, b) => a - b);
  for (const id of ids) {
    if (!pages.curves.has(id)) pages.curves.set(id, await getJson(`/api/backtests/${id}`)); // a finished job never changes
  }
  const runs = ids.map((id) => pages.curves.get(id));
  const W = Math.max(400, $('bt-curves').clientWidth || 900), H = 260, pad = 40; // drawn at the panel's width
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('class', 'curves');
  const all = runs.flatMap((r) => r.equity.rows);
  if (all.length) {
    const span = Math.max(...runs.map((r) => r.equity.rows.length ? r.equity.rows[r.equity.rows.length - 1][0] - r.equity.rows[0][0] : 0)) || 1;
    let lo = Math.min(...all.map((p) => p[1])), hi = Math.max(...all.map((p) => p[1]));
    if (hi === lo) { hi += 1; lo -= 1; }
    const text = (x, y, s, anchor) => { const t = document.createElementNS(ns, 'text'); t.setAttribute('x', x); t.setAttribute('y', y); t.setAttribute('text-anchor', anchor || 'start'); t.textContent = s; svg.appendChild(t); };
    text(2, pad - 8, money(hi));
    text(2, H - 4, money(lo));
    text(W - 2, H - 4, `${duration(span / 1e9)}`, 'end');
    runs.forEach((r, k) => {
      const t0 = r.equity.rows.length ? r.equity.rows[0][0] : 0;
      const line = document.createElementNS(ns, 'polyline');
      line.setAttribute('points', r.equity.rows.map((p) => `${(pad + ((p[0] - t0) / span) * (W - 2 * pad)).toFixed(1)},${(H - pad / 2 - ((p[1] - lo) / (hi - lo)) * (H - 1.5 * pad)).toFixed(1)}`).join(' '));
      line.setAttribute('stroke', COLOURS[k % COLOURS.length]);
      line.setAttribute('fill', 'none');
      line.dataset.job = r.id;
      svg.appendChild(line);
      text(W - 2, 14 + 14 * k, `#${r.id} ${r.capture}`, 'end');
      svg.lastChild.setAttribute('fill', COLOURS[k % COLOURS.length]);
    });
  }
  $('bt-curves').replaceChildren(svg);
  const head = $('bt-metrics').tHead;
  const tr = el('tr');
  tr.appendChild(el('th', null, 'metric'));
  runs.forEach((r, k) => { const th = el('th', null, `#${r.id}`); th.style.color = COLOURS[k % COLOURS.length]; tr.appendChild(th); });
  head.replaceChildren(tr);
  const keys = [...new Set(runs.flatMap((r) => Object.keys(r.backtest || {}).filter((k) => typeof r.backtest[k] !== 'object')))];
  const cell = (v) => (typeof v === 'number' ? String(Number(v.toPrecision(8))) : v === undefined ? '-' : String(v));
  fillTable('bt-metrics', keys.map((k) => [k, ...runs.map((r) => cell(r.backtest[k]))]));
}

async function startBacktest(ev) {
  ev.preventDefault();
  const out = $('bt-result');
  let overrides;
  try {
    overrides = JSON.parse($('bt-overrides').value || '{}');
  } catch (e) {
    out.textContent = `overrides: not JSON (${e.message})`;
    return;
  }
  const r = await adminPost('/api/backtests', { capture: $('bt-capture').value, speed: $('bt-speed').value, overrides }, 'start a backtest');
  if (!r) return;
  if (r.status === 202) {
    pages.mine.add(r.doc.id); // compared once it is done
    out.textContent = `job ${r.doc.id} ${r.doc.state}`;
  } else {
    out.textContent = `${r.status}: ${r.doc.error}`;
  }
  refreshBacktests();
}

// ---- Settings -------------------------------------------------------------------------------

const LIMITS = ['max_order_notional', 'max_position_notional', 'max_gross_notional', 'daily_loss_limit', 'max_drawdown',
  'price_band_bps', 'orders_per_s_instrument', 'orders_per_min_instrument', 'orders_per_s_total', 'orders_per_min_total'];

async function refreshSettings() {
  try {
    const c = await getJson('/api/config');
    $('settings-path').textContent = c.path || '-';
    $('settings-config').textContent = JSON.stringify(c.config, null, 2);
    const limits = c.risk ? c.risk.limits : {};
    const body = $('settings-limits').tBodies[0];
    if (body.rows.length !== LIMITS.length) {
      fillTable('settings-limits', LIMITS.map((name) => {
        const input = el('input');
        input.dataset.limit = name;
        input.inputMode = 'decimal';
        const set = el('button', null, 'Set');
        set.type = 'button';
        set.dataset.limit = name;
        set.addEventListener('click', () => setLimit(name, input.value.trim()));
        const value = el('span');
        value.dataset.limit = name;
        return [name, value, input, set];
      }));
    }
    for (const name of LIMITS) {
      body.querySelector(`span[data-limit="${name}"]`).textContent = limits[name] === undefined ? '-' : String(limits[name]);
    }
  } catch (e) {
    $('limit-result').textContent = String(e);
  }
}

async function setLimit(name, value) {
  const r = await adminPost('/api/risk/limits', { limit: name, value }, `change ${name}`);
  if (!r) return;
  const out = $('limit-result');
  out.className = r.status === 200 ? 'accepted' : 'refused';
  out.textContent = r.status === 200 || r.status === 409 ? `${name}: ${r.doc.result}: ${r.doc.text}` : `${r.status}: ${r.doc.error}`;
  refreshSettings();
}

$('order-type').addEventListener('change', () => { $('order-price').disabled = $('order-type').value !== 'limit'; });
$('order-form').addEventListener('submit', placeOrder);
$('bt-form').addEventListener('submit', startBacktest);
for (const f of ['fills-instrument', 'fills-side', 'positions-instrument', 'positions-side']) $(f).addEventListener('change', refreshTrades);
window.addEventListener('hashchange', route);
route();
setInterval(refreshPage, 1000);
