/**
 * Debian's Chromium for the browser tests, driven by playwright-core (no browser download).
 * Missing, the tests say so and skip; in CI (CI=true) a missing browser fails the run.
 */
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

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
