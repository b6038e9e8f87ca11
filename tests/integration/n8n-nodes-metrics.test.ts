/**
 * The Homeostat Metrics Record node's real `execute` against the real app on a loopback port,
 * through the n8n context harness: what it sends, what the server stored, and the errors users see.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { sql } from 'drizzle-orm'
import { moveInbox } from '../../app/modules/metrics/inbox.ts'
import { storedPoints } from '../helpers/raw-points.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { freePort } from '../helpers/server.ts'
import { execute, failure, HomeostatMetricsRecord, serveApp } from '../helpers/n8n-harness.ts'

let t: TestApp
let server: Awaited<ReturnType<typeof serveApp>>
let credentials: { baseUrl: string; apiKey: string }
const node = new HomeostatMetricsRecord()

beforeAll(async () => {
  t = await testApp()
  server = await serveApp(t)
  credentials = { baseUrl: `${server.url}/`, apiKey: (await t.key('operator')).key }
})
afterAll(async () => {
  await server.close()
  t.close()
})

/** Points stored for a metric (after moving the write inbox into chunks). */
const count = async (name: string) => (
  await moveInbox(t.db), (await storedPoints(t.db)).filter((p) => p.name === name).length
)
const base = Date.now() - 60_000

const recordParams = (
  name: string | ((j: Record<string, unknown>) => unknown),
  extra: Record<string, unknown> = {},
) => ({
  operation: 'record',
  metricName: name,
  value: (j: Record<string, unknown>) => j.value,
  labels: (j: Record<string, unknown>) => ({ pair: [{ name: 'agent', value: j.agent }] }),
  recordOptions: (j: Record<string, unknown>) => ({ timestamp: j.ts }),
  ...extra,
})

describe('Record', () => {
  it('sends 2 500 items in batches of at most 1 000 and stores every point with its labels', async () => {
    const items = Array.from({ length: 2500 }, (_, i) => ({
      value: i % 2 ? i : String(i),
      agent: i % 3 ? 'planner' : 'coder',
      ts: base + i,
    }))
    const { items: out, sent } = await execute(node, { params: recordParams('n8n_items_total'), items, credentials })
    expect(sent.map((s) => (s.body as { points: unknown[] }).points.length)).toEqual([1000, 1000, 500])
    expect(sent.every((s) => s.url === `${server.url}/api/v1/metrics` && s.statusCode === 200)).toBe(true)
    expect(out).toHaveLength(2500)
    expect(out[7]).toEqual({
      json: {
        recorded: true,
        name: 'n8n_items_total',
        value: 7,
        labels: { agent: 'planner' },
        ts: new Date(base + 7).toISOString(),
      },
      pairedItem: { item: 7 },
    })
    expect(await count('n8n_items_total')).toBe(2500)
    const [row] = (await t.db.run(sql`select count(distinct s.id) as n from series s where s.name = 'n8n_items_total'`))
      .rows
    expect(Number(row![0])).toBe(2)
  })

  it('honours a smaller batch size', async () => {
    const items = Array.from({ length: 5 }, (_, i) => ({ value: i, agent: 'a', ts: base + i }))
    const { sent } = await execute(node, {
      params: {
        ...recordParams('n8n_small_batches'),
        recordOptions: (j: Record<string, unknown>) => ({ timestamp: j.ts, batchSize: 2 }),
      },
      items,
      credentials,
    })
    expect(sent.map((s) => (s.body as { points: unknown[] }).points.length)).toEqual([2, 2, 1])
    expect(await count('n8n_small_batches')).toBe(5)
  })

  it('names the item and field of a bad metric name and a non-numeric value, and says what names are allowed', async () => {
    const items = [
      { value: 1, agent: 'a', ts: base },
      { value: 'abc', agent: 'a', ts: base + 1 },
    ]
    await expect(execute(node, { params: recordParams('n8n_ok'), items, credentials })).rejects.toThrow(
      'Item 1, field "Value": must be a number, got "abc"',
    )
    const bad = await failure(
      execute(node, {
        params: recordParams('agent-run latency'),
        items: [{ value: 1, agent: 'a', ts: base }],
        credentials,
      }),
    )
    expect(bad).toBeInstanceOf(Error)
    expect(bad.message).toBe(
      'Item 0, field "Metric Name": "agent-run latency" is not a valid metric name: use only letters, digits, _ and : (no spaces, dashes or dots) and do not start with a digit, e.g. "agent_run_latency"',
    )
    expect(bad.context.itemIndex).toBe(0)
    const badLabel = await failure(
      execute(node, {
        params: { ...recordParams('n8n_ok'), labels: { pair: [{ name: 'run-id', value: 'x' }] } },
        items: [{ value: 1 }],
        credentials,
      }),
    )
    expect(badLabel.message).toContain(
      'Item 0, field "Labels": label name "run-id" may hold only letters, digits and _',
    )
    expect(await count('n8n_ok')).toBe(0)
  })

  it('with Continue On Fail, bad items become error items in place and the others are recorded', async () => {
    const items = [
      { value: 1, agent: 'a', ts: base },
      { value: 'not a number', agent: 'a', ts: base + 1 },
      { value: 3, agent: 'a', ts: base + 2, name: 'bad name' },
      { value: 4, agent: 'a', ts: 'yesterday-ish' },
      { value: '5.5', agent: 'a', ts: base + 4 },
    ]
    const { items: out, sent } = await execute(node, {
      params: recordParams((j) => j.name ?? 'n8n_continue'),
      items,
      credentials,
      continueOnFail: true,
    })
    expect(sent).toHaveLength(1)
    expect(out.map((o) => o.pairedItem)).toEqual([0, 1, 2, 3, 4].map((item) => ({ item })))
    expect(out[0]!.json.recorded).toBe(true)
    expect(out[1]!.json.error).toBe('Item 1, field "Value": must be a number, got "not a number"')
    expect(out[2]!.json.error).toContain('Item 2, field "Metric Name": "bad name" is not a valid metric name')
    expect(out[3]!.json.error).toContain('Item 3, field "Timestamp"')
    expect(out[4]!.json).toMatchObject({ recorded: true, value: 5.5 })
    expect(await count('n8n_continue')).toBe(2)
  })

  it('maps a batch the server refuses back to the item (all-or-nothing), and with Continue On Fail sends the rest again', async () => {
    const future = Date.now() + 3_600_000 // the server refuses points more than 10 minutes ahead
    const items = [0, 1, 2, 3].map((i) => ({ value: i, agent: 'a', ts: i === 2 ? future : base + i }))
    const err = await failure(execute(node, { params: recordParams('n8n_refused'), items, credentials }))
    expect(err.message).toMatch(
      /^Homeostat: item 2 was refused \(ts: is more than 10 minutes in the future\); nothing in its batch of 4 was written/,
    )
    expect(err.httpCode).toBe('400')
    expect(await count('n8n_refused')).toBe(0)

    const { items: out, sent } = await execute(node, {
      params: recordParams('n8n_refused'),
      items,
      credentials,
      continueOnFail: true,
    })
    expect(sent.map((s) => s.statusCode)).toEqual([400, 200])
    expect(out[2]!.json).toMatchObject({ error: expect.stringContaining('item 2 was refused'), httpCode: '400' })
    expect(out.filter((o) => o.json.recorded)).toHaveLength(3)
    expect(await count('n8n_refused')).toBe(3)
  })

  it('turns a refused API key into an error with the server message and status', async () => {
    const err = await failure(
      execute(node, {
        params: recordParams('n8n_auth'),
        items: [{ value: 1 }],
        credentials: { ...credentials, apiKey: 'hs_wrong' },
      }),
    )
    expect(err.constructor.name).toBe('NodeApiError')
    expect(err.message).toMatch(/^Homeostat: .*\[HTTP 401\]$/)
    expect(err.httpCode).toBe('401')
    const { items: out } = await execute(node, {
      params: recordParams('n8n_auth'),
      items: [{ value: 1 }, { value: 2 }],
      credentials: { ...credentials, apiKey: 'hs_wrong' },
      continueOnFail: true,
    })
    expect(out.map((o) => o.json.httpCode)).toEqual(['401', '401'])
  })

  it('retries once when the server is down, then says so clearly', async () => {
    const down = { ...credentials, baseUrl: `http://127.0.0.1:${await freePort()}` }
    const err = await failure(
      execute(node, { params: recordParams('n8n_down'), items: [{ value: 1 }], credentials: down }),
    )
    expect(err.message).toBe(
      `Homeostat at ${down.baseUrl} could not be reached (tried twice): check the base URL and that the server is running`,
    )
    const { items: out, sent } = await execute(node, {
      params: recordParams('n8n_down'),
      items: [{ value: 1 }, { value: 2 }],
      credentials: down,
      continueOnFail: true,
    })
    expect(sent).toHaveLength(2)
    expect(out.map((o) => o.json.error)).toEqual([err.message, err.message])
  })
})

describe('Query and Trends', () => {
  beforeAll(async () => {
    const now = Date.now()
    const items = Array.from({ length: 20 }, (_, i) => ({
      value: i,
      agent: i % 2 ? 'planner' : 'coder',
      ts: now - 20 * 60_000 + i * 60_000,
    }))
    await execute(node, { params: recordParams('n8n_latency_ms'), items, credentials })
  })

  it('returns one item per series or one per point, filtered by labels', async () => {
    const params = {
      operation: 'query',
      metricName: 'n8n_latency_ms',
      range: '1h',
      agg: 'max',
      match: {},
      output: 'series',
      queryOptions: { step: '5m', by: 'agent' },
    }
    const { items: series } = await execute(node, { params, credentials })
    expect(series.map((s) => s.json.labels).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual(
      [{ agent: 'coder' }, { agent: 'planner' }],
    )
    expect(series[0]!.json).toMatchObject({ name: 'n8n_latency_ms', agg: 'max', step: 300_000 })
    const { items: points } = await execute(node, {
      params: { ...params, output: 'points', match: { pair: [{ name: 'agent', value: 'planner' }] } },
      credentials,
    })
    expect(points.length).toBeGreaterThan(3)
    expect(
      points.every((p) => (p.json.labels as { agent: string }).agent === 'planner' && typeof p.json.time === 'string'),
    ).toBe(true)
    expect(Math.max(...points.map((p) => Number(p.json.value ?? -1)))).toBe(19)
  })

  it('returns trends per series and names a bad window', async () => {
    const params = {
      operation: 'trends',
      metricName: 'n8n_latency_ms',
      window: '1h',
      agg: 'avg',
      match: {},
      queryOptions: { step: '5m' },
    }
    const { items } = await execute(node, { params, credentials })
    expect(items.map((i) => (i.json.labels as { agent: string }).agent).sort()).toEqual(['coder', 'planner'])
    expect(items[0]!.json).toMatchObject({ name: 'n8n_latency_ms', window: 3_600_000 })
    expect(items[0]!.json).toHaveProperty('slopePerHour')
    await expect(execute(node, { params: { ...params, window: 'an hour' }, credentials })).rejects.toThrow(
      'Item 0, field "Window": must be a duration like 1h or 1d',
    )
    const err = await failure(execute(node, { params: { ...params, queryOptions: { step: '7m' } }, credentials }))
    expect(err.message).toBe('Homeostat: Invalid query (step: must divide the window) [HTTP 400]')
  })
})
