/** Byte streams in tests: read one whole, replay bytes in chunks, and catch the error a call must end in. */

/** Every chunk of a stream, joined. */
export async function collect(body: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of body) chunks.push(Buffer.from(chunk))
  return Buffer.concat(chunks)
}

/** The bytes again as a stream of `chunk`-sized pieces. */
export async function* replay(bytes: Buffer, chunk = 65_536) {
  for (let at = 0; at < bytes.length; at += chunk) yield bytes.subarray(at, at + chunk)
}

/** The error `work` rejects with; the test fails if it resolves. */
export async function failure(work: Promise<unknown>): Promise<Error> {
  try {
    await work
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a failure')
}
