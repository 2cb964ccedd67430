// The ccxt peer of the e2e benchmark: ccxt.pro's Binance websocket client (pinned in
// bench/peers/package.json) on the same qf-venue stream, timing each depth message inside its
// process from frame received (the client's onMessage, before its JSON.parse) to book updated
// (after its handleMessage); handle_* is handleMessage alone (the message already parsed).
//   node ccxt_peer.js WS_BASE HTTP_BASE SECONDS SYMBOL...   (WS_BASE ws://127.0.0.1:P, HTTP_BASE http://127.0.0.1:P)
// Every URL the client holds is rewritten to 127.0.0.1 and checked, and every connection and
// request is checked again as it is made: the peer exits 3 before it could reach anything else.
// Prints one JSON line: {"messages":N,"p50_ns":..,"p90_ns":..,"p99_ns":..,"p999_ns":..,"max_ns":..,
// "handle_p50_ns":..,"handle_p99_ns":..}.
'use strict';
const ccxt = require('ccxt');
const [wsBase, httpBase, secondsArg, ...symbols] = process.argv.slice(2);
const LOCAL = /^(ws|http):\/\/127\.0\.0\.1:\d+(\/|$)/;

function refuse(what) {
  console.error(`ccxt_peer: refusing a non-local URL: ${what}`);
  process.exit(3);
}
if (!LOCAL.test(wsBase) || !LOCAL.test(httpBase)) refuse(`${wsBase} ${httpBase}`);

// Every URL string under urls.api onto the venue: same path, local host.
function localise(node) {
  for (const k of Object.keys(node)) {
    const v = node[k];
    if (typeof v === 'string') {
      const u = new URL(v);
      const base = u.protocol.startsWith('ws') ? wsBase : httpBase;
      node[k] = base + u.pathname.replace(/\/$/, '');
    } else if (v && typeof v === 'object') {
      localise(v);
    }
  }
}
function checkAll(node, where) {
  for (const k of Object.keys(node)) {
    const v = node[k];
    if (typeof v === 'string') {
      if (!LOCAL.test(v)) refuse(`${where}.${k} = ${v}`);
    } else if (v && typeof v === 'object') {
      checkAll(v, `${where}.${k}`);
    }
  }
}

const ex = new ccxt.pro.binance({ enableRateLimit: false });
localise(ex.urls.api);
ex.urls.api.ws.spot = wsBase + '/ws';
ex.urls.api.public = httpBase + '/api/v3';
ex.urls.api.v3 = httpBase + '/api/v3';
for (const k of Object.keys(ex.urls)) {
  if (k !== 'api') delete ex.urls[k]; // test/demo/www/doc links: nothing the client needs
}
checkAll(ex.urls, 'urls');
ex.stream = () => ''; // one connection on /ws/ (qf-venue has no numbered stream shards)
const client = ex.client.bind(ex);
let frameAt = 0n; // when the client's onMessage got the raw frame (before its JSON.parse)
ex.client = (url) => {
  if (!LOCAL.test(url)) refuse(url);
  const c = client(url);
  if (!c.qfTimed) { // onMessage is bound when the client connects, so the wrapper is what runs
    const onMessage = c.onMessage;
    c.onMessage = function (ev) { frameAt = process.hrtime.bigint(); return onMessage.call(this, ev); };
    c.qfTimed = true;
  }
  return c;
};
const fetch = ex.fetch.bind(ex);
ex.fetch = (url, ...rest) => { if (!LOCAL.test(url)) refuse(url); return fetch(url, ...rest); };
// The markets, so loadMarkets makes no exchangeInfo request.
ex.setMarkets(symbols.map((id) => {
  const base = id.replace(/USDT$/, ''), quote = 'USDT';
  return { id, lowercaseId: id.toLowerCase(), symbol: `${base}/${quote}`, base, quote, baseId: base, quoteId: quote,
           type: 'spot', spot: true, margin: false, swap: false, future: false, option: false, contract: false,
           active: true, precision: { amount: 1e-8, price: 0.01 }, limits: { amount: {}, price: {}, cost: {} }, info: {} };
}));

const frames = [], handles = []; // frame received -> book updated; handleMessage alone (JSON already parsed)
let measuring = false;
const handle = ex.handleMessage.bind(ex);
ex.handleMessage = (c, message) => {
  const t0 = process.hrtime.bigint();
  const r = handle(c, message);
  const t1 = process.hrtime.bigint();
  if (measuring && message && message.e === 'depthUpdate') {
    handles.push(Number(t1 - t0));
    if (frameAt !== 0n) frames.push(Number(t1 - frameAt));
  }
  return r;
};

function q(sorted, p) { return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : 0; }

(async () => {
  await ex.loadHttpProxyAgent(); // ccxt wants an http agent for plain ws:// (no proxy is set)
  const live = new Set();
  let stop = false;
  const loops = symbols.map(async (id) => {
    const sym = ex.markets_by_id[id][0].symbol;
    while (!stop) {
      await ex.watchOrderBook(sym);
      live.add(sym);
    }
  });
  const t0 = Date.now();
  while (live.size < symbols.length) {
    if (Date.now() - t0 > 60000) { console.error('ccxt_peer: books not live after 60 s'); process.exit(4); }
    await new Promise((r) => setTimeout(r, 50));
  }
  measuring = true;
  await new Promise((r) => setTimeout(r, Number(secondsArg) * 1000));
  measuring = false;
  stop = true;
  const s = frames.slice().sort((a, b) => a - b);
  const h = handles.slice().sort((a, b) => a - b);
  console.log(JSON.stringify({ messages: s.length, p50_ns: q(s, 0.5), p90_ns: q(s, 0.9), p99_ns: q(s, 0.99),
                               p999_ns: q(s, 0.999), max_ns: s.length ? s[s.length - 1] : 0,
                               handle_p50_ns: q(h, 0.5), handle_p99_ns: q(h, 0.99),
                               ccxt: ccxt.version, ws_url: ex.urls.api.ws.spot, rest_url: ex.urls.api.public }));
  process.exit(0);
  await Promise.race(loops);
})().catch((e) => { console.error(`ccxt_peer: ${e && e.stack || e}`); process.exit(5); });
