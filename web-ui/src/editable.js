// A form field that shows a value kept elsewhere (the node) and follows its changes, unless
// the user is typing a change of their own.
import { useEffect, useRef, useState } from 'preact/hooks'

/**
 * `value` starts as `external` and follows it while nothing is typed; `edit` is the input's
 * handler; `saved` says the typed value is now the node's. Refs, not state, decide: effects
 * run after paint, and a closure from the first render would see "nothing typed" and wipe
 * what was typed in the meantime.
 */
export function useEditable (external) {
  const [value, setValue] = useState(external)
  const typed = useRef(false)
  const shown = useRef(external)
  useEffect(() => {
    if (external === shown.current) return
    shown.current = external
    if (!typed.current) setValue(external)
  }, [external])
  return {
    value,
    edit: (v) => { typed.current = true; setValue(v) },
    saved: () => { typed.current = false }
  }
}
