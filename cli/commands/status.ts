import type { NodeStatus } from '../../node/api/routes.js'
import { connect } from '../client.js'
import type { Command } from '../command.js'
import { out } from '../io.js'
import { count, size } from '../wording.js'

export const command: Command = {
  help: `sotto status [--data-dir DIR] [--json]

Shows the running node: your Session ID (when unlocked), its peer id and addresses, how
many peers it is connected to, and whether your prekey record is published in the DHT.`,
  flags: {},
  async run ({ io, flags, dataDir }) {
    const api = await connect(dataDir)
    const s = await api.get<NodeStatus>('/api/status')
    if (flags.json === true) { out(io, JSON.stringify(s)); return 0 }
    out(io, `account:    ${s.state === 'unlocked' ? s.sessionId ?? '' : s.state}`)
    out(io, `peer id:    ${s.peerId}`)
    out(io, `peers:      ${count(s.peers, 'peer')} connected, ${s.dht.routingTable} in the DHT routing table`)
    out(io, `record:     ${s.dht.recordPublished ? `published${s.dht.publishedAt !== undefined ? ' at ' + new Date(s.dht.publishedAt).toLocaleTimeString() : ''}` : 'not published'}`)
    if (s.rollback !== undefined) out(io, `WARNING:    this data folder is an older copy than this machine had (found ${new Date(s.rollback.detectedAt).toLocaleString()}); sessions were restarted, and messages received after the copy was made may show again`)
    if (s.mailbox !== undefined) out(io, `mailbox:    holding ${count(s.mailbox.envelopes, 'sealed message')} (${size(s.mailbox.bytes)}) for people who are offline`)
    out(io, 'addresses:')
    for (const a of s.addresses) out(io, `  ${a}`)
    return 0
  }
}
