/**
 * The recipient's side of the mailboxes: fetch what the k closest peers (and any connected
 * peer) hold for our mailbox key on start, on a timer and when asked, keep a subscription
 * open to each so new envelopes are pushed, hand each envelope to `receive` once (M5) and
 * ack it only after `receive` resolved, that is after the message was committed.
 */
import type { PeerId } from '@libp2p/interface'
import type { ComponentLogger } from '../../log.js'
import type { SottoLibp2p } from '../libp2p.js'
import { closestPeers, MAILBOX_REPLICAS } from './placement.js'
import { ackEnvelopes, fetchEnvelopes, subscribeEnvelopes, type ProofSigner } from './protocol.js'
import { envelopeId } from './store.js'

/** Peers asked when collecting mail: the closest ones plus connected ones, at most this many. */
export const MAX_MAILBOXES_ASKED = 20
export const MAIL_POLL_MS = 15_000
/** Envelope ids remembered as handled / refused, so a copy from a second mailbox is not opened again. */
export const MAX_REMEMBERED_HANDLED = 100_000
export const MAX_REMEMBERED_REFUSED = 10_000

/** What became of an envelope: `refused` ones stay in the mailbox (they may only be early). */
export type CollectVerdict = 'accepted' | 'duplicate' | 'refused'

export interface MailCollectorInit {
  libp2p: SottoLibp2p
  /** The mailbox key of the account (node/net/mailbox/proof.ts mailboxKeyFor). */
  mailbox: Uint8Array
  /** Signs owner proofs with the account's identity key. */
  sign: ProofSigner
  receive: (envelope: Uint8Array) => Promise<CollectVerdict>
  log: ComponentLogger
}

export class MailCollector {
  private readonly seen = new Set<string>()
  private readonly refused = new Set<string>()
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private again = false
  private readonly subscriptions = new Map<string, AbortController>()

  constructor (private readonly init: MailCollectorInit) {}

  start (): void {
    this.timer = setInterval(() => { void this.collect() }, MAIL_POLL_MS)
    this.timer.unref()
    void this.collect()
  }

  stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    for (const c of this.subscriptions.values()) c.abort()
    this.subscriptions.clear()
  }

  /** Fetches from every mailbox we can reach now; a call during a run asks for one more run after it. */
  async collect (): Promise<void> {
    if (this.running !== undefined) {
      this.again = true
      await this.running
      return
    }
    this.running = (async () => {
      do {
        this.again = false
        await this.collectOnce()
      } while (this.again)
    })().finally(() => { this.running = undefined })
    await this.running
  }

  private async collectOnce (): Promise<void> {
    const { libp2p, sign } = this.init
    const peers = await closestPeers(libp2p, this.init.mailbox, MAILBOX_REPLICAS)
    for (const p of libp2p.getPeers()) if (peers.length < MAX_MAILBOXES_ASKED && !peers.some((x) => x.equals(p))) peers.push(p)
    await Promise.all(peers.map(async (peer) => {
      try {
        const held = await fetchEnvelopes(libp2p, peer, sign)
        const done: Uint8Array[] = []
        for (const e of held) if (await this.handle(e.envelope)) done.push(e.id)
        if (done.length > 0) await ackEnvelopes(libp2p, peer, sign, done)
        this.subscribe(peer)
      } catch (err) {
        this.init.log.debug('mailbox fetch failed', { code: (err as { code?: string }).code ?? 'ERR' })
      }
    }))
  }

  /**
   * True when the envelope may be deleted from the mailbox: committed, or a duplicate. A
   * refused one stays (it may only be early, say a message before its session's first) and
   * expires there by its TTL; we do not retry it in this run.
   */
  private async handle (envelope: Uint8Array): Promise<boolean> {
    const id = Buffer.from(envelopeId(envelope)).toString('hex')
    if (this.seen.has(id)) return true
    if (this.refused.has(id)) return false
    const verdict = await this.init.receive(envelope)
    if (this.seen.size >= MAX_REMEMBERED_HANDLED) this.seen.clear()
    if (this.refused.size >= MAX_REMEMBERED_REFUSED) this.refused.clear()
    if (verdict === 'refused') { this.refused.add(id); return false }
    this.seen.add(id)
    return true
  }

  private subscribe (peer: PeerId): void {
    const k = peer.toString()
    if (this.subscriptions.has(k)) return
    const controller = new AbortController()
    this.subscriptions.set(k, controller)
    void subscribeEnvelopes(this.init.libp2p, peer, this.init.sign, async (e) => {
      if (await this.handle(e.envelope)) await ackEnvelopes(this.init.libp2p, peer, this.init.sign, [e.id]).catch(() => 0)
    }, controller.signal).catch(() => {}).finally(() => { this.subscriptions.delete(k) })
  }
}
