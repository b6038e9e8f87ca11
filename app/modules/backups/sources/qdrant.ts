/**
 * Backups of one Qdrant collection through Qdrant's HTTP snapshot API, every call through the
 * outbound policy (a Qdrant URL is user-configured):
 *   POST   /collections/{c}/snapshots?wait=true          → { result: { name, size, checksum } }
 *   GET    /collections/{c}/snapshots/{name}             → the snapshot (a tar), streamed into the backup
 *   DELETE /collections/{c}/snapshots/{name}?wait=true   → the copy on Qdrant's disk is dropped afterwards
 *   POST   /collections/{c}/snapshots/upload?priority=snapshot&wait=true  (multipart field `snapshot`): restore
 * A snapshot is of one node: in a cluster, one target per node (its URL) is needed.
 */
import { createHash, randomBytes } from 'node:crypto'
import * as v from 'valibot'
import { type OutboundPolicy, outboundFetch, redactUrl } from '../../../lib/outbound.ts'
import { outboundStream } from '../../../lib/outbound-stream.ts'
import { StoreUrl } from '../url.ts'
import type { BackupSource } from './types.ts'

/** A target's configuration for kind `qdrant`. `apiKey` is sealed at rest by the targets' store and given here opened. */
export const QdrantTargetConfig = v.strictObject({
  url: StoreUrl,
  collection: v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(255)),
  apiKey: v.optional(v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(4096))),
  /** How long Qdrant may take to write the snapshot before the backup gives up. */
  createTimeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1000), v.maxValue(6 * 3_600_000)), 600_000),
  /** Keep Qdrant's own copy of the snapshot after it was downloaded (default: drop it to free Qdrant's disk). */
  keepOnServer: v.optional(v.boolean(), false),
})
export type QdrantTargetConfig = v.InferOutput<typeof QdrantTargetConfig>

const Reply = v.object({
  result: v.object({ name: v.string(), size: v.optional(v.number()), checksum: v.nullish(v.string()) }),
})

/** Qdrant's own words for a failure (`{"status":{"error":"…"}}`), cut, or nothing. */
function qdrantSays(text: string): string {
  try {
    const error = (JSON.parse(text) as { status?: { error?: unknown } }).status?.error
    return typeof error === 'string' ? `: ${error.slice(0, 300)}` : ''
  } catch {
    return ''
  }
}

function refusedBy(status: number, what: string, collection: string, text: string): Error {
  if (status === 401 || status === 403) return new Error(`Qdrant refused the API key (${status}) on ${what}`)
  if (status === 404) return new Error(`Qdrant has no collection ${collection} (404 on ${what})${qdrantSays(text)}`)
  return new Error(`Qdrant answered ${status} on ${what}${qdrantSays(text)}`)
}

/** The multipart form Qdrant's upload reads, streamed around the backup's bytes (never whole in memory). */
async function* multipart(boundary: string, filename: string, body: AsyncIterable<Uint8Array>) {
  const enc = new TextEncoder()
  yield enc.encode(
    `--${boundary}\r\nContent-Disposition: form-data; name="snapshot"; filename="${filename}"\r\n` +
      'Content-Type: application/octet-stream\r\n\r\n',
  )
  for await (const chunk of body) yield chunk
  yield enc.encode(`\r\n--${boundary}--\r\n`)
}

/** A backup source making and downloading a snapshot of one collection; restore uploads one back. */
export function qdrantSource(deps: { outbound: OutboundPolicy }, config: QdrantTargetConfig): BackupSource {
  const base = config.url.replace(/\/+$/, '')
  const collectionPath = `${base}/collections/${encodeURIComponent(config.collection)}/snapshots`
  const headers: Record<string, string> = config.apiKey ? { 'api-key': config.apiKey } : {}
  const snapshotUrl = (name: string) => `${collectionPath}/${encodeURIComponent(name)}`

  return {
    kind: 'qdrant',
    async *produce(signal) {
      const created = await outboundFetch(deps.outbound, `${collectionPath}?wait=true`, {
        method: 'POST',
        headers: { ...headers, accept: 'application/json' },
        timeoutMs: config.createTimeoutMs,
        maxRedirects: 0,
        signal,
      })
      if (created.status !== 200) throw refusedBy(created.status, 'create snapshot', config.collection, created.text())
      let reply: v.InferOutput<typeof Reply>
      try {
        reply = v.parse(Reply, JSON.parse(created.text()))
      } catch {
        throw new Error(`Qdrant's answer to create snapshot has no snapshot name (${redactUrl(collectionPath)})`)
      }
      const { name, checksum } = reply.result
      let download: Awaited<ReturnType<typeof outboundStream>> | undefined
      try {
        const res = await outboundStream(deps.outbound, snapshotUrl(name), { headers, signal })
        download = res
        if (res.status !== 200) throw refusedBy(res.status, `download snapshot ${name}`, config.collection, '')
        const hash = createHash('sha256')
        for await (const chunk of res.body) {
          hash.update(chunk as Uint8Array)
          yield chunk as Uint8Array
        }
        // Qdrant states the snapshot's sha256: a download cut or altered on the way is caught here.
        const got = hash.digest('hex')
        if (checksum && got !== checksum.toLowerCase()) {
          throw new Error(`snapshot ${name} arrived with sha256 ${got}, Qdrant stated ${checksum}`)
        }
      } finally {
        // A reader that stopped early (or a failure) must not leave the download's socket open.
        download?.body.destroy()
        if (!config.keepOnServer) {
          // Best effort: a leftover snapshot only costs Qdrant disk, and the backup itself is what counts.
          await outboundFetch(deps.outbound, `${snapshotUrl(name)}?wait=true`, {
            method: 'DELETE',
            headers,
            maxRedirects: 0,
          }).catch(() => undefined)
        }
      }
    },
    async restore(body, signal) {
      const boundary = `homeostat-${randomBytes(12).toString('hex')}`
      const filename = `${config.collection.replace(/[^A-Za-z0-9_.-]/g, '_')}.snapshot`
      const res = await outboundStream(deps.outbound, `${collectionPath}/upload?priority=snapshot&wait=true`, {
        method: 'POST',
        headers: {
          ...headers,
          accept: 'application/json',
          'content-type': `multipart/form-data; boundary=${boundary}`,
        },
        body: multipart(boundary, filename, body),
        // Qdrant answers once the collection is recovered, which may take long after the last byte.
        idleTimeoutMs: config.createTimeoutMs,
        signal,
      })
      let text = ''
      for await (const chunk of res.body) if (text.length < 65_536) text += (chunk as Buffer).toString('utf8')
      if (res.status !== 200) throw refusedBy(res.status, 'upload snapshot', config.collection, text)
    },
  }
}
