/**
 * The group commit of the alert lifecycle: `reportAlerts` applies many reports (a receiver's
 * delivery, a rule evaluation) with one read and one batch, joining deliveries that arrive while a
 * commit is under way. The results are those of `reportAlert` (lifecycle.ts) for each in order.
 */
import { and, desc, eq, getTableColumns, getTableName, inArray, sql } from 'drizzle-orm'
import type { SQLiteTable } from 'drizzle-orm/sqlite-core'
import type { BatchItem } from 'drizzle-orm/batch'
import type { Db } from '../../../db/client.ts'
import { alertEvents, alerts, type Alert } from '../../../db/schema/alerts.ts'
import { alertCacheOf, cacheCheck, cachedState, changesCheck, isStaleCache, type AlertCache } from './alert-cache.ts'
import { find, nextState, reportOne, serializedAll, uniqueFingerprint, type AlertReport, type LifecycleDeps, type ReportResult, type Transition } from './lifecycle.ts'

export type ReportsOptions = {
  /**
   * Firing or pending reports of an incident that the sender itself already resolved (a retried
   * delivery that arrives after the resolution: it started before the alert's recorded end, and
   * that end was not a person's or a rule's `resolveAlert`, whose `resolved` event has a `reason`)
   * are ignored (change `stale`): they must not reopen the alert. Receivers set this.
   */
  staleGuard?: boolean
  /** Rows inserted in the same transaction as the delivery, from its results (its audit row). */
  rows?: (results: ReportResult[]) => TableRow[]
}

/** A row for `table`; a group commit inserts the rows of one table (and the same columns) in one statement. */
export type TableRow = { table: SQLiteTable; row: Record<string, unknown> }

type Delivery = { reports: AlertReport[]; at: number; opts: ReportsOptions }
type Waiting = Delivery & { resolve: (r: ReportResult[]) => void; reject: (e: unknown) => void }

/** The most reports one group commit takes (a delivery is never split). */
const GROUP_MAX_REPORTS = 2000
const groups = new WeakMap<LifecycleDeps, { waiting: Waiting[]; running: boolean }>()

/**
 * Reports many alerts (a receiver's delivery) atomically: the same results as `reportAlert` for
 * each in order (several reports of one fingerprint apply one after another), with one read of
 * the alerts and one commit instead of one of each per alert. Deliveries that arrive while a
 * commit is under way are applied together in the next one (a group commit: one read, one
 * transaction for all of them, each delivery still in arrival order); the promise resolves once
 * its delivery is committed. When the group fails, its deliveries are applied one by one, and
 * one delivery fails alone; when another instance created one of the fingerprints meanwhile, its
 * reports apply one by one.
 */
export function reportAlerts(deps: LifecycleDeps, reports: AlertReport[], at = Date.now(), opts: ReportsOptions = {}): Promise<ReportResult[]> {
  if (!reports.length && !opts.rows) return Promise.resolve([])
  let group = groups.get(deps)
  if (!group) groups.set(deps, (group = { waiting: [], running: false }))
  const g = group
  return new Promise<ReportResult[]>((resolve, reject) => {
    g.waiting.push({ reports, at, opts, resolve, reject })
    if (g.running) return
    g.running = true
    // Let the deliveries that arrive in this turn of the event loop join the first commit.
    setTimeout(() => void drain(deps, g), 0)
  })
}

async function drain(deps: LifecycleDeps, g: { waiting: Waiting[]; running: boolean }) {
  try {
    while (g.waiting.length) {
      let n = 0
      let size = 0
      while (n < g.waiting.length && (n === 0 || size + g.waiting[n]!.reports.length <= GROUP_MAX_REPORTS)) size += g.waiting[n++]!.reports.length
      const taken = g.waiting.splice(0, n)
      await serializedAll(taken.flatMap((d) => d.reports.map((r) => r.fingerprint)), () => commitGroup(deps, taken))
    }
  } finally {
    g.running = false
  }
}

async function commitGroup(deps: LifecycleDeps, taken: Waiting[]) {
  try {
    const results = await reportBatch(deps, taken)
    taken.forEach((d, i) => d.resolve(results[i]!))
    return
  } catch (error) {
    if (taken.length === 1 && !uniqueFingerprint(error)) return taken[0]!.reject(error)
  }
  // One delivery at a time, so a bad one fails alone; a fingerprint another instance created
  // meanwhile makes that delivery's reports apply one by one.
  for (const d of taken) {
    try {
      try {
        d.resolve((await reportBatch(deps, [d]))[0]!)
      } catch (error) {
        if (!uniqueFingerprint(error)) throw error
        const results: ReportResult[] = []
        const stale = d.opts.staleGuard ? await staleOf(deps.db, d.reports) : new Set<AlertReport>()
        for (const r of d.reports) results.push(stale.has(r) ? { alert: await find(deps.db, r.fingerprint), change: 'stale' } : await reportOne(deps, r, d.at))
        const extra = insertRows(deps.db, d.opts.rows?.(results) ?? [])
        if (extra.length) await deps.db.batch(extra as unknown as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]])
        d.resolve(results)
      }
    } catch (error) {
      d.reject(error)
    }
  }
}

/**
 * Many rows in one statement with ONE parameter: the rows as a JSON array of arrays (each value
 * as the driver stores it), spread by `json_each`. The SQL text stays the same whatever the number
 * of rows, so building it costs nothing.
 */
function insertJson<T extends SQLiteTable>(db: Db, table: T, keys: (keyof T['$inferInsert'] & string)[], rows: T['$inferInsert'][]) {
  const columns = getTableColumns(table)
  const cols = keys.map((k) => columns[k]!)
  const data = JSON.stringify(rows.map((row) => cols.map((c, i) => {
    const v = (row as Record<string, unknown>)[keys[i]!]
    return v === null || v === undefined ? null : c.mapToDriverValue(v)
  })))
  const names = sql.join(cols.map((c) => sql.identifier(c.name)), sql`, `)
  const values = sql.join(cols.map((_, i) => sql.raw(`json_extract(value, '$[${i}]')`)), sql`, `)
  return db.run(sql`insert into ${table} (${names}) select ${values} from json_each(${data}) where true`)
}

/** Updates rows by id, setting `keys` from each row, in one statement with one JSON parameter (as `insertJson`). */
function updateJson<T extends SQLiteTable>(db: Db, table: T, keys: (keyof T['$inferSelect'] & string)[], rows: T['$inferSelect'][]) {
  const columns = getTableColumns(table)
  const cols = keys.map((k) => columns[k]!)
  const data = JSON.stringify(rows.map((row) => [(row as Record<string, unknown>).id, ...cols.map((c, i) => {
    const v = (row as Record<string, unknown>)[keys[i]!]
    return v === null || v === undefined ? null : c.mapToDriverValue(v)
  })]))
  const values = sql.join([0, ...cols.map((_, i) => i + 1)].map((i) => sql.raw(`json_extract(value, '$[${i}]') as c${i}`)), sql`, `)
  const set = sql.join(cols.map((c, i) => sql`${sql.identifier(c.name)} = v.${sql.raw(`c${i + 1}`)}`), sql`, `)
  return db.run(sql`with v as (select ${values} from json_each(${data})) update ${table} set ${set} from v where ${table}.id = v.c0`)
}

/** Rows of other tables (an audit row per delivery): one insert per table and set of columns. */
function insertRows(db: Db, rows: TableRow[]) {
  const byShape = new Map<string, TableRow[]>()
  for (const r of rows) {
    const shape = `${getTableName(r.table)}\u0000${Object.keys(r.row).join(',')}`
    byShape.get(shape)?.push(r) ?? byShape.set(shape, [r])
  }
  return [...byShape.values()].map((list) => insertJson(db, list[0]!.table, Object.keys(list[0]!.row) as never[], list.map((r) => r.row)))
}

const ALERT_KEYS = Object.keys(getTableColumns(alerts)) as (keyof Alert)[]
const EVENT_KEYS = ['alertId', 'ts', 'type', 'actor', 'detail'] as const

// The columns a quiet repeat moves on; a row that differs from its stored self in these only is "touched".
const TOUCHED = new Set<keyof Alert>(['lastSeenAt', 'updatedAt', 'repeatCount'])
const sameValue = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (!a || !b || typeof a !== 'object' || typeof b !== 'object') return false
  const ka = Object.keys(a)
  if (ka.length !== Object.keys(b).length) return false
  return ka.every((k) => (a as Record<string, unknown>)[k] === (b as Record<string, unknown>)[k])
}

/** Whether an alert's last `resolved` event was the sender's own (no `reason`), per alert id. */
async function resolvedBySender(db: Db, ids: string[]): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>()
  if (!ids.length) return out
  const rows = await db.select({ alertId: alertEvents.alertId, detail: alertEvents.detail }).from(alertEvents).where(and(inArray(alertEvents.alertId, ids), eq(alertEvents.type, 'resolved'))).orderBy(desc(alertEvents.id))
  for (const r of rows) if (!out.has(r.alertId)) out.set(r.alertId, r.detail.reason === undefined)
  return out
}

const mayBeStale = (r: AlertReport, a: Alert | null | undefined) => !!a && r.state !== 'resolved' && r.startsAt !== undefined && a.status === 'resolved' && a.endsAt !== null && r.startsAt < a.endsAt

/** The stale reports of a delivery against the stored alerts (see `ReportsOptions.staleGuard`). */
async function staleOf(db: Db, reports: AlertReport[]): Promise<Set<AlertReport>> {
  const fps = [...new Set(reports.filter((r) => r.state !== 'resolved' && r.startsAt !== undefined).map((r) => r.fingerprint))]
  if (!fps.length) return new Set()
  const rows = new Map((await db.select().from(alerts).where(inArray(alerts.fingerprint, fps))).map((a) => [a.fingerprint, a]))
  const bySender = await resolvedBySender(db, [...rows.values()].filter((a) => reports.some((r) => r.fingerprint === a.fingerprint && mayBeStale(r, a))).map((a) => a.id))
  return new Set(reports.filter((r) => mayBeStale(r, rows.get(r.fingerprint)) && bySender.get(rows.get(r.fingerprint)!.id) === true))
}

/**
 * One read of the alerts of every delivery, then per delivery and report (in order) the next
 * state and what the hooks add; then one batch: new alerts in one insert, changed alerts' final
 * rows in one update per set of changed columns, quiet repeats (only last seen, count and update
 * time moved) in one update, every event in one insert, then the hooks' statements (they refer to
 * the rows) and the deliveries' rows (audit).
 */
async function reportBatch(deps: LifecycleDeps, deliveries: Delivery[]): Promise<ReportResult[][]> {
  const cache = alertCacheOf(deps.db)
  try {
    return await reportBatchWith(deps, deliveries, cache)
  } catch (error) {
    // A cached alert changed elsewhere (or the group failed): forget the group's alerts, read them again.
    for (const d of deliveries) for (const r of d.reports) cache.delete(r.fingerprint)
    if (!isStaleCache(error)) throw error
    return reportBatchWith(deps, deliveries, cache, false)
  }
}

/**
 * `reportBatch` with the alerts found in `cache` taken from it (`useCache`), checked in the
 * transaction (see alert-cache.ts); the others read. Once committed, the cache holds every
 * alert of the group as stored.
 */
async function reportBatchWith(deps: LifecycleDeps, deliveries: Delivery[], cache: AlertCache, useCache = true): Promise<ReportResult[][]> {
  const { db } = deps
  const fingerprints = [...new Set(deliveries.flatMap((d) => d.reports.map((r) => r.fingerprint)))]
  const stored = new Map<string, Alert>()
  const cached: Alert[] = []
  const unknown: string[] = []
  for (const fp of fingerprints) {
    const a = useCache ? cache.get(fp) : undefined
    if (a) {
      stored.set(fp, a)
      cached.push(a)
    } else unknown.push(fp)
  }
  if (unknown.length) for (const a of await db.select().from(alerts).where(sql`${alerts.fingerprint} in (select value from json_each(${JSON.stringify(unknown)}))`)) stored.set(a.fingerprint, a)
  // Stale reports are judged against the alert as each delivery finds it (as if applied one by one).
  const maybe = new Set<string>()
  for (const d of deliveries) if (d.opts.staleGuard) for (const r of d.reports) if (mayBeStale(r, stored.get(r.fingerprint))) maybe.add(stored.get(r.fingerprint)!.id)
  const bySender = await resolvedBySender(db, [...maybe])
  const current = new Map<string, Alert | null>(stored)
  const changed = new Map<string, Alert>()
  const events: (typeof alertEvents.$inferInsert)[] = []
  const extra: BatchItem<'sqlite'>[] = []
  const rows: TableRow[] = []
  const out: ReportResult[][] = []
  for (const d of deliveries) {
    const { at } = d
    const stale = new Set(d.opts.staleGuard ? d.reports.filter((r) => mayBeStale(r, current.get(r.fingerprint)) && bySender.get(current.get(r.fingerprint)!.id) === true) : [])
    const results: ReportResult[] = []
    for (const r of d.reports) {
      const before = current.get(r.fingerprint) ?? null
      if (stale.has(r)) {
        results.push({ alert: before, change: 'stale' })
        continue
      }
      const next = nextState(before, r, at)
      if (!next) {
        results.push({ alert: before, change: 'none' })
        continue
      }
      const t: Transition = { before, after: next.after, events: next.events, at }
      // The transition's own events; events a hook adds (silenced) come with its own statements.
      events.push(...t.events.map((e) => ({ alertId: t.after.id, ts: at, type: e.type, actor: e.actor, detail: e.detail ?? {} })))
      for (const hook of deps.hooks ?? []) extra.push(...(await hook(db, t)))
      if (t.events.some((e) => e.type === 'resolved')) bySender.set(t.after.id, !t.events.some((e) => e.type === 'resolved' && e.detail?.reason !== undefined))
      current.set(r.fingerprint, t.after)
      changed.set(r.fingerprint, t.after)
      results.push({ alert: t.after, change: next.change })
    }
    rows.push(...(d.opts.rows?.(results) ?? []))
    out.push(results)
  }
  const remember = () => {
    for (const a of stored.values()) if (!changed.has(a.fingerprint)) cache.set(a)
    for (const a of changed.values()) cache.set(a)
  }
  if (!changed.size && !extra.length && !rows.length && !cached.length) {
    remember()
    return out
  }
  const statements: BatchItem<'sqlite'>[] = []
  const inserted: Alert[] = []
  // Changed rows, by the columns that changed (a resolution, a new incident…): each set updates
  // only its columns, so indexes over the others are left alone.
  const updated = new Map<string, { keys: (keyof Alert)[]; rows: Alert[] }>()
  const touched: { a: Alert; s: Alert }[] = []
  const isCached = new Set(cached)
  const fromCache = new Set(cached)
  for (const a of changed.values()) {
    const s = stored.get(a.fingerprint)
    if (!s) {
      inserted.push(a)
      continue
    }
    const keys = ALERT_KEYS.filter((k) => k !== 'id' && !sameValue(s[k], a[k]))
    if (keys.every((k) => TOUCHED.has(k))) {
      touched.push({ a, s })
      fromCache.delete(s)
      continue
    }
    const shape = keys.join(',')
    updated.get(shape)?.rows.push(a) ?? updated.set(shape, { keys, rows: [a] })
  }
  // First, in the same transaction: the cached alerts used are still as stored (else it all rolls
  // back). Quiet repeats check it in their update (only a row as cached is updated, and the number
  // updated is checked); the others in one statement.
  if (fromCache.size) statements.push(cacheCheck(db, [...fromCache]))
  // Quiet repeats: the count moves on by how many came (so no other writer's repeat is lost).
  if (touched.length) {
    const checks = touched.some((r) => isCached.has(r.s))
    const data = JSON.stringify(touched.map(({ a, s }) => [a.id, a.lastSeenAt, a.updatedAt, a.repeatCount - s.repeatCount, ...(checks ? cachedState(s, isCached.has(s)) : [])]))
    const col = (i: number) => sql.raw(`json_extract(value, '$[${i}]')`)
    const asCached = checks ? sql` and (v.chk = 0 or (${alerts.updatedAt} = v.pu and ${alerts.status} = v.st and ${alerts.repeatCount} = v.rc and ${alerts.silenced} = v.si and ${alerts.ruleId} is v.rule))` : sql``
    statements.push(db.run(sql`with v(id, seen, upd, n, chk, pu, st, rc, si, rule) as (select ${sql.join([0, 1, 2, 3, 4, 5, 6, 7, 8, 9].map(col), sql`, `)} from json_each(${data})) update ${alerts} set last_seen_at = v.seen, updated_at = v.upd, repeat_count = ${alerts}.repeat_count + v.n from v where ${alerts}.id = v.id${asCached}`))
    if (checks) statements.push(changesCheck(db, touched.length))
  }
  if (inserted.length) statements.push(insertJson(db, alerts, ALERT_KEYS, inserted))
  for (const { keys, rows: list } of updated.values()) statements.push(updateJson(db, alerts, keys, list))
  if (events.length) statements.push(insertJson(db, alertEvents, [...EVENT_KEYS], events))
  await db.batch([...statements, ...extra, ...insertRows(db, rows)] as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]])
  remember()
  return out
}
