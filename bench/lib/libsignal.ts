/**
 * The same work done by @signalapp/libsignal-client (Signal's Rust library), for the
 * comparison in bench/crypto.ts: in-memory stores that keep every record as serialised bytes
 * (so libsignal serialises its session state after every message, as Sotto does), PQXDH
 * session setup from a prekey bundle, and 1 KiB messages one way and ping-pong.
 */
import {
  IdentityChange, IdentityKeyPair, IdentityKeyStore, KEMKeyPair, KyberPreKeyRecord, KyberPreKeyStore, PreKeyBundle,
  PreKeyRecord, PreKeySignalMessage, PreKeyStore, PrivateKey, ProtocolAddress, SessionRecord, SessionStore,
  SignalMessage, SignedPreKeyRecord, SignedPreKeyStore, processPreKeyBundle, signalDecrypt, signalDecryptPreKey, signalEncrypt,
  CiphertextMessageType, type PublicKey
} from '@signalapp/libsignal-client'

class MemSessions extends SessionStore {
  readonly map = new Map<string, Uint8Array>()
  async saveSession (name: ProtocolAddress, record: SessionRecord): Promise<void> { this.map.set(name.toString(), record.serialize()) }
  async getSession (name: ProtocolAddress): Promise<SessionRecord | null> {
    const b = this.map.get(name.toString())
    return b === undefined ? null : SessionRecord.deserialize(b as Uint8Array<ArrayBuffer>)
  }

  async getExistingSessions (addresses: ProtocolAddress[]): Promise<SessionRecord[]> {
    return addresses.map((a) => SessionRecord.deserialize(this.map.get(a.toString()) as Uint8Array<ArrayBuffer>))
  }
}

class MemIdentity extends IdentityKeyStore {
  private readonly known = new Map<string, Uint8Array>()
  constructor (private readonly pair: IdentityKeyPair, private readonly regId: number) { super() }
  async getIdentityKey (): Promise<PrivateKey> { return this.pair.privateKey }
  async getLocalRegistrationId (): Promise<number> { return this.regId }
  async saveIdentity (name: ProtocolAddress, key: PublicKey): Promise<IdentityChange> {
    this.known.set(name.toString(), key.serialize())
    return IdentityChange.NewOrUnchanged
  }

  async isTrustedIdentity (): Promise<boolean> { return true }
  async getIdentity (name: ProtocolAddress): Promise<PublicKey | null> {
    const b = this.known.get(name.toString())
    return b === undefined ? null : (await import('@signalapp/libsignal-client')).PublicKey.deserialize(b as Uint8Array<ArrayBuffer>)
  }
}

class MemPreKeys extends PreKeyStore {
  readonly map = new Map<number, Uint8Array>()
  async savePreKey (id: number, record: PreKeyRecord): Promise<void> { this.map.set(id, record.serialize()) }
  async getPreKey (id: number): Promise<PreKeyRecord> { return PreKeyRecord.deserialize(this.map.get(id) as Uint8Array<ArrayBuffer>) }
  async removePreKey (id: number): Promise<void> { this.map.delete(id) }
}

class MemSignedPreKeys extends SignedPreKeyStore {
  readonly map = new Map<number, Uint8Array>()
  async saveSignedPreKey (id: number, record: SignedPreKeyRecord): Promise<void> { this.map.set(id, record.serialize()) }
  async getSignedPreKey (id: number): Promise<SignedPreKeyRecord> { return SignedPreKeyRecord.deserialize(this.map.get(id) as Uint8Array<ArrayBuffer>) }
}

class MemKyberPreKeys extends KyberPreKeyStore {
  readonly map = new Map<number, Uint8Array>()
  async saveKyberPreKey (id: number, record: KyberPreKeyRecord): Promise<void> { this.map.set(id, record.serialize()) }
  async getKyberPreKey (id: number): Promise<KyberPreKeyRecord> { return KyberPreKeyRecord.deserialize(this.map.get(id) as Uint8Array<ArrayBuffer>) }
  async markKyberPreKeyUsed (): Promise<void> {}
}

interface Party {
  address: ProtocolAddress
  identity: IdentityKeyPair
  sessions: MemSessions
  identityStore: MemIdentity
}

function partyFor (name: string, regId: number, identity = IdentityKeyPair.generate()): Party {
  return { address: ProtocolAddress.new(name, 1), identity, sessions: new MemSessions(), identityStore: new MemIdentity(identity, regId) }
}

export interface LibsignalBench {
  /** One session setup: Bob makes a one-time prekey, Alice processes his bundle and sends, Bob decrypts. */
  setup: () => Promise<void>
  /** One 1 KiB message Alice -> Bob (encrypt, decrypt, both states stored). */
  oneWay: () => Promise<void>
  /** One 1 KiB message, alternating direction (every message steps the DH ratchet). */
  pingPong: () => Promise<void>
}

export async function libsignalBench (pool = 256): Promise<LibsignalBench> {
  const bob = partyFor('bob', 2)
  const preKeys = new MemPreKeys()
  const signed = new MemSignedPreKeys()
  const kyber = new MemKyberPreKeys()
  const spk = PrivateKey.generate()
  const spkSig = bob.identity.privateKey.sign(spk.getPublicKey().serialize())
  await signed.saveSignedPreKey(1, SignedPreKeyRecord.new(1, Date.now(), spk.getPublicKey(), spk, spkSig))
  const kem = KEMKeyPair.generate()
  const kemSig = bob.identity.privateKey.sign(kem.getPublicKey().serialize())
  await kyber.saveKyberPreKey(1, KyberPreKeyRecord.new(1, Date.now(), kem, kemSig))
  const alices = Array.from({ length: pool }, (_, i) => IdentityKeyPair.generate()).map((id, i) => ({ id, address: ProtocolAddress.new(`alice-${i}`, 1) }))
  let n = 0
  const message = new Uint8Array(32).fill(0x61) as Uint8Array<ArrayBuffer>
  const kib = new Uint8Array(1024).fill(0x62) as Uint8Array<ArrayBuffer>

  async function setup (): Promise<void> {
    const i = n++
    const a = alices[i % pool]
    const opk = PrivateKey.generate()
    const opkId = i + 1
    await preKeys.savePreKey(opkId, PreKeyRecord.new(opkId, opk.getPublicKey(), opk))
    const bundle = PreKeyBundle.new(2, 1, opkId, opk.getPublicKey(), 1, spk.getPublicKey(), spkSig, bob.identity.publicKey, 1, kem.getPublicKey(), kemSig)
    const alice: Party = { address: a.address, identity: a.id, sessions: new MemSessions(), identityStore: new MemIdentity(a.id, 1) }
    await processPreKeyBundle(bundle, bob.address, alice.address, alice.sessions, alice.identityStore)
    const ct = await signalEncrypt(message, bob.address, alice.address, alice.sessions, alice.identityStore)
    bob.sessions.map.delete(alice.address.toString()) // a new session each time, as on Sotto's side
    await signalDecryptPreKey(PreKeySignalMessage.deserialize(ct.serialize()), alice.address, bob.address, bob.sessions, bob.identityStore, preKeys, signed, kyber)
  }

  // An established pair for the message benchmarks.
  const alice = partyFor('alice', 1)
  const opk = PrivateKey.generate()
  await preKeys.savePreKey(999_999, PreKeyRecord.new(999_999, opk.getPublicKey(), opk))
  await processPreKeyBundle(PreKeyBundle.new(2, 1, 999_999, opk.getPublicKey(), 1, spk.getPublicKey(), spkSig, bob.identity.publicKey, 1, kem.getPublicKey(), kemSig),
    bob.address, alice.address, alice.sessions, alice.identityStore)
  const send = async (from: Party, to: Party, body: Uint8Array<ArrayBuffer>) => {
    const ct = await signalEncrypt(body, to.address, from.address, from.sessions, from.identityStore)
    if (ct.type() === CiphertextMessageType.PreKey) {
      await signalDecryptPreKey(PreKeySignalMessage.deserialize(ct.serialize()), from.address, to.address, to.sessions, to.identityStore, preKeys, signed, kyber)
    } else {
      await signalDecrypt(SignalMessage.deserialize(ct.serialize()), from.address, to.address, to.sessions, to.identityStore)
    }
  }
  await send(alice, bob, kib)
  await send(bob, alice, kib)
  let turn = 0
  return {
    setup,
    oneWay: async () => { await send(alice, bob, kib) },
    pingPong: async () => { if ((turn++ & 1) === 0) await send(alice, bob, kib); else await send(bob, alice, kib) }
  }
}
