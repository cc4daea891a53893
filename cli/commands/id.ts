import type { NodeStatus } from '../../node/api/routes.js'
import { openAccount } from '../../node/store/account.js'
import { connect, NodeNotRunningError } from '../client.js'
import type { Command } from '../command.js'
import { CliError, EXIT_REFUSED } from '../errors.js'
import { out } from '../io.js'
import { readPassphrase } from '../secrets.js'

export const NODE_LOCKED = 'the node is running and locked; unlock it (in the web UI) or stop it, then try again'

export const command: Command = {
  help: `sotto id [--data-dir DIR] [--passphrase-file F] [--json]

Prints the Session ID of the account in the data folder. While the node runs unlocked it
asks the node, with no passphrase. Otherwise the passphrase is needed: the data folder
reveals nothing without it, not even whose it is.`,
  flags: {},
  async run ({ io, flags, dataDir }) {
    const sessionId = await fromRunningNode(dataDir) ?? await fromDataFolder(dataDir, await readPassphrase(io, flags))
    out(io, flags.json === true ? JSON.stringify({ sessionId }) : sessionId)
    return 0
  }
}

/** The running node's answer, or undefined when no node runs for the folder. */
async function fromRunningNode (dataDir: string): Promise<string | undefined> {
  let status: NodeStatus
  try {
    status = await (await connect(dataDir)).get<NodeStatus>('/api/status')
  } catch (e) {
    if (e instanceof NodeNotRunningError) return undefined
    throw e
  }
  if (status.state === 'no-account') throw new CliError(`no account in ${dataDir} yet (create one in the web UI: sotto open)`, EXIT_REFUSED)
  // The node holds the database, and a locked node tells nobody whose it is.
  if (status.state !== 'unlocked' || status.sessionId === undefined) throw new CliError(NODE_LOCKED, EXIT_REFUSED)
  return status.sessionId
}

async function fromDataFolder (dataDir: string, passphrase: string): Promise<string> {
  let account
  try {
    account = await openAccount(dataDir, passphrase)
  } catch (e) {
    // A node holds the database but its API did not answer (starting, or stopping).
    if ((e as { cause?: { code?: unknown } }).cause?.code === 'LEVEL_LOCKED') throw new CliError(`a Sotto node is using ${dataDir}; wait until it has started (then: sotto id), or stop it`, EXIT_REFUSED)
    throw e
  }
  const sessionId = account.identity.sessionId
  await account.close()
  return sessionId
}
