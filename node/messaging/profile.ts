/**
 * The user's profile (an optional display name), sealed in the account store, and what
 * contacts told us of theirs. A profile travels only inside sessions (payload kind
 * "profile"); each change gets a higher version, so a receiver can ignore an older one that
 * arrives late.
 */
import type { SessionId } from '../identity/session-id.js'
import { getJson, jsonValue } from '../store/sealed-store.js'
import type { SecureStore, StoreOp } from '../store/types.js'
import { cleanName } from './contacts.js'

export interface OwnProfile {
  displayName: string | null
  /** 0 while never set; see nextVersion. */
  version: number
}

/** A profile received from someone who is not a contact yet, applied when they become one. */
export interface PeerProfile { name: string | null, version: number }

const OWN_KEY = ['profile', 'self'] as const
const peerKey = (peer: SessionId) => ['peer-profile', peer] as const

/** null clears the name; a string must have 1..64 characters once cleaned (ERR_PROFILE_NAME). */
export function cleanProfileName (name: unknown): string | null {
  if (name === null) return null
  return cleanName(name, 'ERR_PROFILE_NAME')
}

/**
 * The next version: above the last one and at least the time in ms, so an account restored
 * from its phrase on a new machine (which starts with no profile record) still sends a
 * version its contacts take as newer than the ones they have.
 */
export function nextVersion (previous: number, now: number): number {
  return Math.max(previous + 1, now)
}

export class ProfileStore {
  constructor (private readonly store: SecureStore) {}

  async own (): Promise<OwnProfile> {
    return (await getJson<OwnProfile>(this.store, OWN_KEY)) ?? { displayName: null, version: 0 }
  }

  ownOp (profile: OwnProfile): StoreOp {
    return { type: 'put', key: OWN_KEY, value: jsonValue(profile) }
  }

  async peer (peer: SessionId): Promise<PeerProfile | undefined> {
    return await getJson<PeerProfile>(this.store, peerKey(peer))
  }

  peerOp (peer: SessionId, profile: PeerProfile): StoreOp {
    return { type: 'put', key: peerKey(peer), value: jsonValue(profile) }
  }

  peerDelOp (peer: SessionId): StoreOp {
    return { type: 'del', key: peerKey(peer) }
  }
}
