import type { Scheduler } from '../../lib/scheduler.ts'
import type { Logger } from '../../lib/logger.ts'

/**
 * Runs a tick of the `healing` job now instead of waiting for the next second, so a breaker that
 * just opened is acted on at once. Fire-and-forget: errors are logged, never thrown. When a tick is
 * already running the scheduler counts this one as skipped; the running tick or the next one picks
 * the event up from its watermark, so nothing is lost.
 */
export function kickHealing(deps: { scheduler?: Scheduler; log?: Logger }): void {
  const { scheduler } = deps
  // Only where the scheduler runs its crons (a server): tests drive their ticks themselves.
  if (!scheduler?.isRunning()) return
  let pending: Promise<unknown>
  try {
    pending = scheduler.runTick('healing', Date.now())
  } catch (error) {
    deps.log?.warn('healing kick failed', { error: error instanceof Error ? error.message : String(error) })
    return
  }
  pending.catch((error: unknown) =>
    deps.log?.warn('healing kick failed', { error: error instanceof Error ? error.message : String(error) }),
  )
}
