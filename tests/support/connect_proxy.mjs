// A forward proxy for https (HTTP CONNECT) on loopback, for tests of HTTPS_PROXY: it tunnels
// every CONNECT to its host and port and records which it saw.
//
//   node connect_proxy.mjs STATS_FILE
//
// Prints {"port": N} on stdout once listening; on SIGTERM writes {"connects": ["HOST:PORT", ...]}
// to STATS_FILE and exits.
import http from 'node:http';
import net from 'node:net';
import fs from 'node:fs';

const stats = { connects: [] };
const server = http.createServer((req, res) => {
  res.writeHead(405);
  res.end();
});
server.on('connect', (req, client, head) => {
  stats.connects.push(req.url);
  const colon = req.url.lastIndexOf(':');
  const upstream = net.connect(Number(req.url.slice(colon + 1)), req.url.slice(0, colon), () => {
    client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    upstream.write(head);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  upstream.on('error', () => client.destroy());
  client.on('error', () => upstream.destroy());
});
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});
process.on('SIGTERM', () => {
  fs.writeFileSync(process.argv[2], JSON.stringify(stats));
  process.exit(0);
});
