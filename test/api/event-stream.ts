/** An /api/events stream of a test node, read as it comes, with a wait for a given event (no sleeps). */
import { expect } from 'vitest'
import type { TestNode } from '../helpers/nodes.js'

/** An open /api/events stream: everything it carried so far, and a wait for a given event. */
export interface EventStream {
  raw: () => string
  events: Array<{ name: string, data: any }>
  waitFor: (what: string, pred: (events: Array<{ name: string, data: any }>) => boolean) => Promise<void>
  close: () => void
}

export async function openEvents (node: TestNode): Promise<EventStream> {
  const controller = new AbortController()
  const res = await fetch(`http://127.0.0.1:${node.node.apiPort}/api/events`, { headers: { Authorization: `Bearer ${node.node.token}` }, signal: controller.signal })
  expect(res.status).toBe(200)
  let raw = ''
  let buffer = ''
  const events: Array<{ name: string, data: any }> = []
  const waiters = new Set<() => void>()
  void (async () => {
    const decoder = new TextDecoder()
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        const text = decoder.decode(chunk, { stream: true })
        raw += text
        buffer += text
        let end: number
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const frame = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const name = /^event: (.*)$/m.exec(frame)?.[1]
          const data = /^data: (.*)$/m.exec(frame)?.[1]
          if (name !== undefined && data !== undefined) events.push({ name, data: JSON.parse(data) })
        }
        for (const w of waiters) w()
      }
    } catch { /* aborted */ }
  })()
  return {
    raw: () => raw,
    events,
    async waitFor (what, pred) {
      if (pred(events)) return
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => { waiters.delete(check); reject(new Error(`timed out waiting for ${what}; stream so far: ${raw}`)) }, 20_000)
        const check = (): void => { if (pred(events)) { clearTimeout(timer); waiters.delete(check); resolve() } }
        waiters.add(check)
      })
    },
    close: () => { controller.abort() }
  }
}

