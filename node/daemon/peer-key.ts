/**
 * The device's libp2p key: random, made once per data folder, never derived from the
 * recovery phrase (K5, K6), so a PeerId names a device, not a user. Kept in plaintext
 * (0600) because the node runs — as a DHT server, relay and mailbox for others — before the
 * account is unlocked, and bootstrap peers need a stable PeerId. THREAT-MODEL.md says what
 * this reveals to someone with the disk.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { writeFileAtomic } from '../store/keyfile.js'

export const PEER_KEY_FILE = 'peer.key'

export async function loadOrCreatePeerKey (dataDir: string): Promise<PrivateKey> {
  const path = join(dataDir, PEER_KEY_FILE)
  try {
    return privateKeyFromProtobuf(await readFile(path))
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const key = await generateKeyPair('Ed25519')
  await writeFileAtomic(path, privateKeyToProtobuf(key), 0o600)
  return key
}
