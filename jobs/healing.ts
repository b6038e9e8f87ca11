import type { Healing } from '../app/modules/healing/index.ts'
import type { Logger } from '../app/lib/logger.ts'
import type { JobDef, Scheduler } from '../app/lib/scheduler.ts'

const NAME = 'healing'

/**
 * The healing orchestrator, every second: triggers → queue → run → verify → expire approvals →
 * fail what a dead instance left RUNNING. Idle, it is a few indexed reads. Actions run in the
 * background (the tick does not wait for them); the lock row per target keeps one per target.
 */
export const healingJob = ({ healing }: { healing: Pick<Healing, 'tick'> }): JobDef => ({
  name: NAME,
  schedule: '* * * * * *',
  leaseMs: 60_000,
  quietWhenIdle: true,
  handler: ({ now }) => healing.tick(now),
})

/**
 * The healing service's `kick`: runs a tick of the `healing` job now instead of waiting for the
 * next second, so a breaker that just opened is acted on at once. Fire-and-forget: errors are
 * logged, never thrown. When a tick is already running the scheduler counts this one as skipped;
 * the running tick or the next one picks the event up from its watermark, so nothing is lost.
 */
export const healingKick =
  (scheduler: Pick<Scheduler, 'isRunning' | 'runTick'> | undefined, log?: Logger) => (): void => {
    // Only where the scheduler runs its crons (a server): tests drive their ticks themselves.
    if (!scheduler?.isRunning()) return
    const failed = (error: unknown) =>
      log?.warn('healing kick failed', { error: error instanceof Error ? error.message : String(error) })
    try {
      scheduler.runTick(NAME, Date.now()).catch(failed)
    } catch (error) {
      failed(error)
    }
  }
