import { Cron } from 'croner'
import { and, desc, eq, sql } from 'drizzle-orm'
import { lockFailure, writeLockHeldSince, type Db } from '../../db/client.ts'
import { jobLeases, jobRuns } from '../../db/schema/system.ts'
import { newId } from './ids.ts'
import type { Logger } from './logger.ts'
import type { Telemetry } from './telemetry.ts'

export type JobContext = { now: number; tick: number; log: Logger }
export type JobHandler = (ctx: JobContext) => Promise<Record<string, number> | void>
export type JobDef = {
  name: string
  /** Croner pattern; six fields allow seconds. */
  schedule: string
  handler: JobHandler
  /** How long a tick may hold the lease at most (renewed while it runs, see LEASE_HOLD_MS) before another may take over. */
  leaseMs?: number
  /**
   * For jobs that tick every second or two: a tick whose counts are all zero writes no `job_runs`
   * row (the lease row still records the tick), so an idle server does not grow the table by
   * tens of thousands of rows a day. Failures and ticks that did something are always recorded.
   */
  quietWhenIdle?: boolean
}

const isIdle = (counts: Record<string, number> | void) => !counts || Object.values(counts).every((n) => n === 0)

/** `locked`: another process held the database's write lock, so the tick was let go without claiming it. */
export type TickOutcome = 'ran' | 'failed' | 'skipped' | 'not_leader' | 'locked'

type SchedulerDeps = {
  db: Db
  log: Logger
  instanceId?: string
  now?: () => number
  onRun?: (job: string, outcome: TickOutcome, seconds: number) => void
}

const DEFAULT_LEASE_MS = 5 * 60_000
/**
 * A running tick holds its lease this far ahead, renewed every LEASE_RENEW_MS up to its `leaseMs`:
 * an instance killed mid-tick (kill -9, power loss) frees the job within this time, not after the
 * whole `leaseMs` (2 h for backups), while a live tick keeps it for as long as `leaseMs` allows.
 */
export const LEASE_HOLD_MS = 30_000
const LEASE_RENEW_MS = 10_000

/**
 * Croner jobs with a lease row per job: before a tick runs, the instance claims it in the database,
 * so each tick runs once across every instance sharing the database, and a tick that overlaps a
 * running one is skipped and counted. Every tick that runs is a `job_runs` row.
 */
export function createScheduler({ db, log, instanceId = newId(), now = Date.now, onRun }: SchedulerDeps) {
  const jobs = new Map<string, JobDef>()
  const crons = new Map<string, Cron>()
  const inFlight = new Set<Promise<unknown>>()
  let started = false

  function register(def: JobDef) {
    if (jobs.has(def.name)) throw new Error(`Job ${def.name} is already registered`)
    jobs.set(def.name, def)
  }

  /** Claims the tick; null when it was claimed, otherwise why not. */
  async function claim(job: JobDef, tick: number, at: number): Promise<null | 'skipped' | 'not_leader'> {
    const leaseUntil = at + Math.min(job.leaseMs ?? DEFAULT_LEASE_MS, LEASE_HOLD_MS)
    const won = await db
      .insert(jobLeases)
      .values({ name: job.name, holder: instanceId, tick, expiresAt: leaseUntil })
      .onConflictDoUpdate({
        target: jobLeases.name,
        set: { holder: instanceId, tick, expiresAt: leaseUntil },
        setWhere: sql`${jobLeases.tick} < ${tick} and (${jobLeases.expiresAt} is null or ${jobLeases.expiresAt} <= ${at})`,
      })
      .returning({ name: jobLeases.name })
    if (won.length) return null
    // The lease is held by a tick still running: this tick is an overlap. Whoever moves the
    // tick forward first records the skip, so it is counted once across instances.
    const skipped = await db
      .update(jobLeases)
      .set({ tick, skipped: sql`${jobLeases.skipped} + 1` })
      .where(and(eq(jobLeases.name, job.name), sql`${jobLeases.tick} < ${tick}`))
      .returning({ name: jobLeases.name })
    if (!skipped.length) return 'not_leader'
    await db.insert(jobRuns).values({
      job: job.name,
      instance: instanceId,
      tick,
      startedAt: at,
      finishedAt: at,
      status: 'skipped',
      error: 'previous tick still running',
    })
    return 'skipped'
  }

  // A tick's own bookkeeping refused because the database got locked under it: the run row stays
  // `running` and the lease runs out by itself (LEASE_HOLD_MS), as after a crash; nothing to undo.
  const unlessLocked = (job: string) => (error: unknown) => {
    if (!lockFailure(error)) throw error
    log.warn('job bookkeeping not written: the database is locked by another process', { job })
  }

  /** Runs one tick of a job now, as the cron would. Tests call this with their own tick times. */
  async function runTick(name: string, tick = Math.floor(now() / 1000) * 1000): Promise<TickOutcome> {
    const job = jobs.get(name)
    if (!job) throw new Error(`No job named ${name}`)
    const startedAt = now()
    // While another process holds the write lock, writes are refused (db/lock-watch.ts): the tick is
    // let go at once rather than its lease write queuing behind the lock. Its work is idempotent and
    // catches up at the next tick. A claim that itself found the lock (waiting out the busy timeout
    // first) is let go the same way.
    const locked = () => {
      log.warn('job tick let go: the database is locked by another process', { job: name })
      onRun?.(name, 'locked', 0)
      return 'locked' as const
    }
    if (writeLockHeldSince(db) !== undefined) return locked()
    let refused: Awaited<ReturnType<typeof claim>>
    try {
      refused = await claim(job, tick, startedAt)
    } catch (error) {
      if (lockFailure(error)) return locked()
      throw error
    }
    if (refused) {
      if (refused === 'skipped') log.warn('job tick skipped: previous tick still running', { job: name })
      onRun?.(name, refused, 0)
      return refused
    }
    // A quiet job's row is written after the tick, and only when there is something to record.
    const [run] = job.quietWhenIdle
      ? []
      : await db
          .insert(jobRuns)
          .values({ job: name, instance: instanceId, tick, startedAt, status: 'running' })
          .returning({ id: jobRuns.id })
    const finish = async (values: Pick<typeof jobRuns.$inferInsert, 'status' | 'counts' | 'error'>) => {
      const finishedAt = now()
      if (run)
        await db
          .update(jobRuns)
          .set({ ...values, finishedAt })
          .where(eq(jobRuns.id, run.id))
      else await db.insert(jobRuns).values({ job: name, instance: instanceId, tick, startedAt, finishedAt, ...values })
    }
    let outcome: TickOutcome = 'ran'
    const cap = startedAt + (job.leaseMs ?? DEFAULT_LEASE_MS)
    const renew = setInterval(() => {
      db.update(jobLeases)
        .set({ expiresAt: Math.min(cap, now() + LEASE_HOLD_MS) })
        .where(and(eq(jobLeases.name, name), eq(jobLeases.holder, instanceId), eq(jobLeases.tick, tick)))
        .catch((error) => log.warn('job lease not renewed', { job: name, error: String(error) }))
    }, LEASE_RENEW_MS)
    ;(renew as { unref?: () => void }).unref?.()
    try {
      const counts = await job.handler({ now: startedAt, tick, log: log.child({ job: name }) })
      if (run || !isIdle(counts)) await finish({ status: 'success', counts: counts ?? null })
    } catch (error) {
      outcome = 'failed'
      const message = error instanceof Error ? error.message : String(error)
      log.error('job failed', { job: name, error: message })
      await finish({ status: 'failed', error: message.slice(0, 2000) }).catch(unlessLocked(name))
    } finally {
      clearInterval(renew)
      await db
        .update(jobLeases)
        .set({ expiresAt: null })
        .where(and(eq(jobLeases.name, name), eq(jobLeases.holder, instanceId)))
        .catch(unlessLocked(name))
    }
    onRun?.(name, outcome, (now() - startedAt) / 1000)
    return outcome
  }

  function start() {
    if (started) return
    started = true
    for (const job of jobs.values()) {
      const cron = new Cron(
        job.schedule,
        { name: job.name, protect: () => onRun?.(job.name, 'skipped', 0) },
        async (self: Cron) => {
          const scheduled = self.currentRun()?.getTime() ?? now()
          const p = runTick(job.name, Math.floor(scheduled / 1000) * 1000).catch((error) =>
            log.error('job tick crashed', {
              job: job.name,
              error: error instanceof Error ? error.message : String(error),
            }),
          )
          inFlight.add(p)
          await p
          inFlight.delete(p)
        },
      )
      crons.set(job.name, cron)
    }
    log.info('scheduler started', { instance: instanceId, jobs: [...jobs.keys()] })
  }

  /** Stops scheduling and waits for ticks in flight. */
  async function stop() {
    for (const cron of crons.values()) cron.stop()
    crons.clear()
    started = false
    await Promise.allSettled([...inFlight])
  }

  async function status() {
    const list = await Promise.all(
      [...jobs.values()].map(async (job) => {
        const [last] = await db
          .select()
          .from(jobRuns)
          .where(eq(jobRuns.job, job.name))
          .orderBy(desc(jobRuns.id))
          .limit(1)
        const [lease] = await db.select().from(jobLeases).where(eq(jobLeases.name, job.name))
        return {
          name: job.name,
          schedule: job.schedule,
          nextRun: crons.get(job.name)?.nextRun()?.toISOString() ?? null,
          lastRun: last ?? null,
          /** The last tick claimed (a quiet job's idle ticks leave no run row). */
          lastTick: lease?.tick ?? null,
          skipped: lease?.skipped ?? 0,
        }
      }),
    )
    return { running: started, instance: instanceId, jobs: list }
  }

  return { register, runTick, start, stop, status, isRunning: () => started, instanceId }
}

export type Scheduler = ReturnType<typeof createScheduler>

/** Counts ticks and times runs into the app's own metrics (homeostat_job_runs_total, homeostat_job_run_duration_seconds). */
export const recordJobRuns =
  (telemetry: Telemetry): NonNullable<SchedulerDeps['onRun']> =>
  (job, outcome, seconds) => {
    telemetry.jobRuns.inc({ job, outcome })
    if (outcome === 'ran' || outcome === 'failed') telemetry.jobDuration.observe({ job }, seconds)
  }
