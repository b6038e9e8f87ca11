import { and, desc, eq, gte, lt, lte, sql, type SQL } from 'drizzle-orm'
import type { Context } from 'hono'
import type { Db } from '../../../db/client.ts'
import { auditLog } from '../../../db/schema/audit.ts'
import { actorOf, type AppEnv } from '../../context.ts'
import { page } from '../../lib/pagination.ts'

export type AuditInput = { action: string; target?: string | null; summary?: string; actor?: string }

type AuditEntry = AuditInput & { actor: string; requestId?: string | null; ip?: string | null }

/** Writes one audit row. */
export async function writeAudit(db: Db, entry: AuditEntry, now = Date.now()) {
  await auditInsert(db, entry, now)
}

/** The statement that writes one audit row (to put in a batch with the change it records). */
export function auditInsert(db: Db, entry: AuditEntry, now = Date.now()) {
  return db.insert(auditLog).values(rowOf(entry, now))
}

function rowOf(entry: AuditEntry, now: number): typeof auditLog.$inferInsert {
  return {
    ts: now,
    actor: entry.actor,
    action: entry.action,
    target: entry.target ?? null,
    requestId: entry.requestId ?? null,
    ip: entry.ip ?? null,
    summary: (entry.summary ?? '').slice(0, 500),
  }
}

/** Writes one audit row for the request in `c`: who, what, target, request id and ip. */
export const audit = (db: Db, c: Context<AppEnv>, entry: AuditInput, now = Date.now()) =>
  writeAudit(db, requestEntry(c, entry), now)

/** `audit`'s row, unwritten (to insert in the same transaction as the change it records). */
export const auditRow = (c: Context<AppEnv>, entry: AuditInput, now = Date.now()) => ({
  table: auditLog,
  row: rowOf(requestEntry(c, entry), now),
})

const requestEntry = (c: Context<AppEnv>, entry: AuditInput): AuditEntry => ({
  ...entry,
  actor: entry.actor ?? actorOf(c.get('principal') ?? null),
  requestId: c.get('requestId'),
  ip: c.get('ip'),
})

export type AuditFilter = {
  actor?: string
  action?: string
  target?: string
  from?: number
  to?: number
  limit: number
  cursor?: string
}

export async function listAudit(db: Db, f: AuditFilter) {
  const where: SQL[] = []
  if (f.actor) where.push(eq(auditLog.actor, f.actor))
  // "auth.*" style prefixes select a whole feature's actions; % and _ in the prefix match only themselves
  if (f.action)
    where.push(
      f.action.endsWith('*')
        ? sql`${auditLog.action} like ${`${f.action.slice(0, -1).replace(/[\\%_]/g, '\\$&')}%`} escape '\\'`
        : eq(auditLog.action, f.action),
    )
  if (f.target) where.push(eq(auditLog.target, f.target))
  if (f.from !== undefined) where.push(gte(auditLog.ts, f.from))
  if (f.to !== undefined) where.push(lte(auditLog.ts, f.to))
  if (f.cursor && /^\d+$/.test(f.cursor)) where.push(lt(auditLog.id, Number(f.cursor)))
  const rows = await db
    .select()
    .from(auditLog)
    .where(and(...where))
    .orderBy(desc(auditLog.id))
    .limit(f.limit + 1)
  return page(rows, f.limit, (r) => r.id)
}
