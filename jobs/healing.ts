import type { Healing } from '../app/modules/healing/index.ts'
import type { JobDef } from '../app/lib/scheduler.ts'

/**
 * The healing orchestrator, every second: triggers → queue → run → verify → expire approvals →
 * fail what a dead instance left RUNNING. Idle, it is a few indexed reads. Actions run in the
 * background (the tick does not wait for them); the lock row per target keeps one per target.
 */
export const healingJob = ({ healing }: { healing: Pick<Healing, 'tick'> }): JobDef => ({
  name: 'healing',
  schedule: '* * * * * *',
  leaseMs: 60_000,
  quietWhenIdle: true,
  handler: ({ now }) => healing.tick(now),
})
