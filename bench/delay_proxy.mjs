// An HTTP proxy that holds every request for a delay before passing it on: a WAN round trip in
// front of a loopback emulator. GET /__delay/MS sets the delay (0 to pass straight through).
//
//   node delay_proxy.mjs UPSTREAM_PORT   prints {"port": N} once listening
import http from "node:http";
import { createRequire } from "node:module";
const require = createRequire(import.meta.url);

const upstream = Number(process.argv[2]);
let delay = 0;
const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const server = http.createServer((req, res) => {
  const set = /^\/__delay\/(\d+)$/.exec(req.url);
  if (set) {
    delay = Number(set[1]);
    res.end(`${delay}\n`);
    return;
  }
  if (process.env.PROXY_LOG) require("node:fs").appendFileSync(process.env.PROXY_LOG, `${Date.now()} ${req.url}\n`);
  setTimeout(() => {
    const forward = http.request({
      host: '127.0.0.1', port: upstream, method: req.method, path: req.url, headers: req.headers,
      agent,
    }, (answer) => {
      res.writeHead(answer.statusCode, answer.headers);
      answer.pipe(res);
    });
    forward.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(forward);
  }, delay);
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
