import { count, eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { series } from '../../db/schema/metrics.ts'
import { storedPoints } from '../helpers/raw-points.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { moveInbox } from '../../app/modules/metrics/inbox.ts'

let t: TestApp
/** The database after moving the write inbox into `points`, for tests that read that table. */
const moved = async () => (await moveInbox(t.db), t.db)
let ingest: Record<string, string>
beforeAll(async () => {
  t = await testApp({ METRICS_MAX_BATCH: '50' })
  ingest = (await t.key('viewer', ['ingest'])).headers
})
afterAll(() => t.close())

const pointCount = async () => (await storedPoints(await moved())).length

describe('POST /api/v1/metrics (JSON)', () => {
  it('stores one point with labels, default time now', async () => {
    const before = Date.now()
    const res = await t.json(
      'POST',
      '/api/v1/metrics',
      { name: 'agent_requests_total', value: 5, labels: { agent: 'planner' } },
      ingest,
    )
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ written: 1, series: 1 })
    const [s] = await t.db.select().from(series).where(eq(series.name, 'agent_requests_total'))
    expect(s!.labels).toEqual({ agent: 'planner' })
    const [p] = (await storedPoints(await moved())).filter((x) => x.seriesId === s!.id)
    expect(p!.value).toBe(5)
    expect(p!.ts).toBeGreaterThanOrEqual(before)
  })

  it('a retried write keeps one point, last value wins; label order does not matter', async () => {
    const ts = '2026-11-01T10:00:00.000Z'
    await t.json(
      'POST',
      '/api/v1/metrics',
      { name: 'llm_cost_usd', value: 1, ts, labels: { model: 'a', team: 'x' } },
      ingest,
    )
    await t.json(
      'POST',
      '/api/v1/metrics',
      { name: 'llm_cost_usd', value: 2, ts: Date.parse(ts), labels: { team: 'x', model: 'a' } },
      ingest,
    )
    const rows = (await storedPoints(await moved())).filter((p) => p.name === 'llm_cost_usd')
    expect(rows).toHaveLength(1)
    expect(rows[0]!.value).toBe(2)
  })

  it('rejects a bad batch whole and names each bad item by index', async () => {
    const before = await pointCount()
    const res = await t.json(
      'POST',
      '/api/v1/metrics',
      {
        points: [
          { name: 'ok_metric', value: 1 },
          { name: '9bad', value: 1 },
          { name: 'ok_metric', value: 'high' },
          {
            name: 'ok_metric',
            value: 1,
            labels: Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`l${i}`, 'v'])),
          },
          { name: 'ok_metric', value: 1, ts: Date.now() + 3_600_000 },
        ],
      },
      ingest,
    )
    expect(res.status).toBe(400)
    const body = (await res.json()) as { error: { details: { field: string }[] } }
    const fields = body.error.details.map((d) => d.field)
    expect(fields).toEqual(expect.arrayContaining(['points.1.name', 'points.2.value', 'points.3.labels']))
    expect(await pointCount()).toBe(before)
    const future = await t.json(
      'POST',
      '/api/v1/metrics',
      {
        points: [
          { name: 'ok_metric', value: 1 },
          { name: 'ok_metric', value: 1, ts: Date.now() + 3_600_000 },
        ],
      },
      ingest,
    )
    expect(((await future.json()) as { error: { details: { field: string }[] } }).error.details[0]!.field).toBe(
      'points.1.ts',
    )
    expect(await pointCount()).toBe(before)
  })

  it('refuses NaN-like input, empty and oversized batches', async () => {
    const bad = await t.app.request('/api/v1/metrics', {
      method: 'POST',
      body: '{"name":"x","value":NaN}',
      headers: { ...ingest, 'Content-Type': 'application/json' },
    })
    expect(bad.status).toBe(400)
    expect((await t.json('POST', '/api/v1/metrics', { points: [] }, ingest)).status).toBe(400)
    const big = await t.json(
      'POST',
      '/api/v1/metrics',
      { points: Array.from({ length: 51 }, (_, i) => ({ name: 'x', value: i })) },
      ingest,
    )
    expect(big.status).toBe(400)
    expect(
      (
        await t.app.request('/api/v1/metrics', {
          method: 'POST',
          body: 'x',
          headers: { ...ingest, 'Content-Type': 'application/xml' },
        })
      ).status,
    ).toBe(415)
  })

  it('needs an ingest key or operator; viewers are refused', async () => {
    const viewer = (await t.key('viewer')).headers
    expect((await t.json('POST', '/api/v1/metrics', { name: 'x', value: 1 }, viewer)).status).toBe(403)
    const operator = (await t.key('operator')).headers
    expect((await t.json('POST', '/api/v1/metrics', { name: 'x', value: 1 }, operator)).status).toBe(200)
    expect((await t.json('POST', '/api/v1/metrics', { name: 'x', value: 1 }, {})).status).toBe(401)
  })
})

describe('POST /api/v1/metrics (Prometheus text)', () => {
  const post = (body: string) =>
    t.app.request('/api/v1/metrics', {
      method: 'POST',
      body,
      headers: { ...ingest, 'Content-Type': 'text/plain; version=0.0.4' },
    })

  it('stores what a client library exposes, dropping NaN samples', async () => {
    const res = await post(
      [
        '# TYPE rag_ingestion_failures_total counter',
        'rag_ingestion_failures_total{source="docs"} 4 1763800000000',
        'go_summary{quantile="0.5"} NaN',
        'llm_latency_ms_bucket{le="+Inf"} 9',
      ].join('\n'),
    )
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ written: 2, dropped: 1 })
    const [s] = await t.db.select().from(series).where(eq(series.name, 'rag_ingestion_failures_total'))
    const [p] = (await storedPoints(await moved())).filter((x) => x.seriesId === s!.id)
    expect(p).toMatchObject({ ts: 1763800000000, value: 4 })
  })

  it('names the line that does not parse and writes nothing', async () => {
    const before = await pointCount()
    const res = await post('good_one 1\ngood_two 2\nbad{x=} 3\n')
    expect(res.status).toBe(400)
    const body = (await res.json()) as { error: { details: { field: string }[] } }
    expect(body.error.details[0]!.field).toBe('line 3')
    expect(await pointCount()).toBe(before)
  })
})

describe('GET /api/v1/metrics/series', () => {
  it('finds series by name and label value, with counts', async () => {
    const viewer = (await t.key('viewer')).headers
    await t.json(
      'POST',
      '/api/v1/metrics',
      {
        points: [
          { name: 'prompt_score', value: 0.9, labels: { prompt: 'summarise' } },
          { name: 'prompt_score', value: 0.7, labels: { prompt: 'classify' } },
        ],
      },
      ingest,
    )
    const res = await t.app.request('/api/v1/metrics/series?search=classify', { headers: viewer })
    const body = (await res.json()) as {
      names: { name: string; series: number }[]
      items: { labels: Record<string, string> }[]
    }
    expect(body.items.map((i) => i.labels)).toEqual([{ prompt: 'classify' }])
    const all = (await (
      await t.app.request('/api/v1/metrics/series?name=prompt_score', { headers: viewer })
    ).json()) as typeof body
    expect(all.names).toEqual([expect.objectContaining({ name: 'prompt_score', series: 2 })])
  })
})
