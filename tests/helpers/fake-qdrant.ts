import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import { listenLocal } from './http.ts'

export type FakeQdrantRequest = { method: string; path: string; query: string; apiKey: string | undefined }

/**
 * A real local HTTP server speaking the part of Qdrant's REST API the `qdrant` backup source uses
 * (checked against Qdrant's API reference, v1.15–1.17): collection snapshots created with
 * `POST /collections/{c}/snapshots` (answer `{result: {name, creation_time, size, checksum}, status, time}`),
 * downloaded with `GET …/snapshots/{name}`, dropped with `DELETE …/snapshots/{name}`, and a
 * collection recovered from `POST …/snapshots/upload?priority=snapshot` (multipart field `snapshot`).
 * A collection's "data" is a byte string the test seeds: a snapshot of it is those bytes, an upload
 * replaces them. Errors answer as Qdrant does: `{"status": {"error": "…"}}`.
 */
export async function startFakeQdrant(opts: { apiKey?: string } = {}) {
  const requests: FakeQdrantRequest[] = []
  const collections = new Map<string, Buffer>()
  const snapshots = new Map<string, { collection: string; data: Buffer }>()
  const uploads: { collection: string; contentType: string; filename: string | undefined }[] = []
  /** Served instead of a snapshot's bytes when set (a download altered on the way). */
  let tamper: ((data: Buffer) => Buffer) | undefined
  let nextId = 1
  const server = createServer(async (req, res) => {
    const [path = '', query = ''] = (req.url ?? '').split('?')
    const apiKey = req.headers['api-key'] as string | undefined
    requests.push({ method: req.method ?? '', path, query, apiKey })
    const send = (status: number, json: unknown) =>
      res.writeHead(status, { 'Content-Type': 'application/json' }).end(JSON.stringify(json))
    const error = (status: number, message: string) => send(status, { status: { error: message }, time: 0.0001 })
    if (opts.apiKey) {
      if (!apiKey) return error(401, 'Must provide an API key or an Authorization bearer token')
      if (apiKey !== opts.apiKey) return error(403, 'Invalid API key or JWT')
    }
    const m = /^\/collections\/([^/]+)\/snapshots(?:\/([^/]+))?$/.exec(path)
    if (!m) return error(404, 'Not found')
    const collection = decodeURIComponent(m[1]!)
    const name = m[2] === undefined ? undefined : decodeURIComponent(m[2])
    const data = collections.get(collection)

    if (name === 'upload' && req.method === 'POST') {
      const body: Buffer[] = []
      for await (const chunk of req) body.push(chunk as Buffer)
      const contentType = req.headers['content-type'] ?? ''
      const boundary = /boundary=([^;]+)/.exec(contentType)?.[1]
      if (!boundary) return error(400, 'Content type error: expected multipart/form-data')
      const whole = Buffer.concat(body)
      const head = whole.indexOf('\r\n\r\n')
      const end = whole.lastIndexOf(Buffer.from(`\r\n--${boundary}--`))
      const headers = whole.subarray(0, head).toString('utf8')
      if (!whole.subarray(0, 2 + boundary.length).equals(Buffer.from(`--${boundary}`)) || head < 0 || end < head)
        return error(400, 'Multipart stream is incomplete')
      if (!/name="snapshot"/.test(headers)) return error(400, 'No snapshot file in the form')
      const content = whole.subarray(head + 4, end)
      if (content.subarray(0, 5).toString() !== 'QDSNP') return error(400, 'Wrong input: the file is not a snapshot')
      uploads.push({ collection, contentType, filename: /filename="([^"]*)"/.exec(headers)?.[1] })
      collections.set(collection, Buffer.from(content))
      return send(200, { result: true, status: 'ok', time: 0.01 })
    }
    if (!data) return error(404, `Not found: Collection \`${collection}\` doesn't exist!`)
    if (name === undefined && req.method === 'POST') {
      const created = new Date().toISOString().slice(0, 19)
      const snapshot = `${collection}-${nextId++}-${created.replace(/:/g, '-')}.snapshot`
      snapshots.set(snapshot, { collection, data })
      return send(200, {
        result: {
          name: snapshot,
          creation_time: created,
          size: data.length,
          checksum: createHash('sha256').update(data).digest('hex'),
        },
        status: 'ok',
        time: 0.02,
      })
    }
    const snap = name === undefined ? undefined : snapshots.get(name)
    if (!snap || snap.collection !== collection) return error(404, `Snapshot ${name} not found`)
    if (req.method === 'DELETE') {
      snapshots.delete(name!)
      return send(200, { result: true, status: 'ok', time: 0.001 })
    }
    if (req.method === 'GET') {
      const bytes = tamper ? tamper(snap.data) : snap.data
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' })
      // In pieces, as a file is sent: the reader sees a stream, not one buffer.
      for (let at = 0; at < bytes.length; at += 256 * 1024) {
        if (!res.write(bytes.subarray(at, at + 256 * 1024))) await new Promise((r) => res.once('drain', r))
      }
      return res.end()
    }
    return error(405, 'Method not allowed')
  })
  let connections = 0
  server.on('connection', () => connections++)
  const url = await listenLocal(server)
  return {
    url,
    requests,
    collections,
    snapshots,
    uploads,
    connections: () => connections,
    tamper(fn: ((data: Buffer) => Buffer) | undefined) {
      tamper = fn
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
