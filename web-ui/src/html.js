// htm bound to Preact: tagged templates instead of JSX, so the source runs as written (no JSX
// step) and htm builds the element tree by parsing, never by eval.
import { h } from 'preact'
import htm from 'htm'

export const html = htm.bind(h)
