// The short code both sides of a call show: derived from the two DTLS fingerprints, which
// travel inside the encrypted session with the offer and the answer. If both screens show
// the same digits, each browser's media is encrypted to the other's certificate: no one in
// the middle. Pure, so the tests run it in Node as it runs in the page.

/** The `a=fingerprint:` of an SDP (session or first media level), as "sha-256 AB:CD:…", or null. */
export function fingerprintOf (sdp) {
  const m = /^a=fingerprint:(\S+) ([0-9A-Fa-f:]+)\s*$/m.exec(String(sdp ?? ''))
  return m === null ? null : `${m[1].toLowerCase()} ${m[2].toUpperCase()}`
}

/**
 * SHA-256 over the two fingerprints, sorted (so the caller and the callee get the same), as 16
 * digits in 4 groups: "0412 9981 3070 5526". Null when either SDP has no fingerprint.
 */
export async function callCode (sdpA, sdpB, subtle = globalThis.crypto.subtle) {
  const a = fingerprintOf(sdpA)
  const b = fingerprintOf(sdpB)
  if (a === null || b === null) return null
  const input = new TextEncoder().encode(`sotto/call-code/v1\n${[a, b].sort().join('\n')}`)
  const hash = new Uint8Array(await subtle.digest('SHA-256', input))
  let n = 0n
  for (let i = 0; i < 8; i++) n = (n << 8n) | BigInt(hash[i])
  const digits = (n % 10n ** 16n).toString().padStart(16, '0')
  return digits.match(/.{4}/g).join(' ')
}
