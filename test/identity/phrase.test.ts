import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { entropyToPhrase, phraseToEntropy, PhraseError, suggestWords } from '../../node/identity/index.js'
import { fromHex, toHex } from '../../node/bytes.js'

const vectors = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'vectors', 'bip39-english.json'), 'utf8')).vectors as Array<{ entropy: string, mnemonic: string }>

function codeOf (fn: () => unknown): string | undefined {
  try { fn() } catch (e) { return (e as PhraseError).code }
  return undefined
}

describe('recovery phrases (BIP39)', () => {
  it('K1: the BIP39 reference vectors pass both ways, 12 and 24 words', () => {
    expect(vectors.filter((v) => v.entropy.length === 32).length).toBeGreaterThan(3)
    expect(vectors.filter((v) => v.entropy.length === 64).length).toBeGreaterThan(3)
    for (const v of vectors) {
      expect(entropyToPhrase(fromHex(v.entropy)!)).toBe(v.mnemonic)
      expect(toHex(phraseToEntropy(v.mnemonic))).toBe(v.entropy)
    }
  })

  it('accepts the phrase with extra spaces, line breaks and capitals, as people paste it', () => {
    const v = vectors[1]
    expect(toHex(phraseToEntropy('  ' + v.mnemonic.toUpperCase().replace(/ /g, ' \n  ') + '\n'))).toBe(v.entropy)
  })

  it('K2: a wrong number of words is refused and the count is named', () => {
    const words = vectors[0].mnemonic.split(' ')
    for (const n of [0, 1, 11, 13, 18, 23, 25]) {
      const text = Array.from({ length: n }, (_, i) => words[i % words.length]).join(' ')
      expect(codeOf(() => phraseToEntropy(text))).toBe('ERR_PHRASE_LENGTH')
    }
    expect(() => phraseToEntropy(words.slice(0, 11).join(' '))).toThrow(/12 or 24 words; this one has 11/)
  })

  it('K2: an unknown word is refused, naming the word, its position and a suggestion', () => {
    const words = vectors[8].mnemonic.split(' ') // lava include region ...
    words[4] = 'simpel'
    let error: PhraseError | undefined
    try { phraseToEntropy(words.join(' ')) } catch (e) { error = e as PhraseError }
    expect(error).toBeInstanceOf(PhraseError)
    expect(error?.code).toBe('ERR_PHRASE_UNKNOWN_WORD')
    expect(error?.message).toContain('word 5')
    expect(error?.message).toContain('"simpel"')
    expect(error?.message).toContain('simple')
  })

  it('K2: valid words with a bad checksum are refused as a checksum error', () => {
    const words = vectors[0].mnemonic.split(' ')
    words[11] = 'abandon'
    expect(codeOf(() => phraseToEntropy(words.join(' ')))).toBe('ERR_PHRASE_CHECKSUM')
    // Two words swapped: every word valid, the checksum catches it.
    const swapped = vectors[8].mnemonic.split(' ')
    ;[swapped[0], swapped[1]] = [swapped[1], swapped[0]]
    expect(codeOf(() => phraseToEntropy(swapped.join(' ')))).toBe('ERR_PHRASE_CHECKSUM')
  })

  it('suggests list words for a typo', () => {
    expect(suggestWords('abandn')).toContain('abandon')
    expect(suggestWords('zzzzzz')).toEqual([])
  })
})
