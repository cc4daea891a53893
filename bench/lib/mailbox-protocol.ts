/** The IPC messages between bench/mailbox.ts and its worker processes (mailbox-worker.ts). */

export type MailboxBenchCommand =
  | { cmd: 'prepare', addr: string, peers: number }
  | { cmd: 'put', peer: string, mode: 'single' | 'batch', ms: number, owners: number, inFlight: number }
  | { cmd: 'fetch', peer: string, owners: number }
  | { cmd: 'exit' }

export interface MailboxBenchRequest { id: number, command: MailboxBenchCommand }
export type MailboxBenchReply = { id: number, ok: true, result: unknown } | { id: number, ok: false, error: string }
