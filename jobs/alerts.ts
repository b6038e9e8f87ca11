import type { Db } from '../db/client.ts'
import { evaluatorFor } from '../app/modules/alerts/runner.ts'
import type { JobDef } from './scheduler.ts'

/** Evaluates every enabled alert rule at the tick's time. Every 15 s. */
export const alertEvaluationJob = ({ db }: { db: Db }): JobDef => ({
  name: 'alert-evaluation',
  schedule: '*/15 * * * * *',
  leaseMs: 2 * 60_000,
  handler: ({ now, log }) => evaluatorFor(db, log).evaluateAll(now),
})
