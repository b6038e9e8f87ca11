/** Byte streams of a backup: compression, hashing, files. Everything streams; nothing holds a whole backup. */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'
import type { Transform } from 'node:stream'
import { createGunzip, createGzip } from 'node:zlib'

type Bytes = AsyncIterable<Uint8Array>

/**
 * gzip level 1 through node:zlib, whose work runs off the JavaScript thread: on Bun the Web
 * Compression Streams (level 6, the only one they have) were several times slower both ways (ADR 0009).
 */
export const GZIP_LEVEL = 1

export const gzip = (body: Bytes): Bytes => throughZlib(body, createGzip({ level: GZIP_LEVEL, chunkSize: CHUNK }))

/** Reads one gzip member or several in a row (the gzip format allows it; `gunzip` does too). */
export const gunzip = (body: Bytes): Bytes => throughZlib(body, createGunzip({ chunkSize: CHUNK }))

const CHUNK = 256 * 1024

/**
 * Drives a zlib transform by hand: writes honour `drain`, the output is read with the stream's own
 * async iterator (which pauses zlib when the reader is slow). Not `Readable.from(body).pipe(z)`:
 * piped from an async generator, zlib stalled under Bun with the server busy (a verify stopped
 * part-way). An error on either side ends both: a failed read upstream ends the output with it, and
 * a reader that stops early stops the feeding.
 */
async function* throughZlib(body: Bytes, z: Transform): Bytes {
  let stopped = false
  const feed = (async () => {
    const input = body[Symbol.asyncIterator]()
    try {
      while (!stopped && !z.destroyed) {
        const { value, done } = await input.next()
        if (done) break
        if (!z.write(value)) await drained(z)
      }
      if (stopped || z.destroyed) await input.return?.()
      else z.end()
    } catch (error) {
      z.destroy(error instanceof Error ? error : new Error(String(error)))
    }
  })()
  try {
    for await (const chunk of z) yield chunk as Uint8Array
  } finally {
    stopped = true
    z.destroy()
    await feed
  }
}

/** Resolves on `drain`, or when the stream ends in an error or is destroyed (the caller then stops). */
const drained = (z: Transform) =>
  new Promise<void>((resolve) => {
    if (z.destroyed) return resolve()
    const done = () => {
      z.off('drain', done)
      z.off('close', done)
      resolve()
    }
    z.on('drain', done)
    z.on('close', done)
  })

export const readFileStream = (path: string): Bytes => createReadStream(path, { highWaterMark: 256 * 1024 })

/** Passes the bytes through, counting them and hashing them (SHA-256) on the way. */
export function measured(body: Bytes) {
  const hash = createHash('sha256')
  let size = 0
  let digest: string | undefined
  async function* pass() {
    for await (const chunk of body) {
      hash.update(chunk)
      size += chunk.byteLength
      yield chunk
    }
    digest = hash.digest('hex')
  }
  return {
    body: pass(),
    /** After the stream has been read to its end. */
    result: () => {
      if (digest === undefined) throw new Error('the stream was not read to its end')
      return { size, sha256: digest }
    },
  }
}

/** Writes a stream to a new file (fsynced), returning its size. */
export async function writeFileStream(path: string, body: Bytes): Promise<number> {
  const handle = await open(path, 'wx')
  let size = 0
  try {
    for await (const chunk of body) {
      await handle.write(chunk)
      size += chunk.byteLength
    }
    await handle.sync()
  } finally {
    await handle.close()
  }
  return size
}

/** An async iterable as a web ReadableStream (age-encryption works on those). */
export function toWebStream(body: Bytes): ReadableStream<Uint8Array> {
  const it = body[Symbol.asyncIterator]()
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { value, done } = await it.next()
      if (done) controller.close()
      else controller.enqueue(value)
    },
    async cancel(reason) {
      await it.return?.(reason)
    },
  })
}

export async function* fromWebStream(stream: ReadableStream<Uint8Array>): Bytes {
  const reader = stream.getReader()
  try {
    while (true) {
      const { value, done } = await reader.read()
      if (done) return
      yield value
    }
  } finally {
    reader.releaseLock()
  }
}
