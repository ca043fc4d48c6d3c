// A stand-in for Microsoft Entra ID and the managed-identity endpoints, on loopback, for tests:
// it issues access tokens that Azurite (--oauth basic) accepts, for each way ferry signs in.
//
//   node token_server.mjs [--cert CERT --key KEY] [--lifetime S] [--audience A] [--stats FILE]
//                         [--client-id ID] [--client-secret SECRET] [--assertion-file F]
//                         [--client-cert PEM] [--arc-key-folder DIR [--arc-realm PATH]]
//   node token_server.mjs --print-cli-token TENANT [--lifetime S]   (see below)
//
// Serves, over https (the authority, AZURE_AUTHORITY_HOST):
//   POST /TENANT/oauth2/v2.0/token   client credentials: client_secret (must equal
//        --client-secret), or a client_assertion: the federated token in --assertion-file
//        (workload identity), or a JWT signed RS256 by the key of --client-cert (a certificate)
// and over plain http (as the real ones are, on the machine itself):
//   GET /metadata/identity/oauth2/token   IMDS (header Metadata: true)
//   GET /msi/token                        App Service (header X-IDENTITY-HEADER)
//   GET /arc/token                        Azure Arc's agent (header Metadata: true): without
//        Authorization, a 401 whose WWW-Authenticate names a new key file written into
//        --arc-key-folder (or names --arc-realm, as a rogue agent would); with
//        "Authorization: Basic KEY" where KEY is that file's content, a token
// Without --cert, only the plain http server runs (https_port is 0).
//
// Prints {"https_port": N, "http_port": M} on stdout once listening. On SIGTERM writes
// {"issued": {KIND: N}, "refused": N, "requests": [{kind, scope, client_id}]} to --stats and
// exits. Tokens are unsigned JWTs (Azurite checks issuer, audience and times, not signatures)
// living --lifetime seconds (default 3600).
import https from 'node:https';
import http from 'node:http';
import fs from 'node:fs';
import crypto from 'node:crypto';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((pairs, arg, i, all) => {
    if (arg.startsWith('--')) pairs.push([arg.slice(2), all[i + 1]]);
    return pairs;
  }, []));
const lifetime = Number(args.lifetime ?? 3600);
const audience = args.audience ?? 'https://storage.azure.com';
const identityHeader = 'test-identity-header';
const stats = { issued: {}, refused: 0, requests: [] };
const arcKeys = new Set();

const b64url = (data) => Buffer.from(data).toString('base64url');

function accessToken(tenant, clientId) {
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'RS256', typ: 'JWT' };
  const claims = {
    aud: audience, iss: `https://sts.windows.net/${tenant}/`, iat: now - 1, nbf: now - 1,
    exp: now + lifetime, appid: clientId, oid: clientId, tid: tenant, ver: '1.0',
  };
  return `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}.c2lnbmF0dXJl`;
}

function answer(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

function refuse(res, status, error, description) {
  stats.refused++;
  answer(res, status, { error, error_description: description });
}

function issue(res, kind, tenant, clientId, scope, style) {
  stats.issued[kind] = (stats.issued[kind] ?? 0) + 1;
  stats.requests.push({ kind, scope, client_id: clientId });
  const token = accessToken(tenant, clientId);
  const expiresOn = Math.floor(Date.now() / 1000) + lifetime;
  if (style === 'entra') {
    answer(res, 200, { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: token });
  } else {  // managed identity: strings, as the service sends them
    answer(res, 200, { access_token: token, expires_on: String(expiresOn), expires_in: String(lifetime),
      resource: scope, token_type: 'Bearer', client_id: clientId });
  }
}

// A JWT client assertion signed by the certificate's key: header, claims and signature checked.
function checkCertificateAssertion(assertion, tenant, clientId) {
  const [h, c, s] = assertion.split('.');
  if (!s) return 'not a JWT';
  const header = JSON.parse(Buffer.from(h, 'base64url'));
  const claims = JSON.parse(Buffer.from(c, 'base64url'));
  if (header.alg !== 'RS256') return `alg ${header.alg}`;
  const cert = new crypto.X509Certificate(fs.readFileSync(args['client-cert']));
  const thumbprint = Buffer.from(cert.fingerprint.replaceAll(':', ''), 'hex').toString('base64url');
  if (header.x5t !== thumbprint) return 'x5t is not the certificate\'s SHA-1 thumbprint';
  const ok = crypto.verify('RSA-SHA256', Buffer.from(`${h}.${c}`), cert.publicKey, Buffer.from(s, 'base64url'));
  if (!ok) return 'bad signature';
  if (claims.iss !== clientId || claims.sub !== clientId) return 'iss/sub are not the client id';
  if (!String(claims.aud).endsWith(`/${tenant}/oauth2/v2.0/token`)) return `aud ${claims.aud}`;
  const now = Date.now() / 1000;
  if (!(claims.exp > now) || !(claims.nbf <= now + 5)) return 'expired assertion';
  if (!claims.jti) return 'no jti';
  return '';
}

function authority(req, res) {
  const match = req.url.match(/^\/([^/]+)\/oauth2\/v2\.0\/token$/);
  if (req.method !== 'POST' || !match) return refuse(res, 404, 'not_found', req.url);
  let body = '';
  req.on('data', (chunk) => { body += chunk; });
  req.on('end', () => {
    const form = new URLSearchParams(body);
    const tenant = match[1];
    const clientId = form.get('client_id');
    const scope = form.get('scope');
    if (form.get('grant_type') !== 'client_credentials') return refuse(res, 400, 'unsupported_grant_type', '');
    if (args['client-id'] && clientId !== args['client-id']) {
      return refuse(res, 400, 'unauthorized_client', `AADSTS700016: Application with identifier '${clientId}' was not found.`);
    }
    if (form.has('client_secret')) {
      if (form.get('client_secret') !== args['client-secret']) {
        return refuse(res, 401, 'invalid_client', 'AADSTS7000215: Invalid client secret provided.');
      }
      return issue(res, 'secret', tenant, clientId, scope, 'entra');
    }
    const assertion = form.get('client_assertion');
    if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer' || !assertion) {
      return refuse(res, 400, 'invalid_request', 'no client credential');
    }
    if (args['assertion-file'] && assertion === fs.readFileSync(args['assertion-file'], 'utf8').trim()) {
      return issue(res, 'workload', tenant, clientId, scope, 'entra');
    }
    if (args['client-cert']) {
      const problem = checkCertificateAssertion(assertion, tenant, clientId);
      if (!problem) return issue(res, 'certificate', tenant, clientId, scope, 'entra');
      return refuse(res, 401, 'invalid_client', `AADSTS700027: Client assertion failed: ${problem}.`);
    }
    return refuse(res, 401, 'invalid_client', 'AADSTS700024: Client assertion is not within its valid time range.');
  });
}

function managedIdentity(req, res) {
  const url = new URL(req.url, 'http://localhost');
  const resource = url.searchParams.get('resource');
  const clientId = url.searchParams.get('client_id') ?? 'system-assigned';
  if (url.pathname === '/metadata/identity/oauth2/token') {
    if (req.headers.metadata !== 'true') return refuse(res, 400, 'invalid_request', 'Required metadata header not specified');
    return issue(res, 'imds', 'managed-tenant', clientId, resource, 'msi');
  }
  if (url.pathname === '/arc/token' && args['arc-key-folder']) {
    if (req.headers.metadata !== 'true') return refuse(res, 400, 'invalid_request', 'Required metadata header not specified');
    const authorization = req.headers.authorization;
    stats.requests.push({ kind: 'arc', authorization: authorization ?? null });
    if (!authorization) {
      const key = crypto.randomBytes(32).toString('hex');
      const file = `${args['arc-key-folder']}/${crypto.randomUUID()}.key`;
      fs.writeFileSync(file, key, { mode: 0o600 });
      arcKeys.add(key);
      res.writeHead(401, { 'WWW-Authenticate': `Basic realm=${args['arc-realm'] ?? file}`, 'Content-Length': 0 });
      return res.end();
    }
    if (!authorization.startsWith('Basic ') || !arcKeys.delete(authorization.slice(6))) {
      return refuse(res, 401, 'unauthorized', 'bad key');
    }
    if (clientId !== 'system-assigned') return refuse(res, 400, 'invalid_request', 'Arc has no user-assigned identity');
    return issue(res, 'arc', 'managed-tenant', clientId, resource, 'msi');
  }
  if (url.pathname === '/msi/token') {
    if (req.headers['x-identity-header'] !== identityHeader) return refuse(res, 401, 'unauthorized', 'bad X-IDENTITY-HEADER');
    return issue(res, 'app-service', 'managed-tenant', clientId, resource, 'msi');
  }
  return refuse(res, 404, 'not_found', req.url);
}

// As the Azure CLI: `node token_server.mjs --print-cli-token TENANT` prints what
// `az account get-access-token` prints, and exits.
if (args['print-cli-token']) {
  const expiresOn = Math.floor(Date.now() / 1000) + lifetime;
  const local = new Date(expiresOn * 1000);
  const pad = (n) => String(n).padStart(2, '0');
  process.stdout.write(`${JSON.stringify({
    accessToken: accessToken(args['print-cli-token'], 'azure-cli-user'),
    expiresOn: `${local.getFullYear()}-${pad(local.getMonth() + 1)}-${pad(local.getDate())} ` +
      `${pad(local.getHours())}:${pad(local.getMinutes())}:${pad(local.getSeconds())}.000000`,
    expires_on: expiresOn, subscription: 'test', tenant: args['print-cli-token'], tokenType: 'Bearer',
  }, null, 2)}\n`);
  process.exit(0);
}

const secure = args.cert
  ? https.createServer({ cert: fs.readFileSync(args.cert), key: fs.readFileSync(args.key) }, authority)
  : null;
const plain = http.createServer(managedIdentity);
const announce = () => process.stdout.write(`${JSON.stringify({
  https_port: secure ? secure.address().port : 0, http_port: plain.address().port, identity_header: identityHeader,
})}\n`);
plain.listen(0, '127.0.0.1', () => {
  if (secure) secure.listen(0, '127.0.0.1', announce);
  else announce();
});
process.on('SIGTERM', () => {
  if (args.stats) fs.writeFileSync(args.stats, JSON.stringify(stats));
  process.exit(0);
});
