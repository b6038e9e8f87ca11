/** Reads of backups for the API and the page. */
import { and, desc, eq, gte, lt, lte, or } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import { type BackupStatus, backupRestores, backups } from '../../../../db/schema/backups.ts'
import { page } from '../../../lib/pagination.ts'

export type BackupFilter = {
  target?: string
  status?: BackupStatus
  from?: number
  to?: number
  limit?: number
  cursor?: string
}

/** Newest first; the cursor is the last item's id (ids sort by time). */
export async function listBackups(db: Db, f: BackupFilter) {
  const limit = f.limit ?? 50
  const where = and(
    f.target ? or(eq(backups.targetId, f.target), eq(backups.targetName, f.target)) : undefined,
    f.status ? eq(backups.status, f.status) : undefined,
    f.from !== undefined ? gte(backups.startedAt, f.from) : undefined,
    f.to !== undefined ? lte(backups.startedAt, f.to) : undefined,
    f.cursor ? lt(backups.id, f.cursor) : undefined,
  )
  const rows = await db
    .select()
    .from(backups)
    .where(where)
    .orderBy(desc(backups.id))
    .limit(limit + 1)
  return page(rows, limit, (b) => b.id)
}

export const listRestores = (db: Db, limit = 50) =>
  db.select().from(backupRestores).orderBy(desc(backupRestores.createdAt)).limit(limit)

/** The newest good backup of a target. */
export async function latestGood(db: Db, targetId = 'homeostat') {
  const [row] = await db
    .select()
    .from(backups)
    .where(and(eq(backups.targetId, targetId), eq(backups.status, 'good')))
    .orderBy(desc(backups.startedAt))
    .limit(1)
  return row
}

/** When a target's newest backup (of any status) started. */
export async function lastStarted(db: Db, targetId: string) {
  const [row] = await db
    .select({ at: backups.startedAt })
    .from(backups)
    .where(eq(backups.targetId, targetId))
    .orderBy(desc(backups.startedAt))
    .limit(1)
  return row?.at
}
