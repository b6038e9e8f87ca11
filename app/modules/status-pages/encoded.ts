/**
 * The public answers' bytes, made once per rendered body and kept beside it in the cache: the
 * UTF-8 body, its gzip and its Brotli (the uptime bars compress ~20×), each with its header list
 * (ETag, Content-Length, …) worked out once. A visit then costs a lookup and a Response: no encode,
 * no compression and no hash per request. Nothing else compresses these answers (the app has no
 * compress middleware), so they are never compressed twice.
 */
import { brotliCompressSync, constants, gzipSync } from 'node:zlib'

export type Encoding = 'br' | 'gzip' | 'identity'
export type Answer = { bytes: Uint8Array<ArrayBuffer>; headers: [string, string][] }
/** What the cache keeps per rendered body: the answers made so far, by encoding. */
export type Answers = Partial<Record<Encoding, Answer>>

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

const compress: Record<Exclude<Encoding, 'identity'>, (bytes: Uint8Array) => Uint8Array> = {
  br: (bytes) => brotliCompressSync(bytes, BROTLI),
  gzip: (bytes) => gzipSync(bytes),
}

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
  // Compressed from the UTF-8 answer, made (and kept) first; a copy into a buffer of its own, as
  // node:zlib may hand back a view of a shared pool.
  const bytes =
    encoding === 'identity'
      ? new TextEncoder().encode(body)
      : new Uint8Array(compress[encoding](encodedAnswer(answers, body, 'identity', headers).bytes))
  const answer: Answer = {
    bytes,
    headers: [
      ...headers,
      ['Content-Length', String(bytes.byteLength)],
      ...(encoding === 'identity' ? [] : ([['Content-Encoding', encoding]] as [string, string][])),
    ],
  }
  answers[encoding] = answer
  return answer
}
