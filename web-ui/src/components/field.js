// A labelled text field with its counter and its error, tied together for screen readers
// (aria-describedby). The counter shows the limit before anyone hits it.
import { html } from '../html.js'
import { COUNTER_FROM } from '../limits.js'
import { formatNumber } from '../format.js'

export function Counter ({ id, length, max, always = true }) {
  // Kept in the page while quiet, so aria-describedby always points at something.
  if (!always && length < max * COUNTER_FROM) return html`<span class="counter" id=${id}></span>`
  const over = length > max
  return html`<span class=${`counter${over ? ' over' : ''}`} id=${id}>${formatNumber(length)} / ${formatNumber(max)}</span>`
}

export function ErrorText ({ id, text }) {
  return html`<p class="error" id=${id}>${text ?? ''}</p>`
}

/**
 * @param {{ id: string, label: string, value: string, onInput: (v: string) => void, limit?: number,
 *   type?: string, error?: string, errorId?: string, hint?: string, textarea?: boolean }} props
 */
export function Field ({ id, label, value, onInput, limit, type = 'text', error, errorId, hint, textarea = false, ...rest }) {
  const errId = errorId ?? `${id}-error`
  const described = [limit !== undefined ? `${id}-count` : null, hint ? `${id}-hint` : null, error ? errId : null].filter(Boolean).join(' ') || undefined
  const props = { id, value, type: textarea ? undefined : type, maxLength: limit, 'aria-describedby': described, 'aria-invalid': error ? 'true' : undefined, onInput: (e) => onInput(e.currentTarget.value), ...rest }
  return html`<div class="field">
    <div class="field-label"><label for=${id}>${label}</label>${limit !== undefined && html`<${Counter} id=${`${id}-count`} length=${value.length} max=${limit} />`}</div>
    ${textarea ? html`<textarea ...${props} />` : html`<input ...${props} />`}
    ${hint && html`<p class="hint" id=${`${id}-hint`}>${hint}</p>`}
    ${error !== undefined && html`<${ErrorText} id=${errId} text=${error} />`}
  </div>`
}
