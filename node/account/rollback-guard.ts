/**
 * Detects a data folder restored from an older copy (L7). The store counts its writes
 * (node/store/epoch.ts); this guard keeps the highest count it has seen in a small file
 * OUTSIDE the data folder, in the per-user state folder, so restoring the folder does not
 * restore the number. At unlock, a store whose count is below the kept number is an older
 * copy: ratchet states and consumed prekeys in it are stale, and a message received after
 * the copy was taken would decrypt again.
 *
 * The file's name is a keyed hash of the account's identity and the store's instance id, so
 * it names no account to someone reading the state folder, and a fresh restore from the
 * phrase (a new instance) starts its own count. Its content is a number only.
 */
import { createHmac } from 'node:crypto'
import { mkdir, readFile } from 'node:fs/promises'
import { homedir, platform } from 'node:os'
import { join } from 'node:path'
import { writeFileAtomic } from '../store/keyfile.js'

/** After a write, the kept number is updated at most this long later (it may lag, never lead). */
export const EPOCH_FLUSH_DELAY_MS = 500

/** The per-user state folder: $XDG_STATE_HOME/sotto, ~/.local/state/sotto, or the platform's. */
export function defaultStateDir (env: NodeJS.ProcessEnv = process.env, os = platform(), home = homedir()): string {
  if (env.SOTTO_STATE_DIR !== undefined && env.SOTTO_STATE_DIR !== '') return env.SOTTO_STATE_DIR
  if (os === 'darwin') return join(home, 'Library', 'Application Support', 'Sotto State')
  if (os === 'win32') return join(env.LOCALAPPDATA ?? join(home, 'AppData', 'Local'), 'Sotto', 'State')
  const xdg = env.XDG_STATE_HOME
  return join(xdg !== undefined && xdg !== '' ? xdg : join(home, '.local', 'state'), 'sotto')
}

export interface RollbackCheck {
  /** True when the store is older than what this machine saw of it before. */
  rolledBack: boolean
  storeEpoch: number
  keptEpoch: number
}

export class RollbackGuard {
  private pending: number | undefined
  private timer: NodeJS.Timeout | undefined
  private writing: Promise<void> = Promise.resolve()

  private constructor (private readonly file: string, private kept: number) {}

  /** `secret` is a key of the account (never written); `instanceId` comes from the store. */
  static async open (stateDir: string, secret: Uint8Array, instanceId: Uint8Array): Promise<RollbackGuard> {
    const name = createHmac('sha256', secret).update('sotto/rollback-epoch/v1\0').update(instanceId).digest('hex').slice(0, 32)
    const file = join(stateDir, `epoch-${name}`)
    let kept = 0
    try {
      const n = Number((await readFile(file, 'utf8')).trim())
      if (Number.isSafeInteger(n) && n >= 0) kept = n
    } catch {
      // First unlock of this store on this machine.
    }
    await mkdir(stateDir, { recursive: true, mode: 0o700 })
    return new RollbackGuard(file, kept)
  }

  check (storeEpoch: number): RollbackCheck {
    return { rolledBack: storeEpoch < this.kept, storeEpoch, keptEpoch: this.kept }
  }

  get keptEpoch (): number { return this.kept }

  /** The store reached `epoch`: keep it (soon; the number may lag behind the store, never lead). */
  committed (epoch: number): void {
    if (epoch <= this.kept) return
    this.pending = Math.max(this.pending ?? 0, epoch)
    if (this.timer !== undefined) return
    this.timer = setTimeout(() => { this.timer = undefined; void this.flush() }, EPOCH_FLUSH_DELAY_MS)
    this.timer.unref()
  }

  async flush (): Promise<void> {
    if (this.timer !== undefined) { clearTimeout(this.timer); this.timer = undefined }
    const n = this.pending
    this.pending = undefined
    if (n !== undefined && n > this.kept) {
      this.kept = n
      this.writing = this.writing.then(async () => { await writeFileAtomic(this.file, `${n}\n`) }).catch(() => {})
    }
    await this.writing
  }
}
