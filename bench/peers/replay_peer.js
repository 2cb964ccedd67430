// The peers of `qf-engine replay`, in-process: one Binance spot capture fed through a peer's own
// Binance handlers, as many passes as asked, then its final top of book.
//   node replay_peer.js ccxt|tardis CAPTURE [LOOPS]      (CAPTURE plain or .gz; LOOPS default 1)
// Prints one JSON line: {"peer","version","messages","seconds","messages_per_s","best_bid",
// "best_bid_qty","best_ask","best_ask_qty"}. `seconds` times the handler calls only: the file is
// read, gunzipped and split into lines before the clock starts (ours reads inside its timing).
// Nothing here opens a socket or makes a request: ccxt's REST call is answered from the capture.
//
// The exact calls, per capture line (`<recv_ns> <payload>`, `#` lines skipped):
//  ccxt 4.5.84 (ccxt.pro.binance): JSON.parse(payload), then
//    - a combined-stream frame: ex.handleMessage(client, message) (its dispatch: depthUpdate ->
//      handleOrderBook, which buffers into orderbook.cache until the book has a nonce; trade ->
//      handleTrade; bookTicker -> handleBidsAsks);
//    - the inline REST snapshot (`{"lastUpdateId":..}`): its snapshot path,
//      ex.fetchOrderBookSnapshot(client, message, subscription), whose fetchRestOrderBookSafe ->
//      fetchOrderBook -> fetch is answered with that snapshot body; it resets the book and unrolls
//      the buffered deltas exactly as live.
//    The book: ex.orderbooks['BTC/USDT'] = ex.orderBook({}, 1000), as watchOrderBook creates it.
//    Between passes the book is recreated (a fresh subscription).
//  tardis-dev 13.35.3: JSON.parse(payload), then for each of normalizeTrades('binance', t),
//    normalizeBookChanges('binance', t), normalizeBookTickers('binance', t) (t = the first line's
//    receive time as a Date): if mapper.canHandle(message), every item of
//    mapper.map(message, localTimestamp) is taken, and each book_change goes to
//    new OrderBook().update(change). The inline snapshot is given as tardis records it:
//    {stream: '<symbol>@depthSnapshot', generated: true, data: <snapshot>}. Between passes
//    mappers and book are recreated.
'use strict';
const fs = require('fs');
const zlib = require('zlib');
const path = require('path');

const [peer, capture, loopsArg] = process.argv.slice(2);
const loops = Math.max(1, Number(loopsArg || 1));
if (!['ccxt', 'tardis'].includes(peer) || !capture) {
  console.error('usage: node replay_peer.js ccxt|tardis CAPTURE [LOOPS]');
  process.exit(2);
}

function readLines(file) {
  let bytes = fs.readFileSync(file);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = zlib.gunzipSync(bytes);
  const records = [];
  for (const line of bytes.toString('utf8').split('\n')) {
    if (line === '' || line[0] === '#') continue;
    const space = line.indexOf(' ');
    records.push({ recvNs: BigInt(line.slice(0, space)), payload: line.slice(space + 1) });
  }
  return records;
}

const SNAPSHOT = '{"lastUpdateId"';

function depthSymbol(records) { // the capture's only depth-subscribed stream owns its inline snapshot
  for (const r of records) {
    const m = /^\{"stream":"([a-z0-9]+)@depth/.exec(r.payload);
    if (m) return m[1];
  }
  throw new Error('no depth stream in the capture');
}

async function runCcxt(records) {
  const ccxt = require('ccxt');
  const ex = new ccxt.pro.binance({ enableRateLimit: false });
  const id = depthSymbol(records).toUpperCase();
  const base = id.replace(/USDT$/, ''), symbol = `${base}/USDT`;
  ex.setMarkets([{ id, lowercaseId: id.toLowerCase(), symbol, base, quote: 'USDT', baseId: base, quoteId: 'USDT',
                   type: 'spot', spot: true, margin: false, swap: false, future: false, option: false,
                   contract: false, active: true, precision: { amount: 1e-8, price: 0.01 },
                   limits: { amount: {}, price: {}, cost: {} }, info: {} }]);
  let snapshotBody = null;
  ex.fetch = async () => { // the REST depth request of the snapshot path: the capture's body
    if (snapshotBody === null) throw new Error('ccxt asked for a snapshot the capture has not reached');
    return snapshotBody;
  };
  // A client object only (never connected); '/stream' makes isSpotUrl true, as on a combined stream.
  const client = ex.client('wss://127.0.0.1:9/stream');
  const subscription = { symbol, type: 'spot', limit: 1000, params: {} };
  let messages = 0;
  const t0 = process.hrtime.bigint();
  for (let loop = 0; loop < loops; ++loop) {
    ex.orderbooks[symbol] = ex.orderBook({}, 1000);
    for (const r of records) {
      const message = JSON.parse(r.payload);
      ++messages;
      if (r.payload.startsWith(SNAPSHOT)) {
        snapshotBody = message;
        await ex.fetchOrderBookSnapshot(client, message, subscription);
      } else {
        ex.handleMessage(client, message);
      }
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const book = ex.orderbooks[symbol];
  return { version: ccxt.version, messages, seconds, bid: book.bids[0], ask: book.asks[0] };
}

async function runTardis(records) {
  const tardis = require('tardis-dev');
  const version = require(path.join(path.dirname(require.resolve('tardis-dev')), '..', 'package.json')).version;
  const sym = depthSymbol(records);
  const firstDate = new Date(Number(records[0].recvNs / 1000000n));
  let messages = 0;
  let book = null;
  const t0 = process.hrtime.bigint();
  for (let loop = 0; loop < loops; ++loop) {
    const mappers = [tardis.normalizeTrades('binance', firstDate), tardis.normalizeBookChanges('binance', firstDate),
                     tardis.normalizeBookTickers('binance', firstDate)];
    book = new tardis.OrderBook();
    for (const r of records) {
      let message = JSON.parse(r.payload);
      ++messages;
      if (r.payload.startsWith(SNAPSHOT)) {
        message = { stream: `${sym}@depthSnapshot`, generated: true, data: message };
      }
      const localTimestamp = new Date(Number(r.recvNs / 1000000n));
      for (const mapper of mappers) {
        if (!mapper.canHandle(message)) continue;
        for (const item of mapper.map(message, localTimestamp)) {
          if (item.type === 'book_change') book.update(item);
        }
      }
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const bid = book.bestBid(), ask = book.bestAsk();
  return { version, messages, seconds, bid: bid && [bid.price, bid.amount], ask: ask && [ask.price, ask.amount] };
}

(async () => {
  const records = readLines(capture);
  const r = peer === 'ccxt' ? await runCcxt(records) : await runTardis(records);
  const [bid, bidQty] = r.bid || [null, null];
  const [ask, askQty] = r.ask || [null, null];
  console.log(JSON.stringify({ peer, version: r.version, messages: r.messages, seconds: r.seconds,
                               messages_per_s: r.messages / r.seconds, best_bid: bid, best_bid_qty: bidQty,
                               best_ask: ask, best_ask_qty: askQty }));
  process.exit(0); // ccxt keeps timers (its client's ping machinery) alive
})().catch((e) => { console.error(`replay_peer ${peer}: ${e && e.stack || e}`); process.exit(5); });
