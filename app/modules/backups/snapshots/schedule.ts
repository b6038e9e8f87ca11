/** Cron arithmetic for backup schedules (UTC, as the scheduler's). */
import { Cron } from 'croner'
import type { Db } from '../../../../db/client.ts'
import type { BackupTarget } from '../../../../db/schema/backups.ts'
import { latestGood } from './queries.ts'

const cronOf = (pattern: string) => new Cron(pattern, { paused: true, timezone: 'Etc/UTC' })

/** The first run strictly after `after` (ms), or null when the pattern never runs again. */
export function nextRun(pattern: string, after: number): number | null {
  const next = cronOf(pattern).nextRun(new Date(after))
  return next ? next.getTime() : null
}

/** The last run at or before `at`: found by stepping back a day at a time (cron has no reverse). */
export function previousRun(pattern: string, at: number): number | null {
  const cron = cronOf(pattern)
  for (let back = 86_400_000; back <= 400 * 86_400_000; back *= 2) {
    let run = cron.nextRun(new Date(at - back))
    if (!run || run.getTime() > at) continue
    let last = run.getTime()
    while (run && run.getTime() <= at) {
      last = run.getTime()
      run = cron.nextRun(run)
    }
    return last
  }
  return null
}

/** Overdue: enabled, and the last good backup (or the target's creation) is older than twice its interval. */
export async function isMissed(db: Db, target: BackupTarget, at: number) {
  if (!target.enabled || target.createdAt === 0) return false
  const good = await latestGood(db, target.id)
  const since = good?.startedAt ?? target.createdAt
  const next = nextRun(target.schedule, at)
  const prev = previousRun(target.schedule, at)
  if (next === null || prev === null) return false
  return at - since > 2 * (next - prev)
}
