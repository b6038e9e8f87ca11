import type { Db } from '../db/client.ts'
import { evaluatorFor } from '../app/modules/alerts/runner.ts'
import { refreshSilenced } from '../app/modules/alerts/silences.ts'
import type { JobDef } from './scheduler.ts'

/**
 * Re-checks open alerts as silences start and end (one-off and recurring windows): sets or
 * clears their `silenced` flag with a `silenced`/`unsilenced` event. Every 15 s.
 */
export const silencesJob = ({ db }: { db: Db }): JobDef => ({
  name: 'silences',
  schedule: '*/15 * * * * *',
  leaseMs: 2 * 60_000,
  handler: ({ now, log }) => refreshSilenced(evaluatorFor(db, log).lifecycle, now),
})
