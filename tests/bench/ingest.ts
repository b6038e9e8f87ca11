/**
 * Request bodies for the bench's ingest figures, and Prometheus as a remote-write receiver.
 *
 * Every request writes new points: a (series, timestamp) pair is never sent twice, so no figure is
 * a row being overwritten. Timestamps stay at the present (never "late", which would also mark
 * minutes for a rollup rebuild, and never more than a few seconds ahead), as a live feed's are.
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { REMOTE_WRITE_HEADERS, remoteWritePayloads } from '../helpers/remote-write.ts'
import { freePort, startServer, type LoadRequest, type Started } from './lib.ts'

const SINGLE_SERIES = 1000
export const BATCH_POINTS = 1000
export const REMOTE_WRITE_SERIES = 1000

/** POST /api/v1/metrics, one point a request, over 1 000 series, each series' timestamps rising. */
export function singlePoint(key: string): LoadRequest {
  const last = new Float64Array(SINGLE_SERIES)
  let k = 0
  const next = () => {
    const s = k++ % SINGLE_SERIES
    const ts = (last[s] = Math.max(Date.now(), last[s]! + 1))
    return `{"name":"bench_single","value":${k % 1000},"labels":{"agent":"agent-${s % 20}","series":"${s}"},"ts":${ts}}`
  }
  return {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: next(),
    next,
  }
}

/**
 * POST /api/v1/metrics with {points:[…]}: 1 000 points a request, one per series (shaped like the
 * remote-write payloads: 50 names × 20 instances), all at the request's own timestamp.
 */
export function batch(key: string): LoadRequest {
  // The body is fixed text around the timestamp, so building a request costs the client little.
  const parts = Array.from(
    { length: BATCH_POINTS },
    (_, i) =>
      `{"name":"bench_batch_${i % 50}","value":${(i * 7) % 1000},"labels":{"instance":"host-${i % 20}:9100","series":"${i}"},"ts":`,
  )
  let last = 0
  const next = () => {
    const ts = String((last = Math.max(Date.now(), last + 1)))
    return `{"points":[${parts.map((p) => p + ts + '}').join(',')}]}`
  }
  return {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: next(),
    next,
  }
}

/**
 * The same remote-write bodies for every receiver, in the same order: request r carries 1 000
 * series at t0 + r ms. Each receiver gets its own cursor; bodies are made on first use and kept,
 * so the second receiver is sent exactly the bytes the first was. `prepare` makes some up front.
 */
export function remoteWritePool() {
  const t0 = Date.now() + 30_000 // a little ahead: the group runs well within the 10 minutes both accept
  const made: Buffer[] = []
  const more = (n: number) =>
    made.push(...remoteWritePayloads(n, { seriesPerRequest: REMOTE_WRITE_SERIES, t0: t0 + made.length, stepMs: 1 }))
  const get = (i: number) => {
    // Payload i is built with t0 + i whatever the batch it is made in.
    while (made.length <= i) more(Math.max(50, i + 1 - made.length))
    return made[i]!
  }
  return {
    prepare: (n: number) => void (made.length < n && more(n - made.length)),
    get size() {
      return made.length
    },
    /** Requests to one receiver: its own cursor over the shared bodies. */
    request(headers: Record<string, string>): LoadRequest {
      let i = 0
      return { method: 'POST', headers: { ...REMOTE_WRITE_HEADERS, ...headers }, body: get(i++), next: () => get(i++) }
    },
  }
}

/**
 * Debian's Prometheus as a remote-write receiver, storing into `dir`, with an out-of-order window
 * (20 connections deliver a shard's requests slightly out of order). Scrapes nothing.
 */
export async function startPrometheus(dir: string): Promise<Started> {
  mkdirSync(join(dir, 'data'), { recursive: true })
  const config = join(dir, 'prometheus.yml')
  writeFileSync(config, 'global:\n  scrape_interval: 1h\nstorage:\n  tsdb:\n    out_of_order_time_window: 1h\n')
  const port = await freePort()
  return startServer({
    name: 'prometheus',
    command: process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus',
    args: [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-remote-write-receiver',
      '--log.level=warn',
    ],
    port,
    readyPath: '/-/ready',
  })
}
