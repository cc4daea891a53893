/**
 * The group control payloads that travel inside 1:1 sessions (G8), parsed strictly: a signed
 * group state (with the group's secret and the author's sender key for members who get
 * them), or one member's sender key. Anything malformed is ERR_PAYLOAD, so the envelope is
 * refused without its session step being committed.
 */
import { ParseError } from '../errors.js'
import { decodeState, type GroupState } from './group-state.js'
import { fromDistribution, type SenderKeyDistribution } from './sender-key.js'
import type { SenderKey } from './sender-key.js'

export type GroupControl =
  | { op: 'state', state: GroupState, secret?: Uint8Array, senderKey?: SenderKeyDistribution }
  | { op: 'sender-key', group: string, senderKey: SenderKeyDistribution }

const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64')

function bytesField (raw: unknown, length: number | undefined, what: string): Uint8Array {
  if (typeof raw !== 'string' || raw.length > 24_000 || !/^[A-Za-z0-9+/]*={0,2}$/.test(raw)) throw new ParseError(`bad ${what}`, 'ERR_PAYLOAD')
  const b = new Uint8Array(Buffer.from(raw, 'base64'))
  if (length !== undefined && b.length !== length) throw new ParseError(`bad ${what}`, 'ERR_PAYLOAD')
  return b
}

function distribution (raw: any): SenderKeyDistribution {
  if (typeof raw !== 'object' || raw === null) throw new ParseError('bad sender key', 'ERR_PAYLOAD')
  const d = { keyId: raw.keyId, iteration: raw.iteration, chainKey: bytesField(raw.chainKey, 32, 'chain key'), signingPublic: bytesField(raw.signingPublic, 32, 'signing key') }
  try {
    fromDistribution(d, 0)
  } catch {
    throw new ParseError('bad sender key', 'ERR_PAYLOAD')
  }
  return d
}

export function encodeDistribution (d: SenderKeyDistribution): Record<string, unknown> {
  return { keyId: d.keyId, iteration: d.iteration, chainKey: b64(d.chainKey), signingPublic: b64(d.signingPublic) }
}

export function encodeStateControl (state: Uint8Array, secret?: Uint8Array, senderKey?: SenderKeyDistribution): Record<string, unknown> {
  return { op: 'state', state: b64(state), ...(secret === undefined ? {} : { secret: b64(secret) }), ...(senderKey === undefined ? {} : { senderKey: encodeDistribution(senderKey) }) }
}

export function encodeKeyControl (group: string, key: SenderKey | SenderKeyDistribution): Record<string, unknown> {
  return { op: 'sender-key', group, senderKey: encodeDistribution(key) }
}

export function decodeControl (raw: Record<string, unknown>): GroupControl {
  if (raw.op === 'state') {
    let state: GroupState
    try {
      state = decodeState(bytesField(raw.state, undefined, 'state'))
    } catch (err) {
      if (err instanceof ParseError) throw err
      throw new ParseError('bad group state', 'ERR_PAYLOAD')
    }
    return {
      op: 'state',
      state,
      ...(raw.secret === undefined ? {} : { secret: bytesField(raw.secret, 32, 'secret') }),
      ...(raw.senderKey === undefined ? {} : { senderKey: distribution(raw.senderKey) })
    }
  }
  if (raw.op === 'sender-key') {
    if (typeof raw.group !== 'string' || !/^[0-9a-f]{64}$/.test(raw.group)) throw new ParseError('bad group id', 'ERR_PAYLOAD')
    return { op: 'sender-key', group: raw.group, senderKey: distribution(raw.senderKey) }
  }
  throw new ParseError('unknown group operation', 'ERR_PAYLOAD')
}
