/**
 * Faults, a locked database: another process (this test, on its own connection) holds the database
 * file's write lock (BEGIN EXCLUSIVE with a write) for 10 s. Meanwhile every write route answers 503
 * `database_unavailable` with Retry-After — after waiting out the busy timeout, not at once — the
 * server does not crash and keeps answering reads; once the lock is gone the same writes succeed
 * and nothing that was acknowledged is lost.
 */
import Database from 'libsql'
import { afterAll, describe, expect, it } from 'vitest'
import { api, type Reply, startFaultServer } from '../helpers/faults.ts'
import { cliKey, delay, killAll } from '../helpers/server.ts'

afterAll(() => killAll())

const LOCK_MS = 10_000

describe('the database locked by another process', () => {
  it('answers writes 503 with Retry-After while it lasts, then takes them, losing nothing acknowledged', async () => {
    const server = await startFaultServer()
    const call = api(server, await cliKey(server, 'writer', 'operator', ['ingest']))
    const read = api(server, await cliKey(server, 'reader', 'viewer'))
    const operator = api(server, await cliKey(server, 'person', 'operator'))
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
      expect((await server.fetch('/health')).status).toBe(200)
      while (Date.now() - lockedAt < LOCK_MS) await new Promise((r) => setTimeout(r, 100))
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
    // Right after the lock goes, the writers that queued behind it (jobs, the points inbox) all
    // take their turn: a write may be told to come back once more. A client honouring Retry-After
    // gets it in within a few tries.
    for (const [name, write] of Object.entries(writes)) {
      let r = await write()
      for (let tries = 1; r.status === 503 && tries < 5; tries++) {
        expect(r.json.error.code, name).toBe('database_unavailable')
        await delay(1000)
        r = await write()
      }
      expect(r.status, `${name} after the lock: ${r.text}`).toBeLessThan(300)
    }
    const task = await read('GET', '/api/v1/runs/locked-run/tasks/t1')
    expect(task.json).toMatchObject({ status: 'running', title: 'during the lock' })
    const alerts = await read('GET', '/api/v1/alerts?search=LockedProbe')
    expect(alerts.status).toBe(200)
  }, 110_000)
})
