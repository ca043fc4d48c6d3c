// A fault-injecting HTTP proxy for tests: sits between ferry and Azurite and, for a seeded
// random share of the requests, answers with one of the faults a flaky network or a busy
// service produces instead of (or after) forwarding it.
//
//   node fault_proxy.mjs --upstream-port P [--rate 0.05] [--seed 1] [--stats FILE]
//                        [--faults KIND,...] [--delay MS]
//
// --delay holds every request MS milliseconds before handling it: a WAN's round trip. SIGUSR1
// turns the delay off and on again.
//
// Prints {"port": N} on stdout once listening. On SIGTERM, writes the faults injected by kind
// (and the requests seen) as JSON to --stats, then exits. The same seed gives the same sequence
// of decisions for the same sequence of arriving requests.
import http from 'node:http';
import fs from 'node:fs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith('--')) pairs.push([arg.slice(2), all[i + 1]]);
    return pairs;
  }, []));
const upstreamPort = Number(args['upstream-port']);
const rate = Number(args.rate ?? 0.05);
let seed = Number(args.seed ?? 1) >>> 0;

// mulberry32: small, seeded, good enough to pick faults.
function random() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

const FAULTS = [
  'busy-retry-after',      // 503 ServerBusy with Retry-After
  'busy',                  // 503 ServerBusy without it
  'operation-timed-out',   // 500 OperationTimedOut
  'too-many-requests',     // 429
  'reset-before-request',  // the connection dropped as the request arrives
  'reset-in-request-body', // dropped after part of the request body
  'reset-in-response',     // forwarded (so it took effect), dropped halfway through the answer
  'truncated-response',    // forwarded, the answer cut short and the connection closed
  'stalled-response',      // never answered: only the client's timeout ends it
  'headers-without-body',  // forwarded, a success whose body never arrives
];
// --faults KIND,KIND limits the faults to those kinds.
const enabled = args.faults ? args.faults.split(',') : FAULTS;
const stats = { requests: 0, faults: Object.fromEntries(FAULTS.map((f) => [f, 0])) };

const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

function errorAnswer(res, status, code, extraHeaders = {}) {
  const body = `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code>` +
    `<Message>injected by the fault proxy</Message></Error>`;
  res.writeHead(status, {
    'Content-Type': 'application/xml',
    'Content-Length': Buffer.byteLength(body),
    'x-ms-error-code': code,
    'x-ms-request-id': `fault-${stats.requests}`,
    ...extraHeaders,
  });
  res.end(body);
}

// Forwards the request and hands the whole upstream answer (status, raw headers, body) to `done`.
function forward(req, done) {
  const upstream = http.request({
    host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url,
    headers: req.headers, agent,
  }, (answer) => {
    const chunks = [];
    answer.on('data', (c) => chunks.push(c));
    answer.on('end', () => done(answer, Buffer.concat(chunks)));
  });
  upstream.on('error', () => req.socket.destroy());
  req.pipe(upstream);
}

// The upstream answer's headers, with a Content-Length for its whole body (a HEAD answer keeps
// the one it has: the size of the body it does not send).
function answerHeaders(req, answer, body) {
  const headers = [];
  for (let i = 0; i < answer.rawHeaders.length; i += 2) {
    const name = answer.rawHeaders[i];
    if (/^(connection|keep-alive|transfer-encoding)$/i.test(name)) continue;
    if (/^content-length$/i.test(name) && req.method !== 'HEAD') continue;
    headers.push([name, answer.rawHeaders[i + 1]]);
  }
  if (req.method !== 'HEAD') headers.push(['Content-Length', String(body.length)]);
  return headers;
}

// The upstream answer's status line and headers as bytes on the wire.
function serialize(req, answer, body) {
  let head = `HTTP/1.1 ${answer.statusCode} ${answer.statusMessage}\r\n`;
  for (const [name, value] of answerHeaders(req, answer, body)) head += `${name}: ${value}\r\n`;
  return `${head}\r\n`;
}

function inject(fault, req, res) {
  const socket = req.socket;
  switch (fault) {
    case 'busy-retry-after':
      req.resume();
      return req.on('end', () => errorAnswer(res, 503, 'ServerBusy', { 'Retry-After': '1' }));
    case 'busy':
      req.resume();
      return req.on('end', () => errorAnswer(res, 503, 'ServerBusy'));
    case 'operation-timed-out':
      req.resume();
      return req.on('end', () => errorAnswer(res, 500, 'OperationTimedOut'));
    case 'too-many-requests':
      req.resume();
      return req.on('end', () => errorAnswer(res, 429, 'TooManyRequests'));
    case 'reset-before-request':
      return socket.resetAndDestroy();
    case 'reset-in-request-body': {
      let seen = 0;
      req.on('data', (chunk) => {
        seen += chunk.length;
        if (seen > 0) socket.resetAndDestroy();
      });
      return req.on('end', () => socket.resetAndDestroy());  // no body at all
    }
    case 'stalled-response':
      req.resume();
      return;  // the socket stays open and silent
    default:
      break;
  }
  forward(req, (answer, body) => {
    const head = serialize(req, answer, body);
    const whole = Buffer.concat([Buffer.from(head), body]);
    if (fault === 'reset-in-response') {
      socket.write(whole.subarray(0, Math.floor(whole.length / 2)));
      socket.resetAndDestroy();
    } else if (fault === 'truncated-response') {
      const cut = body.length > 0 ? head.length + Math.floor(body.length / 2)
                                  : Math.floor(head.length / 2);
      socket.end(whole.subarray(0, cut));
    } else if (fault === 'headers-without-body') {
      if (body.length > 0) {
        socket.write(head);  // then nothing: the body never comes
      }  // an answer without a body: stalls before the headers instead
    }
  });
}

const wanted = Number(args.delay ?? 0);
let delay = wanted;
process.on('SIGUSR1', () => { delay = delay > 0 ? 0 : wanted; });
const server = http.createServer((req, res) => {
  if (delay > 0) setTimeout(() => handle(req, res), delay);
  else handle(req, res);
});

function handle(req, res) {
  stats.requests++;
  if (random() < rate) {
    const fault = enabled[Math.floor(random() * enabled.length)];
    stats.faults[fault]++;
    return inject(fault, req, res);
  }
  forward(req, (answer, body) => {
    res.writeHead(answer.statusCode, answer.statusMessage,
                  answerHeaders(req, answer, body).flat());
    res.end(body);
  });
}
server.keepAliveTimeout = 60_000;
server.requestTimeout = 0;

process.on('SIGTERM', () => {
  if (args.stats) fs.writeFileSync(args.stats, JSON.stringify(stats));
  process.exit(0);
});
server.listen(0, '127.0.0.1', () => {
  console.log(JSON.stringify({ port: server.address().port }));
});
