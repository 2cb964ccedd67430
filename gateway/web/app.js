// QuantFlow dashboard: one WebSocket to the gateway (/ws), conflated pushes of the newest state.
// No build step: plain script, uPlot from /vendor/.
'use strict';

const MAX_POINTS = 600;
const state = { selected: null, series: new Map(), latest: null, chart: null };

const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => { const e = document.createElement(tag); if (cls) e.className = cls; if (text !== undefined) e.textContent = text; return e; };

function duration(s) {
  if (s === null || s === undefined) return '-';
  if (s < 1e-3) return (s * 1e6).toFixed(0) + ' µs';
  if (s < 1) return (s * 1e3).toFixed(0) + ' ms';
  if (s < 120) return s.toFixed(1) + ' s';
  if (s < 7200) return (s / 60).toFixed(1) + ' min';
  return (s / 3600).toFixed(1) + ' h';
}
function ns(v) {
  if (v < 1e3) return v + ' ns';
  if (v < 1e6) return (v / 1e3).toFixed(1) + ' µs';
  if (v < 1e9) return (v / 1e6).toFixed(2) + ' ms';
  return (v / 1e9).toFixed(2) + ' s';
}

function renderHeader(msg) {
  const badge = $('mode-badge');
  const mode = msg.mode || 'NO ENGINE';
  badge.textContent = mode;
  badge.className = 'badge ' + (msg.mode ? 'mode-' + msg.mode : 'mode-none');
  document.title = (msg.mode ? '[' + msg.mode + '] ' : '') + 'QuantFlow';
  const st = $('engine-status');
  st.textContent = msg.engine;
  st.className = 'st-' + msg.engine.split(' ')[0];
  if (msg.health) {
    $('engine-uptime').textContent = duration(msg.health.uptime_s);
    $('engine-heartbeat').textContent = duration(msg.health.heartbeat_age_s);
    renderModel(msg.health.model);
  }
}

// The learned model in force (/api/health "model"): id, training period, walk-forward summary, reloads.
function renderModel(m) {
  if (!m) return;
  $('model-id').textContent = m.loaded ? m.id : 'built-in parameters';
  $('model-id').dataset.id = m.loaded ? m.id : '';
  $('model-training').textContent = m.loaded ? `${m.training.start} .. ${m.training.end} (${m.training.rows} rows)` : '-';
  const v = m.validation;
  $('model-validation').textContent = m.loaded && v
    ? `${v.folds} folds, IC ${v.ic_mean === null ? '-' : v.ic_mean.toFixed(3)}, hit ${v.hit_rate_mean === null ? '-' : v.hit_rate_mean.toFixed(3)}, ` +
      `${v.return_bps.toFixed(1)} bps vs buy-and-hold ${v.buy_and_hold_bps.toFixed(1)} bps`
    : '-';
  $('model-reloads').textContent = `${m.reloads} (${m.refusals} refused)`;
  $('model-refusal').textContent = m.last_refusal || '-';
  $('drift-bound').textContent = m.drift_bound;
}

// Each instrument's drift (/api/drift), polled: it changes once a bar at most.
async function pollDrift() {
  const d = await fetch('/api/drift').then((r) => (r.ok ? r.json() : null)).catch(() => null);
  if (!d) return;
  const body = $('drift').tBodies[0];
  body.replaceChildren();
  for (const i of d.drift) {
    const tr = el('tr');
    tr.dataset.key = i.key;
    const psi = Object.entries(i.psi).map(([k, v]) => `${k} ${v === null ? '-' : v.toFixed(3)}`).join(', ');
    tr.appendChild(el('td', null, i.key));
    tr.appendChild(el('td', null, d.model ? (i.judged ? psi : `window ${i.bars}/${i.window} bars`) : 'no model'));
    tr.appendChild(el('td', i.drifting ? 'h-crossed' : null, i.worst || '-'));
    tr.appendChild(el('td', null, i.fade.toFixed(2)));
    body.appendChild(tr);
  }
}
setInterval(pollDrift, 2000);
pollDrift();

function renderQuotes(quotes, signals) {
  const body = $('quotes').tBodies[0];
  const sig = new Map((signals || []).map((s) => [s.key, s]));
  const keys = quotes.map((q) => q.key);
  if (body.dataset.keys !== keys.join(',')) {
    body.textContent = '';
    for (const q of quotes) {
      const tr = el('tr');
      tr.dataset.key = q.key;
      for (const f of ['key', 'bid', 'ask', 'spread', 'last', 'age', 'health', 'signal']) {
        const td = el('td');
        td.dataset.field = f;
        td.dataset.key = q.key;
        tr.appendChild(td);
      }
      tr.addEventListener('click', () => select(q.key));
      body.appendChild(tr);
    }
    body.dataset.keys = keys.join(',');
    if (!state.selected && quotes.length) select(quotes[0].key);
  }
  for (const q of quotes) {
    const tr = body.querySelector(`tr[data-key="${CSS.escape(q.key)}"]`);
    const cells = Object.fromEntries([...tr.children].map((td) => [td.dataset.field, td]));
    cells.key.textContent = q.key;
    cells.bid.textContent = q.bid === null ? '-' : q.bid;
    cells.ask.textContent = q.ask === null ? '-' : q.ask;
    cells.spread.textContent = q.spread === null ? '-' : q.spread + (q.spread_bps !== null ? ` (${q.spread_bps.toFixed(2)} bp)` : '');
    cells.last.textContent = q.last_price === null ? '-' : `${q.last_price} × ${q.last_qty} ${q.last_side}`;
    cells.age.textContent = duration(q.age_s);
    cells.health.textContent = q.health;
    cells.health.className = 'h-' + q.health;
    const s = sig.get(q.key);
    cells.signal.textContent = s && s.signal !== null ? s.signal.toFixed(3) : '-';
    tr.classList.toggle('selected', q.key === state.selected);
    record(q, s);
  }
}

function record(q, s) {
  let ser = state.series.get(q.key);
  if (!ser) { ser = { t: [], mid: [], signal: [], lastId: -1 }; state.series.set(q.key, ser); }
  if (q.mid === null || q.update_id === ser.lastId) return;
  ser.lastId = q.update_id;
  ser.t.push(Date.now() / 1000);
  ser.mid.push(parseFloat(q.mid));
  ser.signal.push(s && s.signal !== null ? s.signal : null);
  if (ser.t.length > MAX_POINTS) { ser.t.shift(); ser.mid.shift(); ser.signal.shift(); }
  if (q.key === state.selected && state.chart) state.chart.setData([ser.t, ser.mid, ser.signal]);
}

function select(key) {
  state.selected = key;
  $('chart-title').textContent = key;
  for (const tr of $('quotes').tBodies[0].rows) tr.classList.toggle('selected', tr.dataset.key === key);
  const ser = state.series.get(key) || { t: [], mid: [], signal: [] };
  if (state.chart) state.chart.setData([ser.t, ser.mid, ser.signal]);
  if (state.latest) renderRegimes(state.latest.signals || []);
}

function makeChart() {
  const box = $('chart');
  const opts = {
    width: Math.max(300, box.clientWidth), height: 260,
    series: [{}, { label: 'mid', stroke: '#3498db', width: 1.5, scale: 'px' },
             { label: 'signal', stroke: '#e67e22', width: 1.5, scale: 'sig' }],
    scales: { sig: { range: [-1, 1] } },
    axes: [{ stroke: '#7d8b99', grid: { stroke: '#26323d' } }, { scale: 'px', stroke: '#7d8b99', grid: { stroke: '#26323d' }, size: 80 },
           { scale: 'sig', side: 1, stroke: '#e67e22', grid: { show: false } }],
  };
  state.chart = new uPlot(opts, [[], [], []], box);
  new ResizeObserver(() => state.chart.setSize({ width: Math.max(300, box.clientWidth), height: 260 })).observe(box);
}

function renderRegimes(signals) {
  const box = $('regimes');
  box.textContent = '';
  const s = signals.find((x) => x.key === state.selected);
  if (!s || !s.posterior.length) { box.textContent = 'no regime estimate yet'; return; }
  s.posterior.forEach((p, i) => {
    const row = el('div', 'bar');
    row.appendChild(el('span', '', `regime ${i}${i === s.dominant ? ' *' : ''}`));
    const fill = el('div', 'fill');
    fill.style.width = (p * 200).toFixed(0) + 'px';
    row.appendChild(fill);
    row.appendChild(el('span', 'pct', (p * 100).toFixed(1) + '%'));
    box.appendChild(row);
  });
  box.appendChild(el('div', 'pct', `signal ${s.signal === null ? '-' : s.signal.toFixed(3)}, confidence ${s.confidence === null ? '-' : s.confidence.toFixed(2)}`));
}

function renderLatency(stages) {
  const box = $('latency');
  box.textContent = '';
  for (const s of stages) {
    const row = el('div', 'stage');
    row.appendChild(el('div', '', `${s.stage} (${s.count})`));
    const hist = el('div', 'hist');
    const max = Math.max(1, ...s.counts);
    s.counts.forEach((c, i) => {
      const bar = el('div');
      bar.style.height = ((c / max) * 100).toFixed(1) + '%';
      bar.title = `≤ ${i < s.bounds_ns.length ? ns(s.bounds_ns[i]) : '∞'}: ${c}`;
      hist.appendChild(bar);
    });
    row.appendChild(hist);
    row.appendChild(el('div', 'pct', s.count ? `p50 ${ns(s.p50_ns)} · p90 ${ns(s.p90_ns)} · p99 ${ns(s.p99_ns)} · p99.9 ${ns(s.p999_ns)} · p99.99 ${ns(s.p9999_ns)} · max ${ns(s.max_ns)}` : 'no samples'));
    box.appendChild(row);
  }
}

function renderFeeds(feeds) {
  const body = $('feeds').tBodies[0];
  body.textContent = '';
  for (const f of feeds.feeds) {
    const tr = el('tr');
    for (const [v, cls] of [[f.name], [f.state, 's-' + f.state], [f.messages], [f.gaps], [f.resyncs], [f.reconnects], [f.parse_errors]]) {
      tr.appendChild(el('td', cls || '', String(v)));
    }
    body.appendChild(tr);
  }
}

function renderEvents(events) {
  const box = $('events');
  box.textContent = '';
  for (const e of events) {
    box.appendChild(el('li', 'k-' + e.kind, `${e.time.slice(11, 23)}  ${e.kind.padEnd(9)} ${e.instrument || ''}  ${e.text}`));
  }
}

function onUpdate(msg) {
  state.latest = msg;
  renderHeader(msg);
  if (msg.quotes) renderQuotes(msg.quotes, msg.signals);
  if (msg.signals) renderRegimes(msg.signals);
  if (msg.latency) renderLatency(msg.latency);
  if (msg.feeds) renderFeeds(msg.feeds);
  if (msg.events) renderEvents(msg.events);
}

let backoff = 250;
function connect() {
  const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  ws.onopen = () => {
    backoff = 250;
    $('ws-status').textContent = 'live';
    ws.send(JSON.stringify({ op: 'subscribe', channels: ['quotes', 'signals', 'health', 'latency', 'feeds', 'events'], instruments: ['*'] }));
  };
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === 'update') onUpdate(msg);
  };
  ws.onclose = () => {
    $('ws-status').textContent = 'reconnecting';
    setTimeout(connect, backoff);
    backoff = Math.min(backoff * 2, 5000);
  };
}

// Portfolio, positions and the kill switch are polled over REST (they change at most per fill).
const money = (v) => (v === null || v === undefined ? '-' : v.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2, useGrouping: false }));
const pct = (v) => (v === null || v === undefined ? '-' : (v * 100).toFixed(2) + '%');
const qty = (v) => (v === null || v === undefined ? '-' : String(Number(v.toPrecision(10))));

function renderRisk(pf, risk) {
  $('equity').textContent = pf ? money(pf.equity) : '-';
  $('drawdown').textContent = pf ? pct(pf.drawdown) : '-';
  $('pf-equity').textContent = pf ? money(pf.equity) : '-';
  $('pf-peak').textContent = pf ? money(pf.peak_equity) : '-';
  $('pf-drawdown').textContent = pf ? pct(pf.drawdown) : '-';
  $('pf-daily').textContent = pf ? money(pf.daily_pnl) : '-';
  $('pf-realized').textContent = pf ? money(pf.realized) : '-';
  $('pf-unrealized').textContent = pf ? money(pf.unrealized) : '-';
  $('pf-fees').textContent = pf ? money(pf.fees) : '-';
  const ks = $('kill-state');
  const button = $('kill-button');
  if (!risk) {
    ks.textContent = '-';
    ks.className = 'ks-unknown';
    state.killTripped = null;
    return;
  }
  const k = risk.kill_switch;
  state.killTripped = k.tripped;
  ks.textContent = k.tripped ? `${k.mode.toUpperCase()} (${k.cause})` : 'off';
  ks.className = k.tripped ? 'ks-tripped' : 'ks-off';
  ks.title = k.tripped ? `since ${k.since}, ${k.trips} trip(s)` : `${k.trips} trip(s) since start`;
  button.textContent = k.tripped ? 'Reset kill switch' : 'Trip kill switch';
  button.className = k.tripped ? 'reset' : '';
}

function renderPositions(positions) {
  const body = $('positions').tBodies[0];
  body.textContent = '';
  for (const p of positions || []) {
    const tr = el('tr', 'pos-' + p.side);
    tr.dataset.key = p.key;
    for (const [f, v] of [['key', p.key], ['qty', qty(p.qty)], ['avg_cost', money(p.avg_cost)], ['mark', money(p.mark)],
      ['notional', money(p.notional)], ['realized', money(p.realized)], ['unrealized', money(p.unrealized)],
      ['fees', money(p.fees)], ['target', qty(p.target)]]) {
      const td = el('td', null, v);
      td.dataset.field = f;
      td.dataset.key = p.key;
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}

async function pollRisk() {
  try {
    const [pf, pos, risk] = await Promise.all(['/api/portfolio', '/api/positions', '/api/risk'].map((u) => fetch(u).then((r) => r.json())));
    renderRisk(pf.portfolio, risk.risk);
    renderPositions(pos.positions);
  } catch (e) {
    renderRisk(null, null);
  }
}

async function toggleKillSwitch() {
  if (state.killTripped === null || state.killTripped === undefined) return;
  const enable = !state.killTripped;
  const mode = $('kill-mode').value;
  const what = enable ? `trip the kill switch (${mode})` : 'reset the kill switch';
  const result = $('kill-result');
  const r = await adminPost('/api/risk/kill-switch', enable ? { enabled: true, mode } : { enabled: false }, what);
  if (r) result.textContent = r.status === 200 ? `${r.doc.result}: ${r.doc.text}` : `${r.status}: ${r.doc.error || r.doc.text}`;
  pollRisk();
}

// The admin token: asked once per browser session, kept in sessionStorage (never in a URL or
// localStorage), forgotten on a 401 or by the header's "forget token" button.
const TOKEN_KEY = 'qf-admin-token';
function adminToken(what) {
  let token = sessionStorage.getItem(TOKEN_KEY);
  if (!token) {
    token = window.prompt(`Admin token to ${what} (asked once for this browser session):`);
    if (!token) return null;
    sessionStorage.setItem(TOKEN_KEY, token);
  }
  $('token-forget').hidden = false;
  return token;
}
function forgetToken() {
  sessionStorage.removeItem(TOKEN_KEY);
  $('token-forget').hidden = true;
}
// POST a JSON body with the token; {status, doc}, or null when no token was given.
async function adminPost(url, body, what) {
  const token = adminToken(what);
  if (!token) return null;
  try {
    const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', 'X-Admin-Token': token }, body: JSON.stringify(body) });
    const doc = await r.json();
    if (r.status === 401) forgetToken();
    return { status: r.status, doc };
  } catch (e) {
    return { status: 0, doc: { error: String(e) } };
  }
}

// History (qf-store's tables through /api/history, only when /api/health says there is a store):
// equity with drawdown, 1 m candles of the selected instrument, and the fills 20 a page, newest first.
const history = { equity: null, candles: null, fillsOffset: 0, fillsPage: 20, candleData: [[], [], [], [], []] };

function candlePlugin() {
  return { hooks: { draw: (u) => {
    const [t, o, h, l, c] = history.candleData;
    const ctx = u.ctx;
    const w = Math.max(1, (u.bbox.width / Math.max(1, t.length)) * 0.7);
    for (let i = 0; i < t.length; i++) {
      const x = u.valToPos(t[i], 'x', true);
      ctx.strokeStyle = ctx.fillStyle = c[i] >= o[i] ? '#2ecc71' : '#e74c3c';
      ctx.beginPath();
      ctx.moveTo(x, u.valToPos(h[i], 'y', true));
      ctx.lineTo(x, u.valToPos(l[i], 'y', true));
      ctx.stroke();
      const top = u.valToPos(Math.max(o[i], c[i]), 'y', true);
      const bottom = u.valToPos(Math.min(o[i], c[i]), 'y', true);
      ctx.fillRect(x - w / 2, top, w, Math.max(1, bottom - top));
    }
  } } };
}

function makeHistoryCharts() {
  const axes = [{ stroke: '#7d8b99', grid: { stroke: '#26323d' } }, { stroke: '#7d8b99', grid: { stroke: '#26323d' }, size: 80 }];
  const eq = $('history-equity');
  history.equity = new uPlot({
    width: Math.max(300, eq.clientWidth), height: 220,
    series: [{}, { label: 'equity', stroke: '#3498db', width: 1.5, scale: 'eq' },
             { label: 'drawdown %', stroke: '#e74c3c', width: 1, scale: 'dd' }],
    axes: [axes[0], { ...axes[1], scale: 'eq' }, { scale: 'dd', side: 1, stroke: '#e74c3c', grid: { show: false } }],
  }, [[], [], []], eq);
  const cd = $('history-candles');
  history.candles = new uPlot({
    width: Math.max(300, cd.clientWidth), height: 220, plugins: [candlePlugin()],
    series: [{}, { label: 'low', stroke: 'transparent', points: { show: false } }, { label: 'high', stroke: 'transparent', points: { show: false } }], axes,
  }, [[], [], []], cd);
}

function renderFills(fills) {
  const body = $('history-fills').tBodies[0];
  body.replaceChildren();
  for (const f of fills) {
    const tr = el('tr');
    for (const v of [new Date(f.ts_ms).toISOString(), `${f.venue}:${f.symbol}`, f.side, Number(f.qty.toPrecision(10)), Number(f.price.toPrecision(12)), money(f.fee), money(f.realized)]) {
      tr.appendChild(el('td', null, String(v)));
    }
    body.appendChild(tr);
  }
  $('fills-page').textContent = `${history.fillsOffset + 1}-${history.fillsOffset + fills.length}`;
  $('fills-page').dataset.offset = history.fillsOffset;
}

async function pollHistory() {
  const health = await fetch('/api/health').then((r) => r.json()).catch(() => null);
  if (!health || !health.history) return;
  $('history-panel').hidden = false;
  if (!history.equity) makeHistoryCharts();
  const get = (u) => fetch(u).then((r) => (r.ok ? r.json() : Promise.reject(new Error(`${u}: ${r.status}`))));
  try {
    const eq = (await get('/api/history/equity?limit=10000')).equity;
    history.equity.setData([eq.map((e) => e.ts_ms / 1000), eq.map((e) => e.equity), eq.map((e) => e.drawdown * 100)]);
    const key = state.selected || 'binance-spot:BTCUSDT';
    const [venue, symbol] = key.split(':');
    const bars = (await get(`/api/history/bars/${venue}/${symbol}?interval=1m&limit=500`)).bars;
    history.candleData = [bars.map((b) => b.ts_ms / 1000), bars.map((b) => b.open), bars.map((b) => b.high),
                          bars.map((b) => b.low), bars.map((b) => b.close)];
    history.candles.setData([history.candleData[0], history.candleData[3], history.candleData[2]]);
    $('candles-title').textContent = `${key} (${bars.length})`;
    $('history-candles').dataset.candles = bars.length;
    const total = (await get('/api/history/fills?limit=10000')).fills.length;
    const count = Math.max(0, Math.min(history.fillsPage, total - history.fillsOffset));
    const start = total - history.fillsOffset - count;
    renderFills(count ? (await get(`/api/history/fills?limit=${count}&offset=${start}`)).fills.reverse() : []);
    $('history-fills').dataset.total = total;
  } catch (e) {
    $('candles-title').textContent = String(e);
  }
}

// ---- Composite books (GET /api/composite every second): best bid/ask with their venue, the
// members (excluded ones marked with the reason) and the merged levels with each venue's share.
function compositeBest(b) {
  return b ? `${b.price} × ${b.qty} @ ${b.key}` : '-';
}

function renderComposite(c) {
  const box = el('div', 'composite');
  box.dataset.asset = c.asset;
  const head = el('div', 'risk-row');
  for (const [label, field, v] of [['best bid', 'best_bid', compositeBest(c.best_bid)], ['best ask', 'best_ask', compositeBest(c.best_ask)],
    ['spread', 'spread', c.spread === null ? '-' : c.spread], ['venues', 'included', `${c.included}/${c.members_total}`]]) {
    const span = el('span', null, label + ' ');
    const b = el('b', null, v);
    b.dataset.field = field;
    span.appendChild(b);
    head.appendChild(span);
  }
  if (c.crossed) head.appendChild(el('span', 'st-stalled', 'crossed across venues'));
  box.appendChild(el('h3', null, c.asset));
  box.appendChild(head);
  const members = el('table', 'composite-members');
  members.innerHTML = '<thead><tr><th>venue</th><th>book</th><th>in composite</th><th>bid</th><th>ask</th></tr></thead>';
  const mb = el('tbody');
  for (const m of c.members) {
    const tr = el('tr', m.included ? null : 'excluded');
    tr.dataset.key = m.key;
    for (const [f, v] of [['key', m.key], ['health', m.health], ['status', m.included ? 'included' : `excluded: ${m.excluded}`],
      ['bid', m.bid_price === null ? '-' : `${m.bid_price} × ${m.bid_qty}`], ['ask', m.ask_price === null ? '-' : `${m.ask_price} × ${m.ask_qty}`]]) {
      const td = el('td', null, v);
      td.dataset.field = f;
      tr.appendChild(td);
    }
    mb.appendChild(tr);
  }
  members.appendChild(mb);
  box.appendChild(members);
  const depth = el('table', 'composite-depth');
  depth.innerHTML = '<thead><tr><th>bid venues</th><th>bid qty</th><th>bid</th><th>ask</th><th>ask qty</th><th>ask venues</th></tr></thead>';
  const db = el('tbody');
  const shares = (l) => (l ? Object.entries(l.members).map(([k, q]) => `${k.split(':')[0]} ${q}`).join(', ') : '');
  for (let i = 0; i < Math.max(c.bids.length, c.asks.length); i++) {
    const b = c.bids[i];
    const a = c.asks[i];
    const tr = el('tr');
    for (const v of [shares(b), b ? b.qty : '', b ? b.price : '', a ? a.price : '', a ? a.qty : '', shares(a)]) tr.appendChild(el('td', null, v));
    db.appendChild(tr);
  }
  depth.appendChild(db);
  box.appendChild(depth);
  return box;
}

async function pollComposite() {
  try {
    const doc = await fetch('/api/composite').then((r) => r.json());
    $('composite-panel').hidden = doc.composites.length === 0;
    $('composites').replaceChildren(...doc.composites.map(renderComposite));
  } catch (e) {
    $('composite-panel').hidden = true;
  }
}
// ---- end composite books

$('fills-prev').addEventListener('click', () => { history.fillsOffset = Math.max(0, history.fillsOffset - history.fillsPage); pollHistory(); });
$('fills-next').addEventListener('click', () => {
  if (history.fillsOffset + history.fillsPage < Number($('history-fills').dataset.total || 0)) history.fillsOffset += history.fillsPage;
  pollHistory();
});
$('kill-button').addEventListener('click', toggleKillSwitch);
$('token-forget').addEventListener('click', forgetToken);
$('token-forget').hidden = !sessionStorage.getItem(TOKEN_KEY);
makeChart();
connect();
pollRisk();
setInterval(pollRisk, 1000);
pollHistory();
setInterval(pollHistory, 5000);
pollComposite();
setInterval(pollComposite, 1000);
