// verify is the README's Node example: rawBody is the request body as
// received (a Buffer), headers the request's headers (lower-case names).
const crypto = require('crypto');

function verify(secret, headers, rawBody) {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const id = headers['webhook-id'], ts = headers['webhook-timestamp'];
  if (!id || !ts || Math.abs(Date.now() / 1000 - Number(ts)) > 300) return false;
  const want = 'v1,' + crypto.createHmac('sha256', key).update(`${id}.${ts}.`).update(rawBody).digest('base64');
  return (headers['webhook-signature'] || '').split(' ').some(
    (s) => s.length === want.length && crypto.timingSafeEqual(Buffer.from(s), Buffer.from(want)));
}

// Called by the Go test: argv = secret, id, timestamp, signature, body (base64).
const [secret, id, ts, sig, body] = process.argv.slice(2);
const ok = verify(secret, { 'webhook-id': id, 'webhook-timestamp': ts, 'webhook-signature': sig }, Buffer.from(body, 'base64'));
process.stdout.write(ok ? 'valid' : 'invalid');
