import { readFileSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ingestAgentMetrics } from '../helpers/agent-metrics.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

// A whole minute, so that Unix seconds and RFC 3339 spell the same instant.
const END = Date.parse('2026-11-20T12:00:00Z')
const END_S = END / 1000

let t: TestApp
let headers: Record<string, string>
let key: string
beforeAll(async () => {
  t = await testApp()
  ;({ key, headers } = await t.key('viewer'))
  await ingestAgentMetrics(t, END)
})
afterAll(() => t.close())

type Sample = [number, string]
type Row = { metric: Record<string, string>; value: Sample; values: Sample[] }
// biome-ignore lint/suspicious/noExplicitAny: the data differs per endpoint; each test reads its own shape
type Data = any
type Envelope = { status: string; data?: Data; errorType?: string; error?: string }
async function get(path: string, h: Record<string, string> = headers) {
  const res = await t.app.request(path, { headers: h })
  return { status: res.status, body: (await res.json()) as Envelope }
}
async function post(path: string, form: Record<string, string>, h: Record<string, string> = headers) {
  const res = await t.app.request(path, {
    method: 'POST',
    body: new URLSearchParams(form),
    headers: { ...h, 'Content-Type': 'application/x-www-form-urlencoded' },
  })
  return { status: res.status, body: (await res.json()) as Envelope }
}
const q = (query: string, time = END_S) =>
  get(`/api/v1/query?query=${encodeURIComponent(query)}&time=${time}`).then((r) => {
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    return r.body.data as { resultType: string; result: Row[] }
  })
/** An instant vector as {agent/status/…: value}. */
const byLabels = (data: { result: Row[] }) =>
  Object.fromEntries(data.result.map((r) => [JSON.stringify(r.metric), Number(r.value[1])]))

describe("Grafana's Save & test and panel requests", () => {
  it('GET /api/v1/query?query=1+%2B+1&time=… answers a scalar', async () => {
    const r = await get(`/api/v1/query?query=1+%2B+1&time=${END_S}`)
    expect(r).toEqual({
      status: 200,
      body: { status: 'success', data: { resultType: 'scalar', result: [END_S, '2'] } },
    })
  })
  it('buildinfo names a Prometheus version', async () => {
    const r = await get('/api/v1/status/buildinfo')
    expect(r.status).toBe(200)
    expect(r.body.data.version).toMatch(/^2\.\d+\.\d+$/)
  })
  it('labels, __name__ values and metadata (the query editor)', async () => {
    const start = END_S - 3600
    expect((await get(`/api/v1/labels?start=${start}&end=${END_S}`)).body).toEqual({
      status: 'success',
      data: ['__name__', 'agent', 'le', 'status'],
    })
    expect((await get(`/api/v1/label/__name__/values?start=${start}&end=${END_S}`)).body.data).toEqual([
      'agent_requests_total',
      'llm_request_duration_seconds_bucket',
    ])
    expect((await get('/api/v1/metadata')).body.data).toEqual({
      agent_requests_total: [{ type: 'counter', help: '', unit: '' }],
      llm_request_duration_seconds_bucket: [{ type: 'histogram', help: '', unit: 'seconds' }],
    })
    expect((await get('/api/v1/metadata?metric=agent_requests_total&limit=5')).body.data).toEqual({
      agent_requests_total: [{ type: 'counter', help: '', unit: '' }],
    })
  })
  it('label values and series filtered by match[] (the label browser)', async () => {
    const sel = encodeURIComponent('agent_requests_total{status="ok"}')
    expect((await get(`/api/v1/label/agent/values?match[]=${sel}`)).body.data).toEqual(['coder', 'planner'])
    const series = (await get(`/api/v1/series?match[]=${sel}&match[]=${encodeURIComponent('{le="1"}')}`)).body.data
    expect(series).toHaveLength(3)
    expect(series).toContainEqual({ __name__: 'llm_request_duration_seconds_bucket', le: '1' })
    // Series not written since `start` are left out.
    const tomorrow = Math.round(Date.now() / 1000) + 86_400
    expect((await get(`/api/v1/series?match[]=${sel}&start=${tomorrow}`)).body.data).toEqual([])
  })
  it('a panel: POST /api/v1/query_range with a form (start, end, step in seconds)', async () => {
    const r = await post('/api/v1/query_range', {
      query: 'sum by (agent) (rate(agent_requests_total{status="ok"}[5m]))',
      start: String(END_S - 120),
      end: String(END_S),
      step: '60',
    })
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    expect(r.body.data.resultType).toBe('matrix')
    const planner = r.body.data.result.find((s: Row) => s.metric.agent === 'planner')
    expect(planner.values.map((v: Sample) => v[0])).toEqual([END_S - 120, END_S - 60, END_S])
    expect(Number(planner.values[2][1])).toBeCloseTo(1 / 15, 12)
  })
})

describe('PromQL over ingested points', () => {
  it('rate with extrapolation, and through a counter reset', async () => {
    const data = await q('rate(agent_requests_total{status="ok"}[5m])')
    expect(data.resultType).toBe('vector')
    const v = byLabels(data)
    expect(v['{"agent":"planner","status":"ok"}']).toBeCloseTo(1 / 15, 12)
    // 42…58, reset to 0, 0…20: 16 + 20 = 36 over the 285 s sampled.
    expect(v['{"agent":"coder","status":"ok"}']).toBeCloseTo(36 / 285, 12)
    const inc = byLabels(await q('increase(agent_requests_total{agent="coder"}[5m])'))
    expect(Object.values(inc)[0]).toBeCloseTo((36 * 300) / 285, 12)
  })
  it('the error ratio, with ignoring(status)', async () => {
    const v = byLabels(
      await q(
        'sum by (agent) (rate(agent_requests_total{status="error"}[5m])) / ignoring(status) sum by (agent) (rate(agent_requests_total{status="ok"}[5m]))',
      ),
    )
    expect(v).toEqual({ '{"agent":"planner"}': expect.closeTo(0.25, 12) })
  })
  it('latency p50 and p95 from the buckets', async () => {
    for (const [p, want] of [
      ['0.5', 0.3],
      ['0.95', 0.9],
    ] as const) {
      const v = byLabels(
        await q(`histogram_quantile(${p}, sum by (le) (rate(llm_request_duration_seconds_bucket[5m])))`),
      )
      expect(v['{}']).toBeCloseTo(want, 12)
    }
  })
  it('instant selectors keep the name; offset reads the past; the regex is anchored', async () => {
    const v = byLabels(await q('agent_requests_total{agent=~"plan.*", status!="error"}'))
    expect(v).toEqual({ '{"__name__":"agent_requests_total","agent":"planner","status":"ok"}': 40 })
    expect(byLabels(await q('agent_requests_total{agent=~"plan"}'))).toEqual({})
    const past = byLabels(await q('agent_requests_total{agent="planner",status="ok"} offset 1m'))
    expect(Object.values(past)).toEqual([36])
    expect(Object.values(byLabels(await q('topk(1, agent_requests_total)')))).toEqual([40])
  })
  it('RFC 3339 and Unix seconds name the same times; a step may be a duration', async () => {
    const iso = await get(
      `/api/v1/query_range?query=${encodeURIComponent('count(agent_requests_total)')}&start=2026-11-20T11:58:00Z&end=2026-11-20T12:00:00Z&step=1m`,
    )
    const unix = await get(
      `/api/v1/query_range?query=${encodeURIComponent('count(agent_requests_total)')}&start=${END_S - 120}&end=${END_S}.000&step=60`,
    )
    expect(iso.body).toEqual(unix.body)
    expect(iso.body.data.result[0].values).toEqual([
      [END_S - 120, '3'],
      [END_S - 60, '3'],
      [END_S, '3'],
    ])
  })
})

describe('errors in Prometheus shape', () => {
  const bad = async (path: string, message: string | RegExp) => {
    const r = await get(path)
    expect(r.status).toBe(400)
    expect(r.body).toEqual({ status: 'error', errorType: 'bad_data', error: expect.stringMatching(message) })
  }
  it('names the missing or bad parameter', async () => {
    await bad('/api/v1/query', /invalid parameter "query": missing/)
    await bad('/api/v1/query?query=up&time=yesterday', /invalid parameter "time": cannot parse "yesterday"/)
    await bad('/api/v1/query_range?query=up&start=1&end=2', /invalid parameter "step": missing/)
    await bad('/api/v1/query_range?query=up&start=1&end=2&step=0', /zero or negative query resolution/)
    await bad('/api/v1/query_range?query=up&start=1&end=2&step=fast', /invalid parameter "step"/)
    await bad('/api/v1/query_range?query=up&start=10&end=2&step=1', /end timestamp must not be before start/)
    await bad('/api/v1/query_range?query=up&start=0&end=100000&step=1', /exceeded maximum resolution of 11000/)
    await bad('/api/v1/series', /no match\[\] parameter provided/)
    await bad(`/api/v1/series?match[]=${encodeURIComponent('rate(x[5m])')}`, /not a series selector/)
    await bad('/api/v1/label/1bad/values', /invalid label name/)
  })
  it('names the unsupported function or feature', async () => {
    await bad(
      `/api/v1/query?query=${encodeURIComponent('predict_linear(x[5m], 60)')}`,
      /unsupported function "predict_linear"/,
    )
    await bad(`/api/v1/query?query=${encodeURIComponent('x[5m:1m]')}`, /unsupported feature "subquery"/)
    await bad(`/api/v1/query?query=${encodeURIComponent('sum(x')}`, /parse error/)
  })
  it('a POST with another Content-Type is refused', async () => {
    const res = await t.app.request('/api/v1/query', {
      method: 'POST',
      body: JSON.stringify({ query: '1' }),
      headers: { ...headers, 'Content-Type': 'application/json' },
    })
    expect(res.status).toBe(400)
    expect(((await res.json()) as Envelope).error).toMatch(/application\/x-www-form-urlencoded/)
  })
})

describe('authentication', () => {
  it('needs a key; Bearer, or basic auth with the key as the password (any user name)', async () => {
    expect((await t.app.request('/api/v1/query?query=1')).status).toBe(401)
    const basic = { Authorization: `Basic ${btoa(`grafana:${key}`)}` }
    expect((await get('/api/v1/query?query=1', basic)).status).toBe(200)
    expect((await get('/api/v1/labels', basic)).status).toBe(200)
    const wrong = { Authorization: `Basic ${btoa('grafana:hs_notakey')}` }
    expect((await t.app.request('/api/v1/query?query=1', { headers: wrong })).status).toBe(401)
  })
  it('basic auth is accepted on these read-only routes only', async () => {
    const basic = { Authorization: `Basic ${btoa(`grafana:${key}`)}` }
    expect((await t.app.request('/api/v1/metrics/series', { headers: basic })).status).toBe(401)
    expect((await t.app.request('/api/v1/whoami', { headers: basic })).status).toBe(401)
  })
  it('an ingest-only key cannot query', async () => {
    const ingest = (await t.key('viewer', ['ingest'])).headers
    expect((await t.app.request('/api/v1/query?query=1', { headers: ingest })).status).toBe(403)
  })
})

describe('the example dashboard (docs/grafana/agents-dashboard.json)', () => {
  type Panel = { title: string; targets: { expr: string; instant?: boolean }[] }
  const dashboard = JSON.parse(
    readFileSync(new URL('../../docs/grafana/agents-dashboard.json', import.meta.url), 'utf8'),
  ) as { panels: Panel[]; templating: { list: { query: { query: string } }[] } }
  // What Grafana substitutes before it sends a query: its intervals and the variable's "All".
  const grafana = (expr: string) =>
    expr.replaceAll('$__rate_interval', '5m').replaceAll('$__interval', '1m').replaceAll('$agent', '.*')

  it('every panel answers with data from per-request delta points', async () => {
    const ingest = (await t.key('operator', ['ingest'])).headers
    const points = []
    for (let i = 0; i < 10; i++) {
      const ts = END - i * 20_000
      points.push(
        { name: 'agent_requests_total', value: 2, labels: { agent: 'writer' }, ts },
        { name: 'agent_errors_total', value: i % 2, labels: { agent: 'writer' }, ts },
        { name: 'llm_latency_ms', value: 100 * (i + 1), labels: { model: 'm1' }, ts },
        { name: 'llm_tokens_total', value: 50, labels: { model: 'm1', kind: 'prompt' }, ts },
        { name: 'llm_cost_usd', value: 0.01, labels: { model: 'm1' }, ts },
      )
    }
    expect((await t.json('POST', '/api/v1/metrics', { points }, ingest)).status).toBe(200)
    const got: Record<string, number> = {}
    for (const panel of dashboard.panels)
      for (const target of panel.targets) {
        const query = grafana(target.expr)
        const r = target.instant
          ? await post('/api/v1/query', { query, time: String(END_S) })
          : await post('/api/v1/query_range', { query, start: String(END_S - 240), end: String(END_S), step: '60' })
        expect(r.status, `${panel.title}: ${JSON.stringify(r.body)}`).toBe(200)
        const first = r.body.data.result[0] as Row
        got[panel.title] = Number(target.instant ? first.value[1] : first.values.at(-1)![1])
      }
    expect(got).toEqual({
      // All 10 points (every 20 s) fall in the last 5 minutes: 5 errors in 20 requests.
      'Error ratio by agent': 0.25,
      // Pushed as llm_latency_ms (ms, the name before 0.2); the panel reads llm_latency_seconds through the alias.
      'LLM latency p95 by model': expect.closeTo(0.955, 9),
      'Tokens per interval by model and kind': 150,
      'Cost per interval by model (USD)': expect.closeTo(0.03, 12),
      'Cost, last 24 h (USD)': expect.closeTo(0.1, 12),
    })
  })
  it('the agent variable (label_values) is answered by the label values endpoint', async () => {
    expect(dashboard.templating.list[0]!.query.query).toBe('label_values(agent_requests_total, agent)')
    const sel = encodeURIComponent('agent_requests_total')
    expect((await get(`/api/v1/label/agent/values?match[]=${sel}`)).body.data).toContain('writer')
  })
})
