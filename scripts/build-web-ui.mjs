// Builds the web UI into dist/web-ui (what the node serves): web-ui/src bundled by esbuild into
// one app.js, with the stylesheet, the page, the icon, the BIP39 word list the restore screen
// uses for typo hints, and the QR encoder (loaded by the app only when it draws a code).
// The page runs under a CSP without 'unsafe-eval': a bundle that evaluates strings is refused
// here, before a browser would refuse it.
import { cp, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'
import { wordlist } from '@scure/bip39/wordlists/english.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const out = `${root}dist/web-ui/`
await rm(out, { recursive: true, force: true })
await mkdir(out, { recursive: true })

await build({
  entryPoints: [`${root}web-ui/src/main.js`],
  outfile: `${out}app.js`,
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  legalComments: 'eof',
  logLevel: 'warning',
  // Served as its own file (copied below), loaded by the browser as app.js's one import.
  external: ['./qrcode.mjs']
})
const bundle = await readFile(`${out}app.js`, 'utf8')
for (const [what, re] of [['eval(', /\beval\s*\(/], ['new Function', /new\s+Function\s*\(/]]) {
  if (re.test(bundle)) throw new Error(`dist/web-ui/app.js contains ${what}: the page's CSP forbids evaluating strings`)
}

for (const f of ['index.html', 'app.css', 'favicon.svg']) await cp(`${root}web-ui/${f}`, out + f)
await writeFile(out + 'bip39-english.json', JSON.stringify(wordlist))
// The QR encoder (qrcode-generator, MIT, no dependencies), served by the node like the rest.
await cp(`${root}node_modules/qrcode-generator/dist/qrcode.mjs`, out + 'qrcode.mjs')
