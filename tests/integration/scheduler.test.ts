import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createLogger } from '../../app/lib/logger.ts'
import { days, hours } from '../../app/lib/time.ts'
import { openDb, type Db } from '../../db/client.ts'
import { runMigrations } from '../../db/migrate.ts'
import { housekeepingJob } from '../../jobs/housekeeping.ts'
import { createScheduler, type JobDef } from '../../app/lib/scheduler.ts'
import type { Client } from '@libsql/client'

const log = createLogger('silent')
let dir: string
let url: string
let clients: Client[]
let db: Db
let client: Client

/** A second (third, …) connection to the same database file, as another instance would have. */
async function connect() {
  const opened = await openDb({ url })
  clients.push(opened.client)
  return opened
}

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'homeostat-jobs-'))
  url = `file:${join(dir, 'jobs.db')}`
  clients = []
  ;({ db, client } = await connect())
  await runMigrations(db)
})
afterEach(() => {
  for (const c of clients) c.close()
  rmSync(dir, { recursive: true, force: true })
})

/** A promise the test settles by hand. */
function gate() {
  let open!: () => void
  let fail!: (e: Error) => void
  const promise = new Promise<void>((resolve, reject) => ((open = resolve), (fail = reject)))
  return { promise, open, fail }
}

const rows = async (sql: string, args: (string | number)[] = []) =>
  (await client.execute({ sql, args })).rows as unknown as Record<string, unknown>[]
const runs = (job: string) =>
  rows('select status, instance, tick, error, counts from job_runs where job = ? order by id', [job])
const lease = async (job: string) => (await rows('select * from job_leases where name = ?', [job]))[0]

function job(name: string, handler: JobDef['handler']): JobDef {
  return { name, schedule: '0 0 0 1 1 *', handler }
}

describe('leader lease across instances', () => {
  it('two schedulers on one database file run a tick exactly once', async () => {
    const other = await connect()
    let calls = 0
    const handler = async () => {
      calls++
      await new Promise((r) => setTimeout(r, 20))
      return { done: 1 }
    }
    const a = createScheduler({ db, log, instanceId: 'a' })
    const b = createScheduler({ db: other.db, log, instanceId: 'b' })
    a.register(job('sync', handler))
    b.register(job('sync', handler))
    const outcomes = await Promise.all([a.runTick('sync', 60_000), b.runTick('sync', 60_000)])
    expect([...outcomes].sort()).toEqual(['not_leader', 'ran'])
    expect(calls).toBe(1)
    const history = await runs('sync')
    expect(history).toHaveLength(1)
    expect(history[0]).toMatchObject({ status: 'success', tick: 60_000, counts: '{"done":1}' })
    expect(history[0]!.instance).toBe(outcomes[0] === 'ran' ? 'a' : 'b')
  })

  it('over many ticks each tick runs once, whichever instance wins it', async () => {
    const other = await connect()
    let calls = 0
    const a = createScheduler({ db, log, instanceId: 'a' })
    const b = createScheduler({ db: other.db, log, instanceId: 'b' })
    for (const s of [a, b]) s.register(job('many', async () => void calls++))
    for (let tick = 1; tick <= 5; tick++) {
      const outcomes = await Promise.all([a.runTick('many', tick * 1000), b.runTick('many', tick * 1000)])
      expect(outcomes.filter((o) => o === 'ran')).toHaveLength(1)
    }
    expect(calls).toBe(5)
    expect(await runs('many')).toHaveLength(5)
    // A tick that already ran is never run again, by anyone.
    expect(await a.runTick('many', 3000)).toBe('not_leader')
  })
})

describe('overlap, failure and crash', () => {
  it('a tick while the previous one still runs is skipped, counted once and recorded', async () => {
    const other = await connect()
    const hold = gate()
    const a = createScheduler({ db, log, instanceId: 'a' })
    const b = createScheduler({ db: other.db, log, instanceId: 'b' })
    a.register(job('slow', () => hold.promise))
    b.register(job('slow', () => hold.promise))
    const first = a.runTick('slow', 1000)
    while ((await runs('slow')).length === 0) await new Promise((r) => setImmediate(r)) // wait until it runs
    const second = await Promise.all([a.runTick('slow', 2000), b.runTick('slow', 2000)])
    expect(second.sort()).toEqual(['not_leader', 'skipped'])
    expect((await lease('slow'))!.skipped).toBe(1)
    hold.open()
    expect(await first).toBe('ran')
    expect((await runs('slow')).map((r) => r.status)).toEqual(['success', 'skipped'])
    expect(await a.runTick('slow', 3000)).toBe('ran')
    expect((await a.status()).jobs.find((j) => j.name === 'slow')!.skipped).toBe(1)
  })

  it('a failing handler is recorded with its error and releases the lease', async () => {
    let fail = true
    const s = createScheduler({ db, log, instanceId: 'a' })
    s.register(
      job('flaky', async () => {
        if (fail) throw new Error('upstream said no')
        return { ok: 1 }
      }),
    )
    expect(await s.runTick('flaky', 1000)).toBe('failed')
    const [failed] = await runs('flaky')
    expect(failed).toMatchObject({ status: 'failed', error: 'upstream said no' })
    expect((await lease('flaky'))!.expires_at).toBeNull()
    fail = false
    expect(await s.runTick('flaky', 2000)).toBe('ran')
    expect((await runs('flaky')).map((r) => r.status)).toEqual(['failed', 'success'])
  })

  it('a quiet job records only ticks that did something or failed', async () => {
    const s = createScheduler({ db, log, instanceId: 'a' })
    const results: (Record<string, number> | Error | undefined)[] = [
      { sent: 0 },
      undefined,
      { sent: 2, failed: 0 },
      new Error('smtp down'),
      { sent: 0 },
    ]
    s.register({
      ...job('outbox', async () => {
        const next = results.shift()
        if (next instanceof Error) throw next
        return next
      }),
      quietWhenIdle: true,
    })
    for (let tick = 1000; tick <= 5000; tick += 1000) await s.runTick('outbox', tick)
    expect(await runs('outbox')).toEqual([
      { status: 'success', instance: 'a', tick: 3000, error: null, counts: JSON.stringify({ sent: 2, failed: 0 }) },
      { status: 'failed', instance: 'a', tick: 4000, error: 'smtp down', counts: null },
    ])
    expect(await lease('outbox')).toMatchObject({ tick: 5000, expires_at: null })
  })

  it('after a crash the lease expires and the next tick runs; before that it is an overlap', async () => {
    const now = 1_000_000
    const s = createScheduler({ db, log, instanceId: 'survivor', now: () => now })
    let calls = 0
    s.register({ ...job('crashy', async () => void calls++), leaseMs: 60_000 })
    // The instance that held the lease died mid-tick: its lease still runs for a while.
    await client.execute({
      sql: "insert into job_leases (name, holder, tick, expires_at) values ('crashy', 'dead', ?, ?)",
      args: [now - 10_000, now + 5_000],
    })
    expect(await s.runTick('crashy', now)).toBe('skipped')
    await client.execute({ sql: "update job_leases set expires_at = ? where name = 'crashy'", args: [now - 1] })
    expect(await s.runTick('crashy', now + 1000)).toBe('ran')
    expect(calls).toBe(1)
    expect(await lease('crashy')).toMatchObject({ holder: 'survivor', tick: now + 1000, expires_at: null })
  })
})

describe('an instance killed mid-tick', () => {
  it('holds a long job for 30 s at a time, so another instance takes it over soon after, not after leaseMs', async () => {
    let now = 2_000_000
    const dying = createScheduler({ db, log, instanceId: 'dying', now: () => now })
    const hold = gate()
    const started = gate()
    dying.register({ ...job('long', async () => (started.open(), hold.promise)), leaseMs: 2 * 3_600_000 })
    const running = dying.runTick('long', now)
    await started.promise
    // The tick runs (its process is about to be killed): the lease reaches 30 s ahead, not 2 h.
    expect(await lease('long')).toMatchObject({ holder: 'dying', expires_at: now + 30_000 })
    const survivor = createScheduler({ db, log, instanceId: 'survivor', now: () => now })
    let calls = 0
    survivor.register({ ...job('long', async () => void calls++), leaseMs: 2 * 3_600_000 })
    now += 10_000
    expect(await survivor.runTick('long', now)).toBe('skipped')
    now += 21_000
    expect(await survivor.runTick('long', now)).toBe('ran')
    expect(calls).toBe(1)
    hold.open()
    await running
  })
})

describe('start and stop', () => {
  it('runs ticks on schedule, and stop() waits for the tick in flight', async () => {
    const hold = gate()
    const started = gate()
    const s = createScheduler({ db, log, instanceId: 'a' })
    s.register({ name: 'every-second', schedule: '* * * * * *', handler: async () => (started.open(), hold.promise) })
    s.start()
    expect(s.isRunning()).toBe(true)
    await started.promise
    let stopped = false
    const stopping = s.stop().then(() => (stopped = true))
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r))
    expect(stopped).toBe(false)
    expect((await runs('every-second')).map((r) => r.status)).toEqual(['running'])
    hold.open()
    await stopping
    expect(stopped).toBe(true)
    expect(s.isRunning()).toBe(false)
    expect((await runs('every-second'))[0]!.status).toBe('success')
  })
})

describe('housekeeping', () => {
  it('deletes expired sessions, setup links and old job runs, closes abandoned runs, and returns counts', async () => {
    const now = Date.UTC(2026, 5, 1)
    await client.execute({
      sql: "insert into users (id, email, role, password_hash, created_at, updated_at) values ('u1', 'u@example.com', 'viewer', 'x', ?, ?)",
      args: [now, now],
    })
    for (const [id, expires] of [
      ['expired-1', now - 1],
      ['expired-2', now - days(1)],
      ['live', now + hours(1)],
    ] as const) {
      await client.execute({
        sql: "insert into sessions (id, user_id, csrf_token, created_at, last_seen_at, expires_at) values (?, 'u1', 'c', ?, ?, ?)",
        args: [id, now - days(2), now - days(2), expires],
      })
    }
    await client.execute({
      sql: "insert into setup_tokens (token_hash, created_at, expires_at) values ('old', 0, ?), ('new', 0, ?)",
      args: [now - 1, now + hours(1)],
    })
    const insertRun = (status: string, startedAt: number) =>
      client.execute({
        sql: "insert into job_runs (job, instance, tick, started_at, status) values ('other', 'x', ?, ?, ?)",
        args: [startedAt, startedAt, status],
      })
    await insertRun('success', now - days(31)) // past the 30-day retention
    await insertRun('success', now - days(40))
    await insertRun('success', now - days(29))
    await insertRun('running', now - hours(7)) // a crashed instance left it running
    const insertAction = (id: string, status: string, createdAt: number) =>
      client.execute({
        sql: "insert into healing_actions (id, trigger, action_type, target, status, run_after, requested_by, created_at, updated_at) values (?, '{}', 'webhook', 't', ?, 0, 'test', ?, ?)",
        args: [id, status, createdAt, createdAt],
      })
    await insertAction('old-done', 'SUCCESS', now - days(91)) // past the 90-day history
    await insertAction('old-open', 'PENDING_APPROVAL', now - days(91)) // still open: kept
    await insertAction('recent', 'FAILED', now - days(89))
    await client.execute({
      sql: "insert into healing_events (action_id, ts, status, actor) values ('old-done', ?, 'SUCCESS', 'test')",
      args: [now - days(91)],
    })
    await client.execute({
      sql: "insert into breaker_events (key, ts, from_state, to_state) values ('model:a', ?, 'CLOSED', 'OPEN'), ('model:a', ?, 'OPEN', 'HALF_OPEN')",
      args: [now - days(95), now - days(1)],
    })

    const s = createScheduler({ db, log, instanceId: 'hk', now: () => now })
    s.register(housekeepingJob({ db, jobRunsRetentionDays: 30, healingHistoryDays: 90 }))
    expect(await s.runTick('housekeeping', now)).toBe('ran')

    expect((await rows('select id from sessions')).map((r) => r.id)).toEqual(['live'])
    expect((await rows('select token_hash from setup_tokens')).map((r) => r.token_hash)).toEqual(['new'])
    const other = await runs('other')
    expect(other.map((r) => r.status)).toEqual(['success', 'failed'])
    expect(other[1]!.error).toMatch(/abandoned/)
    const [hk] = await runs('housekeeping')
    expect(JSON.parse(hk!.counts as string)).toEqual({
      auditRowsDeleted: 0,
      sessionsDeleted: 2,
      setupLinksDeleted: 1,
      runsAbandoned: 1,
      jobRunsDeleted: 2,
      healingActionsDeleted: 1,
      breakerEventsDeleted: 1,
      routeEventsDeleted: 0,
    })
    expect((await rows('select id from healing_actions order by id')).map((r) => r.id)).toEqual(['old-open', 'recent'])
    expect(await rows('select id from healing_events')).toEqual([]) // the timeline went with its action
    expect((await rows('select to_state from breaker_events')).map((r) => r.to_state)).toEqual(['HALF_OPEN'])
  })
})
