import { afterAll, describe, expect, it } from 'vitest'
import { runRollups } from '../../app/modules/metrics/index.ts'
import { roleHeaders, testApp } from '../helpers/app.ts'

type Json = Record<string, any>
type Point = { name: string; value: number; ts: number; labels: Record<string, string> }

const t = await testApp()
afterAll(() => t.close())
const { viewer, ingest } = await roleHeaders(t)
const NOW = Date.now()
const START = NOW - 50 * 60_000

/**
 * One version's traffic, spread over the last 50 minutes: `calls` latency points (one per call,
 * values from `latency(i)`), completion and prompt tokens and cost per call, request and error
 * counters in points of 10 requests, and feedback counts.
 */
function traffic(
  model: string,
  version: string,
  o: {
    calls: number
    latency: (i: number) => number
    requests: number
    errors: number
    positive: number
    negative: number
    completion: number
    prompt: number
    costPerCall: number
  },
): Point[] {
  const labels = { model, version, component: 'planner-agent' }
  const at = (i: number, of: number) => START + Math.floor((i * 49 * 60_000) / of)
  const points: Point[] = []
  for (let i = 0; i < o.calls; i++) {
    const ts = at(i, o.calls)
    points.push({ name: 'llm_latency_ms', value: o.latency(i), ts, labels })
    points.push({ name: 'llm_tokens_total', value: o.completion, ts, labels: { ...labels, kind: 'completion' } })
    points.push({ name: 'llm_tokens_total', value: o.prompt, ts, labels: { ...labels, kind: 'prompt' } })
    points.push({ name: 'llm_cost_usd', value: o.costPerCall, ts, labels })
  }
  const counter = (name: string, total: number, extra: Record<string, string> = {}) => {
    const n = Math.ceil(total / 10)
    for (let i = 0; i < n; i++)
      points.push({ name, value: Math.min(10, total - i * 10), ts: at(i, n) + 1, labels: { ...labels, ...extra } })
  }
  counter('llm_requests_total', o.requests)
  counter('llm_errors_total', o.errors)
  counter('llm_feedback_total', o.positive, { rating: 'positive' })
  counter('llm_feedback_total', o.negative, { rating: 'negative' })
  return points
}

async function ingestAll(points: Point[]) {
  for (let i = 0; i < points.length; i += 5000) {
    const res = await t.json('POST', '/api/v1/metrics', { points: points.slice(i, i + 5000) }, ingest)
    expect(res.status, await res.clone().text()).toBe(200)
  }
}

// Latencies: 700–899 ms spread evenly; the "slower" version is 100 ms slower on every call.
const spread = (i: number) => 700 + ((i * 37) % 200)
const base = { calls: 400, requests: 1000, completion: 200, prompt: 800, costPerCall: 0.002 }

await ingestAll([
  // Significant: b is slower, fails three times as often and is liked less.
  ...traffic('qwen-finance', '1.4.0', { ...base, latency: spread, errors: 20, positive: 300, negative: 100 }),
  ...traffic('qwen-finance', '1.5.0', {
    ...base,
    latency: (i) => spread(i) + 100,
    errors: 60,
    positive: 200,
    negative: 200,
    costPerCall: 0.003,
  }),
  // Noise: b 3 ms slower (on calls spread over 200 ms), a few more errors, a few more likes.
  ...traffic('llama-support', '2.0.0', { ...base, latency: spread, errors: 50, positive: 300, negative: 100 }),
  ...traffic('llama-support', '2.1.0', {
    ...base,
    latency: (i) => spread(i) + 3,
    errors: 55,
    positive: 305,
    negative: 95,
  }),
  // Another model's points with the same version label must not leak in.
  ...traffic('other-model', '1.4.0', { ...base, latency: () => 5000, errors: 900, positive: 0, negative: 10 }),
])

const compare = (model: string, query: string, headers = viewer) =>
  t.app.request(`/api/v1/models/${model}/compare?${query}`, { headers })
const rowOf = (body: Json, metric: string) => (body.comparison as Json[]).find((r) => r.metric === metric)!

describe('GET /api/v1/models/:id/compare', () => {
  it('a real difference: latency, error rate and feedback are larger than the noise', async () => {
    const res = await compare('qwen-finance', 'a=1.4.0&b=1.5.0&range=1h')
    expect(res.status, await res.clone().text()).toBe(200)
    const body = (await res.json()) as Json
    const a = body.versions.a
    const b = body.versions.b
    expect(a).toMatchObject({
      version: '1.4.0',
      requests: 1000,
      requestsCountedBy: 'llm_requests_total',
      errors: 20,
      errorRate: 0.02,
      feedback: { positive: 300, negative: 100, positiveRate: 0.75 },
      tokens: 400_000,
      latency: { count: 400, testedSamples: 400, sampled: false, exact: true },
    })
    expect(b).toMatchObject({ errors: 60, errorRate: 0.06, feedback: { positiveRate: 0.5 } })
    // 700..899 twice over: p50 = 799.5, p95 (numpy's linear interpolation) = 889.05; b is 100 ms slower.
    expect(a.latency.p50Ms).toBeCloseTo(799.5, 9)
    expect(a.latency.p95Ms).toBeCloseTo(889.05, 9)
    expect(b.latency.p50Ms - a.latency.p50Ms).toBeCloseTo(100, 9)
    // 200 completion tokens per call over the summed latency; cost per 1k of all tokens.
    const latencySeconds = Array.from({ length: 400 }, (_, i) => spread(i)).reduce((s, x) => s + x, 0) / 1000
    expect(a.tokensPerSecond).toBeCloseTo((400 * 200) / latencySeconds, 6)
    expect(a.costPer1kTokensUsd).toBeCloseTo(((400 * 0.002) / 400_000) * 1000, 9)
    expect(b.costPer1kTokensUsd).toBeCloseTo(((400 * 0.003) / 400_000) * 1000, 9)

    const errorRate = rowOf(body, 'errorRate')
    expect(errorRate).toMatchObject({ a: 0.02, b: 0.06, test: { method: 'two-proportion z-test', significant: true } })
    expect(errorRate.difference).toBeCloseTo(0.04, 12)
    // Pooled z of 20/1000 vs 60/1000, by hand: p̂ = 0.04, se = √(0.04·0.96·(2/1000)).
    expect(errorRate.test.z).toBeCloseTo(0.04 / Math.sqrt(0.04 * 0.96 * 0.002), 9)
    expect(rowOf(body, 'positiveFeedbackRate').test).toMatchObject({ significant: true })
    expect(rowOf(body, 'positiveFeedbackRate').difference).toBeCloseTo(-0.25, 12)
    const latency = rowOf(body, 'latencyP50')
    expect(latency.test).toMatchObject({ method: 'Mann–Whitney U', significant: true })
    expect(latency.test.z).toBeGreaterThan(0)
    expect(latency.test.p).toBeLessThan(0.001)
    expect(rowOf(body, 'latencyP95').test).toEqual(latency.test)
    expect(rowOf(body, 'requests')).toMatchObject({ a: 1000, b: 1000, difference: 0, test: null })
    expect(rowOf(body, 'costPer1kTokens').relative).toBeCloseTo(0.5, 9)
    // Chart series: per step, both versions.
    expect(body.stepMs).toBe(60_000)
    expect(body.series.a.length).toBeGreaterThan(30)
    expect(body.series.a.reduce((s: number, p: Json) => s + p.requests, 0)).toBe(1000)
  })

  it('noise: small differences are reported but not called significant', async () => {
    const body = (await (await compare('llama-support', 'a=2.0.0&b=2.1.0&range=1h')).json()) as Json
    const errorRate = rowOf(body, 'errorRate')
    expect(errorRate).toMatchObject({ a: 0.05, b: 0.055, test: { significant: false } })
    expect(errorRate.test.p).toBeGreaterThan(0.5)
    expect(rowOf(body, 'positiveFeedbackRate').test).toMatchObject({ significant: false })
    const latency = rowOf(body, 'latencyP50')
    expect(latency.difference).toBeCloseTo(3, 9)
    expect(latency.test.significant).toBe(false)
    expect(latency.test.p).toBeGreaterThan(0.2)
  })

  it('a version without data: zero counts, null figures, no test; requests fall back to latency points', async () => {
    await ingestAll(
      Array.from({ length: 30 }, (_, i) => ({
        name: 'llm_latency_ms',
        value: 500 + i,
        ts: START + i * 1000,
        labels: { model: 'tiny', version: 'v1' },
      })),
    )
    const body = (await (await compare('tiny', 'a=v1&b=v2&range=1h')).json()) as Json
    expect(body.versions.a).toMatchObject({ requests: 30, requestsCountedBy: 'llm_latency_seconds', errorRate: 0 })
    expect(body.versions.b).toMatchObject({
      requests: 0,
      errorRate: null,
      latency: { count: 0, p50Ms: null, testedSamples: 0 },
      tokensPerSecond: null,
      costPer1kTokensUsd: null,
      feedback: { positiveRate: null },
    })
    expect(rowOf(body, 'latencyP50')).toMatchObject({ b: null, difference: null, test: null })
    expect(rowOf(body, 'errorRate').test).toBeNull()
  })

  it('the range limits what is read', async () => {
    // Everything was written 1–50 minutes ago: a 1-minute window holds at most the last minute.
    const body = (await (await compare('qwen-finance', 'a=1.4.0&b=1.5.0&range=1m')).json()) as Json
    expect(body.versions.a.requests).toBeLessThan(100)
    const day = (await (await compare('qwen-finance', 'a=1.4.0&b=1.5.0')).json()) as Json
    expect(day.versions.a.requests).toBe(1000)
    // The range starts on a step boundary (30 min steps for a day): at most one step longer.
    const span = Date.parse(day.to) - Date.parse(day.from)
    expect(day.stepMs).toBe(1_800_000)
    expect(Date.parse(day.from) % day.stepMs).toBe(0)
    expect(span).toBeGreaterThanOrEqual(86_400_000)
    expect(span).toBeLessThan(86_400_000 + day.stepMs)
  })

  it('the same figures once the rollup job has run (rollups and raw points agree)', async () => {
    const before = (await (await compare('qwen-finance', 'a=1.4.0&b=1.5.0&range=7d')).json()) as Json
    const rolled = await runRollups(t.db, Date.now())
    expect(rolled.buckets).toBeGreaterThan(0)
    const after = (await (await compare('qwen-finance', 'a=1.4.0&b=1.5.0&range=7d')).json()) as Json
    expect(after.stepMs).toBe(10_800_000)
    for (const v of ['a', 'b']) {
      expect(after.versions[v].requests).toBe(before.versions[v].requests)
      expect(after.versions[v].errors).toBe(before.versions[v].errors)
      expect(after.versions[v].tokens).toBe(before.versions[v].tokens)
      expect(after.versions[v].latency.count).toBe(400)
      expect(after.versions[v].costUsd).toBeCloseTo(before.versions[v].costUsd, 9)
    }
    expect(after.versions.a.requests).toBe(1000)
    expect(rowOf(after, 'errorRate').test).toEqual(rowOf(before, 'errorRate').test)
    expect(rowOf(after, 'latencyP50').test).toEqual(rowOf(before, 'latencyP50').test)
  })

  it('refuses bad input with a 400 naming the field', async () => {
    const cases: [string, string, string][] = [
      ['qwen-finance', 'b=1.5.0', 'a'],
      ['qwen-finance', 'a=1.4.0', 'b'],
      ['qwen-finance', 'a=&b=1.5.0', 'a'],
      ['qwen-finance', 'a=1.4.0&b=1.4.0', 'b'],
      ['qwen-finance', 'a=1.4.0&b=1.5.0&range=soon', 'range'],
      ['qwen-finance', 'a=1.4.0&b=1.5.0&range=10s', 'range'],
      ['qwen-finance', 'a=1.4.0&b=1.5.0&range=365d', 'range'],
      ['-bad', 'a=1&b=2', 'id'],
    ]
    for (const [model, query, field] of cases) {
      const res = await compare(model, query)
      expect(res.status, `${model}?${query}`).toBe(400)
      const details = ((await res.json()) as Json).error.details as Json[]
      expect(
        details.map((d) => d.field),
        `${model}?${query}`,
      ).toContain(field)
    }
  })

  it('access: viewers and up; ingest-only keys and anonymous callers are refused', async () => {
    expect((await compare('qwen-finance', 'a=1.4.0&b=1.5.0', ingest)).status).toBe(403)
    expect((await compare('qwen-finance', 'a=1.4.0&b=1.5.0', {})).status).toBe(401)
    const op = (await t.key('operator')).headers
    expect((await compare('qwen-finance', 'a=1.4.0&b=1.5.0&range=1h', op)).status).toBe(200)
  })
})

describe('/models/:id/compare (the comparison view)', () => {
  const page = (path: string, headers: Record<string, string> = {}) =>
    t.app.request(path, { headers: { ...viewer, ...headers } })

  it('renders the table with the verdicts and overlaid charts of both versions', async () => {
    const res = await page('/models/qwen-finance/compare?a=1.4.0&b=1.5.0&range=1h')
    expect(res.status).toBe(200)
    const html = await res.text()
    expect(html).toContain('<html')
    expect(html).toContain('id="compare-table"')
    expect(html).toMatch(/data-metric="errorRate" data-significant="true"/)
    expect(html).toMatch(/data-metric="requests" data-significant=""/)
    // Three charts, each with a line per version.
    expect(html.match(/<polyline[^>]*class="a"[^>]*data-version="1.4.0"/g)).toHaveLength(3)
    expect(html.match(/<polyline[^>]*class="b"[^>]*data-version="1.5.0"/g)).toHaveLength(3)
    const noise = await (await page('/models/llama-support/compare?a=2.0.0&b=2.1.0&range=1h')).text()
    expect(noise).toMatch(/data-metric="errorRate" data-significant="false"/)
    expect(noise).toContain('no, noise')
  })

  it('answers htmx with the fragment only; the form alone before a choice; bad input names the field', async () => {
    const frag = await page('/models/qwen-finance/compare?a=1.4.0&b=1.5.0&range=1h', { 'HX-Request': 'true' })
    const html = await frag.text()
    expect(html).not.toContain('<html')
    expect(html.startsWith('<div id="compare-result"')).toBe(true)
    const empty = await page('/models/qwen-finance/compare')
    expect(empty.status).toBe(200)
    expect(await empty.text()).toContain('Choose two versions')
    const bad = await page('/models/qwen-finance/compare?a=1.4.0&b=1.4.0', { 'HX-Request': 'true' })
    expect(bad.status).toBe(400)
    expect(await bad.text()).toContain('data-field="b"')
    expect((await t.app.request('/models/qwen-finance/compare', { headers: {} })).status).toBe(401)
    const ingestOnly = await t.app.request('/models/qwen-finance/compare', { headers: ingest })
    expect(ingestOnly.status).toBe(403)
  })
})
