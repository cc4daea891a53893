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
import { decodePayload, encodePayload, MAX_RECEIPT_IDS, MAX_TEXT_LENGTH, type Payload } from './payload.js'
import type { DeliveryResult, EnvelopeTransport, MessengerEvent, SessionCrypto } from './ports.js'

export type ReceiveVerdict = 'accepted' | 'duplicate' | 'refused'

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
   * timing signal (E5). Default: uniform in [1 s, 5 s).
   */
  receiptDelayMs?: () => number
}

export class Messenger {
  readonly contacts: ContactBook
  readonly log: MessageLog
  private readonly lock = new Mutex()
  private readonly now: () => number
  private readonly timers = new Set<NodeJS.Timeout>()

  constructor (private readonly init: MessengerInit) {
    this.now = init.now ?? Date.now
    this.contacts = new ContactBook(init.store, this.now)
    this.log = new MessageLog(init.store)
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
    const message = await this.lock.run(async () => {
      const { message, ops } = await this.log.prepareAppend({ id, peer: contact.sessionId, direction: 'out', text, sentAt, state: 'sending' })
      const updated: Contact = { ...contact, lastMessageAt: sentAt }
      await this.init.store.batch([...ops, this.contacts.putOp(updated)])
      this.log.committed(message)
      return message
    })
    this.emit({ type: 'message', message })
    return await this.deliverPayload(message, { v: 1, t: 'text', id, sentAt, text }, options)
  }

  /** Seals and delivers; a delivered text moves to "delivered" (the recipient acked after committing). */
  private async deliverPayload (message: Message, payload: Payload, options: { signal?: AbortSignal }): Promise<Message> {
    const result = await this.sealAndDeliver(message.peer, payload, options)
    if (!result.ok) return await this.setState(message, 'failed')
    return await this.setState(message, result.via === 'direct' ? 'delivered' : 'stored')
  }

  private async sealAndDeliver (peer: SessionId, payload: Payload, options: { signal?: AbortSignal }): Promise<DeliveryResult> {
    let envelope: Uint8Array
    try {
      envelope = await this.lock.run(async () => await this.init.crypto.seal(peer, encodePayload(payload), options))
    } catch (err) {
      await this.noteIdentityChange(peer, err)
      this.init.logger.info('could not seal a message', { code: (err as SottoError).code })
      return { ok: false, error: (err as SottoError).code ?? 'ERR_SEAL' }
    }
    const result = await this.init.transport.deliver(peer, envelope, options)
    if (!result.ok) this.init.logger.info('delivery failed', { error: result.error })
    return result
  }

  private async setState (message: Message, state: Message['state']): Promise<Message> {
    const updated = await this.log.advanceState(message.peer, message.id, state)
    if (updated === undefined) return (await this.log.find(message.peer, message.id)) ?? message
    this.emit({ type: 'message-state', id: message.id, peer: message.peer, state })
    return updated
  }

  /**
   * An envelope from the network. Resolves only after the message (if new) and the session
   * state are committed together, so the transport may then acknowledge it.
   */
  async receive (envelope: Uint8Array): Promise<ReceiveVerdict> {
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
      return 'refused'
    }
    const done = outcome as typeof outcome
    if (done === undefined || done.kind === 'blocked') return 'accepted'
    if (done.kind === 'duplicate') return 'duplicate'
    if (done.kind === 'receipt') {
      for (const id of done.payload.ids) await this.setState({ peer: done.from, id } as Message, done.payload.kind)
      return 'accepted'
    }
    this.emit({ type: 'contact', contact: done.contact })
    this.emit({ type: 'message', message: done.message })
    return 'accepted'
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
    for (const id of unreadIds) await this.setState({ peer, id } as Message, 'read')
    if (unreadIds.length === 0 || contact.state !== 'accepted') return
    const delay = (this.init.receiptDelayMs ?? (() => 1000 + Math.random() * 4000))()
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      const receipt: Payload = { v: 1, t: 'receipt', kind: 'read', ids: unreadIds.slice(-MAX_RECEIPT_IDS) }
      this.sealAndDeliver(peer, receipt, {}).catch(() => {})
    }, delay)
    this.timers.add(timer)
  }

  stop (): void {
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
