// QR codes as images (data: URLs, allowed by the CSP). The encoder (qrcode-generator) is served
// by the node beside app.js as its own module; the build leaves this import to the browser.
import qrcode from './qrcode.mjs'
import { html } from './html.js'

export function Qr ({ text, label, id }) {
  const code = qrcode(0, 'M')
  code.addData(text)
  code.make()
  return html`<img class="qr" id=${id} src=${code.createDataURL(4, 8)} alt=${label} width="200" height="200" />`
}
