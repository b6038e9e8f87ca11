import { sql } from 'drizzle-orm'
import type { Deps } from '../../context.ts'
import { migrationStatus } from '../../../db/migrate.ts'
import { writeLockHeldSince } from '../../../db/client.ts'

export type Check = { name: string; ok: boolean; detail?: string }

const withTimeout = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms))])

/** Readiness: the database answers, its migrations are current, its disk is not full, the scheduler runs. */
export async function readiness({
  db,
  scheduler,
  config,
  disk,
}: Pick<Deps, 'db' | 'scheduler' | 'config' | 'disk'>): Promise<Check[]> {
  const checks: Check[] = []
  try {
    await withTimeout(db.run(sql`select 1`), 2000)
    checks.push({ name: 'database', ok: true })
    const m = await migrationStatus(db)
    checks.push({ name: 'migrations', ok: m.current, detail: `${m.applied} of ${m.expected} applied` })
  } catch (error) {
    checks.push({ name: 'database', ok: false, detail: error instanceof Error ? error.message : String(error) })
  }
  // Another process holds the write lock (a backup tool, a shell): reads work, writes answer 503 at once.
  const lockedSince = writeLockHeldSince(db)
  if (lockedSince !== undefined)
    checks.push({
      name: 'database_lock',
      ok: false,
      detail: `another process holds the database's write lock; writes refused since ${new Date(lockedSince).toISOString()}`,
    })
  // Reads still work on a full disk, but every write fails: a load balancer should send writers elsewhere.
  const space = disk?.status()
  if (space) checks.push({ name: 'disk', ok: !space.full, ...(space.detail ? { detail: space.detail } : {}) })
  if (config.JOBS_ENABLED)
    checks.push({
      name: 'scheduler',
      ok: Boolean(scheduler?.isRunning()),
      detail: scheduler?.isRunning() ? undefined : 'not running',
    })
  else checks.push({ name: 'scheduler', ok: true, detail: 'disabled by JOBS_ENABLED=false' })
  return checks
}
