/**
 * A real Prometheus (Debian's 2.42, /usr/bin/prometheus) scrapes a local target every second and
 * remote-writes to a real Homeostat server (Bun); what Homeostat stores must be what the target
 * served, with the job and instance labels Prometheus attaches.
 */
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requirePrometheus, startPrometheus, type RunningPrometheus } from '../helpers/prometheus.ts'
import { cliKey as makeKey, killAll, startServer, until, type RunningServer } from '../helpers/server.ts'

const GAUGE = 'homeostat_e2e_gauge'

let server: RunningServer
let viewer: Record<string, string>
let target: Server
let targetPort: number
let gauge = 42
let prometheus: RunningPrometheus | undefined
const startedAt = Date.now()

const cliKey = (role: string, scopes: string[] = []) => makeKey(server, `prom-e2e-${role}`, role, scopes)

function serveTarget(): Promise<number> {
  target = createServer((req, res) => {
    if (req.url !== '/metrics') return res.writeHead(404).end()
    res.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4' })
    res.end(`# HELP ${GAUGE} A gauge the test controls\n# TYPE ${GAUGE} gauge\n${GAUGE}{job_label="x"} ${gauge}\n`)
  })
  return new Promise((resolve) =>
    target.listen(0, '127.0.0.1', () => resolve((target.address() as { port: number }).port)),
  )
}

async function startRemoteWrite(key: string) {
  prometheus = await startPrometheus({
    global: { scrape_interval: '1s', evaluation_interval: '1s' },
    scrape_configs: [{ job_name: 'e2e', static_configs: [{ targets: [`127.0.0.1:${targetPort}`] }] }],
    remote_write: [
      {
        url: `${server.url}/api/v1/write`,
        authorization: { credentials: key },
        queue_config: { batch_send_deadline: '1s' },
        metadata_config: { send_interval: '2s' },
      },
    ],
  })
}

type Series = { name: string; labels: Record<string, string> }
const api = async <T>(path: string) => {
  const res = await server.fetch(path, { headers: viewer })
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${await res.text()}`)
  return (await res.json()) as T
}
const seriesOf = (name: string) => api<{ items: Series[] }>(`/api/v1/metrics/series?name=${name}`).then((r) => r.items)
/** The min, max or count of everything stored since the test began (raw points: the step is no rollup size). */
async function range(name: string, agg: 'min' | 'max' | 'count') {
  const to = Date.now() + 1000
  const r = await api<{ series: { values: [string, number | null][] }[] }>(
    `/api/v1/metrics/query?name=${name}&from=${startedAt - 60_000}&to=${to}&step=3600001&agg=${agg}`,
  )
  const values = r.series.flatMap((s) => s.values.map(([, v]) => v)).filter((v) => v !== null)
  if (!values.length) return undefined
  return agg === 'min' ? Math.min(...values) : agg === 'max' ? Math.max(...values) : values.reduce((a, b) => a + b, 0)
}
const diagnostics = () => `\n--- prometheus\n${prometheus?.log().slice(-4000)}\n${server?.output().slice(-4000)}`

beforeAll(async () => {
  requirePrometheus()
  server = await startServer({ runtime: 'bun' })
  viewer = { Authorization: `Bearer ${await cliKey('viewer')}` }
  targetPort = await serveTarget()
  await startRemoteWrite(await cliKey('viewer', ['ingest']))
})

afterAll(async () => {
  await prometheus?.stop()
  await new Promise((resolve) => (target ? target.close(resolve) : resolve(undefined)))
  await killAll()
})

describe('Prometheus 2.42 remote write into Homeostat', () => {
  it('stores the scraped gauge with the value the target served and the job/instance labels', async () => {
    const found = await until(
      'the gauge scraped by Prometheus to reach Homeostat',
      async () => ((await seriesOf(GAUGE)).length ? seriesOf(GAUGE) : undefined),
      60_000,
      500,
    ).catch((error: Error) => {
      throw new Error(error.message + diagnostics())
    })
    expect(found).toHaveLength(1)
    expect(found[0]!.labels).toEqual({ job: 'e2e', instance: `127.0.0.1:${targetPort}`, job_label: 'x' })
    expect(await range(GAUGE, 'min')).toBe(42)
    expect(await range(GAUGE, 'max')).toBe(42)
  })

  it('follows the target: a new value served shows up as stored', async () => {
    gauge = 7.5
    const values = await until(
      'the new gauge value to reach Homeostat',
      async () => ((await range(GAUGE, 'min')) === 7.5 ? range(GAUGE, 'max') : undefined),
      60_000,
      500,
    ).catch((error: Error) => {
      throw new Error(error.message + diagnostics())
    })
    expect(values).toBe(42)
    expect(await range(GAUGE, 'count')).toBeGreaterThanOrEqual(2)
  })

  it('stores the up series Prometheus adds for the target, at 1', async () => {
    const up = await until(
      'the up series',
      async () => {
        const list = (await seriesOf('up')).filter((s) => s.labels.job === 'e2e')
        return list.length ? list : undefined
      },
      30_000,
      500,
    )
    expect(up[0]!.labels).toEqual({ job: 'e2e', instance: `127.0.0.1:${targetPort}` })
    expect(await range('up', 'min')).toBe(1)
    // Prometheus never got a 4xx/5xx back: nothing it sent was refused.
    expect(prometheus!.log()).not.toMatch(
      /non-recoverable error|server returned HTTP status 4\d\d|server returned HTTP status 5\d\d/,
    )
    expect(server.output()).toMatch(/"route":"\/api\/v1\/write","status":204/)
    expect(server.output()).not.toMatch(/"route":"\/api\/v1\/write","status":(?!204)/)
  })
})
