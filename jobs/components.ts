import type { Db } from '../db/client.ts'
import { runComponentChecks } from '../app/modules/components/checks.ts'
import { createMetricStore } from '../app/modules/metrics/store.ts'
import type { JobDef } from './scheduler.ts'

/** Runs due HTTP checks, records missed push heartbeats, trims old status history. Every 10 s. */
export const componentChecksJob = ({ db, historyDays }: { db: Db; historyDays: number }): JobDef => {
  const store = createMetricStore(db)
  return {
    name: 'component-checks',
    schedule: '*/10 * * * * *',
    leaseMs: 2 * 60_000,
    handler: ({ now }) => runComponentChecks({ db, store, historyDays }, now),
  }
}
