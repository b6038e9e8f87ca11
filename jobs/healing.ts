import type { Db } from '../db/client.ts'
import { healingDepsFor, healingTick } from '../app/modules/healing/orchestrator.ts'
import type { JobDef } from './scheduler.ts'

/**
 * The healing orchestrator, every second: triggers → queue → run → verify → expire approvals →
 * fail what a dead instance left RUNNING. Idle, it is a few indexed reads. Actions run in the
 * background (the tick does not wait for them); the lock row per target keeps one per target.
 */
export const healingJob = ({ db }: { db: Db }): JobDef => ({
  name: 'healing',
  schedule: '* * * * * *',
  leaseMs: 60_000,
  quietWhenIdle: true,
  handler: async ({ now, log }) => {
    const deps = healingDepsFor(db) // set when the app mounts the healing routes (it has the sealer)
    if (!deps) return { waiting: 1 }
    return healingTick({ ...deps, log: deps.log ?? log }, now)
  },
})
