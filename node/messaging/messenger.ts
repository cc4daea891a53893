/**
 * The node's use cases for one-to-one chat: send a text, receive an envelope, mark a
 * conversation read. Every received message is committed together with the session state
 * that decrypted it (one batch), and only then acknowledged to the sender.
 */
import { randomBytes } from 'node:crypto'
import type { SessionId } from '../identity/session-id.js'
import type { ComponentLogger } from '../log.js'
import type { SecureStore, StoreOp } from '../store/types.js'
import { SottoError } from '../errors.js'
import { ContactBook, type Contact } from './contacts.js'
import { MessagingError } from './errors.js'
import { MessageLog, type Message } from './message-log.js'
import { Mutex } from './mutex.js'
import { Outbox, type OutboxEntry } from './outbox.js'
import { receiptDelayMs } from './receipt-delay.js'
import { decodePayload, encodePayload, MAX_RECEIPT_IDS, MAX_TEXT_LENGTH, type Payload, type ReceiptKind } from './payload.js'
import type { DeliveryResult, EnvelopeTransport, MessengerEvent, SessionCrypto } from './ports.js'

/**
 * What became of an envelope: `refused` ones may only be early (a message before its
 * session's first) and stay in the mailbox; `rejected` ones can never open here (not sealed
 * to us, tampered, not a message) and may be deleted by whoever holds them.
 */
export type ReceiveVerdict = 'accepted' | 'duplicate' | 'refused' | 'rejected'

/** Refusals that no later envelope or session can change. */
const FINAL_REFUSALS = new Set(['ERR_ENVELOPE', 'ERR_UNKNOWN_VERSION', 'ERR_PAYLOAD'])

export interface MessengerInit {
  self: SessionId
  store: SecureStore
  crypto: SessionCrypto
  transport: EnvelopeTransport
  logger: ComponentLogger
  now?: () => number
  onEvent?: (event: MessengerEvent) => void
  /**
   * Delay before a read receipt is sent, so receipts are not an immediate, deterministic
   * timing signal (E5). Default: receiptDelayMs (receipt-delay.ts), uniform in [2 s, 30 s].
   */
  receiptDelayMs?: () => number
}

export class Messenger {
  readonly contacts: ContactBook
  readonly log: MessageLog
  readonly outbox: Outbox
  private readonly lock = new Mutex()
  private readonly now: () => number
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor (private readonly init: MessengerInit) {
    this.now = init.now ?? Date.now
    this.contacts = new ContactBook(init.store, this.now)
    this.log = new MessageLog(init.store)
    this.outbox = new Outbox({
      store: init.store,
      transport: init.transport,
      logger: init.logger,
      now: this.now,
      onSettled: async (entry, result) => { await this.settled(entry, result) },
      onRefused: async (entry) => await this.reseal(entry)
    })
  }

  /** Starts retrying queued envelopes (and those left from before a restart). */
  start (): void {
    this.outbox.start()
    void this.outbox.retryDue(true)
  }

  /** Stores the text as "sending", then tries to deliver it; resolves with its state after that try. */
  async send (to: string, text: string, options: { signal?: AbortSignal } = {}): Promise<Message> {
    if (typeof text !== 'string' || text.length === 0) throw new MessagingError('ERR_EMPTY_MESSAGE', 'nothing to send')
    if (text.length > MAX_TEXT_LENGTH) throw new MessagingError('ERR_MESSAGE_TOO_LONG', `a message has at most ${MAX_TEXT_LENGTH} characters`)
    const target = await this.contacts.resolve(to)
    let contact: Contact
    if (typeof target === 'string') {
      // Writing to a new Session ID makes it a contact, named by its ID until renamed.
      contact = await this.contacts.add(target, target.slice(0, 12) + '…')
      this.emit({ type: 'contact', contact })
    } else {
      contact = target
    }
    if (contact.state === 'blocked') throw new MessagingError('ERR_CONTACT_BLOCKED', 'this contact is blocked; unblock it to write')
    if (contact.sessionId === this.init.self) throw new MessagingError('ERR_SELF', 'you cannot write to yourself')
    if (contact.state === 'request') contact = await this.contacts.update(contact.sessionId, { state: 'accepted' })

    const sentAt = this.now()
    const id = randomBytes(16).toString('hex')
    const payload: Payload = { v: 1, t: 'text', id, sentAt, text }
    // A first message needs the contact's record from the DHT: look it up before the lock.
    await this.init.crypto.prepare?.(contact.sessionId, options)
    const queued = await this.lock.run(async () => {
      let envelope: Uint8Array | undefined
      let sealError: string | undefined
      try {
        envelope = await this.init.crypto.seal(contact.sessionId, encodePayload(payload), options)
      } catch (err) {
        await this.noteIdentityChange(contact.sessionId, err)
        sealError = (err as SottoError).code ?? 'ERR_SEAL'
        this.init.logger.info('could not seal a message', { code: sealError })
      }
      const state = envelope === undefined ? 'failed' : 'sending'
      const { message, ops } = await this.log.prepareAppend({ id, peer: contact.sessionId, direction: 'out', text, sentAt, state, error: sealError })
      const entry: OutboxEntry | undefined = envelope === undefined
        ? undefined
        : { id, peer: contact.sessionId, envelope: Buffer.from(envelope).toString('base64'), createdAt: sentAt, attempts: 0, nextAttemptAt: sentAt }
      // The message and its queued envelope land together: it is never shown as sent without being queued.
      await this.init.store.batch([...ops, this.contacts.putOp({ ...contact, lastMessageAt: sentAt }), ...(entry === undefined ? [] : [this.outbox.queueOp(entry)])])
      this.log.committed(message)
      return { message, entry }
    })
    this.emit({ type: 'message', message: queued.message })
    if (queued.entry === undefined) return queued.message
    await this.outbox.attempt(queued.entry, options)
    return (await this.log.find(contact.sessionId, id)) ?? queued.message
  }

  /**
   * The recipient refused our envelope: most likely its one-time prekey was taken by another
   * sender first (H5). Start a fresh session from the record without a one-time prekey (X3DH
   * §4.2 allows it) and seal the same text again.
   */
  private async reseal (entry: OutboxEntry): Promise<Uint8Array | undefined> {
    const message = await this.log.find(entry.peer, entry.id)
    if (message === undefined || message.direction !== 'out') return undefined
    const payload: Payload = { v: 1, t: 'text', id: message.id, sentAt: message.sentAt, text: message.text }
    try {
      return await this.lock.run(async () => {
        await this.init.crypto.reset(entry.peer)
        return await this.init.crypto.seal(entry.peer, encodePayload(payload), { oneTimePrekey: false })
      })
    } catch (err) {
      this.init.logger.info('could not seal a refused message again', { code: (err as SottoError).code ?? 'ERR_SEAL' })
      return undefined
    }
  }

  /** A queued envelope reached a path: direct means the recipient committed it. */
  private async settled (entry: OutboxEntry, result: DeliveryResult): Promise<void> {
    const state = !result.ok ? 'failed' : result.via === 'direct' ? 'delivered' : 'stored'
    const extra = result.ok && result.via === 'mailbox' ? { mailboxes: result.mailboxes, storedUntil: result.expiresAt } : {}
    await this.setState({ peer: entry.peer, id: entry.id }, state, 'out', extra)
  }

  private async sealAndDeliver (peer: SessionId, payload: Payload, options: { signal?: AbortSignal }): Promise<DeliveryResult> {
    let envelope: Uint8Array
    try {
      await this.init.crypto.prepare?.(peer, options)
      envelope = await this.lock.run(async () => await this.init.crypto.seal(peer, encodePayload(payload), options))
    } catch (err) {
      await this.noteIdentityChange(peer, err)
      this.init.logger.info('could not seal a receipt', { code: (err as SottoError).code })
      return { ok: false, error: (err as SottoError).code ?? 'ERR_SEAL' }
    }
    const result = await this.init.transport.deliver(peer, envelope, options)
    if (!result.ok) this.init.logger.info('receipt delivery failed', { error: result.error })
    return result
  }

  private async setState (message: Pick<Message, 'peer' | 'id'>, state: Message['state'], direction?: Message['direction'], extra: Partial<Pick<Message, 'mailboxes' | 'storedUntil'>> = {}): Promise<Message | undefined> {
    const updated = await this.log.advanceState(message.peer, message.id, state, direction, extra)
    if (updated === undefined) return undefined
    this.emit({ type: 'message-state', id: message.id, peer: message.peer, state })
    return updated
  }

  /**
   * An envelope from the network. Resolves only after the message (if new) and the session
   * state are committed together, so the transport may then acknowledge it.
   */
  async receive (envelope: Uint8Array, via: 'direct' | 'mailbox' = 'direct'): Promise<ReceiveVerdict> {
    let outcome: { kind: 'text', message: Message, contact: Contact, isNewContact: boolean } | { kind: 'duplicate' } | { kind: 'receipt', from: SessionId, payload: Extract<Payload, { t: 'receipt' }> } | { kind: 'blocked' } | undefined
    try {
      await this.lock.run(async () => {
        await this.init.crypto.open(envelope, async (from, plaintext) => {
          const payload = decodePayload(plaintext)
          const existing = await this.contacts.get(from)
          if (existing?.state === 'blocked') { outcome = { kind: 'blocked' }; return [] }
          if (payload.t === 'receipt') { outcome = { kind: 'receipt', from, payload }; return [] }
          if (await this.log.find(from, payload.id) !== undefined) { outcome = { kind: 'duplicate' }; return [] }
          const now = this.now()
          const { message, ops } = await this.log.prepareAppend({
            id: payload.id, peer: from, direction: 'in', text: payload.text, sentAt: payload.sentAt, receivedAt: now, state: 'received'
          })
          // A stranger's first message is a message request (R16), kept apart until accepted.
          const contact: Contact = existing === undefined
            ? { sessionId: from, name: from.slice(0, 12) + '…', state: 'request', verified: false, identityChanged: false, addedAt: now, unread: 1, lastMessageAt: now }
            : { ...existing, unread: existing.unread + 1, lastMessageAt: now }
          outcome = { kind: 'text', message, contact, isNewContact: existing === undefined }
          const all: StoreOp[] = [...ops, this.contacts.putOp(contact)]
          return all
        })
        if (outcome?.kind === 'text') this.log.committed(outcome.message)
      })
    } catch (err) {
      const code = (err as SottoError).code
      if (code === 'ERR_DUPLICATE_MESSAGE') return 'duplicate'
      this.init.logger.info('refused an envelope', { code: code ?? 'ERR_INTERNAL' })
      return code !== undefined && FINAL_REFUSALS.has(code) ? 'rejected' : 'refused'
    }
    const done = outcome as typeof outcome
    if (done === undefined || done.kind === 'blocked') return 'accepted'
    if (done.kind === 'duplicate') return 'duplicate'
    if (done.kind === 'receipt') {
      // A receipt can only move our own messages to that peer forward.
      for (const id of done.payload.ids) await this.setState({ peer: done.from, id }, done.payload.kind, 'out')
      return 'accepted'
    }
    this.emit({ type: 'contact', contact: done.contact })
    this.emit({ type: 'message', message: done.message })
    // A direct delivery is acknowledged on the stream; mail fetched from a mailbox is
    // acknowledged to its sender by a sealed receipt (E5: after a random delay).
    if (via === 'mailbox' && done.contact.state !== 'blocked') this.scheduleReceipt(done.message.peer, 'delivered', done.message.id)
    return 'accepted'
  }

  private readonly pendingReceipts = new Map<string, { kind: ReceiptKind, ids: string[] }>()

  private scheduleReceipt (peer: SessionId, kind: ReceiptKind, ...ids: string[]): void {
    const key = `${peer}:${kind}`
    const pending = this.pendingReceipts.get(key)
    if (pending !== undefined) { pending.ids.push(...ids); return }
    this.pendingReceipts.set(key, { kind, ids: [...ids] })
    const delay = (this.init.receiptDelayMs ?? (() => receiptDelayMs()))()
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      const batch = this.pendingReceipts.get(key)
      this.pendingReceipts.delete(key)
      if (batch === undefined) return
      for (let i = 0; i < batch.ids.length; i += MAX_RECEIPT_IDS) {
        const receipt: Payload = { v: 1, t: 'receipt', kind: batch.kind, ids: batch.ids.slice(i, i + MAX_RECEIPT_IDS) }
        this.sealAndDeliver(peer, receipt, {}).catch(() => {})
      }
    }, delay)
    this.timers.add(timer)
  }

  /** Marks a conversation read and, after a randomised delay (E5), sends a read receipt. */
  async markRead (peer: SessionId): Promise<void> {
    const contact = await this.contacts.get(peer)
    if (contact === undefined) throw new MessagingError('ERR_UNKNOWN_CONTACT', 'no such contact')
    const recent = await this.log.conversation(peer, { limit: 200 })
    const unreadIds = recent.filter((m) => m.direction === 'in' && m.state === 'received').map((m) => m.id)
    if (contact.unread !== 0) {
      const updated = { ...contact, unread: 0 }
      await this.init.store.put(['contact', peer], new TextEncoder().encode(JSON.stringify(updated)))
      this.emit({ type: 'contact', contact: updated })
    }
    // Incoming messages move to "read" locally; the sender learns it from the receipt.
    for (const id of unreadIds) await this.setState({ peer, id }, 'read', 'in')
    if (unreadIds.length === 0 || contact.state !== 'accepted') return
    this.scheduleReceipt(peer, 'read', ...unreadIds)
  }

  stop (): void {
    this.outbox.stop()
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }

  private async noteIdentityChange (peer: SessionId, err: unknown): Promise<void> {
    if ((err as SottoError).code !== 'ERR_IDENTITY_CHANGED') return
    const contact = await this.contacts.get(peer)
    if (contact === undefined || contact.identityChanged) return
    const updated = { ...contact, identityChanged: true, verified: false }
    await this.init.store.put(['contact', peer], new TextEncoder().encode(JSON.stringify(updated)))
    this.emit({ type: 'contact', contact: updated })
  }

  private emit (event: MessengerEvent): void {
    try { this.init.onEvent?.(event) } catch { /* a listener's failure is not the sender's */ }
  }
}
