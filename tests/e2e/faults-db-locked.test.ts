/**
 * Faults, a locked database: another process (this test, on its own connection) holds the database
 * file's write lock (BEGIN EXCLUSIVE with a write) for 10 s. Meanwhile every write route answers 503
 * `database_unavailable` with Retry-After — after waiting out the busy timeout, not at once — the
 * server does not crash and keeps answering reads; once the lock is gone the same writes succeed at
 * the first try, and every write acknowledged is in the file, read on a connection of the test's own.
 *
 * Before the fix, a statement refused for the lock was left suspended on the server's connection:
 * the first write after the lock took the write lock and kept it uncommitted until the garbage
 * collector finalized the refused statement (5–11 s here), which rolled it back, acknowledged.
 */
import Database from 'libsql'
import { afterAll, describe, expect, it } from 'vitest'
import { api, openDbFile, type Reply, scalar, startFaultServer } from '../helpers/faults.ts'
import { cliKey, killAll } from '../helpers/server.ts'

afterAll(() => killAll())

const LOCK_MS = 10_000

describe('the database locked by another process', () => {
  it('answers writes 503 with Retry-After while it lasts, then takes them, losing nothing acknowledged', async () => {
    // Without the jobs: each tick's lease write would also wait out the busy timeout on the server's
    // thread while the file is locked (docs/operations.md, what it survives), and the test's own
    // writes would queue behind them for longer than its timeouts.
    const server = await startFaultServer({ env: { JOBS_ENABLED: 'false' } })
    const call = api(server, await cliKey(server, 'writer', 'operator', ['ingest']), 90_000)
    const read = api(server, await cliKey(server, 'reader', 'viewer'), 90_000)
    const operator = api(server, await cliKey(server, 'person', 'operator'), 90_000)
    const writes: Record<string, () => Promise<Reply>> = {
      metrics: () =>
        call('POST', '/api/v1/metrics', { points: [{ name: 'locked_probe', value: 1, ts: 1_700_000_000_000 }] }),
      alerts: () => call('POST', '/api/v2/alerts', [{ labels: { alertname: 'LockedProbe' } }]),
      runs: () => call('PUT', '/api/v1/runs/locked-run/tasks/t1', { status: 'running', title: 'during the lock' }),
      silence: () =>
        operator('POST', '/api/v2/silences', {
          matchers: [{ name: 'alertname', value: 'LockedProbe', isRegex: false, isEqual: true }],
          startsAt: new Date().toISOString(),
          endsAt: new Date(Date.now() + 3_600_000).toISOString(),
          createdBy: 'faults',
          comment: 'during the lock',
        }),
    }

    const path = server.env.DATABASE_URL!.slice('file:'.length)
    const lock = new Database(path)
    // The server may be writing at this moment (a job's lease): wait for it, as any other process would.
    lock.exec('PRAGMA busy_timeout=10000')
    lock.exec('BEGIN EXCLUSIVE')
    lock.exec('CREATE TABLE fault_lock (x)')
    const lockedAt = Date.now()
    const during: Record<string, Reply> = {}
    try {
      // All at once: each waits out the busy timeout (5 s) before it is refused.
      const names = Object.keys(writes)
      const replies = await Promise.all(Object.values(writes).map((write) => write()))
      names.forEach((name, i) => {
        during[name] = replies[i]!
      })
      // Reads and liveness are not blocked by another process's write lock (WAL).
      expect((await read('GET', '/api/v1/alerts')).status).toBe(200)
      expect((await server.fetch('/health', { signal: AbortSignal.timeout(90_000) })).status).toBe(200)
      while (Date.now() - lockedAt < LOCK_MS) await new Promise((r) => setTimeout(r, 100))
      // One more refused write right before the lock goes: the refusal the next writes follow.
      during.last = await writes.silence!()
    } finally {
      lock.exec('ROLLBACK')
      lock.close()
    }
    expect(Object.keys(during).length).toBeGreaterThan(0)
    for (const [name, r] of Object.entries(during)) {
      expect(r.status, `${name}: ${r.text}`).toBe(503)
      expect(r.json.error.code, name).toBe('database_unavailable')
      expect(Number(r.headers.get('retry-after')), name).toBeGreaterThan(0)
    }
    // The process is still there, ready, and takes the same writes now (as a client retrying would).
    expect(server.child.exitCode).toBeNull()
    expect((await server.fetch('/ready')).status).toBe(200)
    // Once the lock is gone, every write is taken at its first try, however many were refused before.
    const names = Object.keys(writes)
    const after = await Promise.all(Object.values(writes).map((write) => write()))
    for (const [i, r] of after.entries()) expect(r.status, `${names[i]} after the lock: ${r.text}`).toBeLessThan(300)
    // And kept: another connection sees each acknowledged write (the file, not the server's cache).
    const file = openDbFile(server)
    try {
      const silences = await scalar(file, "select count(*) from silences where comment = 'during the lock'")
      expect(silences).toBe(1)
      expect(await scalar(file, "select count(*) from series where name = 'locked_probe'")).toBe(1)
      expect(await scalar(file, "select count(*) from run_tasks where run_id = 'locked-run' and id = 't1'")).toBe(1)
      expect(await scalar(file, "select count(*) from alerts where labels like '%LockedProbe%'")).toBe(1)
    } finally {
      file.close()
    }
    const task = await read('GET', '/api/v1/runs/locked-run/tasks/t1')
    expect(task.json).toMatchObject({ status: 'running', title: 'during the lock' })
    const alerts = await read('GET', '/api/v1/alerts?search=LockedProbe')
    expect(alerts.status).toBe(200)
  }, 240_000)
})
