/**
 * The OTLP/HTTP request envelope every OTLP receiver shares (traces, metrics): the media type decides
 * the encoding (protobuf or JSON, 415 otherwise), gzip is inflated under a cap (a small body must not
 * become gigabytes), and a JSON body must be UTF-8 JSON. Errors name the header or `(body)`.
 */
import { Buffer } from 'node:buffer'
import { AppError } from '../errors.ts'

export type Format = 'protobuf' | 'json'

/** How much larger than the (already limited) body a gzip body may inflate to. */
export const MAX_EXPANSION = 8

/** The media type of an OTLP/HTTP request, or the 415 that names what came instead. */
export function formatOf(contentType: string | undefined): Format {
  const media = (contentType ?? '').split(';')[0]!.trim().toLowerCase()
  if (media === 'application/x-protobuf') return 'protobuf'
  if (media === 'application/json') return 'json'
  throw new AppError(415, 'unsupported_media_type', 'Content-Type must be application/x-protobuf or application/json', [
    { field: 'Content-Type', message: media || 'missing' },
  ])
}

/** The body, inflated when gzip, at most `maxBytes` once inflated. */
export async function bodyBytes(body: ArrayBuffer, encoding: string | undefined, maxBytes: number) {
  const enc = (encoding ?? 'identity').trim().toLowerCase()
  if (enc === 'identity' || enc === '') return new Uint8Array(body)
  if (enc !== 'gzip')
    throw new AppError(415, 'unsupported_media_type', 'Content-Encoding must be gzip or none', [
      { field: 'Content-Encoding', message: enc },
    ])
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    const reader = new Blob([body]).stream().pipeThrough(new DecompressionStream('gzip')).getReader()
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > maxBytes) {
        await reader.cancel()
        throw new AppError(413, 'payload_too_large', `The body inflates to more than ${maxBytes} bytes`, [
          { field: '(body)', message: `at most ${maxBytes} bytes once decompressed` },
        ])
      }
      chunks.push(value)
    }
  } catch (e) {
    if (e instanceof AppError) throw e
    throw new AppError(400, 'invalid_gzip', 'The body is not valid gzip', [{ field: '(body)', message: 'not gzip' }])
  }
  return Buffer.concat(chunks)
}

/** A JSON body (UTF-8), or the 400 that says it is not one. */
export function parseJsonBody(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes))
  } catch {
    throw new AppError(400, 'invalid_json', 'The body is not valid JSON', [
      { field: '(body)', message: 'could not be parsed' },
    ])
  }
}

/** Decodes a protobuf body with `decode`, or the 400 naming the message it should have been. */
export function decodeProtobuf<T>(bytes: Uint8Array, messageName: string, decode: (b: Uint8Array) => unknown): T {
  try {
    return decode(bytes) as T
  } catch (e) {
    throw new AppError(400, 'invalid_protobuf', `The body is not an OTLP ${messageName}`, [
      { field: '(body)', message: String((e as Error).message).slice(0, 200) },
    ])
  }
}
