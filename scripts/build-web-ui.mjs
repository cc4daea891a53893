// Copies the web UI into dist/web-ui (what the node serves) with the BIP39 word list the
// restore screen uses for typo hints. No bundler: the app is plain ES modules.
import { cp, mkdir, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { wordlist } from '@scure/bip39/wordlists/english.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const out = `${root}dist/web-ui/`
await mkdir(out, { recursive: true })
for (const f of ['index.html', 'app.js', 'app.css', 'ids.js']) await cp(`${root}web-ui/${f}`, out + f)
await writeFile(out + 'bip39-english.json', JSON.stringify(wordlist))
// The QR encoder (qrcode-generator, MIT, no dependencies), served by the node like the rest.
await cp(`${root}node_modules/qrcode-generator/dist/qrcode.mjs`, out + 'qrcode.mjs')
