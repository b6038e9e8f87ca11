/** Cron arithmetic for backup schedules (UTC, as the scheduler's). */
import { Cron } from 'croner'

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
