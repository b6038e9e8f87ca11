/**
 * POST /v1/traces with the real OpenTelemetry SDK and its OTLP/HTTP exporters (protobuf and JSON,
 * gzip) as the client, against the real app served on loopback: GenAI spans become a run and its
 * tasks, model calls the llm_* points; split, out-of-order and retried exports give the same result.
 */
import { gzipSync } from 'node:zlib'
import { asc, eq } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { series } from '../../db/schema/metrics.ts'
import { storedPoints } from '../helpers/raw-points.ts'
import { runs, runTasks } from '../../db/schema/runs.ts'
import { runSpans } from '../../db/schema/runs-otlp.ts'
import { otlpSpansPurgeJob } from '../../jobs/otlp.ts'
import { ExportTraceServiceRequest, ExportTraceServiceResponse } from '../../app/modules/runs/otlp/proto.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { serveApp } from '../helpers/n8n-harness.ts'
import { exportSpans, fail, recordingTracer } from '../helpers/otel.ts'

/** A team run as an agent framework following the GenAI conventions traces it. */
function teamTrace() {
  const { start, spans, shutdown } = recordingTracer({
    'service.name': 'agent-team',
    'homeostat.run.goal': 'fix issue 17',
    'homeostat.run.label.team': 'multi',
  })
  const planner = start('invoke_agent planner', {
    'gen_ai.operation.name': 'invoke_agent',
    'gen_ai.agent.name': 'planner',
  })
  const chat1 = start(
    'chat gpt-4o',
    {
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gpt-4o',
      'gen_ai.response.model': 'gpt-4o',
      'gen_ai.usage.input_tokens': 1000,
      'gen_ai.usage.output_tokens': 200,
      'gen_ai.agent.name': 'planner',
    },
    planner,
  )
  chat1.end()
  const coder = start(
    'invoke_agent Code Writer',
    { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'Code Writer', 'gen_ai.agent.id': 'c-1' },
    planner,
  )
  // A span no convention maps (an HTTP client call) between the agent and its model call.
  const http = start('POST', { 'http.request.method': 'POST', 'server.address': '127.0.0.1' }, coder)
  const chat2 = start(
    'chat gpt-4o',
    { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o', 'gen_ai.usage.input_tokens': 500 },
    http,
  )
  chat2.setAttribute('gen_ai.usage.output_tokens', 100)
  chat2.end()
  http.end()
  const tool = start(
    'execute_tool run_tests',
    { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'run_tests' },
    coder,
  )
  fail(
    tool,
    Object.assign(new Error('AssertionError: expected 2 to equal 3\n 1 failed, 4 passed'), { name: 'AssertionError' }),
  )
  coder.end()
  const db = start('SELECT runs', { 'db.system.name': 'sqlite' }, planner)
  db.end()
  planner.end()
  const all = spans()
  void shutdown()
  const byName = (name: string) => all.find((s) => s.name === name)!
  return { all, byName, traceId: planner.spanContext().traceId }
}

const PRICE = { model: 'gpt-4o', promptPer1M: 2, completionPer1M: 10 }
let trace: ReturnType<typeof teamTrace>

/** An app with a price for gpt-4o, served on loopback, with an ingest key. */
async function served() {
  const t = await testApp()
  const admin = await t.key('admin')
  await t.json('POST', '/api/v1/prices', PRICE, admin.headers)
  const ingest = await t.key('viewer', ['ingest'])
  const server = await serveApp(t)
  return { t, key: ingest.key, url: server.url, close: async () => (await server.close(), t.close()) }
}
type Served = Awaited<ReturnType<typeof served>>

/** What the app recorded of the trace, in a form two apps can be compared by. */
async function recorded(t: TestApp, runId: string) {
  const [run] = await t.db.select().from(runs).where(eq(runs.id, runId))
  const tasks = await t.db.select().from(runTasks).where(eq(runTasks.runId, runId)).orderBy(asc(runTasks.id))
  const tokenSeries = await t.db.select().from(series).where(eq(series.name, 'llm_tokens_total'))
  const ids = new Set(tokenSeries.map((s) => s.id))
  const tokenPoints = (await storedPoints(t.db)).filter((p) => ids.has(p.seriesId))
  return {
    run: run && {
      status: run.status,
      goal: run.goal,
      labels: run.labels,
      startedAt: run.startedAt,
      endedAt: run.endedAt,
      inputTokens: run.inputTokens,
      outputTokens: run.outputTokens,
      costUsd: Number(run.costUsd.toFixed(9)),
      taskCount: run.taskCount,
      failedCount: run.failedCount,
    },
    tasks: tasks.map((k) => ({
      id: k.id,
      role: k.role,
      title: k.title,
      parentId: k.parentId,
      status: k.status,
      model: k.model,
      inputTokens: k.inputTokens,
      outputTokens: k.outputTokens,
      costUsd: Number(k.costUsd.toFixed(9)),
      failureClass: k.failureClass,
      startedAt: k.startedAt,
      endedAt: k.endedAt,
      hasError: Boolean(k.error),
    })),
    tokens: tokenPoints.reduce((sum, p) => sum + p.value, 0),
  }
}

let expected: Awaited<ReturnType<typeof recorded>>
let a: Served

beforeAll(async () => {
  trace = teamTrace()
  a = await served()
})
afterAll(async () => {
  await a.close()
})

describe('POST /v1/traces with the OpenTelemetry SDK exporters', () => {
  it('turns a protobuf export (gzip) into a run, its agent and tool tasks, cost and llm_* points', async () => {
    const r = await exportSpans(a.url, a.key, trace.all, { encoding: 'protobuf', gzip: true })
    expect(r.code).toBe(0)
    expected = await recorded(a.t, trace.traceId)
    const planner = trace.byName('invoke_agent planner').spanContext().spanId
    const coder = trace.byName('invoke_agent Code Writer').spanContext().spanId
    const tool = trace.byName('execute_tool run_tests').spanContext().spanId
    expect(expected.run).toMatchObject({
      status: 'succeeded',
      goal: 'fix issue 17',
      labels: { team: 'multi' },
      inputTokens: 1500,
      outputTokens: 300,
      taskCount: 3,
      failedCount: 1,
    })
    // 1500 prompt tokens at $2/1M and 300 completion at $10/1M.
    expect(expected.run?.costUsd).toBeCloseTo(0.006, 9)
    const byId = Object.fromEntries(expected.tasks.map((k) => [k.id, k]))
    expect(Object.keys(byId).sort()).toEqual([planner, coder, tool].sort())
    expect(byId[planner]).toMatchObject({ role: 'planner', parentId: null, status: 'succeeded', model: 'gpt-4o' })
    expect(byId[planner]).toMatchObject({ inputTokens: 1000, outputTokens: 200 })
    // The model call under an HTTP span still counts for the agent above it.
    expect(byId[coder]).toMatchObject({ role: 'Code_Writer', parentId: planner, inputTokens: 500, outputTokens: 100 })
    expect(byId[tool]).toMatchObject({
      role: 'tool',
      title: 'execute_tool run_tests',
      parentId: coder,
      status: 'failed',
      failureClass: 'test_failure',
      hasError: true,
    })
    expect(expected.tokens).toBe(1800)
    const cost = await a.t.db.select().from(series).where(eq(series.name, 'llm_cost_usd_total'))
    expect(cost.map((s) => s.labels)).toEqual(expect.arrayContaining([{ model: 'gpt-4o', component: 'planner' }]))
    const latency = await a.t.db.select().from(series).where(eq(series.name, 'llm_latency_seconds'))
    expect(latency).toHaveLength(2)
  })

  it('writes nothing twice when the same export is retried', async () => {
    const r = await exportSpans(a.url, a.key, trace.all, { encoding: 'protobuf' })
    expect(r.code).toBe(0)
    expect(await recorded(a.t, trace.traceId)).toEqual(expected)
  })

  it('records the same from the JSON exporter', async () => {
    const b = await served()
    try {
      expect((await exportSpans(b.url, b.key, trace.all, { encoding: 'json', gzip: true })).code).toBe(0)
      expect(await recorded(b.t, trace.traceId)).toEqual(expected)
    } finally {
      await b.close()
    }
  })

  it('records the same from a trace split over exports, children before their parents', async () => {
    const b = await served()
    try {
      // Leaves first, then the middle, the root last; each export its own request.
      const order = ['chat gpt-4o', 'execute_tool run_tests', 'POST', 'invoke_agent Code Writer', 'SELECT runs']
      const first = trace.all.filter((s) => order.slice(0, 3).includes(s.name))
      const second = trace.all.filter((s) => order.slice(3).includes(s.name))
      const last = trace.all.filter((s) => s.name === 'invoke_agent planner')
      for (const part of [first, second, last])
        expect((await exportSpans(b.url, b.key, part, { encoding: 'json' })).code).toBe(0)
      expect(await recorded(b.t, trace.traceId)).toEqual(expected)
    } finally {
      await b.close()
    }
  })

  it('keeps a run that has not ended running, and takes homeostat.run.id as its id', async () => {
    const { start, spans } = recordingTracer({ 'service.name': 'solo', 'homeostat.run.id': 'run-otlp-1' })
    const root = start('invoke_agent solo', { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'solo' })
    start('execute_tool search', { 'gen_ai.operation.name': 'execute_tool', 'gen_ai.tool.name': 'search' }, root).end()
    expect((await exportSpans(a.url, a.key, spans(), { encoding: 'protobuf' })).code).toBe(0)
    const got = await recorded(a.t, 'run-otlp-1')
    expect(got.run).toMatchObject({ status: 'running', taskCount: 1 })
    expect(got.tasks[0]).toMatchObject({ role: 'tool', status: 'succeeded', parentId: null })
    root.end()
    expect((await exportSpans(a.url, a.key, spans().slice(-1), { encoding: 'protobuf' })).code).toBe(0)
    const after = await recorded(a.t, 'run-otlp-1')
    expect(after.run).toMatchObject({ status: 'succeeded', taskCount: 2 })
    expect(after.tasks.find((k) => k.role === 'tool')?.parentId).toBe(root.spanContext().spanId)
  })

  it('ignores traces with no GenAI span, without failing them', async () => {
    const { start, spans } = recordingTracer()
    const root = start('GET /health', { 'http.request.method': 'GET' })
    start('SELECT 1', { 'db.system.name': 'sqlite' }, root).end()
    root.end()
    expect((await exportSpans(a.url, a.key, spans(), { encoding: 'json' })).code).toBe(0)
    expect((await recorded(a.t, root.spanContext().traceId)).run).toBeUndefined()
  })

  it('refuses an export without a key (401)', async () => {
    const r = await exportSpans(a.url, undefined, trace.all, { encoding: 'protobuf' })
    expect(r.code).not.toBe(0)
    expect(String(r.error?.message)).toMatch(/401|Unauthorized/i)
  })
})

describe('POST /v1/traces: bad requests', () => {
  const send = (body: BodyInit, headers: Record<string, string>, auth = true) =>
    a.t.app.request('/v1/traces', {
      method: 'POST',
      body,
      headers: { ...(auth ? { Authorization: `Bearer ${a.key}` } : {}), ...headers },
    })
  const JSON_TYPE = { 'Content-Type': 'application/json' }
  const span = (over: Record<string, unknown> = {}) => ({
    traceId: 'ab'.repeat(16),
    spanId: 'cd'.repeat(8),
    name: 'invoke_agent x',
    startTimeUnixNano: '1765094400000000000',
    endTimeUnixNano: '1765094401000000000',
    attributes: [{ key: 'gen_ai.operation.name', value: { stringValue: 'invoke_agent' } }],
    ...over,
  })
  const exportOf = (...spans: unknown[]) => JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] })

  it('answers 400 for a body that is not protobuf, not JSON, not gzip, or not an export', async () => {
    const proto = await send(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]), {
      'Content-Type': 'application/x-protobuf',
    })
    expect(proto.status).toBe(400)
    expect((await proto.json()).error.code).toBe('invalid_protobuf')
    const json = await send('{"resourceSpans": [', JSON_TYPE)
    expect(json.status).toBe(400)
    expect((await json.json()).error.code).toBe('invalid_json')
    const gzip = await send('not gzip at all', { ...JSON_TYPE, 'Content-Encoding': 'gzip' })
    expect(gzip.status).toBe(400)
    expect((await gzip.json()).error.code).toBe('invalid_gzip')
    const shape = await send(JSON.stringify({ resourceSpans: { not: 'a list' } }), JSON_TYPE)
    expect(shape.status).toBe(400)
    expect((await shape.json()).error.details).toEqual([expect.objectContaining({ field: 'resourceSpans' })])
  })

  it('answers 415 for another content type or encoding, 401 without a key', async () => {
    const text = await send(exportOf(span()), { 'Content-Type': 'text/plain' })
    expect(text.status).toBe(415)
    expect((await text.json()).error.details).toEqual([{ field: 'Content-Type', message: 'text/plain' }])
    const br = await send(exportOf(span()), { ...JSON_TYPE, 'Content-Encoding': 'br' })
    expect(br.status).toBe(415)
    expect((await send(exportOf(span()), JSON_TYPE, false)).status).toBe(401)
  })

  it('keeps the usable spans and counts the others in partialSuccess, naming the field', async () => {
    const res = await send(
      exportOf(span(), span({ spanId: 'zz' }), span({ spanId: 'ef'.repeat(8), traceId: '0'.repeat(32) })),
      JSON_TYPE,
    )
    expect(res.status).toBe(200)
    const body = await res.json()
    expect(body.partialSuccess.rejectedSpans).toBe('2')
    expect(body.partialSuccess.errorMessage).toMatch(/spans\.1\.spanId must be 16 hex characters/)
    expect(body.partialSuccess.errorMessage).toMatch(/spans\.2\.traceId must not be all zeros/)
    const [run] = await a.t.db
      .select()
      .from(runs)
      .where(eq(runs.id, 'ab'.repeat(16)))
    expect(run?.taskCount).toBe(1)
  })

  it('rejects a span whose homeostat.run.id is not a valid id, keeping the rest', async () => {
    const bad = span({
      spanId: '12'.repeat(8),
      attributes: [
        { key: 'gen_ai.operation.name', value: { stringValue: 'invoke_agent' } },
        { key: 'homeostat.run.id', value: { stringValue: 'has spaces' } },
      ],
    })
    const res = await send(exportOf(bad, span({ spanId: '34'.repeat(8) })), JSON_TYPE)
    const body = await res.json()
    expect(body.partialSuccess).toMatchObject({ rejectedSpans: '1' })
    expect(body.partialSuccess.errorMessage).toMatch(/homeostat\.run\.id/)
  })

  it('answers partialSuccess in protobuf to a protobuf export with an unusable span', async () => {
    const good = { traceId: new Uint8Array(16).fill(0xab), spanId: new Uint8Array(8).fill(0x56), name: 'other' }
    const times = { startTimeUnixNano: '1765094400000000000', endTimeUnixNano: '1765094401000000000' }
    const bad = { ...good, spanId: new Uint8Array(3).fill(1) }
    const message = {
      resourceSpans: [
        {
          scopeSpans: [
            {
              spans: [
                { ...good, ...times },
                { ...bad, ...times },
              ],
            },
          ],
        },
      ],
    }
    const body = Buffer.from(ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject(message)).finish())
    const res = await send(body, { 'Content-Type': 'application/x-protobuf' })
    expect(res.status).toBe(200)
    const answer = ExportTraceServiceResponse.toObject(
      ExportTraceServiceResponse.decode(new Uint8Array(await res.arrayBuffer())),
      { longs: Number },
    )
    expect(answer.partialSuccess).toEqual({
      rejectedSpans: 1,
      errorMessage: '1 span(s) rejected: resourceSpans.0.scopeSpans.0.spans.1.spanId must be 16 hex characters',
    })
  })

  it('answers an empty export with an empty response, in protobuf too', async () => {
    const res = await send(new Uint8Array(), { 'Content-Type': 'application/x-protobuf' })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('application/x-protobuf')
    expect((await res.arrayBuffer()).byteLength).toBe(0)
  })
})

describe('POST /v1/traces: failed model calls, limits, forgetting spans', () => {
  it('counts a failed model call in llm_errors_total and its agent fails with the class of its error', async () => {
    const { start, spans } = recordingTracer({ 'service.name': 'solo' })
    const agent = start('invoke_agent writer', {
      'gen_ai.operation.name': 'invoke_agent',
      'gen_ai.agent.name': 'writer',
    })
    const call = start('chat gpt-4o', { 'gen_ai.operation.name': 'chat', 'gen_ai.request.model': 'gpt-4o' }, agent)
    fail(call, new Error('429 Too Many Requests'), 'RateLimitError')
    fail(agent, new Error('upstream said 429 Too Many Requests'), 'RateLimitError')
    expect((await exportSpans(a.url, a.key, spans(), { encoding: 'protobuf', gzip: true })).code).toBe(0)
    const got = await recorded(a.t, agent.spanContext().traceId)
    expect(got.run).toMatchObject({ status: 'failed', failedCount: 1 })
    expect(got.tasks[0]).toMatchObject({ role: 'writer', status: 'failed', failureClass: 'rate_limit' })
    const errors = await a.t.db.select().from(series).where(eq(series.name, 'llm_errors_total'))
    expect(errors.map((s) => s.labels)).toEqual([{ model: 'gpt-4o', component: 'solo', error: 'RateLimitError' }])
  })

  it('answers 413 for a gzip body that inflates past 8 times the ingest body limit', async () => {
    const small = await testApp({ INGEST_BODY_LIMIT_BYTES: '1024' })
    try {
      const key = await small.key('operator')
      const zipped = gzipSync(Buffer.from(`{"resourceSpans":[],"pad":"${' '.repeat(20_000)}"}`))
      expect(zipped.byteLength).toBeLessThan(1024)
      const res = await small.app.request('/v1/traces', {
        method: 'POST',
        body: zipped,
        headers: { ...key.headers, 'Content-Type': 'application/json', 'Content-Encoding': 'gzip' },
      })
      expect(res.status).toBe(413)
      expect((await res.json()).error.details).toEqual([
        { field: '(body)', message: 'at most 8192 bytes once decompressed' },
      ])
    } finally {
      small.close()
    }
  })

  it('forgets spans a day old in the hourly job, keeping runs and tasks', async () => {
    const before = (await a.t.db.select().from(runSpans)).length
    expect(before).toBeGreaterThan(0)
    const job = otlpSpansPurgeJob(a.t.services.otlpIntake)
    expect(await job.handler({ now: Date.now() + 3_600_000 } as never)).toEqual({ purged: 0 })
    expect(await job.handler({ now: Date.now() + 25 * 3_600_000 } as never)).toEqual({ purged: before })
    expect(await a.t.db.select().from(runSpans)).toEqual([])
    expect((await recorded(a.t, trace.traceId)).run).toEqual(expected.run)
  })
})
