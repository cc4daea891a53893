/**
 * Debian's Chromium for the browser tests, driven by playwright-core (no browser download).
 * Missing, the tests say so and skip; in CI (CI=true) a missing browser fails the run.
 */
import { existsSync } from 'node:fs'
import { chromium, type Browser, type Page } from 'playwright-core'

export const CHROMIUM = '/usr/bin/chromium'

/** True when the browser is there; throws in CI when it is not. `what` names the suite in the message. */
export function browserAvailable (what: string): boolean {
  if (existsSync(CHROMIUM)) return true
  if (process.env.CI === 'true') throw new Error(`${what} need ${CHROMIUM} in CI (apt-get install -y chromium)`)
  console.warn(`${what} skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`)
  return false
}

/** Headless, and quiet: no background requests to outside hosts (this machine has no internet). */
export async function launchBrowser (): Promise<Browser> {
  return await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']
  })
}

/** What the browser tests need of a running node: its API port and the CLI's token. */
export interface ApiNode { apiPort: number, token: string }

/** Calls the node's API as the CLI does (Bearer token); answers the status and the JSON. */
export async function callApi (node: ApiNode, method: string, path: string, body?: unknown): Promise<{ status: number, json: any }> {
  const res = await fetch(`http://127.0.0.1:${node.apiPort}${path}`, {
    method,
    headers: { Authorization: `Bearer ${node.token}`, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  return { status: res.status, json: await res.json().catch(() => ({})) }
}

/** A new one-time link, as `sotto open` asks for it. */
export async function freshLink (node: ApiNode): Promise<string> {
  const { status, json } = await callApi(node, 'POST', '/api/link', {})
  if (status !== 200) throw new Error(`POST /api/link answered ${status}`)
  return json.url as string
}

export interface PageOptions { width?: number, height?: number, colorScheme?: 'light' | 'dark', bypassCSP?: boolean }

/** A fresh browser profile signed in to the node with a link of its own (each link signs in once). */
export async function signedInPage (browser: Browser, node: ApiNode, options: PageOptions = {}): Promise<Page> {
  const context = await browser.newContext({
    viewport: { width: options.width ?? 1280, height: options.height ?? 800 },
    colorScheme: options.colorScheme ?? 'light',
    bypassCSP: options.bypassCSP ?? false
  })
  const page = await context.newPage()
  page.setDefaultTimeout(15_000)
  const res = await page.goto(await freshLink(node))
  if (res?.status() !== 200) throw new Error(`the link answered ${res?.status()}`)
  return page
}
