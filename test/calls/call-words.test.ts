/**
 * The web UI's pure call modules, as bundled into the app: the short code from the two DTLS
 * fingerprints (the same on both sides, whichever SDP is "local"), and the words of the call
 * screen and the conversation's call lines.
 */
import { describe, expect, it } from 'vitest'

const CODE = '../../web-ui/src/call-code.js'
const WORDS = '../../web-ui/src/call-words.js'
const c = await import(CODE) as {
  fingerprintOf: (sdp: string) => string | null
  callCode: (a: string, b: string) => Promise<string | null>
}
const w = await import(WORDS) as {
  duration: (ms: number) => string
  lineText: (l: object, name: string) => string
  endedText: (c: object, name: string) => string
  qualityText: (q: object | null) => string
}

const sdp = (fp: string): string => `v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=fingerprint:sha-256 ${fp}\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n`
const FP_A = Array(32).fill('a1').join(':')
const FP_B = Array(32).fill('B2').join(':')

describe('the call code', () => {
  it('reads the fingerprint of an SDP, normalised', () => {
    expect(c.fingerprintOf(sdp(FP_A))).toBe(`sha-256 ${FP_A.toUpperCase()}`)
    expect(c.fingerprintOf('v=0\r\n')).toBeNull()
  })

  it('V2: is 4 groups of 4 digits, the same from both sides, and changes with either fingerprint', async () => {
    const ab = await c.callCode(sdp(FP_A), sdp(FP_B))
    expect(ab).toMatch(/^\d{4} \d{4} \d{4} \d{4}$/)
    expect(await c.callCode(sdp(FP_B), sdp(FP_A))).toBe(ab)
    expect(await c.callCode(sdp(FP_A), sdp(FP_A.replace('A1', 'A2')))).not.toBe(ab)
    expect(await c.callCode(sdp(FP_A), 'v=0\r\n')).toBeNull()
  })
})

describe('call words', () => {
  it.each([
    [{ direction: 'in', video: false, reason: 'missed' }, 'Missed voice call'],
    [{ direction: 'in', video: true, reason: 'declined' }, 'Declined video call'],
    [{ direction: 'out', video: false, reason: 'declined' }, 'Voice call declined by Bob'],
    [{ direction: 'out', video: true, reason: 'unavailable' }, 'Video call: Bob was unavailable'],
    [{ direction: 'out', video: false, reason: 'busy' }, 'Voice call: Bob was in another call'],
    [{ direction: 'out', video: false, reason: 'hangup', answeredAt: 1000, endedAt: 126_000 }, 'Outgoing voice call · 2:05'],
    [{ direction: 'in', video: true, reason: 'hangup', answeredAt: 0, endedAt: 3_725_000 }, 'Incoming video call · 1:02:05']
  ])('%o is "%s"', (line, text) => {
    expect(w.lineText(line, 'Bob')).toBe(text)
  })

  it('says why a call ended and how the connection is', () => {
    expect(w.endedText({ direction: 'out', reason: 'unavailable' }, 'Bob')).toContain('Bob is unavailable')
    expect(w.qualityText({ level: 'good', rtt: 0.012, loss: 0 })).toBe('Good connection (12 ms, 0% lost)')
    expect(w.qualityText(null)).toBe('Measuring the connection…')
  })
})
