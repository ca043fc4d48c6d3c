// A real S3 server for tests: s3rver (pinned in package.json) on a free loopback port, storing
// into a folder of the test's, checking Signature V4 with the key pair S3RVER / S3RVER.
//
//   node --openssl-legacy-provider s3_server.mjs --dir DIR --bucket NAME [--requests FILE]
//
// (s3rver makes ListObjectsV2 continuation tokens with DES, which OpenSSL 3 keeps in its legacy
// provider: without the flag, any listing of more than one page fails with an internal error.)
//
// Prints {"port": N} once listening. On SIGTERM writes every request it received, as
// [{"method", "url", "user_agent"}], to --requests (to prove a source was only ever read) and exits.
import fs from 'node:fs';
import S3rver from 's3rver';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith('--')) pairs.push([arg.slice(2), all[i + 1]]);
    return pairs;
  }, []));
const requests = [];
const server = new S3rver({
  port: 0, address: '127.0.0.1', silent: true, directory: args.dir,
  configureBuckets: [{ name: args.bucket }],
});
const address = await server.run();
server.httpServer.on('request', (req) => requests.push({
  method: req.method, url: req.url, user_agent: req.headers['user-agent'] ?? '',
}));
process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
process.on('SIGTERM', () => {
  if (args.requests) fs.writeFileSync(args.requests, JSON.stringify(requests));
  process.exit(0);
});
