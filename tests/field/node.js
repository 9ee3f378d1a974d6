// A Node.js workload for the field tests: the event loop (libuv: epoll, eventfd, its thread
// pool) with timers, promises, crypto hashing in the thread pool and file reads, checkpointed
// while it runs. Progress to stderr; the result, printed at the end, to stdout. Deterministic.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const rounds = Number(process.argv[2]);
const file = process.argv[3];

function pbkdf(i) {
    return new Promise((ok, ko) => crypto.pbkdf2('pw' + i, 'salt', 2000, 32, 'sha256',
        (e, k) => e ? ko(e) : ok(k.toString('hex'))));
}
function tick() { return new Promise((ok) => setTimeout(ok, 1)); }

async function main() {
    let acc = crypto.createHash('sha256');
    const m = new Map();
    for (let i = 0; i < rounds; i++) {
        const keys = await Promise.all([pbkdf(4 * i), pbkdf(4 * i + 1), pbkdf(4 * i + 2), pbkdf(4 * i + 3)]);
        const data = await fs.promises.readFile(file);
        acc.update(keys.join(',')).update(data.subarray(i % data.length));
        m.set('k' + (i % 977), (m.get('k' + (i % 977)) || 0) + keys[0].charCodeAt(3));
        if (i % 10 === 0) await tick();
        if (i % 50 === 0) process.stderr.write(`progress: ${i}\n`);
    }
    let s = 0;
    for (const [k, v] of [...m.entries()].sort()) s = (s * 31 + v + k.length) % 1000000007;
    process.stdout.write(`rounds ${rounds} map ${m.size} sum ${s} hash ${acc.digest('hex')}\n`);
}
main().catch((e) => { console.error(e); process.exit(1); });
