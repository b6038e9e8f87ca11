/**
 * POST /v1/traces through the protobuf fast path and the JSON path (docs/adr/0014-otlp-trace-fast-path.md):
 * the same export stores the same spans, runs, tasks and llm_* points whichever encoding it came in,
 * refuses the same spans, and a body that is not valid protobuf is a 400 that stores nothing.
 */
import { sql } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { roleHeaders, testApp } from '../helpers/app.ts'
import { exportOf, jsonOf, protobufOf } from '../helpers/otlp-export.ts'
import { storedPoints } from '../helpers/raw-points.ts'

const viaProtobuf = await testApp()
const viaJson = await testApp()
afterAll(() => {
  viaProtobuf.close()
  viaJson.close()
})

type App = typeof viaJson
const send = async (t: App, body: Uint8Array, type: string) =>
  t.app.request('/v1/traces', {
    method: 'POST',
    body: body as Uint8Array<ArrayBuffer>,
    headers: { ...(await roleHeaders(t)).ingest, 'Content-Type': type },
  })

/** What an export left in the database, without the times of writing and the series ids. */
async function stored(t: App) {
  const all = async (q: ReturnType<typeof sql>) => (await t.db.all(q)) as Record<string, unknown>[]
  return {
    spans: await all(sql`SELECT * FROM run_spans ORDER BY trace_id, span_id`),
    runs: await all(sql`SELECT id, goal, requester, labels, status, started_at, ended_at, input_tokens, output_tokens,
      cost_usd, task_count, failed_count FROM runs ORDER BY id`),
    labels: await all(sql`SELECT * FROM run_labels ORDER BY run_id, name`),
    tasks: await all(sql`SELECT run_id, id, role, title, parent_id, status, started_at, ended_at, model, input_tokens,
      output_tokens, cost_usd, error, failure_class FROM run_tasks ORDER BY run_id, id`),
    points: (await storedPoints(t.db))
      .map(({ name, labels, ts, value }) => ({ name, labels: JSON.stringify(labels), ts, value }))
      .sort((x, y) => x.name.localeCompare(y.name) || x.labels.localeCompare(y.labels) || x.ts - y.ts),
  }
}

describe('OTLP traces: protobuf fast path vs JSON path', () => {
  it('stores identical rows for the same export, refused spans alike', async () => {
    const message = exportOf([1, 2, 3], true)
    const p = await send(viaProtobuf, protobufOf(message), 'application/x-protobuf')
    const j = await send(viaJson, jsonOf(message), 'application/json')
    expect(p.status).toBe(200)
    expect(j.status).toBe(200)
    expect(await j.json()).toMatchObject({ partialSuccess: { rejectedSpans: '7' } })
    const a = await stored(viaProtobuf)
    const b = await stored(viaJson)
    expect(a.spans.map(({ received_at, ...r }) => r)).toEqual(b.spans.map(({ received_at, ...r }) => r))
    expect(a.spans).toHaveLength(15)
    expect(a.runs).toEqual(b.runs)
    expect(a.runs).toHaveLength(3)
    expect(a.labels).toEqual(b.labels)
    expect(a.tasks).toEqual(b.tasks)
    expect(a.tasks.filter((t) => t.failure_class === 'syntax')).toHaveLength(3)
    expect(a.points).toEqual(b.points)
    // The three traces' model calls end in the same ms on the same series: summed into one point each.
    expect(a.points.map((p) => p.name)).toEqual(['llm_latency_seconds', 'llm_tokens_total', 'llm_tokens_total'])
  })

  it('answers 400 for a malformed protobuf body and stores nothing of it', async () => {
    const before = await stored(viaProtobuf)
    const good = protobufOf(exportOf([9]))
    for (const body of [good.subarray(0, good.length - 2), new Uint8Array([0x0a, 0x05, 0x12, 0x03, 0x07])]) {
      const res = await send(viaProtobuf, body, 'application/x-protobuf')
      expect(res.status).toBe(400)
      const error = (await res.json()).error
      expect(error.code).toBe('invalid_protobuf')
      expect(error.details[0].field).toBe('(body)')
    }
    expect(await stored(viaProtobuf)).toEqual(before)
  })
})
