// Child process for the L4 test: writes counter+message batches until killed.
import { openAccount } from '../../dist/node/store/account.js'
import { jsonValue, getJson } from '../../dist/node/store/sealed-store.js'

const [dir, pass] = process.argv.slice(2)
const account = await openAccount(dir, pass)
let n = (await getJson(account.store, ['meta', 'counter']))?.n ?? 0
process.stdout.write('ready\n')
for (let i = 0; i < 1_000_000; i++) {
  n++
  await account.store.batch([
    { type: 'put', key: ['msg', 'log', n], value: jsonValue({ n, pad: 'x'.repeat(200) }) },
    { type: 'put', key: ['meta', 'counter'], value: jsonValue({ n }) }
  ])
}
