/**
 * Text from peers, made safe to print: control characters, ANSI CSI and OSC escape
 * sequences are removed so a message cannot rewrite the terminal or its title (C6).
 */
// eslint-disable-next-line no-control-regex
const ESCAPES = /\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b\[[0-?]*[ -/]*[@-~]|\u001b[@-_]|\u009b[0-?]*[ -/]*[@-~]|[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g

export function safeForTerminal (text: string): string {
  return text.replace(ESCAPES, '')
}

const segmenter = new Intl.Segmenter(undefined, { granularity: 'grapheme' })

/** Code points a terminal draws two cells wide (East Asian Wide and Fullwidth, roughly UAX #11). */
function wide (cp: number): boolean {
  return (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0x303e) || (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) || (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x20000 && cp <= 0x3fffd)
}

/** How many terminal cells one grapheme takes: 0, 1 or 2. */
function graphemeWidth (g: string): number {
  // Emoji (with or without the emoji presentation selector) take two cells.
  if (/\p{Extended_Pictographic}/u.test(g) || g.includes('\ufe0f')) return 2
  const cp = g.codePointAt(0) ?? 0
  if (/^[\p{M}\u200b-\u200f\u2060\ufeff]/u.test(g) || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) return 0
  return wide(cp) ? 2 : 1
}

/** The width of text in terminal cells, so columns line up with accents, CJK and emoji. */
export function displayWidth (text: string): number {
  let width = 0
  for (const { segment } of segmenter.segment(text)) width += graphemeWidth(segment)
  return width
}

/**
 * Text made exactly `width` cells wide: padded with spaces, or cut (whole graphemes only)
 * and ended with "…" when longer.
 */
export function fitToWidth (text: string, width: number): string {
  if (displayWidth(text) <= width) return text + ' '.repeat(width - displayWidth(text))
  let kept = ''
  let used = 0
  for (const { segment } of segmenter.segment(text)) {
    const w = graphemeWidth(segment)
    if (used + w > width - 1) break
    kept += segment
    used += w
  }
  return kept + '…' + ' '.repeat(width - 1 - used)
}
