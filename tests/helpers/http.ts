import type { IncomingMessage, Server } from 'node:http'
import type { AddressInfo } from 'node:net'

/** A request's whole body as text, and parsed when it is JSON (`undefined` when it is not). */
export function readBody(req: IncomingMessage): Promise<{ text: string; json: unknown }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('error', reject)
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      let json: unknown
      try {
        json = JSON.parse(text)
      } catch {
        // not JSON: callers decide what stands in for it
      }
      resolve({ text, json })
    })
  })
}

/** Starts `server` on a free port of 127.0.0.1; its base URL. */
export async function listenLocal(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}
