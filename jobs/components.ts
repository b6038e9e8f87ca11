import type { Db } from '../db/client.ts'
import { type OutcomeListener, runComponentChecks, type StateChangeListener } from '../app/modules/components/index.ts'
import type { MetricStore } from '../app/modules/metrics/index.ts'
import type { JobDef } from '../app/lib/scheduler.ts'
import type { OutboundPolicy } from '../app/lib/outbound.ts'

/** Runs due HTTP checks, records missed push heartbeats, trims old status history. Every 10 s. */
export const componentChecksJob = (deps: {
  db: Db
  store: MetricStore
  outbound: OutboundPolicy
  historyDays: number
  onOutcome: OutcomeListener
  onStateChange?: StateChangeListener
}): JobDef => ({
  name: 'component-checks',
  schedule: '*/10 * * * * *',
  leaseMs: 2 * 60_000,
  handler: ({ now }) => runComponentChecks(deps, now),
})
