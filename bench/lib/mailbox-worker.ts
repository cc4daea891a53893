/**
 * One sender or owner process of bench/mailbox.ts (forked by it): its own libp2p node, event
 * loop and CPU, as a user's node has, so the mailbox process measures only the mailbox. It
 * answers the bench's commands over IPC (mailbox-protocol.ts):
 * - prepare: fresh nodes (new PeerIds, so per-sender quotas start empty: one PeerId may hold
 *   at most MAX_ENVELOPES_PER_SENDER, which one fast sender passes in a run) dialled to the mailbox;
 * - put: puts 2 KiB envelopes for `ms`, singly (8 streams at a time, /1 as older nodes do) or
 *   through the batching path senders use (PutCoalescer, `inFlight` puts outstanding);
 * - fetch: the owners fetch and ack all they hold, on one stream per owner (OwnerChannel).
 * It exits when the bench goes away.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { deriveIdentity } from '../../node/identity/keys.js'
import { createSottoLibp2p, type SottoLibp2p } from '../../node/net/libp2p.js'
import { mailboxKeyFor, signOwnerProof } from '../../node/net/mailbox/proof.js'
import { OwnerChannel, putEnvelope, type ProofSigner } from '../../node/net/mailbox/protocol.js'
import { PutCoalescer } from '../../node/net/mailbox/put-coalescer.js'
import type { MailboxBenchCommand, MailboxBenchReply, MailboxBenchRequest } from './mailbox-protocol.js'

const ENVELOPE_BYTES = 2048
const SINGLE_STREAMS = 8
const TTL_MS = 3_600_000
const INDEX = Number(process.env.BENCH_WORKER ?? '0')

let nodes: SottoLibp2p[] = []
let serial = 0

const owners = (count: number): ReturnType<typeof deriveIdentity>[] => Array.from({ length: count }, (_, i) => deriveIdentity(new Uint8Array(16).fill(i + 1)))

function need (): SottoLibp2p[] {
  if (nodes.length === 0) throw new Error('prepare first')
  return nodes
}

/** A distinct envelope: this worker, a serial number, zeros up to the smallest padding bucket. */
function envelope (): Uint8Array {
  const e = new Uint8Array(ENVELOPE_BYTES)
  const v = new DataView(e.buffer)
  v.setUint32(0, INDEX)
  v.setUint32(4, serial++)
  v.setUint32(8, process.pid)
  return e
}

async function put (command: Extract<MailboxBenchCommand, { cmd: 'put' }>): Promise<{ stored: number, refused: Record<string, number> }> {
  const senders = need().map((libp2p) => ({ libp2p, coalescer: new PutCoalescer(libp2p) }))
  const peer = peerIdFromString(command.peer)
  const boxes = owners(command.owners).map((o) => mailboxKeyFor(o.dhPublicKey))
  const refused: Record<string, number> = {}
  let stored = 0
  const start = performance.now()
  const loop = async (_: unknown, n: number): Promise<void> => {
    const { libp2p, coalescer } = senders[n % senders.length]
    while (performance.now() - start < command.ms) {
      const item = { mailbox: boxes[serial % boxes.length], envelope: envelope(), ttlMs: TTL_MS }
      const r = command.mode === 'single'
        ? await putEnvelope(libp2p, peer, item.mailbox, item.envelope, item.ttlMs)
        : await coalescer.put(peer, item)
      if (r.ok) stored++
      else refused[r.error] = (refused[r.error] ?? 0) + 1
    }
  }
  await Promise.all(Array.from({ length: command.mode === 'single' ? SINGLE_STREAMS : command.inFlight }, loop))
  return { stored, refused }
}

async function fetchAll (command: Extract<MailboxBenchCommand, { cmd: 'fetch' }>): Promise<{ fetched: number, ms: number }> {
  const libp2p = need()[0]
  const peer = peerIdFromString(command.peer)
  let fetched = 0
  const start = performance.now()
  for (const owner of owners(command.owners)) {
    const sign: ProofSigner = (op, mailboxPeer, nonce) => signOwnerProof({ op, signingSeed: owner.signingSeed, signingPublicKey: owner.signingPublicKey, dhPublicKey: owner.dhPublicKey, mailboxPeer, nonce, now: Date.now() })
    const channel = new OwnerChannel(libp2p, peer, sign)
    try {
      for (;;) {
        const page = await channel.fetch()
        if (!page.ok) throw new Error(`fetch failed: ${page.error}`)
        if (page.envelopes.length === 0) break
        fetched += page.envelopes.length
        await channel.ack(page.envelopes.map((h) => h.id))
      }
    } finally {
      await channel.close()
    }
  }
  return { fetched, ms: performance.now() - start }
}

async function handle (command: MailboxBenchCommand): Promise<unknown> {
  switch (command.cmd) {
    case 'prepare':
      await Promise.all(nodes.map(async (n) => { await n.stop() }))
      nodes = await Promise.all(Array.from({ length: command.peers }, async () => {
        const n = await createSottoLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], validate: () => {}, select: () => 0 })
        await n.dial(multiaddr(command.addr))
        return n
      }))
      return null
    case 'put':
      return await put(command)
    case 'fetch':
      return await fetchAll(command)
    case 'exit':
      await Promise.all(nodes.map(async (n) => { await n.stop() })).catch(() => {})
      setImmediate(() => process.exit(0))
      return null
  }
}

process.on('disconnect', () => { process.exit(3) })
process.on('message', (raw: unknown) => {
  const request = raw as MailboxBenchRequest
  const reply = (r: MailboxBenchReply): void => { if (process.connected) process.send?.(r) }
  handle(request.command).then(
    (result) => { reply({ id: request.id, ok: true, result: result ?? null }) },
    (err: unknown) => { reply({ id: request.id, ok: false, error: String((err as Error)?.stack ?? err) }) }
  )
})

if (process.send === undefined) {
  process.stderr.write('mailbox-worker: run by bench/mailbox.ts (child_process.fork), not directly\n')
  process.exit(1)
}
