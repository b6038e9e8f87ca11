/**
 * The public answers, made once per rendered body and kept beside it in the cache: the UTF-8 body,
 * its gzip and its Brotli (the uptime bars compress ~20×), each as a Blob with its complete header
 * set (Content-Type, ETag, Content-Length, the page security headers, …) as one `Headers`. A visit
 * then costs a lookup and a Response: no encode, no compression, no hash, no header list per request.
 * Measured in Bun (ADR 0025): a Response built from a list of 16 header pairs costs 5–9 µs, from a
 * kept `Headers` under 1 µs; a Uint8Array body is copied into every Response (12–20 µs at 180 KB),
 * a Blob is not. Nothing else compresses these answers (the app has no compress middleware).
 */
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'
import { pageHeaders } from '../../middleware/secure-headers.ts'

export type Encoding = 'br' | 'gzip' | 'identity'
export type Answer = { body: Blob; headers: Headers }
/**
 * What the cache keeps per rendered body: the answers made so far, by encoding, the UTF-8 bytes they
 * are compressed from (a Blob cannot be read synchronously), and the 304's headers.
 */
export type Answers = Partial<Record<Encoding, Answer>> & { utf8?: Uint8Array; notModified?: Headers }

/** Brotli's quality 5: within a few per cent of 11 on this markup, at a fraction of its build time. */
const BROTLI = { params: { [constants.BROTLI_PARAM_QUALITY]: 5 } }

/**
 * The encoding to answer with, from Accept-Encoding: Brotli, then gzip, then none. A coding the
 * client gives `q=0` is never used; `*` stands for gzip.
 */
export function pickEncoding(header: string | undefined): Encoding {
  if (!header) return 'identity'
  let br = false
  let gzip = false
  for (const part of header.split(',')) {
    const [name = '', ...params] = part.split(';')
    const coding = name.trim().toLowerCase()
    const q = params.map((p) => p.trim().toLowerCase()).find((p) => p.startsWith('q='))
    if (q !== undefined && !(Number(q.slice(2)) > 0)) continue
    if (coding === 'br') br = true
    else if (coding === 'gzip' || coding === 'x-gzip' || coding === '*') gzip = true
  }
  return br ? 'br' : gzip ? 'gzip' : 'identity'
}

/**
 * `pickEncoding` remembered by header text: clients send a handful of distinct Accept-Encoding
 * strings, so each is parsed once. Capped (a client can send anything), cleared when full.
 */
export function encodingPicker(max = 64) {
  const seen = new Map<string, Encoding>()
  return (header: string | undefined): Encoding => {
    if (!header) return 'identity'
    let e = seen.get(header)
    if (e === undefined) {
      if (seen.size >= max) seen.clear()
      seen.set(header, (e = pickEncoding(header)))
    }
    return e
  }
}

const compress: Record<Exclude<Encoding, 'identity'>, (bytes: Uint8Array) => Uint8Array> = {
  br: (bytes) => brotliCompressSync(bytes, BROTLI),
  gzip: (bytes) => gzipSync(bytes),
}

/** A complete header set: the answer's own, then the page security headers the pipeline would add. */
const complete = (own: readonly [string, string][]) => new Headers([...own, ...pageHeaders] as [string, string][])

/**
 * The answer of `body` in `encoding`, made on first use and kept in `answers` (one per build of the
 * page). `headers`: the ones every encoding shares (Content-Type, ETag, Cache-Control, Vary).
 */
export function encodedAnswer(
  answers: Answers,
  body: string,
  encoding: Encoding,
  headers: readonly [string, string][],
): Answer {
  const kept = answers[encoding]
  if (kept) return kept
  const utf8 = (answers.utf8 ??= new TextEncoder().encode(body))
  const bytes = encoding === 'identity' ? utf8 : compress[encoding](utf8)
  const own: [string, string][] = [...headers, ['Content-Length', String(bytes.byteLength)]]
  if (encoding !== 'identity') own.push(['Content-Encoding', encoding])
  // The Blob holds a copy of its own (node:zlib may hand back a view of a shared pool).
  const answer = { body: new Blob([bytes as Uint8Array<ArrayBuffer>]), headers: complete(own) }
  answers[encoding] = answer
  return answer
}

/** The 304's headers for this body (ETag, Cache-Control, Vary and the security headers), made once. */
export function notModifiedHeaders(answers: Answers, headers: readonly [string, string][]): Headers {
  answers.notModified ??= complete(headers)
  return answers.notModified
}
