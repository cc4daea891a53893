/**
 * BIP39 recovery phrases (English list, 12 or 24 words), via @scure/bip39. Parsing names
 * the exact problem (length, unknown word and its position, checksum) so a person can fix a
 * typo; the phrase itself never appears in an error.
 */
import { entropyToMnemonic, mnemonicToEntropy } from '@scure/bip39'
import { wordlist } from '@scure/bip39/wordlists/english.js'
import { PhraseError } from './errors.js'

/** 12 words encode 128 bits (Session-compatible), 24 words 256 bits. */
export const PHRASE_LENGTHS = [12, 24] as const
export type PhraseLength = typeof PHRASE_LENGTHS[number]

const WORDS = new Set(wordlist)

/** Splits on any whitespace, lower-cases, and normalises (NFKD, as BIP39 says). */
export function normalisePhrase (text: string): string[] {
  return text.normalize('NFKD').trim().toLowerCase().split(/\s+/).filter((w) => w.length > 0)
}

/** A phrase -> its entropy (16 or 32 bytes), or a PhraseError naming the problem. */
export function phraseToEntropy (text: string): Uint8Array {
  const words = normalisePhrase(text)
  if (!(PHRASE_LENGTHS as readonly number[]).includes(words.length)) {
    throw new PhraseError('ERR_PHRASE_LENGTH',
      `a recovery phrase has 12 or 24 words; this one has ${words.length}`)
  }
  for (let i = 0; i < words.length; i++) {
    if (!WORDS.has(words[i])) {
      const hint = suggestWords(words[i])
      throw new PhraseError('ERR_PHRASE_UNKNOWN_WORD',
        `word ${i + 1} ("${words[i]}") is not in the BIP39 English word list` +
        (hint.length > 0 ? `; did you mean ${hint.join(' or ')}?` : ''))
    }
  }
  try {
    return mnemonicToEntropy(words.join(' '), wordlist)
  } catch {
    throw new PhraseError('ERR_PHRASE_CHECKSUM',
      'the words are all valid but the checksum does not match: a word is probably wrong or out of order')
  }
}

export function entropyToPhrase (entropy: Uint8Array): string {
  if (entropy.length !== 16 && entropy.length !== 32) {
    throw new PhraseError('ERR_PHRASE_ENTROPY', 'entropy must be 16 or 32 bytes')
  }
  return entropyToMnemonic(entropy, wordlist)
}

/** Up to three list words that share the first four letters, or are one edit away. */
export function suggestWords (word: string): string[] {
  const prefix = word.slice(0, 4)
  const out: string[] = []
  for (const candidate of wordlist) {
    if ((prefix.length === 4 && candidate.startsWith(prefix)) || withinOneEdit(word, candidate)) {
      out.push(candidate)
      if (out.length === 3) break
    }
  }
  return out
}

function withinOneEdit (a: string, b: string): boolean {
  if (Math.abs(a.length - b.length) > 1) return false
  let i = 0
  let j = 0
  let edits = 0
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) { i++; j++; continue }
    if (++edits > 1) return false
    if (a.length > b.length) i++
    else if (a.length < b.length) j++
    else { i++; j++ }
  }
  return edits + (a.length - i) + (b.length - j) <= 1
}
