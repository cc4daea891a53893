/**
 * What this node has seen of other mailboxes: how often a peer proved it held an envelope it
 * had taken, and when it last failed to. PeerIds cost nothing to make, so a peer that is new,
 * or that claimed a copy and could not prove it, is not trusted to be the only holder of
 * anything: a holder lets go of its own copy only when enough of the closer peers are trusted.
 *
 * Kept in `<data dir>/mailbox-peers.json` (0600): PeerIds and counters only, no addresses,
 * no mailbox keys. Bounded: the peers seen longest ago are forgotten first.
 */
import { mkdir, readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { writeFileAtomic } from '../../store/keyfile.js'

export const REPUTATION_FILE = 'mailbox-peers.json'
/** Peers remembered; the least recently seen go first. */
export const MAX_REMEMBERED_MAILBOX_PEERS = 2_000
/** A peer is trusted after this many proofs of possession… */
export const TRUST_MIN_PROOFS = 3
/** …spread over at least this long (a fresh PeerId cannot earn trust in one burst)… */
export const TRUST_MIN_AGE_MS = 60 * 60_000
/** …and no failed proof in this long. */
export const TRUST_FAILURE_MEMORY_MS = 24 * 60 * 60_000
/** Changes are written at most this often. */
export const REPUTATION_SAVE_DELAY_MS = 30_000

interface PeerRecord { proofs: number, firstProofAt: number, lastProofAt: number, lastFailureAt: number, seenAt: number }

export class MailboxReputation {
  private readonly peers = new Map<string, PeerRecord>()
  private saveTimer: NodeJS.Timeout | undefined

  private constructor (private readonly path: string | undefined, private readonly now: () => number) {}

  /** Loads the file in `dataDir` (a missing or unreadable one starts empty); without a folder, memory only. */
  static async open (dataDir: string | undefined, now: () => number): Promise<MailboxReputation> {
    const r = new MailboxReputation(dataDir === undefined ? undefined : join(dataDir, REPUTATION_FILE), now)
    if (r.path === undefined) return r
    try {
      const raw = JSON.parse(await readFile(r.path, 'utf8')) as Record<string, unknown>
      for (const [peer, v] of Object.entries(raw).slice(-MAX_REMEMBERED_MAILBOX_PEERS)) {
        const p = v as Partial<PeerRecord>
        const num = (x: unknown): number => typeof x === 'number' && Number.isFinite(x) ? x : 0
        r.peers.set(peer, { proofs: num(p.proofs), firstProofAt: num(p.firstProofAt), lastProofAt: num(p.lastProofAt), lastFailureAt: num(p.lastFailureAt), seenAt: num(p.seenAt) })
      }
    } catch {
      // No file yet, or a damaged one: start again; it only costs trust that is earned back.
    }
    return r
  }

  /** The peer proved it held what it claimed. */
  proved (peer: string): void {
    const t = this.now()
    const p = this.entry(peer)
    if (p.proofs === 0) p.firstProofAt = t
    p.proofs++
    p.lastProofAt = t
    this.changed()
  }

  /** The peer claimed a copy (or was asked for one it should have) and could not prove it. */
  failed (peer: string): void {
    const p = this.entry(peer)
    p.lastFailureAt = this.now()
    p.proofs = 0
    p.firstProofAt = 0
    this.changed()
  }

  trusted (peer: string): boolean {
    const p = this.peers.get(peer)
    if (p === undefined) return false
    const t = this.now()
    return p.proofs >= TRUST_MIN_PROOFS && t - p.firstProofAt >= TRUST_MIN_AGE_MS && (p.lastFailureAt === 0 || t - p.lastFailureAt >= TRUST_FAILURE_MEMORY_MS)
  }

  async close (): Promise<void> {
    if (this.saveTimer !== undefined) clearTimeout(this.saveTimer)
    this.saveTimer = undefined
    await this.save()
  }

  private entry (peer: string): PeerRecord {
    const p = this.peers.get(peer) ?? { proofs: 0, firstProofAt: 0, lastProofAt: 0, lastFailureAt: 0, seenAt: 0 }
    p.seenAt = this.now()
    this.peers.delete(peer)
    if (this.peers.size >= MAX_REMEMBERED_MAILBOX_PEERS) this.peers.delete(this.peers.keys().next().value as string)
    this.peers.set(peer, p)
    return p
  }

  private changed (): void {
    if (this.path === undefined || this.saveTimer !== undefined) return
    this.saveTimer = setTimeout(() => { this.saveTimer = undefined; void this.save().catch(() => {}) }, REPUTATION_SAVE_DELAY_MS)
    this.saveTimer.unref()
  }

  private async save (): Promise<void> {
    if (this.path === undefined) return
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 })
    await writeFileAtomic(this.path, JSON.stringify(Object.fromEntries(this.peers)))
  }
}
