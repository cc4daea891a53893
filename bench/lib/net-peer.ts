/**
 * The far node of bench/net.ts in its own process (forked), as a user's node runs: its own
 * event loop, heap and core. `sotto`: a Sotto node with its own account; it tells the bench
 * its address at once ({ address }) and its Session ID once its prekey record is published
 * ({ sessionId }: the bench's node is its only peer, so it publishes once that one connects).
 * `bare`: a bare libp2p node answering `/bench/echo/1` (the floor). It exits, its data folder
 * removed, when the bench goes away.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { startSottoNode } from '../../node/daemon/sotto-node.js'
import { silentLogger } from '../../node/log.js'
import { createSottoLibp2p } from '../../node/net/libp2p.js'
import { MIN_SCRYPT } from '../../node/store/kdf.js'
import { ECHO_PROTOCOL, type NetPeerMessage } from './net-peer-protocol.js'

const dir = mkdtempSync(join(tmpdir(), 'sotto-bench-net-'))
const tell = (m: NetPeerMessage): void => { process.send?.(m) }
process.on('disconnect', () => {
  try { rmSync(dir, { recursive: true, force: true }) } catch { /* best effort */ }
  process.exit(0)
})

if (process.argv[2] === 'bare') {
  const node = await createSottoLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], validate: () => {}, select: () => 0 })
  await node.handle(ECHO_PROTOCOL, (stream: Stream) => {
    void (async () => {
      for await (const chunk of stream) {
        if (chunk.byteLength > 0) { stream.send(Uint8Array.of(1)); await stream.close(); return }
      }
    })()
  })
  tell({ address: node.getMultiaddrs()[0].toString() })
} else {
  const node = await startSottoNode({ dataDir: dir, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: [], mdns: false, apiPort: 0, logger: silentLogger, kdf: MIN_SCRYPT })
  tell({ address: node.addresses()[0] })
  const { sessionId } = await node.controller.createAccount('bench passphrase')
  while (!(await node.controller.status()).dht.recordPublished) await new Promise((resolve) => setTimeout(resolve, 20))
  tell({ sessionId: sessionId as string })
}
