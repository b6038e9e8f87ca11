import type { Context } from 'hono'
import { AppError } from '../lib/errors.ts'

const tooLarge = (limit: number) =>
  new AppError(413, 'payload_too_large', `Request body over ${limit} bytes`, [
    { field: '(body)', message: `at most ${limit} bytes` },
  ])

/**
 * Refuses a body over `limit` bytes with 413: at once from Content-Length, or while reading a body
 * sent without one (chunked), which is then kept in memory for the handler. As Hono's bodyLimit.
 */
export function limitBody(c: Context, limit: number): void | Promise<void> {
  const raw = c.req.raw
  if (!raw.body) return
  if (raw.headers.has('content-length') && !raw.headers.has('transfer-encoding')) {
    if (parseInt(raw.headers.get('content-length') || '0', 10) > limit) throw tooLarge(limit)
    return
  }
  return readLimited(c, raw, limit)
}

async function readLimited(c: Context, raw: Request, limit: number) {
  let size = 0
  let buffer = new Uint8Array(0)
  const reader = raw.body!.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    const offset = size
    size += value.length
    if (size > limit) throw tooLarge(limit)
    if (size > buffer.length) {
      const grown = new Uint8Array(Math.min(limit, Math.max(size, buffer.length * 2)))
      grown.set(buffer.subarray(0, offset))
      buffer = grown
    }
    buffer.set(value, offset)
  }
  c.req.raw = new Request(raw, { body: buffer.subarray(0, size) })
}
