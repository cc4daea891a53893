/** What bench/net.ts and its far node (net-peer.ts, another process) say to each other. */
export const ECHO_PROTOCOL = '/bench/echo/1'

/** From the far node: its address at once, then (a Sotto node) its Session ID once its record is published. */
export type NetPeerMessage = { address: string } | { sessionId: string }
