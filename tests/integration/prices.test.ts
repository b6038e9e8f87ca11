import { and, asc, count, eq, inArray } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { auditLog } from '../../db/schema/audit.ts'
import { storedPoints } from '../helpers/raw-points.ts'
import { series } from '../../db/schema/metrics.ts'
import { roleHeaders, testApp } from '../helpers/app.ts'
import { moveInbox } from '../../app/modules/metrics/inbox.ts'

type Json = Record<string, any>
const t = await testApp()
afterAll(() => t.close())
const { op, viewer, ingest } = await roleHeaders(t)

/** The database after moving the write inbox into chunks (readers see both; this checks the move too). */
const moved = async () => (await moveInbox(t.db), t.db)

const addPrice = (body: unknown, headers = op) => t.json('POST', '/api/v1/prices', body, headers)
const push = (body: unknown) => t.json('POST', '/api/v1/metrics', body, ingest)
async function costs(match: Record<string, string> = {}) {
  // derived, and sent under the old name
  const rows = (await storedPoints(await moved())).filter((p) =>
    ['llm_cost_usd_total', 'llm_cost_usd'].includes(p.name),
  )
  return rows
    .filter((r) => Object.entries(match).every(([k, v]) => r.labels[k] === v))
    .map((r) => ({ labels: r.labels, ts: r.ts, value: r.value }))
}

describe('/api/v1/prices', () => {
  it('CRUD with audit; viewers read only', async () => {
    const res = await addPrice({ model: 'crud-model', promptPer1M: 1.5, completionPer1M: 6 })
    expect(res.status).toBe(201)
    const p = (await res.json()) as Json
    expect(p).toMatchObject({
      model: 'crud-model',
      promptPer1M: 1.5,
      completionPer1M: 6,
      effectiveFrom: '1970-01-01T00:00:00.000Z',
    })
    expect((await (await t.app.request(`/api/v1/prices/${p.id}`, { headers: viewer })).json()) as Json).toMatchObject({
      id: p.id,
    })
    const list = (await (await t.app.request('/api/v1/prices', { headers: viewer })).json()) as Json
    expect(list.items.map((x: Json) => x.model)).toContain('crud-model')
    const patched = (await (await t.json('PATCH', `/api/v1/prices/${p.id}`, { completionPer1M: 8 }, op)).json()) as Json
    expect(patched).toMatchObject({ promptPer1M: 1.5, completionPer1M: 8 })
    expect((await addPrice({ model: 'v', promptPer1M: 1, completionPer1M: 1 }, viewer)).status).toBe(403)
    expect((await t.json('PATCH', `/api/v1/prices/${p.id}`, { completionPer1M: 9 }, viewer)).status).toBe(403)
    expect((await t.app.request(`/api/v1/prices/${p.id}`, { method: 'DELETE', headers: viewer })).status).toBe(403)
    expect((await t.app.request(`/api/v1/prices/${p.id}`, { method: 'DELETE', headers: op })).status).toBe(204)
    expect((await t.app.request(`/api/v1/prices/${p.id}`, { headers: viewer })).status).toBe(404)
    expect((await t.json('PATCH', `/api/v1/prices/${p.id}`, { completionPer1M: 9 }, op)).status).toBe(404)
    const actions = (await t.db.select().from(auditLog).where(eq(auditLog.target, 'crud-model'))).map((a) => a.action)
    expect(actions).toEqual(['price.created', 'price.updated', 'price.deleted'])
  })

  it('validation names the field; the same model and effective time twice is 409', async () => {
    for (const [body, field] of [
      [{ model: 'm', promptPer1M: -1, completionPer1M: 1 }, 'promptPer1M'],
      [{ model: 'm', promptPer1M: 1, completionPer1M: '2' }, 'completionPer1M'],
      [{ model: '', promptPer1M: 1, completionPer1M: 1 }, 'model'],
      [{ model: 'm', promptPer1M: 1, completionPer1M: 1, effectiveFrom: 'soon' }, 'effectiveFrom'],
      [{ model: 'm', promptPer1M: 1, completionPer1M: 1, currency: 'EUR' }, 'currency'],
    ] as const) {
      const res = await addPrice(body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(((await res.json()) as Json).error.details.map((d: Json) => d.field)).toContain(field)
    }
    expect(
      (await addPrice({ model: 'twice', promptPer1M: 1, completionPer1M: 1, effectiveFrom: '2026-01-01T00:00:00Z' }))
        .status,
    ).toBe(201)
    expect(
      (
        await addPrice({
          model: 'twice',
          promptPer1M: 2,
          completionPer1M: 2,
          effectiveFrom: Date.parse('2026-01-01T00:00:00Z'),
        })
      ).status,
    ).toBe(409)
  })
})

describe('llm_cost_usd_total at ingest', () => {
  it('prompt and completion tokens of a request become one cost point with the same labels but kind', async () => {
    await addPrice({ model: 'gpt-x', promptPer1M: 2.5, completionPer1M: 10 })
    const ts = '2026-11-22T10:00:00.000Z'
    const res = await push({
      points: [
        { name: 'llm_tokens_total', value: 1000, ts, labels: { model: 'gpt-x', kind: 'prompt', component: 'planner' } },
        {
          name: 'llm_tokens_total',
          value: 500,
          ts,
          labels: { model: 'gpt-x', kind: 'completion', component: 'planner' },
        },
        { name: 'llm_tokens_total', value: 200, ts, labels: { model: 'gpt-x', kind: 'prompt', component: 'coder' } },
      ],
    })
    expect(res.status).toBe(200)
    expect(await costs({ model: 'gpt-x' })).toEqual([
      { labels: { component: 'planner', model: 'gpt-x' }, ts: Date.parse(ts), value: expect.closeTo(0.0075, 12) },
      { labels: { component: 'coder', model: 'gpt-x' }, ts: Date.parse(ts), value: expect.closeTo(0.0005, 12) },
    ])
    // a retry of the same request keeps one cost point per series and time
    await push({
      points: [
        { name: 'llm_tokens_total', value: 200, ts, labels: { model: 'gpt-x', kind: 'prompt', component: 'coder' } },
      ],
    })
    expect(await costs({ model: 'gpt-x', component: 'coder' })).toHaveLength(1)
  })

  it('no price, no kind, or an unknown kind: no cost point', async () => {
    await push({
      points: [
        { name: 'llm_tokens_total', value: 100, labels: { model: 'unpriced', kind: 'prompt' } },
        { name: 'llm_tokens_total', value: 100, labels: { model: 'gpt-x', component: 'nokind' } },
        { name: 'llm_tokens_total', value: 100, labels: { model: 'gpt-x', kind: 'cached', component: 'odd' } },
      ],
    })
    expect(await costs({ model: 'unpriced' })).toEqual([])
    expect(await costs({ component: 'nokind' })).toEqual([])
    expect(await costs({ component: 'odd' })).toEqual([])
  })

  it('a cost point the client sends itself wins over the derived one', async () => {
    const ts = Date.parse('2026-11-22T11:00:00Z')
    await push({
      points: [
        {
          name: 'llm_tokens_total',
          value: 1_000_000,
          ts,
          labels: { model: 'gpt-x', kind: 'prompt', component: 'own' },
        },
        { name: 'llm_cost_usd', value: 0.01, ts, labels: { model: 'gpt-x', component: 'own' } },
      ],
    })
    expect(await costs({ component: 'own' })).toMatchObject([{ value: 0.01 }])
  })

  it('a price change applies at once to new points; effective-from picks the price in force at each point', async () => {
    const made = (await (await addPrice({ model: 'llama-y', promptPer1M: 1, completionPer1M: 1 })).json()) as Json
    await push({
      name: 'llm_tokens_total',
      value: 1_000_000,
      ts: '2026-11-22T12:00:00Z',
      labels: { model: 'llama-y', kind: 'prompt' },
    })
    await t.json('PATCH', `/api/v1/prices/${made.id}`, { promptPer1M: 3 }, op)
    await push({
      name: 'llm_tokens_total',
      value: 1_000_000,
      ts: '2026-11-22T12:01:00Z',
      labels: { model: 'llama-y', kind: 'prompt' },
    })
    await addPrice({ model: 'llama-y', promptPer1M: 5, completionPer1M: 5, effectiveFrom: '2026-11-22T12:30:00Z' })
    await push({
      points: [
        {
          name: 'llm_tokens_total',
          value: 1_000_000,
          ts: '2026-11-22T12:29:00Z',
          labels: { model: 'llama-y', kind: 'prompt' },
        },
        {
          name: 'llm_tokens_total',
          value: 1_000_000,
          ts: '2026-11-22T12:31:00Z',
          labels: { model: 'llama-y', kind: 'prompt' },
        },
      ],
    })
    expect((await costs({ model: 'llama-y' })).map((c) => c.value)).toEqual([1, 3, 3, 5])
  })

  it('a bad batch writes neither tokens nor cost; Prometheus text derives cost too', async () => {
    const before = (await storedPoints(await moved())).length
    const bad = await push({
      points: [
        { name: 'llm_tokens_total', value: 10, labels: { model: 'gpt-x', kind: 'prompt', component: 'atomic' } },
        { name: 'bad name', value: 1 },
      ],
    })
    expect(bad.status).toBe(400)
    expect((await storedPoints(await moved())).length).toBe(before)
    const text = 'llm_tokens_total{model="gpt-x",kind="completion",component="text"} 2000 1795000000000\n'
    const res = await t.app.request('/api/v1/metrics', {
      method: 'POST',
      body: text,
      headers: { ...ingest, 'Content-Type': 'text/plain' },
    })
    expect(res.status).toBe(200)
    expect(await costs({ component: 'text' })).toEqual([
      { labels: { component: 'text', model: 'gpt-x' }, ts: 1_795_000_000_000, value: expect.closeTo(0.02, 12) },
    ])
    const [s] = await t.db
      .select()
      .from(series)
      .where(and(eq(series.name, 'llm_cost_usd_total')))
    expect(s).toBeTruthy()
  })
})
