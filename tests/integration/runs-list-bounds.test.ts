/**
 * What keeps the runs list and the runs_watch job from reading every run (docs/runs.md): the role
 * and class filters (found from their tasks when few, a bounded scan with a cursor when common), the
 * partial indexes (decided runs, flagged tasks, runs with an alert of ours open) checked with
 * EXPLAIN QUERY PLAN, and the watch job (which reads only due runs: runs-watch-due.test.ts) still
 * honouring a run's own policy and a label's.
 */
import { createClient } from '@libsql/client'
import { and, eq } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { alerts } from '../../db/schema/alerts.ts'
import { runs, runTasks } from '../../db/schema/runs.ts'
import { FEW_TASKS, SCAN_WINDOW, watchRuns } from '../../app/modules/runs/index.ts'
import { recentlyDecided } from '../../app/modules/runs/pages/queue.tsx'
import { roleHeaders, testApp } from '../helpers/app.ts'

const t = await testApp()
afterAll(() => t.close())
const { viewer, op, ingest } = await roleHeaders(t)
type Json = Record<string, unknown>
const get = async (path: string) => {
  const res = await t.app.request(path, { headers: viewer })
  expect(res.status).toBe(200)
  return (await res.json()) as { items: { id: string }[]; next: string | null }
}
const T0 = Date.UTC(2026, 0, 1)
const RUNS = SCAN_WINDOW + 1000
const OLD_CODERS = 900 // the oldest runs: 3 coder tasks each, 2,700 tasks in all (a common role)
const runId = (i: number) => `b-${String(i).padStart(5, '0')}` // i = 0 is the oldest

/** Every page of a list, following `next`; also how many pages came back empty with a cursor. */
async function walk(query: string) {
  const ids: string[] = []
  let cursor: string | null = null
  let emptyPages = 0
  let pages = 0
  do {
    const page = await get(`/api/v1/runs?limit=100&${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)
    ids.push(...page.items.map((r) => r.id))
    if (!page.items.length && page.next) emptyPages++
    cursor = page.next
    expect(++pages).toBeLessThan(100)
  } while (cursor)
  return { ids, emptyPages }
}

describe('runs list filters by role and class, bounded', () => {
  it('seeds runs and tasks', async () => {
    expect(OLD_CODERS * 3).toBeGreaterThanOrEqual(FEW_TASKS)
    for (let i = 0; i < RUNS; i += 500) {
      const rows = []
      for (let j = i; j < Math.min(RUNS, i + 500); j++) {
        const at = T0 + j * 1000
        rows.push({
          id: runId(j),
          status: 'succeeded' as const,
          startedAt: at,
          lastProgressAt: at,
          createdAt: at,
          updatedAt: at,
        })
      }
      await t.db.insert(runs).values(rows)
    }
    const task = (run: number, id: string, role: string, failureClass: 'syntax' | null = null) => ({
      runId: runId(run),
      id,
      role,
      status: failureClass ? ('failed' as const) : ('succeeded' as const),
      failureClass,
      createdAt: T0,
      updatedAt: T0,
    })
    for (let i = 0; i < OLD_CODERS; i += 300) {
      const rows = []
      for (let j = i; j < i + 300; j++) for (const k of [1, 2, 3]) rows.push(task(j, `c${k}`, 'coder'))
      await t.db.insert(runTasks).values(rows)
    }
    // A rare role on three runs far apart, one of them also with a rare class.
    await t.db
      .insert(runTasks)
      .values([
        task(10, 't', 'tester'),
        task(3000, 't', 'tester', 'syntax'),
        task(RUNS - 1, 't', 'tester'),
        task(4000, 'x', 'planner', 'syntax'),
      ])
  })

  it('finds a rare role or class from its tasks: newest first, one page, no cursor', async () => {
    const page = await get('/api/v1/runs?role=tester&limit=50')
    expect(page.items.map((r) => r.id)).toEqual([runId(RUNS - 1), runId(3000), runId(10)])
    expect(page.next).toBeNull()
    expect((await get('/api/v1/runs?class=syntax')).items.map((r) => r.id)).toEqual([runId(4000), runId(3000)])
    expect((await get('/api/v1/runs?class=syntax&role=tester')).items.map((r) => r.id)).toEqual([runId(3000)])
    // Pages of a rare role follow the cursor like any other list.
    const first = await get('/api/v1/runs?role=tester&limit=2')
    expect(first.items.map((r) => r.id)).toEqual([runId(RUNS - 1), runId(3000)])
    const second = await get(`/api/v1/runs?role=tester&limit=2&cursor=${encodeURIComponent(first.next!)}`)
    expect(second.items.map((r) => r.id)).toEqual([runId(10)])
    expect(second.next).toBeNull()
  })

  it('scans a common role at most SCAN_WINDOW runs a page: a page may come back short, its cursor goes on', async () => {
    const first = await get('/api/v1/runs?role=coder&limit=100')
    // The newest SCAN_WINDOW runs have no coder task: nothing found, and a cursor past them.
    expect(first.items).toEqual([])
    expect(first.next).toBe(`${T0 + (RUNS - SCAN_WINDOW) * 1000}:${runId(RUNS - SCAN_WINDOW)}`)
    const { ids, emptyPages } = await walk('role=coder')
    expect(emptyPages).toBe(1)
    expect(ids).toEqual(Array.from({ length: OLD_CODERS }, (_, i) => runId(OLD_CODERS - 1 - i)))
    // With a rare filter beside it, the rare one drives: one page, no window.
    const both = await get('/api/v1/runs?role=coder&class=syntax')
    expect(both.items).toEqual([])
    expect(both.next).toBeNull()
  })

  it('uses the indexes it needs (EXPLAIN QUERY PLAN)', async () => {
    // On a connection of the test's own: run on the app's, these left its read snapshot open (a task
    // written afterwards by the thread stayed invisible to the app's reads until the statement was collected).
    const own = createClient({ url: t.config.DATABASE_URL })
    afterAll(() => own.close())
    await own.execute('ANALYZE')
    const plan = async (query: string, params: unknown[] = []) =>
      ((await own.execute({ sql: `EXPLAIN QUERY PLAN ${query}`, args: params as never[] })).rows as unknown as Json[])
        .map((r) => String(r.detail))
        .join('; ')
    const decided = recentlyDecided(t.db).toSQL()
    expect(await plan(decided.sql, decided.params)).toMatch(/USING INDEX runs_decided_idx/)
    expect(await plan(`SELECT * FROM run_tasks WHERE "run_tasks"."stuck_since" IS NOT NULL`)).toMatch(
      /USING INDEX run_tasks_stuck_idx/,
    )
    expect(await plan(`SELECT * FROM runs WHERE "runs"."open_alerts" <> '[]'`)).toMatch(/USING INDEX runs_alerted_idx/)
    expect(
      await plan(
        `SELECT * FROM runs WHERE id IN (SELECT run_id FROM run_tasks WHERE role = ?) ORDER BY +started_at DESC, id DESC LIMIT 51`,
        ['tester'],
      ),
    ).toMatch(/SEARCH runs USING INDEX sqlite_autoindex_runs_1 \(id=\?\).*run_tasks_role_idx/)
    expect(
      await plan(
        `SELECT * FROM runs WHERE EXISTS (SELECT 1 FROM run_tasks WHERE run_id = runs.id AND +role = ?) ORDER BY started_at DESC, id DESC LIMIT 51`,
        ['coder'],
      ),
    ).toMatch(/SCAN runs USING INDEX runs_started_idx.*SEARCH run_tasks USING PRIMARY KEY \(run_id=\?\)/)
  })
})

describe("runs_watch honours a run's own and a label's policy", () => {
  const MIN = 60_000
  const open = async () =>
    (
      await t.db
        .select()
        .from(alerts)
        .where(and(eq(alerts.source, 'runs'), eq(alerts.status, 'firing')))
    ).map((a) => `${a.labels.alertname} ${a.labels.run}`)

  it("still raises by a run's own policy and by a label's policy below the defaults", async () => {
    const now = Date.now()
    await t.services.runs.upsertRun({ id: 'w-own', startedAt: now, policy: { stalledMinutes: 2 } }, now)
    await t.services.runs.upsertRun({ id: 'w-label', startedAt: now, labels: { team: 'quick' } }, now)
    await t.services.runs.upsertRun({ id: 'w-default', startedAt: now }, now)
    const res = await t.json('PUT', '/api/v1/run-policies/label:team=quick', { stalledMinutes: 3 }, op)
    expect(res.status).toBe(200)
    await watchRuns(t.services.runs, now + 4 * MIN)
    const firing = await open()
    expect(firing).toContain('run_stalled w-own')
    expect(firing).toContain('run_stalled w-label')
    expect(firing).not.toContain('run_stalled w-default')
    // Progress resolves the alert of a run read through its open alert.
    const put = await t.json('PUT', '/api/v1/runs/w-own/tasks/a', { status: 'running' }, ingest)
    expect(put.status).toBeLessThan(300)
    await watchRuns(t.services.runs, Date.now() + MIN)
    expect(await open()).not.toContain('run_stalled w-own')
  })
})
