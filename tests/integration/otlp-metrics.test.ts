/**
 * POST /v1/metrics with the real OpenTelemetry SDK and its OTLP/HTTP metric exporters (protobuf and
 * JSON, gzip, delta and cumulative temporality) as the client, against the real app on loopback:
 * counters, up-down counters, gauges, histograms and exponential histograms become series; GenAI
 * client metrics become llm_* points with cost from the price table; bad requests are refused.
 */
import { gzipSync } from 'node:zlib'
import { inArray } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { series } from '../../db/schema/metrics.ts'
import { storedPoints } from '../helpers/raw-points.ts'
import { ExportMetricsServiceRequest, ExportMetricsServiceResponse } from '../../app/modules/metrics/otlp/proto.ts'
import { type TestApp, testApp } from '../helpers/app.ts'
import { serveApp } from '../helpers/n8n-harness.ts'
import { metricsClient } from '../helpers/otel-metrics.ts'

const PRICE = { model: 'gpt-4o', promptPer1M: 2, completionPer1M: 10 }

async function served(env: Record<string, string> = {}) {
  const t = await testApp(env)
  const admin = await t.key('admin')
  await t.json('POST', '/api/v1/prices', PRICE, admin.headers)
  const ingest = await t.key('viewer', ['ingest'])
  const server = await serveApp(t)
  return { t, key: ingest.key, url: server.url, close: async () => (await server.close(), t.close()) }
}
type Served = Awaited<ReturnType<typeof served>>

/** The stored points of a metric, oldest first: labels and value. */
async function stored(t: TestApp, name: string) {
  return (await storedPoints(t.db)).filter((p) => p.name === name).map((p) => ({ labels: p.labels, value: p.value }))
}
const one = async (t: TestApp, name: string, match: Record<string, string> = {}) =>
  (await stored(t, name)).filter((p) => Object.entries(match).every(([k, v]) => p.labels[k] === v))
/** Separate exports land on separate milliseconds (one point per series and ms). */
const tick = () => new Promise((r) => setTimeout(r, 3))

let a: Served
beforeAll(async () => {
  a = await served()
})
afterAll(async () => {
  await a.close()
})

describe('POST /v1/metrics with the OpenTelemetry SDK exporters', () => {
  it('stores counters, up-down counters, gauges and histograms from a cumulative protobuf export (gzip)', async () => {
    const c = metricsClient({
      url: a.url,
      key: a.key,
      encoding: 'protobuf',
      temporality: 'cumulative',
      gzip: true,
      resource: { 'service.name': 'planner', 'service.namespace': 'team', 'service.instance.id': 'p-1' },
    })
    const requests = c.meter.createCounter('app.requests')
    const queue = c.meter.createUpDownCounter('queue.depth')
    const temp = c.meter.createGauge('gpu.temperature', { unit: 'Cel' })
    const latency = c.meter.createHistogram('step.duration', {
      unit: 's',
      advice: { explicitBucketBoundaries: [0.1, 0.5, 1, 5] },
    })
    requests.add(2, { route: '/plan' })
    requests.add(3, { route: '/plan' })
    queue.add(5)
    queue.add(-2)
    temp.record(71.5, { 'gpu.id': '0' })
    for (const v of [0.05, 0.2, 0.3, 0.7, 2]) latency.record(v)
    expect((await c.flush()).code).toBe(0)
    requests.add(4, { route: '/plan' })
    await tick()
    expect((await c.flush()).code).toBe(0)
    await c.shutdown()

    // A monotonic sum is a counter: `_total`, running totals as sent (cumulative).
    const req = await one(a.t, 'app_requests_total')
    expect(req.map((p) => p.value)).toEqual([5, 9])
    expect(req[0]!.labels).toEqual({
      job: 'team/planner',
      instance: 'p-1',
      otel_scope_name: 'homeostat-tests',
      otel_scope_version: '1.0.0',
      route: '/plan',
    })
    // A non-monotonic sum keeps its name; it went 5 - 2 = 3 (and stayed there in the second export).
    expect((await one(a.t, 'queue_depth')).map((p) => p.value)).toEqual([3, 3])
    expect(await one(a.t, 'gpu_temperature', { gpu_id: '0' })).toHaveLength(2)
    expect((await one(a.t, 'gpu_temperature'))[0]!.value).toBe(71.5)
    expect((await one(a.t, 'step_duration_count')).map((p) => p.value)).toEqual([5, 5])
    expect((await one(a.t, 'step_duration_sum'))[0]!.value).toBeCloseTo(3.25, 9)
    // Quantiles from the buckets: the median's bucket is (0.1, 0.5], counted at its middle.
    const median = await one(a.t, 'step_duration', { quantile: '0.5' })
    expect(median[0]!.value).toBeCloseTo(0.3, 2)
    const p99 = await one(a.t, 'step_duration', { quantile: '0.99' })
    // The sketch's rank is q × (n − 1): of five calls, 0.99 falls on the fourth, in (0.5, 1].
    expect(p99[0]!.value).toBeCloseTo(0.75, 2)
  })

  it('stores delta counters as increments and up-down counters as totals (JSON, delta preference)', async () => {
    const c = metricsClient({
      url: a.url,
      key: a.key,
      encoding: 'json',
      temporality: 'delta',
      resource: { 'service.name': 'delta-app' },
    })
    const jobs = c.meter.createCounter('jobs.done')
    const open = c.meter.createUpDownCounter('sessions.open')
    jobs.add(3)
    open.add(4)
    expect((await c.flush()).code).toBe(0)
    jobs.add(4)
    open.add(-1)
    await tick()
    expect((await c.flush()).code).toBe(0)
    await c.shutdown()
    expect((await one(a.t, 'jobs_done_total', { job: 'delta-app' })).map((p) => p.value)).toEqual([3, 4])
    // The SDK's delta preference keeps up-down counters cumulative (the OTLP rule): 4, then 3.
    expect((await one(a.t, 'sessions_open', { job: 'delta-app' })).map((p) => p.value)).toEqual([4, 3])
  })

  it('stores exponential histograms as count, sum and quantiles', async () => {
    const c = metricsClient({
      url: a.url,
      key: a.key,
      encoding: 'protobuf',
      temporality: 'delta',
      resource: { 'service.name': 'exp-app' },
      exponential: ['tool.latency'],
    })
    const h = c.meter.createHistogram('tool.latency', { unit: 'ms' })
    for (let i = 1; i <= 100; i++) h.record(i)
    expect((await c.flush()).code).toBe(0)
    await c.shutdown()
    expect((await one(a.t, 'tool_latency_count'))[0]!.value).toBe(100)
    expect((await one(a.t, 'tool_latency_sum'))[0]!.value).toBe(5050)
    // Exponential buckets at the SDK's scale are a few percent wide.
    expect((await one(a.t, 'tool_latency', { quantile: '0.5' }))[0]!.value).toBeGreaterThan(46)
    expect((await one(a.t, 'tool_latency', { quantile: '0.5' }))[0]!.value).toBeLessThan(54)
    expect((await one(a.t, 'tool_latency', { quantile: '0.99' }))[0]!.value).toBeGreaterThan(94)
  })

  it('maps GenAI client metrics onto llm_* with cost, counting a cumulative stream once', async () => {
    const c = metricsClient({
      url: a.url,
      key: a.key,
      encoding: 'protobuf',
      temporality: 'cumulative',
      resource: { 'service.name': 'writer-agent' },
    })
    const tokens = c.meter.createHistogram('gen_ai.client.token.usage', { unit: '{token}' })
    const duration = c.meter.createHistogram('gen_ai.client.operation.duration', { unit: 's' })
    const call = { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o' }
    tokens.record(1000, { ...call, 'gen_ai.token.type': 'input' })
    tokens.record(200, { ...call, 'gen_ai.token.type': 'output' })
    duration.record(1.5, call)
    duration.record(0.5, call)
    duration.record(3, { ...call, 'error.type': 'timeout' })
    expect((await c.flush()).code).toBe(0)
    tokens.record(500, { ...call, 'gen_ai.token.type': 'input' })
    await tick()
    expect((await c.flush()).code).toBe(0)
    await c.shutdown()

    const base = { model: 'gpt-4o', component: 'writer-agent', operation: 'chat' }
    // Cumulative 1000 then 1500: stored as what each export added.
    expect((await one(a.t, 'llm_tokens_total', { ...base, kind: 'prompt' })).map((p) => p.value)).toEqual([1000, 500])
    expect((await one(a.t, 'llm_tokens_total', { ...base, kind: 'completion' })).map((p) => p.value)).toEqual([200])
    const cost = (await one(a.t, 'llm_cost_usd_total', base)).map((p) => p.value)
    // 1000 × $2/1M + 200 × $10/1M in the first export, 500 × $2/1M in the second.
    expect(cost[0]).toBeCloseTo(0.004, 9)
    expect(cost[1]).toBeCloseTo(0.001, 9)
    // The mean of the interval's calls in seconds, the failed one (its own stream, by error.type) too.
    expect((await one(a.t, 'llm_latency_seconds', base))[0]!.value).toBeCloseTo(5 / 3, 9)
    expect(await one(a.t, 'llm_errors_total', { model: 'gpt-4o', error: 'timeout' })).toEqual([
      { labels: { model: 'gpt-4o', component: 'writer-agent', error: 'timeout' }, value: 1 },
    ])
  })

  it('refuses an export without a key (401), which the SDK reports as failed, and a viewer key (403)', async () => {
    const c = metricsClient({ url: a.url, encoding: 'protobuf', temporality: 'delta' })
    c.meter.createCounter('no.key').add(1)
    const r = await c.flush()
    await c.shutdown()
    expect(r.code).not.toBe(0)
    const raw = await fetch(`${a.url}/v1/metrics`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: '{}',
    })
    expect(raw.status).toBe(401)
    expect(await one(a.t, 'no_key_total')).toEqual([])
    // A viewer's key without the ingest scope may read, not write.
    const viewer = await a.t.key('viewer')
    const denied = await fetch(`${a.url}/v1/metrics`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${viewer.key}` },
      body: '{}',
    })
    expect(denied.status).toBe(403)
  })
})

describe('POST /v1/metrics: bad requests and limits', () => {
  const post = (body: BodyInit, headers: Record<string, string>, url = a.url, key = a.key) =>
    fetch(`${url}/v1/metrics`, { method: 'POST', headers: { Authorization: `Bearer ${key}`, ...headers }, body })
  const json = { 'Content-Type': 'application/json' }
  const nanos = (ms: number) => String(BigInt(ms) * 1_000_000n)
  const gauge = (name: string, dataPoints: unknown[]) => ({
    resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name, gauge: { dataPoints } }] }] }],
  })

  it('answers 415 naming the header for another media type or encoding', async () => {
    const r1 = await post('x', { 'Content-Type': 'text/plain' })
    expect(r1.status).toBe(415)
    expect((await r1.json()).error.details).toEqual([{ field: 'Content-Type', message: 'text/plain' }])
    const r2 = await post('{}', { ...json, 'Content-Encoding': 'br' })
    expect(r2.status).toBe(415)
    expect((await r2.json()).error.details[0].field).toBe('Content-Encoding')
  })

  it('answers 400 for a body that is not an export, naming the field', async () => {
    const r1 = await post(new Uint8Array([0x0a, 0xff, 0xff]), { 'Content-Type': 'application/x-protobuf' })
    expect(r1.status).toBe(400)
    expect((await r1.json()).error.code).toBe('invalid_protobuf')
    const r2 = await post('{not json', json)
    expect(r2.status).toBe(400)
    expect((await r2.json()).error.code).toBe('invalid_json')
    const r3 = await post(JSON.stringify({ resourceMetrics: 'x' }), json)
    expect(r3.status).toBe(400)
    expect((await r3.json()).error.details[0].field).toBe('resourceMetrics')
    const r4 = await post('not gzip', { ...json, 'Content-Encoding': 'gzip' })
    expect(r4.status).toBe(400)
    expect((await r4.json()).error.code).toBe('invalid_gzip')
  })

  it('keeps the usable points and reports the others in partialSuccess (JSON and protobuf)', async () => {
    const now = Date.now()
    const body = gauge('partial.gauge', [
      { timeUnixNano: nanos(now), asDouble: 1 },
      { timeUnixNano: nanos(now + 1), asDouble: 'NaN' },
      { asDouble: 2 },
      { timeUnixNano: nanos(now + 3_600_000), asDouble: 3 },
    ])
    const r = await post(JSON.stringify(body), json)
    expect(r.status).toBe(200)
    const answer = await r.json()
    expect(answer.partialSuccess.rejectedDataPoints).toBe('3')
    expect(answer.partialSuccess.errorMessage).toContain('partial.gauge dataPoints.1.asDouble must be a finite number')
    expect(answer.partialSuccess.errorMessage).toContain('dataPoints.2.timeUnixNano')
    expect(answer.partialSuccess.errorMessage).toContain('more than 10 minutes in the future')
    expect((await one(a.t, 'partial_gauge')).map((p) => p.value)).toEqual([1])

    const proto = ExportMetricsServiceRequest.encode(
      ExportMetricsServiceRequest.fromObject({
        resourceMetrics: [
          {
            scopeMetrics: [
              {
                metrics: [
                  { name: 'proto.sum', sum: { aggregationTemporality: 0, dataPoints: [{ asInt: 1 }] } },
                  { name: 'proto.ok', gauge: { dataPoints: [{ timeUnixNano: nanos(now), asInt: 7 }] } },
                ],
              },
            ],
          },
        ],
      }),
    ).finish()
    const r2 = await post(gzipSync(proto), { 'Content-Type': 'application/x-protobuf', 'Content-Encoding': 'gzip' })
    expect(r2.status).toBe(200)
    expect(r2.headers.get('content-type')).toBe('application/x-protobuf')
    const decoded = ExportMetricsServiceResponse.toObject(
      ExportMetricsServiceResponse.decode(new Uint8Array(await r2.arrayBuffer())),
      { longs: Number },
    )
    expect(decoded.partialSuccess.rejectedDataPoints).toBe(1)
    expect(decoded.partialSuccess.errorMessage).toContain('aggregationTemporality')
    expect((await one(a.t, 'proto_ok')).map((p) => p.value)).toEqual([7])
  })

  it('rejects points whose labels break the limits, naming the attribute', async () => {
    const long = 'x'.repeat(1025)
    const many = Array.from({ length: 40 }, (_, i) => ({ key: `k${i}`, value: { stringValue: 'v' } }))
    const now = Date.now()
    const r = await post(
      JSON.stringify(
        gauge('label.limits', [
          { timeUnixNano: nanos(now), asDouble: 1, attributes: [{ key: 'note', value: { stringValue: long } }] },
          { timeUnixNano: nanos(now), asDouble: 1, attributes: many },
          { timeUnixNano: nanos(now), asDouble: 1, attributes: [{ key: '__name__', value: { stringValue: 'x' } }] },
        ]),
      ),
      json,
    )
    const answer = await r.json()
    expect(answer.partialSuccess.rejectedDataPoints).toBe('3')
    expect(answer.partialSuccess.errorMessage).toContain('attribute note is longer than 1024 characters')
    expect(answer.partialSuccess.errorMessage).toContain('at most 32')
    expect(answer.partialSuccess.errorMessage).toContain('attribute __name__ is not a usable label name')
  })

  it('answers 413 above the ingest body limit, 400 over the batch and series limits', async () => {
    const small = await served({
      INGEST_BODY_LIMIT_BYTES: '1024',
      METRICS_MAX_BATCH: '3',
      METRICS_MAX_SERIES_PER_METRIC: '2',
    })
    try {
      const big = await post('x'.repeat(2048), json, small.url, small.key)
      expect(big.status).toBe(413)
      const now = Date.now()
      const points = (n: number) =>
        Array.from({ length: n }, (_, i) => ({
          timeUnixNano: nanos(now),
          asDouble: i,
          attributes: [{ key: 'i', value: { intValue: i } }],
        }))
      const batch = await post(JSON.stringify(gauge('too.many', points(4))), json, small.url, small.key)
      expect(batch.status).toBe(400)
      expect((await batch.json()).error.details[0]).toMatchObject({ field: 'resourceMetrics' })
      const card = await post(JSON.stringify(gauge('cardinal', points(3))), json, small.url, small.key)
      expect(card.status).toBe(400)
      const e = (await card.json()).error
      expect(e.code).toBe('series_limit')
      expect(e.details[0].field).toBe('cardinal')
      expect(await one(small.t, 'cardinal')).toEqual([])
    } finally {
      await small.close()
    }
  })
})
