import { x25519 } from '@noble/curves/ed25519.js'
import { describe, expect, it } from 'vitest'
import { parseSessionId, SessionIdError } from '../../node/identity/index.js'
import { toHex } from '../../node/bytes.js'

const VALID = '05d2ad010eeb72d72e561d9de7bd7b6989af77dcabffa03a5111a6c859ae5c3a72'

function code (text: string): string | undefined {
  try { parseSessionId(text) } catch (e) { expect(e).toBeInstanceOf(SessionIdError); return (e as SessionIdError).code }
  return undefined
}

const le = (n: bigint) => {
  const out = new Uint8Array(32)
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn)
  return toHex(out)
}
const P = 2n ** 255n - 19n

describe('Session IDs', () => {
  it('accepts a real Session ID, also upper-case or with surrounding spaces', () => {
    expect(parseSessionId(VALID)).toBe(VALID)
    expect(parseSessionId(' 05' + VALID.slice(2).toUpperCase() + '\n')).toBe(VALID)
    for (let i = 0; i < 20; i++) {
      const pub = x25519.getPublicKey(x25519.utils.randomSecretKey())
      expect(parseSessionId('05' + toHex(pub))).toBe('05' + toHex(pub))
    }
  })

  it('K3: refuses a wrong prefix, wrong length, and non-hex digits', () => {
    expect(code('15' + VALID.slice(2))).toBe('ERR_SESSION_ID_PREFIX')
    expect(code('03' + VALID.slice(2))).toBe('ERR_SESSION_ID_PREFIX')
    expect(code(VALID.slice(0, 65))).toBe('ERR_SESSION_ID_LENGTH')
    expect(code(VALID + '00')).toBe('ERR_SESSION_ID_LENGTH')
    expect(code('05' + 'g' + VALID.slice(3))).toBe('ERR_SESSION_ID_HEX')
    expect(code('')).toBe('ERR_SESSION_ID_PREFIX')
  })

  it('K3: refuses points of small order, non-canonical encodings and points on the twist', () => {
    const smallOrder = [0n, 1n, P - 1n,
      325606250916557431795983626356110631294008115727848805560023387167927233504n,
      39382357235489614581723060781553021112529911719440698176882885853963445705823n]
    for (const u of smallOrder) expect(code('05' + le(u))).toBe('ERR_SESSION_ID_POINT')
    // Non-canonical: u >= p (p itself, p + 1), and the high bit set.
    expect(code('05' + le(P))).toBe('ERR_SESSION_ID_POINT')
    expect(code('05' + le(P + 1n))).toBe('ERR_SESSION_ID_POINT')
    expect(code('05' + le(2n ** 255n + 9n))).toBe('ERR_SESSION_ID_POINT')
    // u = 2 is on the twist of Curve25519, not the curve.
    expect(code('05' + le(2n))).toBe('ERR_SESSION_ID_POINT')
  })
})
