/**
 * Snappy block format (what remote write 1.0 sends), decompressed in one checked pass into a buffer
 * the caller keeps between requests. snappyjs walked the stream byte by byte into a fresh zeroed
 * buffer a request and trusted the length header, so a second walk had to check it first: at 1 000
 * series a request those two walks and the allocation were half of decoding a request (ADR 0031).
 */
import { AppError } from '../../lib/errors.ts'

/** Output buffers up to this size are kept for the next request; a larger one is made for its request alone. */
export const KEEP_BYTES = 4 * 1024 * 1024
// Copies at least this long go through copyWithin / set (a native memmove); shorter ones are a loop.
const NATIVE_COPY = 32

const invalid = (message: string) =>
  new AppError(
    400,
    'invalid_snappy',
    'The body is not snappy-compressed (block format, as remote write 1.0 sends it)',
    [{ field: '(body)', message }],
  )

/**
 * The length a snappy block stream really produces, walking its tags without copying, or -1 when
 * the stream is malformed: only to say how long a stream that disagrees with its header is.
 */
export function snappyStreamLength(buf: Uint8Array, maxHeader = Infinity): { header: number; actual: number } {
  let pos = 0
  let header = 0
  for (let shift = 0; ; shift += 7) {
    if (pos >= buf.length || shift > 28) return { header: -1, actual: -1 }
    const c = buf[pos++]!
    header += (c & 0x7f) * 2 ** shift
    if (c < 0x80) break
  }
  if (header > maxHeader) return { header, actual: -1 } // refused by its header: no need to walk it
  let out = 0
  while (pos < buf.length) {
    const c = buf[pos++]!
    const kind = c & 3
    if (kind === 0) {
      let len = (c >>> 2) + 1
      if (len > 60) {
        const extra = len - 60
        if (pos + extra > buf.length) return { header, actual: -1 }
        len = 0
        for (let i = 0; i < extra; i++) len += buf[pos + i]! * 2 ** (8 * i)
        len += 1
        pos += extra
      }
      if (pos + len > buf.length) return { header, actual: -1 }
      pos += len
      out += len
      continue
    }
    const offsetBytes = kind === 1 ? 1 : kind === 2 ? 2 : 4
    if (pos + offsetBytes > buf.length) return { header, actual: -1 }
    let offset = kind === 1 ? ((c >>> 5) << 8) + buf[pos]! : 0
    if (kind !== 1) for (let i = 0; i < offsetBytes; i++) offset += buf[pos + i]! * 2 ** (8 * i)
    pos += offsetBytes
    if (offset === 0 || offset > out) return { header, actual: -1 }
    out += kind === 1 ? ((c >>> 2) & 7) + 4 : (c >>> 2) + 1
  }
  return { header, actual: out }
}

/** Why a stream that failed the one pass is bad, in the words the 400 has always used. */
function describe(body: Uint8Array): AppError {
  const { header, actual } = snappyStreamLength(body)
  return invalid(
    header < 0
      ? 'has no valid snappy length header'
      : actual < 0
        ? 'is a corrupt snappy stream'
        : `decompresses to ${actual} bytes, not the ${header} its header says`,
  )
}

/**
 * A decompressor with its own output buffer: `uncompress` answers a view of that buffer, valid
 * until its next call (the caller decodes it synchronously and keeps no view of it). Throws 413
 * when the header says more than `maxBytes` (before any work), 400 for a malformed stream or one
 * whose length differs from its header.
 */
export function createSnappyReader() {
  let kept = new Uint8Array(0)
  return {
    uncompress(body: Uint8Array, maxBytes: number): Uint8Array {
      let pos = 0
      let header = 0
      for (let shift = 0; ; shift += 7) {
        if (pos >= body.length || shift > 28) throw describe(body)
        const c = body[pos++]!
        header += (c & 0x7f) * 2 ** shift
        if (c < 0x80) break
      }
      if (header > maxBytes) {
        throw new AppError(
          413,
          'payload_too_large',
          `The decompressed body would be ${header} bytes, over ${maxBytes}`,
          [{ field: '(body)', message: `at most ${maxBytes} bytes once decompressed` }],
        )
      }
      let out: Uint8Array
      if (header > KEEP_BYTES) out = new Uint8Array(header)
      else {
        if (kept.length < header) kept = new Uint8Array(Math.min(KEEP_BYTES, 2 ** Math.ceil(Math.log2(header))))
        out = kept
      }
      const end = body.length
      let op = 0
      while (pos < end) {
        const c = body[pos++]!
        const kind = c & 3
        if (kind === 0) {
          let len = (c >>> 2) + 1
          if (len > 60) {
            const extra = len - 60
            if (pos + extra > end) throw describe(body)
            len = 0
            for (let i = 0; i < extra; i++) len += body[pos + i]! * 2 ** (8 * i)
            len += 1
            pos += extra
          }
          if (pos + len > end || op + len > header) throw describe(body)
          if (len >= NATIVE_COPY) out.set(body.subarray(pos, pos + len), op)
          else for (let i = 0; i < len; i++) out[op + i] = body[pos + i]!
          pos += len
          op += len
          continue
        }
        let len: number
        let offset: number
        if (kind === 1) {
          if (pos >= end) throw describe(body)
          len = ((c >>> 2) & 7) + 4
          offset = ((c >>> 5) << 8) | body[pos++]!
        } else if (kind === 2) {
          if (pos + 2 > end) throw describe(body)
          len = (c >>> 2) + 1
          offset = body[pos]! | (body[pos + 1]! << 8)
          pos += 2
        } else {
          if (pos + 4 > end) throw describe(body)
          len = (c >>> 2) + 1
          offset = (body[pos]! | (body[pos + 1]! << 8) | (body[pos + 2]! << 16) | (body[pos + 3]! << 24)) >>> 0
          pos += 4
        }
        if (offset === 0 || offset > op || op + len > header) throw describe(body)
        const from = op - offset
        // An overlapping copy (offset < len) repeats the last `offset` bytes: byte by byte, in order.
        if (len >= NATIVE_COPY && offset >= len) out.copyWithin(op, from, from + len)
        else for (let i = 0; i < len; i++) out[op + i] = out[from + i]!
        op += len
      }
      if (op !== header) throw describe(body)
      return out.subarray(0, header)
    },
    /** Bytes of the buffer kept between calls. */
    keptBytes: () => kept.length,
  }
}
export type SnappyReader = ReturnType<typeof createSnappyReader>
