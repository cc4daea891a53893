// Child process for the L4 test: creates an account, to be killed part-way.
import { createAccount } from '../../dist/node/store/account.js'

const [dir, pass] = process.argv.slice(2)
const account = await createAccount(dir, pass, new Uint8Array(16).fill(12), { kdf: { name: 'scrypt', logN: 15, r: 8, p: 1 } })
await account.close()
