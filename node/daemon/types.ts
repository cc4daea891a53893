import type { ConnectionGater } from '@libp2p/interface'
import type { Logger } from '../log.js'
import type { SessionId } from '../identity/session-id.js'
import type { ScryptParams } from '../store/kdf.js'
import type { NodeController } from '../api/routes.js'

export interface SottoNodeInit {
  dataDir: string
  /** libp2p listen multiaddrs; default /ip4/0.0.0.0/tcp/0 and a WebSocket one. */
  listen?: string[]
  bootstrap?: string[]
  /** mDNS discovery on the LAN; default true (tests and benches always pass false). */
  mdns?: boolean
  /** Hold sealed envelopes for offline users (default true). */
  mailbox?: boolean
  /** Total bytes held for others (default 512 MiB). */
  mailboxQuotaBytes?: number
  /** Serve as a circuit relay for peers behind NAT. */
  relay?: boolean
  /** Answer STUN Binding requests on UDP at the libp2p TCP listener's host and port (`--stun`); default false. */
  stun?: boolean
  /** Peers or addresses to refuse, as libp2p's connection gater decides; default: none refused. */
  connectionGater?: ConnectionGater
  /** Local API port; 0 picks a free one. Default 0... the CLI passes its default. */
  apiPort?: number
  apiHost?: string
  apiAllowRemote?: boolean
  /** Unlock at start with this passphrase (CLI: prompt, file or env). */
  passphrase?: string
  logger: Logger
  /** KDF cost for accounts created through this node (tests use the minimum). */
  kdf?: ScryptParams
  /** Folder of the built web UI; default dist/web-ui next to the code. */
  webUiDir?: string
  /** Delay before read receipts (E5); tests shorten it. */
  receiptDelayMs?: () => number
  /** Where each store's write count is kept, outside the data folder (L7); default: SOTTO_STATE_DIR or the per-user state folder. */
  stateDir?: string
  /** Idle time after which the API locks (A7); default 15 min, changeable in settings. */
  idleLockMs?: number
  /** How often group mailboxes are read for what gossip missed; default 5 min. */
  groupCollectEveryMs?: number
  now?: () => number
}

export interface SottoNode {
  /** `http://127.0.0.1:PORT/?token=…`: a one-time link, spent by the first browser that opens it. */
  readonly url: string
  readonly apiPort: number
  /** The API token (`Authorization: Bearer`, as in api.json); not a link token. */
  readonly token: string
  readonly peerId: string
  readonly controller: NodeController
  /** Multiaddrs others can dial (with /p2p/PEER_ID). */
  addresses: () => string[]
  /** The prekey record last published for the unlocked account, as the DHT holds it. */
  publishedRecord: () => Uint8Array | undefined
  /** A Session ID's current prekey record from the DHT, verified, or undefined (benchmarks, tools). */
  lookupRecord: (sessionId: SessionId, options?: { signal?: AbortSignal }) => Promise<Uint8Array | undefined>
  /** Hands held envelopes on to the peers now closest to their mailboxes (also every minute). */
  rebalanceMailboxes: () => Promise<{ handedOn: number, dropped: number }>
  /** The unlocked account's groups (tests, benchmarks); ERR_LOCKED otherwise. */
  groups: () => import('../groups/group-manager.js').GroupManager
  stop: () => Promise<void>
}
