/** Byte streams of a backup: compression, hashing, files. Everything streams; nothing holds a whole backup. */
import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { open } from 'node:fs/promises'

type Bytes = AsyncIterable<Uint8Array>

/**
 * gzip through the Web Compression Streams (native in Bun, Deno and Node): node:zlib's streams
 * piped from an async generator stalled under Bun with the server busy (the verify of a snapshot
 * taken during an ingest load stopped part-way); these did not, at the same speed.
 */
export const gzip = (body: Bytes): Bytes => through(body, new CompressionStream('gzip'))

export const gunzip = (body: Bytes): Bytes => through(body, new DecompressionStream('gzip'))

// The DOM types give the compression streams a BufferSource writable side; a Uint8Array is one.
const through = (body: Bytes, pair: CompressionStream | DecompressionStream): Bytes =>
  fromWebStream(toWebStream(body).pipeThrough(pair as unknown as ReadableWritablePair<Uint8Array, Uint8Array>))

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
