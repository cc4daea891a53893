// A modal dialog: <dialog>.showModal() keeps focus inside and makes the rest of the page inert;
// opening moves focus in (to the first control, or the one marked autofocus), Escape or the
// close button calls onClose, and closing puts focus back where it was.
import { useEffect, useRef } from 'preact/hooks'
import { html } from '../html.js'

let counter = 0

export function Dialog ({ id, title, onClose, children, wide = false }) {
  const ref = useRef(null)
  const titleId = useRef(`dialog-title-${++counter}`).current
  const closing = useRef(false)
  useEffect(() => {
    const dialog = ref.current
    const back = document.activeElement
    dialog.showModal()
    return () => {
      if (dialog.open) dialog.close()
      if (back instanceof HTMLElement && back.isConnected) back.focus()
    }
  }, [])
  const close = () => {
    if (closing.current) return
    closing.current = true
    onClose()
  }
  return html`<dialog ref=${ref} id=${id} class=${wide ? 'wide' : ''} aria-labelledby=${titleId}
      onCancel=${(e) => { e.preventDefault(); close() }} onClose=${close}>
    <h2 id=${titleId}>${title}</h2>
    ${children}
  </dialog>`
}
