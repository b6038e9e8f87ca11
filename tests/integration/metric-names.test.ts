/**
 * Metric names users expect (docs/metrics.md#metric-names-and-kinds, ADR 0011): Homeostat's own
 * /metrics checked by the real `promtool check metrics`; the names renamed in 0.2 still read under
 * their old names (JSON query, PromQL, a stored alert rule); and rate functions over a delta series
 * against a cumulative counter with a reset.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eq } from 'drizzle-orm'
import { alerts, storedAlert } from '../../db/schema/alerts.ts'
import { auditLog } from '../../db/schema/audit.ts'
import { metricKinds } from '../../db/schema/metrics.ts'
import { RENAMED, storedNames } from '../../app/modules/metrics/index.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { serveApp } from '../helpers/n8n-harness.ts'

const PROMTOOL = process.env.PROMTOOL_BIN ?? '/usr/bin/promtool'
const MIN = 60_000
const END = Date.parse('2026-11-20T12:00:00Z')

/** `promtool check metrics` with the text on stdin: its exit code and what it printed. */
function checkMetrics(text: string) {
  return new Promise<{ code: number; out: string }>((resolve) => {
    const child = execFile(PROMTOOL, ['check', 'metrics'], { timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, out: `${stdout}${stderr}` }),
    )
    child.stdin!.end(text)
  })
}

const families = (text: string) =>
  new Map([...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((m) => [m[1]!, m[2]!] as [string, string]))

describe('GET /metrics: Homeostat’s own names', () => {
  let t: TestApp
  let server: Awaited<ReturnType<typeof serveApp>>
  let legacyOff: TestApp
  beforeAll(async () => {
    if (!existsSync(PROMTOOL))
      throw new Error(`${PROMTOOL} not found: install it with apt-get install -y prometheus (or set PROMTOOL_BIN)`)
    t = await testApp({ METRICS_PUBLIC: 'true' })
    legacyOff = await testApp({ METRICS_PUBLIC: 'true', METRICS_LEGACY_NAMES: 'false' })
    server = await serveApp(t)
    // One request, so the request families have samples.
    await fetch(`${server.url}/health`)
  })
  afterAll(async () => {
    await server?.close()
    t?.close()
    legacyOff?.close()
  })

  it('passes promtool check metrics, and every family of the server is homeostat_ or process_', async () => {
    const res = await fetch(`${server.url}/metrics`)
    expect(res.status).toBe(200)
    const text = await res.text()
    const current = text.slice(0, text.indexOf('# HELP http_requests_total')) // before the legacy block
    const r = await checkMetrics(current)
    expect(r.out).toBe('')
    expect(r.code).toBe(0)
    const types = families(current)
    expect([...types.keys()].filter((n) => !/^(homeostat|process)_/.test(n))).toEqual([])
    for (const [name, type] of types) if (type === 'counter') expect(name).toMatch(/_total$/)
    expect(types.get('homeostat_http_request_duration_seconds')).toBe('histogram')
    expect(types.get('homeostat_http_requests_total')).toBe('counter')
    expect(current).toMatch(/^homeostat_http_requests_total\{method="GET",route="\/health",status="200"\} 1$/m)
  })

  it('serves the old names beside the new ones for one release, with the same samples', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text()
    const types = families(text)
    for (const old of [
      'http_requests_total',
      'http_request_duration_seconds',
      'db_query_duration_seconds',
      'job_runs_total',
      'job_run_duration_seconds',
    ])
      expect(types.get(old), old).toBe(types.get(`homeostat_${old}`))
    expect(text).toMatch(/^# HELP http_requests_total Deprecated: renamed homeostat_http_requests_total/m)
    const line = (name: string) => text.split('\n').find((l) => l.startsWith(`${name}{method="GET",route="/health"`))
    expect(line('http_requests_total')?.split(' ')[1]).toBe(line('homeostat_http_requests_total')?.split(' ')[1])
    // The whole page, old names too, is still a valid exposition.
    expect((await checkMetrics(text)).code).toBe(0)
  })

  it('METRICS_LEGACY_NAMES=false serves only the new names', async () => {
    await legacyOff.app.request('/health')
    const text = await (await legacyOff.app.request('/metrics')).text()
    expect(text).toContain('homeostat_http_requests_total{')
    expect(text).not.toMatch(/^(# TYPE )?http_requests_total/m)
    expect(text).not.toMatch(/^job_runs_total/m)
  })

  it('a bad METRICS_LEGACY_NAMES stops start-up naming it', async () => {
    await expect(testApp({ METRICS_LEGACY_NAMES: 'sometimes' })).rejects.toThrow(/METRICS_LEGACY_NAMES/)
  })
})

describe('renamed stored metrics: old names read as aliases', () => {
  let t: TestApp
  let ingest: Record<string, string>
  let viewer: Record<string, string>
  let op: Record<string, string>
  beforeAll(async () => {
    t = await testApp()
    ingest = (await t.key('operator', ['ingest'])).headers
    viewer = (await t.key('viewer')).headers
    op = (await t.key('operator')).headers
    // One agent still pushes the old name in ms; Homeostat's OTLP intake writes the new name in seconds.
    const points = [
      { name: 'llm_latency_ms', value: 1500, ts: END - 3 * MIN, labels: { model: 'm1', component: 'old-agent' } },
      { name: 'llm_latency_seconds', value: 2.5, ts: END - 2 * MIN, labels: { model: 'm1', component: 'new-agent' } },
    ]
    const res = await t.json('POST', '/api/v1/metrics', { points }, ingest)
    expect(res.status).toBe(200)
  })
  afterAll(() => t?.close())

  it('the alias table is one-to-one and covers both directions', () => {
    expect(new Set(RENAMED.map((r) => r.old)).size).toBe(RENAMED.length)
    expect(storedNames('llm_latency_ms')).toEqual([
      { name: 'llm_latency_ms', scale: 1 },
      { name: 'llm_latency_seconds', scale: 1000 },
    ])
    expect(storedNames('llm_latency_seconds')).toEqual([
      { name: 'llm_latency_seconds', scale: 1 },
      { name: 'llm_latency_ms', scale: 0.001 },
    ])
    expect(storedNames('agent_requests_total')).toEqual([{ name: 'agent_requests_total', scale: 1 }])
  })

  it('the JSON query API finds both series under either name, each in the unit of the name asked', async () => {
    const q = async (name: string) => {
      const res = await t.app.request(
        `/api/v1/metrics/query?name=${name}&from=${END - 10 * MIN}&to=${END}&step=10m&agg=max&by=component`,
        { headers: viewer },
      )
      expect(res.status).toBe(200)
      const body = (await res.json()) as { series: { labels: { component: string }; values: [number, number][] }[] }
      return Object.fromEntries(body.series.map((s) => [s.labels.component, s.values[0]![1]]))
    }
    expect(await q('llm_latency_ms')).toEqual({ 'old-agent': 1500, 'new-agent': 2500 })
    const seconds = await q('llm_latency_seconds')
    expect(seconds['old-agent']).toBeCloseTo(1.5, 9)
    expect(seconds['new-agent']).toBe(2.5)
  })

  it('PromQL on the old name answers in ms under the old name; on the new one in seconds', async () => {
    const query = async (expr: string) => {
      const res = await t.app.request(`/api/v1/query?query=${encodeURIComponent(expr)}&time=${END / 1000}`, {
        headers: viewer,
      })
      const body = (await res.json()) as {
        status: string
        data: { result: { metric: Record<string, string>; value: [number, string] }[] }
      }
      expect(body.status).toBe('success')
      return body.data.result
    }
    const old = await query('max_over_time(llm_latency_ms{model="m1"}[10m])')
    expect(Object.fromEntries(old.map((r) => [r.metric.component, Number(r.value[1])]))).toEqual({
      'old-agent': 1500,
      'new-agent': 2500,
    })
    const last = await query('last_over_time(llm_latency_seconds{component="old-agent"}[10m])')
    expect(last).toHaveLength(1)
    expect(last[0]!.metric.__name__).toBe('llm_latency_seconds')
    expect(Number(last[0]!.value[1])).toBeCloseTo(1.5, 9)
    // A regular expression on __name__ sees the stored names, unaliased.
    const regex = await query('count by (__name__) (last_over_time({__name__=~"llm_latency_.*"}[10m]))')
    expect(regex.map((r) => r.metric.__name__).sort()).toEqual(['llm_latency_ms', 'llm_latency_seconds'])
  })

  it('a stored alert rule on the old name (a threshold in ms) fires from points under the new name', async () => {
    const res = await t.json(
      'POST',
      '/api/v1/alert-rules',
      {
        name: 'slow model (old name)',
        kind: 'threshold',
        metric: 'llm_latency_ms',
        matchers: [{ label: 'component', op: '=', value: 'new-agent' }],
        by: ['component'],
        agg: 'max',
        window: '5m',
        comparator: '>',
        value: 2000,
        severity: 'warning',
      },
      op,
    )
    expect(res.status, await res.clone().text()).toBe(201)
    const rule = (await res.json()) as { id: string; warnings: string[] }
    expect(rule.warnings).toEqual([]) // its series exist, under the new name
    await t.services.alerts.evaluateAll(END)
    const fired = await t.db.select(storedAlert).from(alerts).where(eq(alerts.ruleId, rule.id))
    expect(fired).toHaveLength(1)
    expect(fired[0]).toMatchObject({ status: 'firing', value: 2500, labels: { component: 'new-agent' } })
  })

  it('a rule on a name nobody wrote, under either name, still warns', async () => {
    const res = await t.json(
      'POST',
      '/api/v1/alert-rules',
      {
        name: 'no pings yet',
        kind: 'threshold',
        metric: 'ping_ms',
        agg: 'max',
        window: '5m',
        comparator: '>',
        value: 1,
        severity: 'info',
      },
      op,
    )
    expect(res.status).toBe(201)
    expect(((await res.json()) as { warnings: string[] }).warnings).toEqual([
      'metric ping_ms has no series yet; the rule will match once it is written',
    ])
  })
})

describe('rate over a delta series and over a counter with a reset', () => {
  let t: TestApp
  let viewer: Record<string, string>
  // Every 15 s over 10 minutes (41 samples, i = 0…40).
  const times = Array.from({ length: 41 }, (_, i) => END - (40 - i) * 15_000)
  beforeAll(async () => {
    t = await testApp()
    const ingest = (await t.key('operator', ['ingest'])).headers
    viewer = (await t.key('viewer')).headers
    // llm_tokens_total is a delta metric Homeostat itself writes: each point is one call's tokens (10).
    const deltas = times.map((ts) => ({
      name: 'llm_tokens_total',
      value: 10,
      ts,
      labels: { model: 'd', kind: 'prompt' },
    }))
    expect((await t.json('POST', '/api/v1/metrics', { points: deltas }, ingest)).status).toBe(200)
    // A cumulative counter, declared by the Prometheus text format's # TYPE: +3 per sample, reset to 0 at i = 30.
    const lines = times.map((ts, i) => `jobs_done_total{worker="w"} ${i < 30 ? 3 * i : 3 * (i - 30)} ${ts}`)
    const text = `# HELP jobs_done_total Jobs done\n# TYPE jobs_done_total counter\n${lines.join('\n')}\n`
    const res = await t.app.request('/api/v1/metrics', {
      method: 'POST',
      body: text,
      headers: { ...ingest, 'Content-Type': 'text/plain' },
    })
    expect(res.status).toBe(200)
  })
  afterAll(() => t?.close())

  const promql = async (expr: string) => {
    const res = await t.app.request(`/api/v1/query?query=${encodeURIComponent(expr)}&time=${END / 1000}`, {
      headers: viewer,
    })
    const body = (await res.json()) as { data: { result: { value: [number, string] }[] } }
    expect(body.data.result, expr).toHaveLength(1)
    return Number(body.data.result[0]!.value[1])
  }

  it('records the declared kind; /api/v1/metadata reports each', async () => {
    const [row] = await t.db.select().from(metricKinds).where(eq(metricKinds.name, 'jobs_done_total'))
    expect(row).toMatchObject({ kind: 'counter', source: 'prometheus_text' })
    const res = await t.app.request('/api/v1/metadata', { headers: viewer })
    const body = (await res.json()) as { data: Record<string, { type: string; help: string }[]> }
    expect(body.data.jobs_done_total).toEqual([{ type: 'counter', help: '', unit: '' }])
    expect(body.data.llm_tokens_total![0]).toMatchObject({ type: 'unknown', help: expect.stringMatching(/^delta/) })
  })

  it('PromQL: increase and rate of a delta series are the sum of its points over the window', async () => {
    // (END - 5m, END]: 20 samples of 10 tokens.
    expect(await promql('increase(llm_tokens_total[5m])')).toBe(200)
    expect(await promql('rate(llm_tokens_total[5m])')).toBeCloseTo(200 / 300, 12)
    expect(await promql('irate(llm_tokens_total[5m])')).toBeCloseTo(10 / 15, 12) // the last call's 10 over 15 s
  })

  it('PromQL: a counter keeps Prometheus’ reset handling and extrapolation', async () => {
    // Window (END - 5m, END]: i = 21…40: 63 … 87, reset to 0 at i = 30, then 0 … 30. Increase 24 + 30 = 54
    // over 285 s of samples, extrapolated to the window's start (15 s, under 1.1 intervals) and not past its end.
    const increase = await promql('increase(jobs_done_total[5m])')
    expect(increase).toBeCloseTo((54 * (285 + 15)) / 285, 9)
    expect(await promql('rate(jobs_done_total[5m])')).toBeCloseTo(increase / 300, 12)
    expect(await promql('irate(jobs_done_total[5m])')).toBeCloseTo(3 / 15, 12)
  })

  it('the JSON query API: rate of a delta metric is each step’s sum per second; of a counter, the increase', async () => {
    const rate = async (name: string) => {
      const res = await t.app.request(
        `/api/v1/metrics/query?name=${name}&from=${END - 10 * MIN}&to=${END}&step=5m&agg=rate`,
        { headers: viewer },
      )
      expect(res.status).toBe(200)
      const body = (await res.json()) as { kind: string | null; series: { values: [number, number][] }[] }
      return { kind: body.kind, values: body.series[0]!.values }
    }
    const delta = await rate('llm_tokens_total')
    expect(delta.kind).toBe('delta')
    // [END - 10m, END - 5m): 20 points of 10 → 200 tokens in 300 s, both steps.
    expect(delta.values.map(([, v]) => v)).toEqual([200 / 300, 200 / 300])
    const counter = await rate('jobs_done_total')
    expect(counter.kind).toBe('counter')
    // The second step's last value (i = 39: 27) after the first's (i = 19: 57): a reset, counted from zero.
    expect(counter.values).toEqual([[new Date(END - 5 * MIN).toISOString(), 27 / 300]])
  })
})

describe('OTLP sums declare their kind by temporality', () => {
  let t: TestApp
  beforeAll(async () => {
    t = await testApp()
  })
  afterAll(() => t?.close())

  it('delta → delta, cumulative monotonic → counter, cumulative up-down → gauge; rate sums the deltas', async () => {
    const ingest = (await t.key('operator', ['ingest'])).headers
    const viewer = (await t.key('viewer')).headers
    const nanos = (ms: number) => String(BigInt(ms) * 1_000_000n)
    const points = (values: number[]) =>
      values.map((v, i) => ({ asDouble: v, timeUnixNano: nanos(END - (values.length - 1 - i) * 60_000) }))
    const sum = (name: string, temporality: number, monotonic: boolean, values: number[]) => ({
      name,
      sum: { aggregationTemporality: temporality, isMonotonic: monotonic, dataPoints: points(values) },
    })
    const body = {
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'otel-agent' } }] },
          scopeMetrics: [
            {
              metrics: [
                sum('agent.calls', 1, true, [4, 6, 5]), // delta
                sum('agent.jobs', 2, true, [10, 15, 18]), // cumulative
                sum('agent.queue', 2, false, [3, 1, 2]), // cumulative, not monotonic
              ],
            },
          ],
        },
      ],
    }
    const res = await t.app.request('/v1/metrics', {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { ...ingest, 'Content-Type': 'application/json' },
    })
    expect(res.status, await res.clone().text()).toBe(200)
    const kinds = Object.fromEntries(
      (await t.db.select().from(metricKinds)).map((r) => [r.name, `${r.kind}/${r.source}`]),
    )
    expect(kinds).toEqual({
      agent_calls_total: 'delta/otlp',
      agent_jobs_total: 'counter/otlp',
      agent_queue: 'gauge/otlp',
    })
    const increase = async (expr: string) => {
      const r = await t.app.request(`/api/v1/query?query=${encodeURIComponent(expr)}&time=${END / 1000}`, {
        headers: viewer,
      })
      const b = (await r.json()) as { data: { result: { value: [number, string] }[] } }
      return Number(b.data.result[0]!.value[1])
    }
    // The delta sum over the last 3 minutes is what its three points add up to, not last − first.
    expect(await increase('increase(agent_calls_total[3m])')).toBe(15)
    // The cumulative one keeps Prometheus' reading: 18 − 10 over 120 s of samples, stretched 60 s to the window's start.
    expect(await increase('increase(agent_jobs_total[3m])')).toBeCloseTo((8 * 180) / 120, 9)
  })
})

describe('PUT /api/v1/metrics/kinds/:name: declaring a pushed metric a delta', () => {
  let t: TestApp
  let op: Record<string, string>
  let viewer: Record<string, string>
  beforeAll(async () => {
    t = await testApp()
    op = (await t.key('operator')).headers
    viewer = (await t.key('viewer')).headers
    const ingest = (await t.key('operator', ['ingest'])).headers
    // An agent pushes one point per request: value 1 every 30 s for 10 minutes.
    const points = Array.from({ length: 20 }, (_, i) => ({
      name: 'agent_requests_total',
      value: 1,
      ts: END - i * 30_000,
      labels: { agent: 'a' },
    }))
    expect((await t.json('POST', '/api/v1/metrics', { points }, ingest)).status).toBe(200)
  })
  afterAll(() => t?.close())

  const increase = async () => {
    const r = await t.app.request(
      `/api/v1/query?query=${encodeURIComponent('increase(agent_requests_total[5m])')}&time=${END / 1000}`,
      { headers: viewer },
    )
    const b = (await r.json()) as { data: { result: { value: [number, string] }[] } }
    return Number(b.data.result[0]!.value[1])
  }

  it('read as a counter until declared (all ones: no increase), then as deltas (the sum), audited', async () => {
    expect(await increase()).toBe(0)
    const res = await t.json('PUT', '/api/v1/metrics/kinds/agent_requests_total', { kind: 'delta' }, op)
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ name: 'agent_requests_total', kind: 'delta' })
    expect(await increase()).toBe(10) // (END − 5m, END]: ten points of 1
    const [row] = await t.db.select().from(auditLog).where(eq(auditLog.action, 'metric_kind.set'))
    expect(row).toMatchObject({ target: 'agent_requests_total', summary: 'agent_requests_total is a delta' })
    const list = (await (await t.app.request('/api/v1/metrics/kinds', { headers: viewer })).json()) as {
      declared: { name: string; kind: string; source: string }[]
      builtIn: { name: string; kind: string }[]
    }
    expect(list.declared).toMatchObject([{ name: 'agent_requests_total', kind: 'delta', source: 'api' }])
    expect(list.builtIn).toContainEqual({ name: 'llm_tokens_total', kind: 'delta' })
  })

  it('refuses a viewer (403), a bad kind or name (400 naming the field), a built-in name under either name (409)', async () => {
    expect((await t.json('PUT', '/api/v1/metrics/kinds/x_total', { kind: 'delta' }, viewer)).status).toBe(403)
    const bad = await t.json('PUT', '/api/v1/metrics/kinds/x_total', { kind: 'histogram' }, op)
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { details: { field: string }[] } }).error.details[0]!.field).toBe('kind')
    const badName = await t.json('PUT', '/api/v1/metrics/kinds/9bad', { kind: 'gauge' }, op)
    expect(badName.status).toBe(400)
    expect(((await badName.json()) as { error: { details: { field: string }[] } }).error.details[0]!.field).toBe('name')
    expect((await t.json('PUT', '/api/v1/metrics/kinds/llm_tokens_total', { kind: 'counter' }, op)).status).toBe(409)
    const old = await t.json('PUT', '/api/v1/metrics/kinds/llm_cost_usd', { kind: 'counter' }, op)
    expect(old.status).toBe(409)
    expect(((await old.json()) as { error: { message: string } }).error.message).toMatch(
      /^llm_cost_usd_total is written/,
    )
  })
})
