// NowPayments' documented IPN signer, run by Node to check TelePay's verifier against JavaScript itself.
// Reads one JSON line per body, {"secret": "...", "wire": "<the JSON text sent>"}, and writes one JSON
// line per body: {"text": JSON.stringify(sortObject(JSON.parse(wire))), "signature": <hex HMAC-SHA512>}.
'use strict';
const crypto = require('crypto');
const readline = require('readline');

// As in NowPayments' documentation.
function sortObject(obj) {
  return Object.keys(obj).sort().reduce((result, key) => {
    result[key] = (obj[key] && typeof obj[key] === 'object') ? sortObject(obj[key]) : obj[key];
    return result;
  }, {});
}

const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on('line', (line) => {
  if (!line) return;
  const { secret, wire } = JSON.parse(line);
  const text = JSON.stringify(sortObject(JSON.parse(wire)));
  const hmac = crypto.createHmac('sha512', secret);
  hmac.update(text);
  process.stdout.write(JSON.stringify({ text, signature: hmac.digest('hex') }) + '\n');
});
