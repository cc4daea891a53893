/**
 * The web UI's files as the API server serves them, from a folder named with or without a
 * trailing separator (`sotto start` names dist/web-ui/ with one): the app shell at `/`,
 * its assets by name, client-side routes falling back to the shell, and nothing outside the
 * folder.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { request } from 'node:http'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startApiServer, type ApiServer } from '../../node/api/server.js'
import { silentLogger } from '../../node/log.js'
import { tempDir } from '../helpers/cli.js'

let dir: { path: string, remove: () => Promise<void> }
const servers: ApiServer[] = []

beforeAll(async () => {
  dir = await tempDir('sotto-static-')
  await mkdir(join(dir.path, 'ui'))
  await writeFile(join(dir.path, 'ui', 'index.html'), '<!doctype html><title>Sotto</title>')
  await writeFile(join(dir.path, 'ui', 'app.js'), 'export {}')
  await writeFile(join(dir.path, 'secret.txt'), 'outside the web UI folder')
})
afterAll(async () => {
  await Promise.all(servers.map(async (s) => await s.close()))
  await dir.remove()
})

async function get (server: ApiServer, path: string): Promise<{ status: number, type: string, body: string }> {
  return await new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, headers: { Host: `127.0.0.1:${server.port}` } }, (res) => {
      let body = ''
      res.on('data', (d) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe.each([['with a trailing separator', '/'], ['without one', '']])('static files from a folder named %s', (_, tail) => {
  let server: ApiServer
  beforeAll(async () => {
    server = await startApiServer({ token: 'static-test-token-0123456789abcdefghijk', logger: silentLogger.forComponent('api'), routes: [], staticDir: join(dir.path, 'ui') + tail })
    servers.push(server)
  })

  it('serves the app shell at / and for client-side routes, and assets by name', async () => {
    expect(await get(server, '/')).toMatchObject({ status: 200, type: 'text/html; charset=utf-8', body: '<!doctype html><title>Sotto</title>' })
    expect(await get(server, '/chats/someone')).toMatchObject({ status: 200, body: '<!doctype html><title>Sotto</title>' })
    expect(await get(server, '/app.js')).toMatchObject({ status: 200, type: 'text/javascript; charset=utf-8', body: 'export {}' })
    expect((await get(server, '/missing.js')).status).toBe(404)
  })

  it('serves nothing outside the folder, and a bad percent-encoding is a typed 400', async () => {
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt']) {
      const reply = await get(server, path)
      expect(reply.body).not.toContain('outside the web UI folder')
      expect(reply.status).toBe(404)
    }
    const bad = await get(server, '/%E0%A4%A')
    expect(bad.status).toBe(400)
    expect(JSON.parse(bad.body)).toMatchObject({ error: { code: 'ERR_BAD_PATH' } })
  })
})
