/**
 * Text from peers, made safe to print: control characters, ANSI CSI and OSC escape
 * sequences are removed so a message cannot rewrite the terminal or its title (C6).
 */
// eslint-disable-next-line no-control-regex
const ESCAPES = /\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)?|\u001b\[[0-?]*[ -/]*[@-~]|\u001b[@-_]|\u009b[0-?]*[ -/]*[@-~]|[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g

export function safeForTerminal (text: string): string {
  return text.replace(ESCAPES, '')
}
