// WebSocket clients for gateway_ws_test.py (node, `ws` from node_modules).
//   node ws_clients.js rate PORT HZ      one filtered subscriber: rate limit, conflation, content
//   node ws_clients.js many PORT N       N concurrent subscribers, each must receive 3 updates
//   node ws_clients.js errors PORT       protocol errors are answered, the connection survives
// Prints one JSON line with what it measured; exits 1 with a reason on failure.
'use strict';
const WebSocket = require('ws');
const [mode, port, arg] = process.argv.slice(2);
const url = `ws://127.0.0.1:${port}/ws`;
const BASE = { 'binance-spot:BTCUSDT': 6183763, 'coinbase:ETH-USD': 345012 };
const dec = (v, d) => { const s = String(v).padStart(d + 1, '0'); return s.slice(0, -d) + '.' + s.slice(-d); };
const fail = (why) => { console.log(JSON.stringify({ ok: false, why })); process.exit(1); };
const deadline = setTimeout(() => fail(`${mode}: deadline passed`), 90000);

function rate(hz) {
  const periodNs = 1e9 / hz;
  const ws = new WebSocket(url);
  const updates = [];
  let subscribed = false;
  ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', channels: ['quotes'], instruments: ['binance-spot:BTCUSDT'] })));
  ws.on('message', (data) => {
    const m = JSON.parse(data);
    if (m.type === 'subscribed') {
      if (JSON.stringify(m.channels) !== '["quotes"]' || JSON.stringify(m.instruments) !== '["binance-spot:BTCUSDT"]') fail(`subscribed: ${data}`);
      subscribed = true;
      return;
    }
    if (m.type !== 'update') fail(`unexpected message ${data}`);
    if (!subscribed) fail('update before the subscription reply');
    updates.push({ m, recv: process.hrtime.bigint() });
    if (updates.length < 40) return;
    ws.close();
    let minGapNs = Infinity;
    for (let i = 1; i < updates.length; ++i) {
      const a = updates[i - 1].m, b = updates[i].m;
      minGapNs = Math.min(minGapNs, b.sent_mono_ns - a.sent_mono_ns);
      if (b.seq <= a.seq) fail(`seq not increasing ${a.seq} -> ${b.seq}`);
    }
    if (minGapNs < periodNs) fail(`two pushes ${minGapNs} ns apart, limit ${periodNs} ns`);
    // Client side: N messages span at least (N - 1) periods of the server's clock.
    const spanNs = Number(updates[updates.length - 1].m.sent_mono_ns - updates[0].m.sent_mono_ns);
    if (spanNs < (updates.length - 1) * periodNs) fail(`span ${spanNs} ns for ${updates.length} pushes`);
    let lastId = 0, advanced = 0;
    for (const { m } of updates) {
      if (Object.keys(m).some((k) => ['signals', 'health', 'latency', 'feeds', 'events'].includes(k))) fail('unsubscribed channel sent');
      if (m.quotes.length !== 1) fail(`filter: ${m.quotes.length} quotes`);
      const q = m.quotes[0];
      const k = q.update_id;
      const bid = BASE[q.key] + (k % 100);
      const ask = bid + 1 + (k % 3);
      if (q.key !== 'binance-spot:BTCUSDT' || q.bid !== dec(bid, 2) || q.ask !== dec(ask, 2) || q.bid_qty !== dec(100000000 + k, 8)) fail(`quote ${JSON.stringify(q)}`);
      if (m.engine !== 'running' || m.mode !== 'SIM') fail(`head ${m.engine} ${m.mode}`);
      if (k < lastId) fail('went back in time');
      if (k > lastId) advanced++;
      lastId = k;
    }
    if (advanced < 10) fail(`quotes advanced only ${advanced} times`);
    console.log(JSON.stringify({ ok: true, updates: updates.length, min_gap_ms: minGapNs / 1e6, advanced }));
    clearTimeout(deadline);
  });
  ws.on('error', (e) => fail(`error ${e}`));
}

function many(n) {
  let done = 0, opened = 0;
  const sockets = [];
  for (let i = 0; i < n; ++i) {
    const ws = new WebSocket(url);
    sockets.push(ws);
    let got = 0;
    ws.on('open', () => { opened++; ws.send(JSON.stringify({ op: 'subscribe', channels: ['quotes', 'health'], instruments: ['*'] })); });
    ws.on('message', (data) => {
      const m = JSON.parse(data);
      if (m.type !== 'update') return;
      if (m.quotes.length !== 3 || m.health.status !== 'running') fail(`client ${i}: ${String(data).slice(0, 200)}`);
      if (++got === 3 && ++done === n) {
        console.log(JSON.stringify({ ok: true, clients: n, opened }));
        // Stay connected until the parent has checked the gateway's client count.
        process.stdin.on('data', () => {
          let closed = 0;
          sockets.forEach((s) => { s.on('close', () => { if (++closed === n) process.exit(0); }); s.close(); });
        });
      }
    });
    ws.on('error', (e) => fail(`client ${i}: ${e}`));
  }
}

function errors() {
  const ws = new WebSocket(url);
  const replies = [];
  const sends = ['not json', '{"op":"dance"}', '{"op":"subscribe","channels":["weather"]}',
                 '{"op":"subscribe","channels":["quotes"],"instruments":["BTCUSDT"]}',
                 '{"op":"subscribe","channels":["quotes"],"instruments":["binance-spot:NOPEUSDT"]}', '{"op":"ping"}'];
  ws.on('open', () => sends.forEach((s) => ws.send(s)));
  ws.on('message', (data) => {
    replies.push(JSON.parse(data));
    if (replies.length < sends.length) return;
    const types = replies.map((r) => r.type).join(',');
    if (types !== 'error,error,error,error,error,pong') fail(`replies ${JSON.stringify(replies)}`);
    if (!replies[2].error.includes("'weather'") || !replies[3].error.includes("'BTCUSDT'")) fail(`errors name the culprit: ${JSON.stringify(replies)}`);
    // An instrument the engine does not have is refused, not silently accepted (issue 17).
    if (!replies[4].error.startsWith("unknown instrument 'binance-spot:NOPEUSDT'")) fail(`unknown instrument: ${JSON.stringify(replies[4])}`);
    ws.close();
    console.log(JSON.stringify({ ok: true, replies: types }));
    clearTimeout(deadline);
  });
  ws.on('error', (e) => fail(`error ${e}`));
}

if (mode === 'rate') rate(Number(arg));
else if (mode === 'many') many(Number(arg));
else if (mode === 'errors') errors();
else fail(`unknown mode ${mode}`);
