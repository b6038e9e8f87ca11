/**
 * Faults, run updates: agents keep reporting their tasks (single task updates with rising token
 * counts, and batches of new tasks) while the server is killed with SIGKILL. After a restart on the
 * same database: every acknowledged update is there (a task's stored token count is at least the
 * last one acknowledged), every acknowledged new task exists, reports sent again (agents retry what
 * was not acknowledged) make no second task, and each run's totals agree with its tasks.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { api, hardKill, openDbFile, restart, scalar, startFaultServer } from '../helpers/faults.ts'
import { cliKey, killAll } from '../helpers/server.ts'

afterAll(() => killAll())

const WRITERS = 4
const TASKS = 5

describe('run updates across a hard kill', () => {
  it('keeps every acknowledged task update and makes no duplicate task', async () => {
    const first = await startFaultServer()
    const key = await cliKey(first, 'agent', 'operator', ['ingest'])
    /** Per task ("run/task"), the highest token count acknowledged. */
    const ackedTokens = new Map<string, number>()
    /** Batches of new tasks: acknowledged ones must all exist; every batch is sent again after the restart. */
    const batches: { run: string; ids: string[]; acked: boolean }[] = []
    let stop = false
    const writer = async (w: number) => {
      const call = api(first, key)
      const run = `fault-run-${w}`
      let seq = 0
      while (!stop) {
        seq++
        try {
          const task = `t${seq % TASKS}`
          const r = await call('PUT', `/api/v1/runs/${run}/tasks/${task}`, {
            role: 'coder',
            title: `update ${seq}`,
            status: 'running',
            outputTokens: seq,
          })
          if (r.status === 200 || r.status === 201) {
            const k = `${run}/${task}`
            ackedTokens.set(k, Math.max(ackedTokens.get(k) ?? 0, seq))
          }
          const ids = [`b${seq}-a`, `b${seq}-b`]
          const batch = { run, ids, acked: false }
          batches.push(batch)
          const b = await call('POST', `/api/v1/runs/${run}/tasks`, {
            tasks: ids.map((id) => ({ id, role: 'reviewer', status: 'succeeded', dependsOn: [`t${seq % TASKS}`] })),
          })
          batch.acked = b.status === 200 || b.status === 201
        } catch {
          // the server died under it: not acknowledged
        }
      }
    }
    const writers = Array.from({ length: WRITERS }, (_, w) => writer(w))
    while (batches.filter((b) => b.acked).length < 40) await new Promise((r) => setTimeout(r, 20))
    await hardKill(first)
    stop = true
    await Promise.all(writers)

    const second = await restart(first)
    const call = api(second, key)
    for (const b of batches) {
      const r = await call('POST', `/api/v1/runs/${b.run}/tasks`, {
        tasks: b.ids.map((id) => ({ id, role: 'reviewer', status: 'succeeded' })),
      })
      expect(r.status, r.text).toBeLessThan(300)
    }
    const db = openDbFile(second)
    try {
      for (const [k, tokens] of ackedTokens) {
        const [run, task] = k.split('/')
        const stored = await scalar(db, 'select output_tokens from run_tasks where run_id = ? and id = ?', [
          run!,
          task!,
        ])
        expect(stored, `${k}: acknowledged ${tokens} tokens`).toBeGreaterThanOrEqual(tokens)
      }
      for (const b of batches.filter((x) => x.acked))
        for (const id of b.ids)
          expect(await scalar(db, 'select count(*) from run_tasks where run_id = ? and id = ?', [b.run, id])).toBe(1)
      expect(await scalar(db, 'select count(*) - count(distinct run_id || char(0) || id) from run_tasks')).toBe(0)
      // Each run's task count is what its tasks say: no update counted twice or lost from the totals.
      const totals = await db.execute(
        'select r.id, r.task_count as counted, (select count(*) from run_tasks t where t.run_id = r.id) as actual ' +
          "from runs r where r.id like 'fault-run-%'",
      )
      expect(totals.rows.length).toBe(WRITERS)
      for (const r of totals.rows) expect(Number(r.counted), String(r.id)).toBe(Number(r.actual))
      expect(ackedTokens.size).toBeGreaterThan(0)
    } finally {
      db.close()
    }
  }, 110_000)
})
