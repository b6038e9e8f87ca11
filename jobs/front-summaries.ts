import type { Db } from '../db/client.ts'
import { refreshSummaries } from '../app/modules/front/index.ts'
import type { FrontTile } from '../app/lib/tiles.tsx'
import type { JobDef } from '../app/lib/scheduler.ts'

/**
 * Computes the front page's heavy tiles (fleet, agents and models) per range into front_summaries,
 * like a recording rule, so `GET /` reads stored figures instead of aggregating every series per
 * request (ADR 0028). Every minute, 20 s past it (after the rollup tick on the minute has moved the
 * watermarks); each range only when it is due (front/summaries.ts SUMMARY_EVERY). The lease makes
 * one instance compute per tick; a tick still running when the next comes is skipped.
 */
export const frontSummariesJob = ({ db, tiles }: { db: Db; tiles: FrontTile[] }): JobDef => ({
  name: 'front-summaries',
  schedule: '20 * * * * *',
  leaseMs: 10 * 60_000,
  handler: ({ now }) => refreshSummaries(db, tiles, now),
})
