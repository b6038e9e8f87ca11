/**
 * The runs_watch job reads only the runs that are due (docs/adr/0015-runs-watch-next-check.md): a
 * write makes a run due, a look sets when its next limit passes, a flagged run is not read again
 * until something writes to it, and a changed policy makes every open run due once. The tick is
 * driven with a fake clock; `checked` is how many runs it read.
 */
import { createClient } from '@libsql/client'
import { sql } from 'drizzle-orm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { watchRuns } from '../../app/modules/runs/index.ts'
import { roleHeaders, testApp, type TestApp } from '../helpers/app.ts'

const MIN = 60_000
let t: TestApp
let op: Record<string, string>
beforeAll(async () => {
  t = await testApp()
  op = (await roleHeaders(t)).op
})
afterAll(() => t.close())

const tick = (at: number) => watchRuns(t.services.runs, at)
const nextCheck = async (id: string) =>
  (await t.db.all<{ n: number | null }>(sql`SELECT next_check_at AS n FROM runs WHERE id = ${id}`))[0]!.n
const openAlerts = async (id: string) =>
  JSON.parse((await t.db.all<{ a: string }>(sql`SELECT open_alerts AS a FROM runs WHERE id = ${id}`))[0]!.a)

describe('runs_watch reads only due runs', () => {
  it('a quiet run is not read until its stalled limit passes; then it is flagged once, and not read again', async () => {
    const now = Date.now() + 1000 * MIN // past every run the other tests made (their limits have passed)
    await tick(now) // the first tick of the process looks at every open run once
    await t.services.runs.upsertRun({ id: 'd-quiet', startedAt: now }, now)
    expect(await nextCheck('d-quiet')).toBe(0) // a write: due at the next tick, whatever its clock
    const first = await tick(now + MIN)
    expect(first.checked).toBe(1)
    expect(first.stalled).toBe(0)
    // Stalled after 15 min without progress (the default), before the 60 min duration budget.
    expect(await nextCheck('d-quiet')).toBe(now + 15 * MIN)
    for (const at of [2, 5, 14]) expect((await tick(now + at * MIN)).checked).toBe(0)
    const due = await tick(now + 16 * MIN)
    expect(due).toMatchObject({ checked: 1, stalled: 1, overBudget: 0 })
    expect(await openAlerts('d-quiet')).toEqual(['run_stalled'])
    // Flagged: now only the duration budget can come by time alone.
    expect(await nextCheck('d-quiet')).toBe(now + 60 * MIN)
    for (const at of [17, 30, 59]) expect(await tick(now + at * MIN)).toMatchObject({ checked: 0, stalled: 0 })
    const over = await tick(now + 61 * MIN)
    expect(over).toMatchObject({ checked: 1, overBudget: 1, stalled: 0, resolved: 0 })
    expect(await openAlerts('d-quiet')).toEqual(['run_over_budget', 'run_stalled'])
    // Flagged for both: nothing but a write can change it, so no tick reads it again.
    expect(await nextCheck('d-quiet')).toBeNull()
    for (const at of [62, 120, 10_000]) expect((await tick(now + at * MIN)).checked).toBe(0)
    // Progress (a task write) makes it due: stalled resolves, over budget stays.
    await t.services.runs.upsertTask({ runId: 'd-quiet', id: 'x', status: 'running' }, now + 10_001 * MIN)
    expect(await tick(now + 10_002 * MIN)).toMatchObject({ checked: 1, resolved: 1 })
    expect(await openAlerts('d-quiet')).toEqual(['run_over_budget'])
    expect(await nextCheck('d-quiet')).toBe(now + 10_001 * MIN + 15 * MIN)
    // It ends: everything resolves and it is never due again.
    await t.services.runs.upsertRun(
      { id: 'd-quiet', status: 'succeeded', endedAt: now + 10_003 * MIN },
      now + 10_003 * MIN,
    )
    expect(await tick(now + 10_004 * MIN)).toMatchObject({ checked: 1, resolved: 1 })
    expect(await openAlerts('d-quiet')).toEqual([])
    expect(await nextCheck('d-quiet')).toBeNull()
    expect((await tick(now + 20_000 * MIN)).checked).toBe(0)
  })

  it('a big quiet table costs nothing: finished and waiting runs are not read', async () => {
    const now = Date.now() + 100_000 * MIN
    await tick(now)
    const many = Array.from({ length: 300 }, (_, i) => ({
      id: `d-many-${i}`,
      startedAt: now,
      ...(i % 3 ? { status: 'succeeded' as const, endedAt: now + MIN } : {}),
    }))
    await t.services.runs.record({ runs: many }, now)
    expect((await tick(now + MIN)).checked).toBe(300) // each written run is looked at once
    expect((await tick(now + 2 * MIN)).checked).toBe(0)
    expect((await tick(now + 14 * MIN)).checked).toBe(0)
    // The 100 unfinished ones come due together when their stalled limit passes.
    expect(await tick(now + 15 * MIN)).toMatchObject({ checked: 100, stalled: 100 })
    expect((await tick(now + 16 * MIN)).checked).toBe(0)
  })

  it('a changed policy makes every open run due once, and its new limits apply', async () => {
    const now = Date.now() + 200_000 * MIN
    await tick(now)
    await t.services.runs.upsertRun({ id: 'd-policy', startedAt: now }, now)
    await tick(now + MIN)
    expect(await nextCheck('d-policy')).toBe(now + 15 * MIN)
    // A stricter stalled limit, stored through the API: the run is due before its old next check.
    const res = await t.json('PUT', '/api/v1/run-policies/default', { stalledMinutes: 5 }, op)
    expect(res.status, await res.clone().text()).toBe(200)
    const after = await tick(now + 6 * MIN)
    expect(after.checked).toBeGreaterThanOrEqual(1)
    expect(await openAlerts('d-policy')).toEqual(['run_stalled'])
    // Only once: the next tick reads nothing more for the change.
    expect((await tick(now + 7 * MIN)).checked).toBe(0)
    const del = await t.app.request('/api/v1/run-policies/default', { method: 'DELETE', headers: op })
    expect(del.status).toBe(204)
    // Back to 15 min: the run's stalled alert resolves at the next tick (6 min without progress < 15).
    await t.services.runs.upsertRun({ id: 'd-policy' }, now + 8 * MIN)
    expect(await tick(now + 9 * MIN)).toMatchObject({ resolved: 1 })
  })

  it('a restart under the same policies reads nothing; a policy another instance changed is applied once', async () => {
    const now = Date.now() + 300_000 * MIN
    await tick(now)
    await t.services.runs.upsertRun({ id: 'd-restart', startedAt: now }, now)
    expect(await tick(now + 16 * MIN)).toMatchObject({ checked: 1, stalled: 1 })
    // A new process (its memory empty) finds in settings that these policies were applied already.
    t.services.runs.watch.appliedPolicies = null
    expect((await tick(now + 17 * MIN)).checked).toBe(0)
    // Another instance stored a policy (written straight to the table; this process reloads it).
    await t.db.run(sql`INSERT INTO run_policies (scope, policy, updated_by, updated_at)
      VALUES ('label:team=other', '{"stalledMinutes":1}', 'elsewhere', 0)`)
    t.services.runs.invalidatePolicies()
    const pass = await tick(now + 18 * MIN)
    expect(pass.checked).toBeGreaterThanOrEqual(1)
    expect(pass).toMatchObject({ stalled: 0, overBudget: 0, resolved: 0 }) // nothing raised twice
    expect((await tick(now + 19 * MIN)).checked).toBe(0)
    t.services.runs.watch.appliedPolicies = null
    expect((await tick(now + 20 * MIN)).checked).toBe(0)
  })

  it('the due runs are found through runs_check_idx, not a scan of runs', async () => {
    // On a connection of its own (as runs-list-bounds does), so the app's read snapshot is untouched.
    const client = createClient({ url: t.config.DATABASE_URL })
    try {
      const plan = await client.execute({
        sql: 'EXPLAIN QUERY PLAN SELECT * FROM runs WHERE next_check_at <= ?',
        args: [Date.now()],
      })
      expect(plan.rows.map((r) => String(r.detail)).join('\n')).toMatch(/USING INDEX runs_check_idx/)
    } finally {
      client.close()
    }
  })
})
