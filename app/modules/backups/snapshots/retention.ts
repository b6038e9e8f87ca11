/**
 * Retention per target: keep the last N good backups, plus the newest good backup of each of the
 * last `daily` days, `weekly` ISO weeks and `monthly` months (UTC) that have one (grandfather-
 * father-son, as restic's `forget --keep-*`). Everything else good is pruned: its files removed,
 * its row kept as `pruned` for the history.
 */
import { and, eq, inArray } from 'drizzle-orm'
import { type BackupTarget, backups } from '../../../../db/schema/backups.ts'
import { writeAudit } from '../../audit/index.ts'
import { type SnapshotContext, storedDestination } from './context.ts'
import { manifestKey } from './run.ts'

export type RetentionPolicy = { keepLast: number; keepDaily: number; keepWeekly: number; keepMonthly: number }

const day = (ms: number) => new Date(ms).toISOString().slice(0, 10)
const month = (ms: number) => new Date(ms).toISOString().slice(0, 7)
function isoWeek(ms: number) {
  const d = new Date(ms)
  const date = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()))
  const weekday = date.getUTCDay() || 7
  date.setUTCDate(date.getUTCDate() + 4 - weekday)
  const yearStart = Date.UTC(date.getUTCFullYear(), 0, 1)
  return `${date.getUTCFullYear()}-W${Math.ceil(((date.getTime() - yearStart) / 86_400_000 + 1) / 7)}`
}

/** The ids to keep out of `good` backups (any order). */
export function toKeep<T extends { id: string; startedAt: number }>(good: T[], p: RetentionPolicy): Set<string> {
  const newest = [...good].sort((a, b) => b.startedAt - a.startedAt)
  const keep = new Set(newest.slice(0, p.keepLast).map((b) => b.id))
  const generations: [number, (ms: number) => string][] = [
    [p.keepDaily, day],
    [p.keepWeekly, isoWeek],
    [p.keepMonthly, month],
  ]
  for (const [count, bucketOf] of generations) {
    const seen = new Set<string>()
    for (const b of newest) {
      if (seen.size >= count) break
      const bucket = bucketOf(b.startedAt)
      if (seen.has(bucket)) continue
      seen.add(bucket)
      keep.add(b.id)
    }
  }
  return keep
}

/** Prunes a target's good backups past its retention: files removed, rows kept as `pruned`. */
export async function pruneTarget(ctx: SnapshotContext, target: BackupTarget) {
  const { db } = ctx
  const good = await db
    .select({
      id: backups.id,
      startedAt: backups.startedAt,
      location: backups.location,
      destinationKind: backups.destinationKind,
      targetId: backups.targetId,
    })
    .from(backups)
    .where(and(eq(backups.targetId, target.id), eq(backups.status, 'good')))
  const keep = toKeep(good, target)
  const drop = good.filter((b) => !keep.has(b.id))
  if (!drop.length) return 0
  for (const b of drop) {
    const dest = await storedDestination(ctx, b)
    await dest.remove(b.location)
    await dest.remove(manifestKey(b.location))
  }
  await db
    .update(backups)
    .set({ status: 'pruned' })
    .where(
      inArray(
        backups.id,
        drop.map((b) => b.id),
      ),
    )
  await writeAudit(db, {
    actor: 'backups',
    action: 'backup.pruned',
    target: target.name,
    summary: `${drop.length} backup(s) past retention`,
  })
  return drop.length
}
