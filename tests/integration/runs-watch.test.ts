import { and, eq } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { alerts } from '../../db/schema/alerts.ts'
import { watchRuns } from '../../app/modules/runs/index.ts'
import { roleHeaders, testApp } from '../helpers/app.ts'

const t = await testApp()
afterAll(() => t.close())
const { ingest } = await roleHeaders(t)
const put = (path: string, body: unknown) => t.json('PUT', path, body, ingest)
const MIN = 60_000
const T0 = Date.UTC(2026, 11, 7, 8, 0)

/** The runs alerts open now, as "alertname run task". */
async function open() {
  const rows = await t.db
    .select()
    .from(alerts)
    .where(and(eq(alerts.source, 'runs'), eq(alerts.status, 'firing')))
  return rows.map((a) => [a.labels.alertname, a.labels.run, a.labels.task].filter(Boolean).join(' ')).sort()
}
const tick = (at: number) => watchRuns(t.services.runs, at)

describe('runs_watch (fake clock)', () => {
  it('a task past its explicit deadline is stuck; it resolves when the task moves on', async () => {
    await put('/api/v1/runs/w-deadline', { startedAt: T0 })
    await put('/api/v1/runs/w-deadline/tasks/t', {
      role: 'explicit-role',
      status: 'running',
      startedAt: T0,
      deadlineAt: T0 + 5 * MIN,
    })
    expect((await tick(T0 + 4 * MIN)).stuck).toBe(0)
    expect((await tick(T0 + 6 * MIN)).stuck).toBe(1)
    // Idempotent: the next tick raises nothing new.
    expect((await tick(T0 + 7 * MIN)).stuck).toBe(0)
    expect(await open()).toContain('run_task_stuck w-deadline t')
    await put('/api/v1/runs/w-deadline/tasks/t', { status: 'succeeded', endedAt: T0 + 8 * MIN })
    expect((await tick(T0 + 9 * MIN)).unstuck).toBe(1)
    expect(await open()).not.toContain('run_task_stuck w-deadline t')
  })

  it("without a deadline: p95 of the role's durations × the factor (none below five samples)", async () => {
    const tasks = Array.from({ length: 10 }, (_, i) => ({
      id: `done-${i}`,
      role: 'reviewer',
      status: 'succeeded',
      startedAt: T0,
      endedAt: T0 + (i + 1) * MIN,
    }))
    await t.json('POST', '/api/v1/runs/w-history/tasks', { tasks }, ingest)
    await put('/api/v1/runs/w-history', { status: 'succeeded', startedAt: T0, endedAt: T0 + 11 * MIN })
    await put('/api/v1/runs/w-p95/tasks/r', { role: 'reviewer', status: 'running', startedAt: T0 + 20 * MIN })
    await put('/api/v1/runs/w-p95/tasks/new-role', { role: 'rare', status: 'running', startedAt: T0 + 20 * MIN })
    // p95 of 1..10 min is 10 min; × 3 = 30 min after its start.
    await tick(T0 + 49 * MIN)
    expect(await open()).not.toContain('run_task_stuck w-p95 r')
    await tick(T0 + 51 * MIN)
    expect(await open()).toContain('run_task_stuck w-p95 r')
    expect(await open()).not.toContain('run_task_stuck w-p95 new-role')
  })

  it('a run without progress is stalled; progress resolves it', async () => {
    const now = Date.now()
    await t.services.runs.upsertRun({ id: 'w-stall', startedAt: now }, now)
    await tick(now + 14 * MIN)
    expect(await open()).not.toContain('run_stalled w-stall')
    await tick(now + 16 * MIN)
    expect(await open()).toContain('run_stalled w-stall')
    await t.services.runs.upsertTask({ runId: 'w-stall', id: 'x', status: 'running' }, now + 17 * MIN)
    await tick(now + 18 * MIN)
    expect(await open()).not.toContain('run_stalled w-stall')
  })

  it('a run over its cost budget raises run_over_budget until it ends', async () => {
    const now = Date.now()
    await t.services.runs.record(
      { runs: [{ id: 'w-cost', startedAt: now }], tasks: [{ runId: 'w-cost', id: 'a', costUsd: 1.2 }] },
      now,
    )
    await tick(now + MIN)
    expect(await open()).toContain('run_over_budget w-cost')
    await t.services.runs.upsertRun({ id: 'w-cost', status: 'failed', endedAt: now + 2 * MIN }, now + 2 * MIN)
    await tick(now + 3 * MIN)
    expect(await open()).not.toContain('run_over_budget w-cost')
  })
})
