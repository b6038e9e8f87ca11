/**
 * The batch write path of runs (write.ts, write-sql.ts: fixed SQL texts run once per row) at its
 * edges: one batch mixing new and stored tasks with out-of-order and repeated reports, a run given
 * twice, batches at the size limit, a batch that fails part-way (nothing of it stays), and OTLP
 * exports touching more traces than one query used to read, split children first.
 */
import { eq, sql } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { runLabels } from '../../db/schema/runs.ts'
import { runSpans } from '../../db/schema/runs-otlp.ts'
import { roleHeaders, testApp } from '../helpers/app.ts'

type Json = Record<string, any>
const t = await testApp()
afterAll(() => t.close())
const { op, viewer, ingest } = await roleHeaders(t)

const post = (path: string, body: unknown) => t.json('POST', path, body, ingest)
const get = async (path: string) => {
  const res = await t.app.request(path, { headers: viewer })
  return { status: res.status, body: (await res.json()) as Json }
}
const byId = (tasks: Json[]) => Object.fromEntries(tasks.map((x) => [x.id, x]))

describe('a batch of runs and tasks', () => {
  it('merges new and stored tasks, out-of-order and repeated reports, in one batch', async () => {
    await t.json('POST', '/api/v1/prices', { model: 'bw-model', promptPer1M: 1, completionPer1M: 2 }, op)
    // Stored first: a finished task, a running one, a failed one with a class, one with a given cost.
    const first = await post('/api/v1/runs/batch', {
      runs: [{ id: 'bw-1', goal: 'first', labels: { team: 'multi' }, startedAt: 5_000 }],
      tasks: [
        { runId: 'bw-1', id: 'done', status: 'succeeded', startedAt: 6_000, endedAt: 9_000, inputTokens: 50 },
        { runId: 'bw-1', id: 'run', status: 'running', startedAt: 6_000, role: 'coder' },
        { runId: 'bw-1', id: 'fail', status: 'failed', error: 'SyntaxError: x', failureClass: 'syntax' },
        { runId: 'bw-1', id: 'paid', costUsd: 0.5, inputTokens: 10 },
      ],
    })
    expect(first.status).toBe(200)
    const second = await post('/api/v1/runs/batch', {
      runs: [
        // The same run twice in one batch: the later labels are its labels, each label row once.
        { id: 'bw-1', labels: { team: 'single' }, startedAt: 4_000 },
        { id: 'bw-1', labels: { team: 'single', tier: 'b' } },
      ],
      tasks: [
        // A late running never undoes succeeded; timings widen; tokens keep the largest.
        { runId: 'bw-1', id: 'done', status: 'running', startedAt: 5_500, endedAt: 8_000, inputTokens: 20 },
        // The same task twice in one batch, the final state first: it stays final.
        { runId: 'bw-1', id: 'run', status: 'succeeded', endedAt: 7_000 },
        { runId: 'bw-1', id: 'run', status: 'running' },
        // The class cleared by an explicit null; a new attempt starts its lifecycle again.
        { runId: 'bw-1', id: 'fail', failureClass: null, attempt: 2, status: 'running', startedAt: 10_000 },
        // A given cost stays the larger of the two; tokens alone do not replace it with a derived one.
        { runId: 'bw-1', id: 'paid', costUsd: 0.25, model: 'bw-model', inputTokens: 1_000_000 },
        // New tasks: one priced from tokens, one failed with an error and no class (classified).
        { runId: 'bw-1', id: 'new', model: 'bw-model', inputTokens: 1_000_000, outputTokens: 500_000 },
        { runId: 'bw-1', id: 'oops', status: 'failed', error: 'ModuleNotFoundError: No module named x' },
        // A task of a run not created yet: the run is made from it.
        { runId: 'bw-2', id: 'orphan', status: 'succeeded', startedAt: 3_000, endedAt: 4_000 },
      ],
    })
    expect(second.status).toBe(200)
    const { body } = await get('/api/v1/runs/bw-1')
    const tasks = byId(body.tasks)
    expect(tasks.done).toMatchObject({ status: 'succeeded', inputTokens: 50, durationMs: 3_500 })
    expect(tasks.done.startedAt).toBe(new Date(5_500).toISOString())
    expect(tasks.done.endedAt).toBe(new Date(9_000).toISOString())
    expect(tasks.run).toMatchObject({ status: 'succeeded', role: 'coder' })
    expect(tasks.fail).toMatchObject({ status: 'running', attempt: 2, failureClass: null, error: 'SyntaxError: x' })
    expect(tasks.paid).toMatchObject({ costUsd: 0.5, inputTokens: 1_000_000, model: 'bw-model' })
    expect(tasks.new).toMatchObject({ costUsd: 2, inputTokens: 1_000_000, outputTokens: 500_000 })
    expect(tasks.oops).toMatchObject({ status: 'failed', failureClass: 'dependency' })
    expect(body).toMatchObject({ goal: 'first', labels: { team: 'single', tier: 'b' } })
    expect(body.startedAt).toBe(new Date(4_000).toISOString())
    // Totals current after the batch: every task once, the failed one counted.
    expect(body.totals).toMatchObject({
      tasks: 6,
      failedTasks: 1,
      inputTokens: 50 + 1_000_000 + 1_000_000,
      outputTokens: 500_000,
      costUsd: 2.5,
    })
    const labels = await t.db.select().from(runLabels).where(eq(runLabels.runId, 'bw-1'))
    expect(labels.map((l) => `${l.name}=${l.value}@${l.startedAt}`).sort()).toEqual(['team=single@4000', 'tier=b@4000'])
    const orphan = await get('/api/v1/runs/bw-2')
    expect(orphan.body).toMatchObject({ status: 'running', totals: { tasks: 1 } })
    expect(orphan.body.startedAt).toBe(new Date(3_000).toISOString())
  })

  it('writes batches at the size limit whole, and the same batch again changes nothing', async () => {
    const runIds = Array.from({ length: 1000 }, (_, i) => `bw-big-${i % 250}`)
    const batch = {
      runs: Array.from({ length: 1000 }, (_, i) => ({ id: `bw-many-${i}`, labels: { n: String(i % 3) } })),
      tasks: runIds.map((runId, i) => ({
        runId,
        id: `t${i}`,
        role: 'coder',
        status: i % 10 === 0 ? 'failed' : 'succeeded',
        inputTokens: i,
      })),
    }
    expect((await post('/api/v1/runs/batch', batch)).status).toBe(200)
    const counts = async () =>
      (
        await t.db.all<{ runs: number; tasks: number; labels: number; sum: number }>(sql`SELECT
          (SELECT count(*) FROM runs WHERE id LIKE 'bw-many-%' OR id LIKE 'bw-big-%') AS runs,
          (SELECT count(*) FROM run_tasks WHERE run_id LIKE 'bw-big-%') AS tasks,
          (SELECT count(*) FROM run_labels WHERE run_id LIKE 'bw-many-%') AS labels,
          (SELECT sum(input_tokens) FROM runs WHERE id LIKE 'bw-big-%') AS sum`)
      )[0]
    const expected = { runs: 1250, tasks: 1000, labels: 1000, sum: (999 * 1000) / 2 }
    expect(await counts()).toEqual(expected)
    expect((await post('/api/v1/runs/batch', batch)).status).toBe(200)
    expect(await counts()).toEqual(expected)
    // Run bw-big-0 has tasks t0, t250, t500 and t750 (every tenth task failed); bw-big-1 t1, t251, t501, t751.
    const { body } = await get('/api/v1/runs/bw-big-0')
    expect(body.totals).toMatchObject({ tasks: 4, failedTasks: 4, inputTokens: 0 + 250 + 500 + 750 })
    const one = await get('/api/v1/runs/bw-big-1')
    expect(one.body.totals).toMatchObject({ tasks: 4, failedTasks: 0, inputTokens: 1 + 251 + 501 + 751 })
  })

  it('a batch that fails part-way leaves nothing of itself behind', async () => {
    // A row the database refuses after the batch passed validation (a trigger stands in for a
    // constraint or a full disk): the statements before it are rolled back with it.
    await t.db.run(sql`CREATE TRIGGER bw_refuse BEFORE INSERT ON run_tasks WHEN NEW.id = 'refused'
      BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`)
    try {
      const res = await post('/api/v1/runs/batch', {
        runs: [{ id: 'bw-fail', goal: 'never stored' }],
        tasks: [
          { runId: 'bw-fail', id: 'ok', status: 'running' },
          { runId: 'bw-1', id: 'done', role: 'tester' },
          { runId: 'bw-fail', id: 'refused' },
        ],
      })
      expect(res.status).toBe(500)
      expect((await get('/api/v1/runs/bw-fail')).status).toBe(404)
      const { body } = await get('/api/v1/runs/bw-1')
      expect(byId(body.tasks).done.role).toBeNull()
      // An OTLP export that fails the same way stores none of its spans either.
      const span = (spanId: string, parentSpanId = '') => ({
        traceId: 'ef'.repeat(16),
        spanId,
        parentSpanId,
        name: 'invoke_agent x',
        startTimeUnixNano: '1765094400000000000',
        endTimeUnixNano: '1765094401000000000',
        attributes: [{ key: 'gen_ai.operation.name', value: { stringValue: 'invoke_agent' } }],
      })
      await t.db.run(sql`CREATE TRIGGER bw_refuse_span BEFORE INSERT ON run_tasks WHEN NEW.id = 'ffffffffffffffff'
        BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`)
      const otlp = await t.app.request('/v1/traces', {
        method: 'POST',
        headers: { ...ingest, 'Content-Type': 'application/json' },
        body: JSON.stringify({
          resourceSpans: [
            { scopeSpans: [{ spans: [span('1111111111111111'), span('ffffffffffffffff', '1111111111111111')] }] },
          ],
        }),
      })
      expect(otlp.status).toBe(500)
      expect(
        await t.db
          .select()
          .from(runSpans)
          .where(eq(runSpans.traceId, 'ef'.repeat(16))),
      ).toEqual([])
      expect((await get(`/api/v1/runs/${'ef'.repeat(16)}`)).status).toBe(404)
    } finally {
      await t.db.run(sql`DROP TRIGGER IF EXISTS bw_refuse`)
      await t.db.run(sql`DROP TRIGGER IF EXISTS bw_refuse_span`)
    }
  })
})

describe('OTLP exports touching many traces', () => {
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0')
  /** Trace i: an agent span (the root) and a model call below it. */
  const trace = (i: number) => {
    const traceId = `a${hex(i, 31)}`
    const agent = {
      traceId,
      spanId: `b${hex(i, 15)}`,
      name: 'invoke_agent coder',
      startTimeUnixNano: '1765094400000000000',
      endTimeUnixNano: '1765094402000000000',
      attributes: [
        { key: 'gen_ai.operation.name', value: { stringValue: 'invoke_agent' } },
        { key: 'gen_ai.agent.name', value: { stringValue: 'coder' } },
      ],
    }
    const chat = {
      traceId,
      spanId: `c${hex(i, 15)}`,
      parentSpanId: agent.spanId,
      name: 'chat m',
      startTimeUnixNano: '1765094400500000000',
      endTimeUnixNano: '1765094401000000000',
      attributes: [
        { key: 'gen_ai.operation.name', value: { stringValue: 'chat' } },
        { key: 'gen_ai.request.model', value: { stringValue: 'bw-otlp-model' } },
        { key: 'gen_ai.usage.input_tokens', value: { intValue: String(100 + i) } },
        { key: 'gen_ai.usage.output_tokens', value: { intValue: '7' } },
      ],
    }
    return { traceId, agent, chat }
  }
  const send = (spans: unknown[]) =>
    t.app.request('/v1/traces', {
      method: 'POST',
      headers: { ...ingest, 'Content-Type': 'application/json' },
      body: JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans }] }] }),
    })

  it('links 600 traces split over two exports, children first, and a retry changes nothing', async () => {
    const traces = Array.from({ length: 600 }, (_, i) => trace(i))
    expect((await send(traces.map((x) => x.chat))).status).toBe(200)
    const parents = traces.map((x) => x.agent)
    expect((await send(parents)).status).toBe(200)
    expect((await send(parents)).status).toBe(200)
    for (const i of [0, 499, 500, 599]) {
      const { status, body } = await get(`/api/v1/runs/${traces[i]!.traceId}`)
      expect(status).toBe(200)
      expect(body.status).toBe('succeeded')
      expect(body.tasks).toHaveLength(1)
      expect(body.tasks[0]).toMatchObject({
        role: 'coder',
        inputTokens: 100 + i,
        outputTokens: 7,
        model: 'bw-otlp-model',
      })
      expect(body.totals).toMatchObject({ tasks: 1, inputTokens: 100 + i, outputTokens: 7 })
    }
    const ids = JSON.stringify(traces.map((x) => x.traceId))
    const [row] = await t.db.all<{ n: number }>(
      sql`SELECT count(*) AS n FROM run_spans WHERE trace_id IN (SELECT value FROM json_each(${ids}))`,
    )
    expect(row!.n).toBe(1200)
  })
})
