/**
 * Reading the group mailboxes (docs/GROUPS.md §5): for each group we are in, every day since
 * the last day read (at most the 14 days copies are held), under every secret the group had
 * then. Copies are opened in the order the holders stored them (their expiry), so a member
 * back after days gets every message in order, once (G6): duplicates stop at the sender
 * chain and at the message id. A day is marked read only when some holder answered for every
 * mailbox of the round: a collection that reached nobody (the node just started, no peer
 * yet) must not skip the days it could not read.
 */
import type { ComponentLogger } from '../log.js'
import { GROUP_MAILBOX_TTL_MS, GROUP_MESSAGE_VERSION } from './constants.js'
import type { GroupNet } from './group-delivery.js'
import { dayOf, mailboxDay } from './group-mailbox.js'
import type { GroupRecord, GroupStore } from './group-store.js'
import { openFromMailbox } from './wire.js'

export interface GroupCollectorInit {
  groups: GroupStore
  net: Pick<GroupNet, 'fetchAll'>
  logger: ComponentLogger
  now: () => number
  /** Opens one group message found in a mailbox (GroupManager.receive). */
  receive: (bytes: Uint8Array, group: string) => Promise<unknown>
  /** Records that the group's mailboxes were read up to `day` (under the caller's lock). */
  markCollected: (group: string, day: number) => Promise<void>
}

export class GroupCollector {
  private running: Promise<void> | undefined

  constructor (private readonly init: GroupCollectorInit) {}

  /** One round over every group; a round already running is joined, not doubled. */
  async collect (): Promise<void> {
    if (this.running !== undefined) { await this.running; return }
    this.running = (async () => {
      for (const r of await this.init.groups.list()) {
        if (r.local !== 'accepted' && r.local !== 'request') continue
        await this.collectGroup(r).catch((err) => { this.init.logger.debug('group mailbox collection failed', { code: (err as { code?: string }).code ?? 'ERR' }) })
      }
    })().finally(() => { this.running = undefined })
    await this.running
  }

  private async collectGroup (r: GroupRecord): Promise<void> {
    const now = this.init.now()
    const today = dayOf(now)
    const oldest = dayOf(now - GROUP_MAILBOX_TTL_MS)
    const from = Math.max(oldest, (r.collectedDay ?? dayOf(r.joinedAt)) - 1)
    const copies: Array<{ expiresAt: number, message: Uint8Array }> = []
    let unanswered = 0
    await Promise.all(r.secrets.map(async (s, i) => {
      const until = i + 1 < r.secrets.length ? dayOf(r.secrets[i + 1].since) + 1 : today
      const secret = new Uint8Array(Buffer.from(s.secret, 'base64'))
      for (let day = Math.max(from, dayOf(s.since) - 1); day <= Math.min(until, today); day++) {
        const box = mailboxDay(secret, day, this.init.now)
        const held = await this.init.net.fetchAll(box.mailbox, box.sign)
        if (held.answered === 0) unanswered++
        for (const h of held.copies) {
          try { copies.push({ expiresAt: h.expiresAt, message: openFromMailbox(box.envelopeKey, h.envelope) }) } catch { /* junk in the mailbox */ }
        }
      }
    }))
    copies.sort((a, b) => a.expiresAt - b.expiresAt)
    for (const c of copies) {
      if (c.message[0] !== GROUP_MESSAGE_VERSION) continue
      await this.init.receive(c.message, r.id)
    }
    if (unanswered === 0) await this.init.markCollected(r.id, today)
  }
}
