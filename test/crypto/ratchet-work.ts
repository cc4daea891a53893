/**
 * Counts the ratchet's KDF work while a test runs: chain steps (KDF_CK, or either of its
 * halves) and root steps (KDF_RK). A test file installs it with
 *   vi.mock('../../node/crypto/ratchet/keys.js', async (real) => (await import('./ratchet-work.js')).countingKeys(await real()))
 * and reads `work`. Imports nothing of the ratchet itself, so it can load before the mock.
 */
import type * as Keys from '../../node/crypto/ratchet/keys.js'

export const work = { chainSteps: 0, rootSteps: 0 }

export function countingKeys (real: typeof Keys): typeof Keys {
  return {
    ...real,
    kdfCk: (ck: Uint8Array) => { work.chainSteps++; return real.kdfCk(ck) },
    nextChainKey: (ck: Uint8Array) => { work.chainSteps++; return real.nextChainKey(ck) },
    messageKeyOf: (ck: Uint8Array) => { work.chainSteps++; return real.messageKeyOf(ck) },
    kdfRk: (rk: Uint8Array, dh: Uint8Array) => { work.rootSteps++; return real.kdfRk(rk, dh) }
  }
}
