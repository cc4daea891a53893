// Child process for the L4 test: creates an account, to be killed part-way. The test watches
// the data folder for the staging folder createAccount writes into (the signal that creation
// has started) and kills this process at points after that; "created" on stdout says this
// process got to the end before the kill.
import { createAccount } from '../../dist/node/store/account.js'

const [dir, pass] = process.argv.slice(2)
const account = await createAccount(dir, pass, new Uint8Array(16).fill(12), { kdf: { name: 'scrypt', logN: 15, r: 8, p: 1 } })
process.stdout.write('created\n')
await account.close()
