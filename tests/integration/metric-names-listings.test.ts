/**
 * The renamed metrics' old names (ADR 0011, docs/metrics.md#renamed-metrics) in the listings: a
 * selector on an old name finds the series stored under the new one in Prometheus' series, labels
 * and label-values APIs (as asked of the real `promtool`, and over HTTP), `/api/v1/metadata?metric=`
 * answers for an old name, `__name__` values list only stored names, and the metrics module's JSON
 * series listing finds both names' series under either.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp, type TestApp } from '../helpers/app.ts'
import { serveApp } from '../helpers/n8n-harness.ts'

const PROMTOOL = process.env.PROMTOOL_BIN ?? '/usr/bin/promtool'
const MIN = 60_000
const END = Date.parse('2026-11-20T12:00:00Z')

let t: TestApp
let server: Awaited<ReturnType<typeof serveApp>>
let viewer: Record<string, string>
let withKey: string
beforeAll(async () => {
  if (!existsSync(PROMTOOL))
    throw new Error(`${PROMTOOL} not found: install it with apt-get install -y prometheus (or set PROMTOOL_BIN)`)
  t = await testApp()
  const ingest = (await t.key('operator', ['ingest'])).headers
  const key = await t.key('viewer')
  viewer = key.headers
  // After the upgrade Homeostat writes llm_latency_seconds; one agent still pushes llm_latency_ms, and
  // one pushes the same labels under both names. Nothing is stored under check_duration_seconds' old name.
  const points = [
    { name: 'llm_latency_seconds', value: 2.5, ts: END - 2 * MIN, labels: { model: 'm1', component: 'new-agent' } },
    { name: 'llm_latency_ms', value: 1500, ts: END - 3 * MIN, labels: { model: 'm1', component: 'old-agent' } },
    { name: 'llm_latency_ms', value: 900, ts: END - 3 * MIN, labels: { model: 'm2', component: 'both' } },
    { name: 'llm_latency_seconds', value: 0.9, ts: END - 2 * MIN, labels: { model: 'm2', component: 'both' } },
    { name: 'check_duration_seconds', value: 0.2, ts: END - MIN, labels: { component: 'api', region: 'eu' } },
    { name: 'agent_requests_total', value: 3, ts: END - MIN, labels: { agent: 'planner' } },
  ]
  expect((await t.json('POST', '/api/v1/metrics', { points }, ingest)).status).toBe(200)
  server = await serveApp(t)
  withKey = server.url.replace('http://', `http://grafana:${key.key}@`)
})
afterAll(async () => {
  await server?.close()
  t?.close()
})

type Prom<T> = { status: string; data: T; error?: string }
async function prom<T>(path: string, status = 200) {
  const res = await t.app.request(path, { headers: viewer })
  const body = (await res.json()) as Prom<T>
  expect(res.status, JSON.stringify(body)).toBe(status)
  return body
}
const q = (match: string) => `match[]=${encodeURIComponent(match)}`

describe('Prometheus listings: a selector on an old name', () => {
  it('/api/v1/series finds the series stored under the new name, named as asked, each label set once', async () => {
    const { data } = await prom<Record<string, string>[]>(`/api/v1/series?${q('latency_ms')}`)
    expect(data).toEqual([{ __name__: 'latency_ms', component: 'api', region: 'eu' }])
    const old = await prom<Record<string, string>[]>(`/api/v1/series?${q('{__name__="llm_latency_ms"}')}`)
    // `both` is stored under both names: Prometheus lists a series once.
    expect(old.data.map((s) => s.component).sort()).toEqual(['both', 'new-agent', 'old-agent'])
    expect(old.data.every((s) => s.__name__ === 'llm_latency_ms')).toBe(true)
    const current = await prom<Record<string, string>[]>(`/api/v1/series?${q('llm_latency_seconds{model="m1"}')}`)
    expect(current.data.map((s) => [s.__name__, s.component]).sort()).toEqual([
      ['llm_latency_seconds', 'new-agent'],
      ['llm_latency_seconds', 'old-agent'],
    ])
  })

  it('/api/v1/labels and /api/v1/label/:name/values with match[] on an old name read the new series', async () => {
    expect((await prom<string[]>(`/api/v1/labels?${q('latency_ms')}`)).data).toEqual([
      '__name__',
      'component',
      'region',
    ])
    expect((await prom<string[]>(`/api/v1/label/region/values?${q('latency_ms')}`)).data).toEqual(['eu'])
    expect((await prom<string[]>(`/api/v1/label/__name__/values?${q('latency_ms')}`)).data).toEqual(['latency_ms'])
    expect((await prom<string[]>(`/api/v1/label/component/values?${q('llm_latency_ms{model="m1"}')}`)).data).toEqual([
      'new-agent',
      'old-agent',
    ])
  })

  it('__name__ values without match[] are the stored names: an alias nobody stored under is not listed', async () => {
    const { data } = await prom<string[]>('/api/v1/label/__name__/values')
    expect(data).toEqual(['agent_requests_total', 'check_duration_seconds', 'llm_latency_ms', 'llm_latency_seconds'])
    expect(data).not.toContain('latency_ms')
  })

  it('a regular expression on __name__ sees stored names only, as in queries', async () => {
    const { data } = await prom<Record<string, string>[]>(`/api/v1/series?${q('{__name__=~"latency_ms|ping_ms"}')}`)
    expect(data).toEqual([])
  })

  it('/api/v1/metadata?metric=<old name> describes it as deprecated; the full list has stored names', async () => {
    type Meta = Record<string, { type: string; help: string; unit: string }[]>
    const old = await prom<Meta>('/api/v1/metadata?metric=latency_ms')
    expect(old.data).toEqual({
      latency_ms: [{ type: 'gauge', help: 'Deprecated: renamed check_duration_seconds (× 0.001)', unit: '' }],
    })
    expect((await prom<Meta>('/api/v1/metadata?metric=check_duration_seconds')).data).toEqual({
      check_duration_seconds: [{ type: 'gauge', help: '', unit: 'seconds' }],
    })
    // Not stored under either name: nothing, as for any unknown metric.
    expect((await prom<Meta>('/api/v1/metadata?metric=ping_ms')).data).toEqual({})
    const all = await prom<Meta>('/api/v1/metadata')
    expect(Object.keys(all.data)).toEqual([
      'agent_requests_total',
      'check_duration_seconds',
      'llm_latency_ms',
      'llm_latency_seconds',
    ])
    expect(all.data.llm_latency_ms![0]!.help).toBe('Deprecated: renamed llm_latency_seconds (× 0.001)')
  })

  it('bad selectors are still refused naming the parameter', async () => {
    const bad = await prom<unknown>(`/api/v1/series?${q('rate(latency_ms[5m])')}`, 400)
    expect(bad).toMatchObject({ status: 'error', errorType: 'bad_data' })
    expect(bad.error).toMatch(/match\[\]/)
    const regex = await prom<unknown>(`/api/v1/labels?${q('{__name__=~"(a"}')}`, 400)
    expect(regex.error).toMatch(/invalid regular expression/)
  })
})

describe('promtool query series / labels on an old name', () => {
  const run = promisify(execFile)
  const promtool = async (...args: string[]) =>
    JSON.parse((await run(PROMTOOL, ['query', '-o', 'json', ...args], { timeout: 30_000 })).stdout)

  it('series --match=<old name> lists the new series under the old name', async () => {
    expect(await promtool('series', '--match=latency_ms', withKey)).toEqual([
      { __name__: 'latency_ms', component: 'api', region: 'eu' },
    ])
  })

  it('labels with --match=<old name> gives the new series’ label values', async () => {
    expect(await promtool('labels', '--match=latency_ms', withKey, 'region')).toEqual(['eu'])
    expect(await promtool('labels', withKey, '__name__')).not.toContain('latency_ms')
  })
})

describe('GET /api/v1/metrics/series (JSON): name= covers both names of a renamed metric', () => {
  type Listing = {
    names: { name: string; series: number }[]
    items: { name: string; labels: Record<string, string> }[]
  }
  const list = async (query: string) => {
    const res = await t.app.request(`/api/v1/metrics/series?${query}`, { headers: viewer })
    expect(res.status).toBe(200)
    return (await res.json()) as Listing
  }

  it('an old name lists the series stored under the new one, each with its stored name', async () => {
    const byOld = await list('name=latency_ms')
    expect(byOld.names).toEqual([{ name: 'check_duration_seconds', series: 1, lastSeenAt: expect.any(String) }])
    expect(byOld.items).toEqual([
      expect.objectContaining({ name: 'check_duration_seconds', labels: { component: 'api', region: 'eu' } }),
    ])
  })

  it('either name of llm_latency lists the series of both', async () => {
    for (const name of ['llm_latency_ms', 'llm_latency_seconds']) {
      const l = await list(`name=${name}`)
      expect(l.names.map((n) => [n.name, n.series])).toEqual([
        ['llm_latency_ms', 2],
        ['llm_latency_seconds', 2],
      ])
      expect(l.items).toHaveLength(4)
    }
  })

  it('a name that was not renamed lists only itself; a bad name is a 400 naming it', async () => {
    expect((await list('name=agent_requests_total')).items.map((i) => i.name)).toEqual(['agent_requests_total'])
    const res = await t.app.request('/api/v1/metrics/series?name=bad%20name', { headers: viewer })
    expect(res.status).toBe(400)
    expect(JSON.stringify(await res.json())).toContain('name')
  })
})
