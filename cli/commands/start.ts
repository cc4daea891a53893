import { intFlag, stringFlag } from '../args.js'
import type { Command } from '../command.js'
import { CliError } from '../errors.js'
import { err, out } from '../io.js'
import { readPassphrase } from '../secrets.js'

export const DEFAULT_API_PORT = 7878

export const command: Command = {
  help: `sotto start [options]

Runs your node until Ctrl-C: it joins the network, serves as DHT server, relay and mailbox
for others, publishes your prekey record, and serves the web UI and local API on
127.0.0.1. It prints the URL to open in your browser, with a one-time token in it: the
link signs in one browser, once; \`sotto open\` prints a new one.

With an account in the data folder it unlocks with your passphrase (prompt,
--passphrase-file or SOTTO_PASSPHRASE); without one it still runs, and the web UI offers
to create or restore an account.

Options:
  --listen MULTIADDR      where libp2p listens (repeatable; default: TCP and WebSocket on all interfaces)
  --bootstrap MULTIADDR   a known peer to join through (repeatable; also in settings)
  --no-mdns               do not look for peers on the local network
  --relay                 relay connections for peers behind NAT
  --stun                  answer STUN requests (UDP, the libp2p TCP port's host and number), for calls
  --no-mailbox            do not hold sealed messages for offline users
  --mailbox-quota MB      how much to hold for others (default 512)
  --api-port N            local API / web UI port (default ${DEFAULT_API_PORT}; 0 picks a free one)
  --locked                do not unlock at start; unlock from the web UI
  --log-level LEVEL       debug, info, warn or error (default info)`,
  flags: {
    listen: 'strings',
    bootstrap: 'strings',
    mdns: 'boolean',
    relay: 'boolean',
    stun: 'boolean',
    mailbox: 'boolean',
    'mailbox-quota': 'string',
    'api-port': 'string',
    'api-host': 'string',
    'api-allow-remote': 'boolean',
    locked: 'boolean',
    'log-level': 'string'
  },
  async run ({ io, flags, dataDir }) {
    const { accountExists } = await import('../../node/store/account.js')
    const { ensurePrivateDir } = await import('../../node/store/data-dir.js')
    const { createLogger } = await import('../../node/log.js')
    const { startSottoNode } = await import('../../node/daemon/sotto-node.js')
    const level = stringFlag(flags, 'log-level') ?? 'info'
    if (!['debug', 'info', 'warn', 'error'].includes(level)) throw new CliError('--log-level is debug, info, warn or error')
    const apiPort = intFlag(flags, 'api-port', 0, 65535) ?? DEFAULT_API_PORT
    await ensurePrivateDir(dataDir)
    let passphrase: string | undefined
    if (flags.locked !== true && await accountExists(dataDir)) passphrase = await readPassphrase(io, flags)
    const node = await startSottoNode({
      dataDir,
      listen: flags.listen as string[] | undefined,
      bootstrap: flags.bootstrap as string[] | undefined,
      mdns: flags.mdns !== false,
      relay: flags.relay === true,
      stun: flags.stun === true,
      mailbox: flags.mailbox !== false,
      mailboxQuotaBytes: (intFlag(flags, 'mailbox-quota', 1, 1_000_000) ?? 512) * 1024 * 1024,
      apiPort,
      apiHost: stringFlag(flags, 'api-host'),
      apiAllowRemote: flags['api-allow-remote'] === true,
      passphrase,
      logger: createLogger({ level: level as 'info' })
    }).catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') throw new CliError(`port ${apiPort} is in use; is another Sotto node running? (choose one with --api-port N)`, 2)
      throw e
    })
    const status = await node.controller.status()
    if (flags.json === true) {
      out(io, JSON.stringify({ url: node.url, peerId: node.peerId, addresses: node.addresses(), sessionId: status.sessionId, state: status.state }))
    } else {
      out(io, `Sotto is running. Open ${node.url}`)
      // The rest (account, peer id, addresses for --bootstrap) is in `sotto status`, or here with --log-level debug.
      if (level === 'debug') {
        err(io, `account: ${status.state === 'unlocked' ? status.sessionId ?? '' : status.state}`)
        err(io, `peer id: ${node.peerId}`)
        for (const a of node.addresses()) err(io, `listening: ${a}`)
      }
    }
    await new Promise<void>((resolve) => {
      const stop = () => { resolve() }
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
    err(io, 'Stopping…')
    await node.stop()
    return 0
  }
}
