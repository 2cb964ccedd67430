// One WebSocket subscriber for stack_test.py (node, `ws` from node_modules).
//   node ws_quotes.js URL N     subscribe to quotes of every instrument; succeed on the first
//                               update that carries N quotes, each with a bid and an ask
// Prints one JSON line with what it received; exits 1 with a reason on failure or after 60 s.
'use strict';
const WebSocket = require('ws');
const [url, n] = process.argv.slice(2);
const fail = (why) => { console.log(JSON.stringify({ ok: false, why })); process.exit(1); };
const deadline = setTimeout(() => fail('no update with every quote within 60 s'), 60000);
const ws = new WebSocket(url);
let updates = 0;
ws.on('open', () => ws.send(JSON.stringify({ op: 'subscribe', channels: ['quotes', 'health'], instruments: ['*'] })));
ws.on('message', (data) => {
  const m = JSON.parse(data);
  if (m.type === 'error') fail(`error reply ${data}`);
  if (m.type !== 'update' || !Array.isArray(m.quotes)) return;
  ++updates;
  if (m.quotes.length !== Number(n) || m.quotes.some((q) => q.bid === null || q.ask === null)) return;
  clearTimeout(deadline);
  console.log(JSON.stringify({ ok: true, updates, mode: m.mode, engine: m.engine,
                               keys: m.quotes.map((q) => q.key).sort() }));
  ws.close();
});
ws.on('close', () => process.exit(0));
ws.on('error', (e) => fail(`error ${e}`));
