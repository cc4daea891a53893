/**
 * Temp folders a test file made for in-process nodes, removed after the file
 * (test/helpers/cleanup.ts). Imports nothing of the node, so the setup file that uses it
 * loads no node module before a test file's own vi.mock calls.
 */
const made: Array<{ remove: () => Promise<void> }> = []

export function rememberTempDir (dir: { remove: () => Promise<void> }): void {
  made.push(dir)
}

export async function removeTempDirs (): Promise<void> {
  await Promise.all(made.splice(0).map(async (d) => { await d.remove() }))
}
