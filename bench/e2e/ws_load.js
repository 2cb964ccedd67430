// WebSocket load for the e2e latency benchmark (node, `ws` from node_modules).
//   node ws_load.js URL N
// Opens N clients, each subscribed to quotes, signals, health and latency of every instrument
// (the gateway pushes at its configured rate, 20 Hz by default). Prints {"ready":N} once every
// client is subscribed, then on SIGTERM or stdin EOF one JSON line with what the clients received.
'use strict';
const WebSocket = require('ws');
const [url, n] = process.argv.slice(2);
const N = Number(n);
let subscribed = 0, updates = 0, bytes = 0, errors = 0, closed = 0;
const t0 = process.hrtime.bigint();
const sockets = [];
for (let i = 0; i < N; ++i) {
  const ws = new WebSocket(url);
  sockets.push(ws);
  ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', channels: ['quotes', 'signals', 'health', 'latency'], instruments: ['*'] })));
  ws.on('message', (data) => {
    const m = JSON.parse(data);
    if (m.type === 'subscribed' && ++subscribed === N) console.log(JSON.stringify({ ready: N }));
    else if (m.type === 'update') { ++updates; bytes += data.length; }
  });
  ws.on('error', () => { ++errors; });
  ws.on('close', () => { ++closed; });
}
const finish = () => {
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(JSON.stringify({ clients: N, subscribed, updates, bytes, errors, closed, seconds: secs,
                               updates_per_client_per_s: updates / N / secs }));
  process.exit(0);
};
process.on('SIGTERM', finish);
process.stdin.on('end', finish);
process.stdin.resume();
