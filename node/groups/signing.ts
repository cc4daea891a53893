/**
 * Ed25519 (RFC 8032) for the group layer, on node:crypto: signatures under the group
 * contexts (constants.ts, K9) by the account key (group states) or a sender key's signing
 * key (group messages); strict verification (K7) through node/crypto's verifier.
 */
import { createPrivateKey, createPublicKey, sign as nodeSign } from 'node:crypto'
import { concatBytes } from '../bytes.js'
import { verifyEd25519WithoutContext } from '../crypto/primitives/ed25519.js'

const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex')

function privateKey (seed: Uint8Array) {
  return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' })
}

export function ed25519PublicKey (seed: Uint8Array): Uint8Array {
  const der = createPublicKey(privateKey(seed)).export({ format: 'der', type: 'spki' })
  return new Uint8Array(der.subarray(der.length - 32))
}

export function signEd25519 (seed: Uint8Array, context: Uint8Array, message: Uint8Array): Uint8Array {
  return new Uint8Array(nodeSign(null, concatBytes(context, message), privateKey(seed)))
}

export function verifyEd25519Ctx (publicKey: Uint8Array, context: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  return verifyEd25519WithoutContext(publicKey, concatBytes(context, message), signature)
}
