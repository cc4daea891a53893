// Runs inside a network namespace (see test/net/mdns.test.ts): two Sotto nodes with mDNS on
// and no bootstrap find each other on the namespace's loopback and chat.
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startSottoNode } from '../../dist/node/daemon/sotto-node.js'
import { silentLogger } from '../../dist/node/log.js'

const base = { listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], mdns: true, apiPort: 0, logger: silentLogger, kdf: { name: 'scrypt', logN: 15, r: 8, p: 1 } }
const t0 = Date.now()
const a = await startSottoNode({ ...base, dataDir: join(await mkdtemp(join(tmpdir(), 'mdns-')), 'a') })
const b = await startSottoNode({ ...base, dataDir: join(await mkdtemp(join(tmpdir(), 'mdns-')), 'b') })
await a.controller.createAccount('mdns passphrase')
const bob = (await b.controller.createAccount('mdns passphrase')).sessionId
const deadline = Date.now() + 20_000
let found = -1
while (Date.now() < deadline) {
  if ((await a.controller.status()).peers > 0 && found < 0) found = Date.now() - t0
  if ((await b.controller.status()).dht.recordPublished) break
  await new Promise((r) => setTimeout(r, 20))
}
const sent = await a.controller.messenger().send(bob, 'found you on the LAN')
let text
while (Date.now() < deadline) {
  text = (await b.controller.messenger().log.inbox(0))[0]?.text
  if (text !== undefined) break
  await new Promise((r) => setTimeout(r, 20))
}
process.stdout.write(JSON.stringify({ discoveredMs: found, state: sent.state, text }) + '\n')
await a.stop()
await b.stop()
process.exit(0)
