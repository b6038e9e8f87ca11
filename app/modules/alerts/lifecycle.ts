/**
 * The alert lifecycle: the one place where alerts change state. Every source (rules, the generic
 * API, the receivers for Alertmanager, Grafana and Uptime Kuma) reports through `reportAlert`;
 * people act through `acknowledgeAlert`, `unacknowledgeAlert` and `resolveAlert`. Each change is
 * one atomic batch: the alert row, its events, and whatever the registered hooks add (the
 * notification outbox writes its rows here, in the same batch as the state change).
 */
import { and, desc, eq, getTableColumns, getTableName, inArray, sql } from 'drizzle-orm'
import type { SQLiteTable } from 'drizzle-orm/sqlite-core'
import type { BatchItem } from 'drizzle-orm/batch'
import type { Db } from '../../../db/client.ts'
import { alertEvents, alerts, type Alert, type AlertEventType, type Severity } from '../../../db/schema/alerts.ts'
import { sha256 } from '../../lib/crypto.ts'
import { AppError, notFound } from '../../lib/errors.ts'
import { newId } from '../../lib/ids.ts'
import { canonicalLabels } from '../metrics/store.ts'
import { alertCacheOf, cacheCheck, cachedState, changesCheck, isStaleCache, type AlertCache } from './alert-cache.ts'

export type EventInput = { type: AlertEventType; actor: string; detail?: Record<string, unknown> }

/** A state change about to be written: the alert before and after, and the events it records. */
export type Transition = { before: Alert | null; after: Alert; events: EventInput[]; at: number }

/** Extra statements to write in the same batch as a transition (e.g. notification outbox rows). */
export type TransitionHook = (db: Db, t: Transition) => BatchItem<'sqlite'>[] | Promise<BatchItem<'sqlite'>[]>

export type LifecycleDeps = { db: Db; hooks?: TransitionHook[] }

export type AlertReport = {
  fingerprint: string
  source: string
  ruleId?: string | null
  state: 'pending' | 'firing' | 'resolved'
  severity: Severity
  title: string
  labels: Record<string, string>
  annotations?: Record<string, string>
  value?: number | null
  /** Who reports (for the events); defaults to the source. */
  actor?: string
  /** When the sender says it started / ended; defaults to `at`. */
  startsAt?: number
  endsAt?: number
  /** Repeats update the alert without writing a `repeated` event (rule evaluation every few seconds). */
  quietRepeat?: boolean
}

export type ReportResult = { alert: Alert | null; change: 'created' | 'pending' | 'fired' | 'repeated' | 'resolved' | 'none' | 'stale' }

/** The fingerprint of a rule's alert: the rule id and the alert's own (sorted) labels. */
export const ruleFingerprint = (ruleId: string, labels: Record<string, string>) => sha256(`rule\u0000${ruleId}\u0000${JSON.stringify(canonicalLabels(labels))}`).slice(0, 32)

/** The fingerprint of a received alert: its sender's labels, sorted (as Alertmanager does). */
export function labelsFingerprint(labels: Record<string, string>) {
  // Senders repeat the same label sets (in the same order): remember the last few thousand.
  const key = JSON.stringify(labels)
  let fp = fingerprints.get(key)
  if (fp === undefined) {
    fp = sha256(`labels\u0000${JSON.stringify(canonicalLabels(labels))}`).slice(0, 32)
    if (fingerprints.size >= FINGERPRINT_CACHE) fingerprints.delete(fingerprints.keys().next().value!)
    fingerprints.set(key, fp)
  }
  return fp
}
const FINGERPRINT_CACHE = 16_384
const fingerprints = new Map<string, string>()

// Reports for one fingerprint are applied one after another, so counts and transitions never race.
const queues = new Map<string, Promise<unknown>>()
function serialized<T>(key: string, run: () => Promise<T>): Promise<T> {
  const prev = queues.get(key) ?? Promise.resolve()
  const next = prev.then(run, run)
  const tail = next.catch(() => undefined)
  queues.set(key, tail)
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key)
  })
  return next
}

/** The statements of one transition: the alert row, its events, and what the hooks add. */
async function statementsFor(deps: LifecycleDeps, t: Transition, insert: boolean) {
  const { db } = deps
  const row = t.after
  const main = insert ? db.insert(alerts).values(row) : db.update(alerts).set(row).where(eq(alerts.id, row.id))
  const events = t.events.length ? [db.insert(alertEvents).values(t.events.map((e) => ({ alertId: row.id, ts: t.at, type: e.type, actor: e.actor, detail: e.detail ?? {} })))] : []
  const extra: BatchItem<'sqlite'>[] = []
  for (const hook of deps.hooks ?? []) extra.push(...(await hook(db, t)))
  return [main, ...events, ...extra] as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]
}

async function write(deps: LifecycleDeps, t: Transition, insert: boolean) {
  // Changed one at a time: the group commit reads it afresh next time.
  alertCacheOf(deps.db).delete(t.after.fingerprint)
  await deps.db.batch(await statementsFor(deps, t, insert))
  return t.after
}

const uniqueFingerprint = (error: unknown) => /UNIQUE constraint failed: alerts\.fingerprint/.test(`${String((error as Error)?.message ?? error)} ${String(((error as Error)?.cause as Error | undefined)?.message ?? '')}`)

const find = async (db: Db, fingerprint: string) => (await db.select().from(alerts).where(eq(alerts.fingerprint, fingerprint)).limit(1))[0] ?? null

function fresh(r: AlertReport, at: number): Alert {
  return {
    id: newId(at),
    fingerprint: r.fingerprint,
    ruleId: r.ruleId ?? null,
    source: r.source,
    title: r.title,
    status: 'pending',
    silenced: false,
    severity: r.severity,
    labels: r.labels,
    annotations: r.annotations ?? {},
    value: r.value ?? null,
    startsAt: null,
    activeAt: r.startsAt ?? at,
    endsAt: null,
    lastSeenAt: at,
    repeatCount: 0,
    ackBy: null,
    ackAt: null,
    resolvedBy: null,
    resolvedAt: null,
    createdAt: at,
    updatedAt: at,
  }
}

/** Works out the next row and events for a report, or null when nothing changes. Pure. */
export function nextState(before: Alert | null, r: AlertReport, at: number): { after: Alert; events: EventInput[]; change: ReportResult['change'] } | null {
  const actor = r.actor ?? r.source
  const detail = r.value !== undefined && r.value !== null ? { value: r.value } : {}
  const details = { title: r.title, severity: r.severity, labels: r.labels, annotations: r.annotations ?? before?.annotations ?? {}, value: r.value ?? before?.value ?? null, updatedAt: at }
  if (r.state === 'resolved') {
    if (!before || before.status === 'resolved') return null
    const after = { ...before, ...details, status: 'resolved' as const, endsAt: r.endsAt ?? at, resolvedBy: actor, resolvedAt: at }
    return { after, events: [{ type: 'resolved', actor, detail: { ...detail, from: before.status } }], change: 'resolved' }
  }
  const open = before && before.status !== 'resolved' ? before : null
  if (!open) {
    // New, or back after it resolved: the same row starts over; the history stays in its events.
    const base = before ? { ...before, ackBy: null, ackAt: null, resolvedBy: null, resolvedAt: null, endsAt: null, repeatCount: 0, activeAt: r.startsAt ?? at, lastSeenAt: at } : fresh(r, at)
    const events: EventInput[] = before ? [] : [{ type: 'created', actor, detail: { source: r.source } }]
    if (r.state === 'pending') return { after: { ...base, ...details, status: 'pending', startsAt: null }, events: [...events, { type: 'pending', actor, detail: { ...detail, reopened: !!before } }], change: before ? 'pending' : 'created' }
    const after = { ...base, ...details, status: 'firing' as const, startsAt: r.startsAt ?? at, repeatCount: 1 }
    return { after, events: [...events, { type: 'fired', actor, detail: { ...detail, reopened: !!before } }], change: before ? 'fired' : 'created' }
  }
  if (open.status === 'pending') {
    if (r.state === 'pending') return { after: { ...open, ...details, lastSeenAt: at }, events: [], change: 'none' }
    const after = { ...open, ...details, status: 'firing' as const, startsAt: r.startsAt ?? at, lastSeenAt: at, repeatCount: 1 }
    return { after, events: [{ type: 'fired', actor, detail: { ...detail, pendingSince: new Date(open.activeAt).toISOString() } }], change: 'fired' }
  }
  // Firing or acknowledged: a repeat. It keeps its state (an acknowledged alert stays acknowledged).
  const after = { ...open, ...details, lastSeenAt: at, repeatCount: open.repeatCount + 1 }
  return { after, events: r.quietRepeat ? [] : [{ type: 'repeated', actor, detail: { ...detail, count: after.repeatCount } }], change: 'repeated' }
}

/**
 * Reports an alert's state by fingerprint: creates it, moves it on (pending → firing), counts a
 * repeat (count, last value, last seen; never a second alert), or resolves it.
 */
export function reportAlert(deps: LifecycleDeps, r: AlertReport, at = Date.now()): Promise<ReportResult> {
  return serialized(r.fingerprint, () => reportOne(deps, r, at))
}

/** `reportAlert` without the queue (the caller holds the fingerprint's turn). */
async function reportOne(deps: LifecycleDeps, r: AlertReport, at: number): Promise<ReportResult> {
  for (let attempt = 0; ; attempt++) {
    const before = await find(deps.db, r.fingerprint)
    const next = nextState(before, r, at)
    if (!next) return { alert: before, change: 'none' as const }
    try {
      return { alert: await write(deps, { before, after: next.after, events: next.events, at }, !before), change: next.change }
    } catch (error) {
      // Another instance created the same fingerprint first: apply this report to its row.
      if (!before && attempt === 0 && uniqueFingerprint(error)) continue
      throw error
    }
  }
}

// Waits for the turn of every key at once (registered synchronously, so two callers never wait on each other).
function serializedAll<T>(keys: string[], run: () => Promise<T>): Promise<T> {
  const unique = [...new Set(keys)]
  const next = Promise.all(unique.map((k) => queues.get(k))).then(run, run)
  const tail = next.catch(() => undefined)
  for (const k of unique) queues.set(k, tail)
  void tail.then(() => {
    for (const k of unique) if (queues.get(k) === tail) queues.delete(k)
  })
  return next
}

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

async function act(deps: LifecycleDeps, id: string, at: number, change: (a: Alert) => { after: Alert; event: EventInput } | null) {
  const found = (await deps.db.select({ fingerprint: alerts.fingerprint }).from(alerts).where(eq(alerts.id, id)).limit(1))[0]
  if (!found) throw notFound('Alert')
  return serialized(found.fingerprint, async () => {
    const before = (await find(deps.db, found.fingerprint))!
    const next = change(before)
    if (!next) return before // nothing to change
    return write(deps, { before, after: { ...next.after, updatedAt: at }, events: [next.event], at }, false)
  })
}

const refuse = (message: string) => new AppError(409, 'conflict', message)

/** A firing alert becomes acknowledged: someone is on it. */
export const acknowledgeAlert = (deps: LifecycleDeps, id: string, actor: string, at = Date.now()) =>
  act(deps, id, at, (a) => {
    if (a.status !== 'firing') throw refuse(`Only a firing alert can be acknowledged; this one is ${a.status}`)
    return { after: { ...a, status: 'acknowledged', ackBy: actor, ackAt: at }, event: { type: 'acked', actor } }
  })

/** An acknowledged alert goes back to firing. */
export const unacknowledgeAlert = (deps: LifecycleDeps, id: string, actor: string, at = Date.now()) =>
  act(deps, id, at, (a) => {
    if (a.status !== 'acknowledged') throw refuse(`Only an acknowledged alert can be unacknowledged; this one is ${a.status}`)
    return { after: { ...a, status: 'firing', ackBy: null, ackAt: null }, event: { type: 'unacked', actor, detail: { ackBy: a.ackBy } } }
  })

/** Resolves an open alert by hand. A rule whose condition still holds fires it again at its next evaluation. */
export const resolveAlert = (deps: LifecycleDeps, id: string, actor: string, at = Date.now(), reason = 'manual') =>
  act(deps, id, at, (a) => {
    if (a.status === 'resolved') throw refuse('The alert is already resolved')
    return { after: { ...a, status: 'resolved', endsAt: at, resolvedBy: actor, resolvedAt: at }, event: { type: 'resolved', actor, detail: { reason, from: a.status } } }
  })

/**
 * Sets or clears an alert's `silenced` flag, with a `silenced` or `unsilenced` event, through the
 * hooks like any other change (the silences job calls it as silences start and end). The outbox
 * sees `before.silenced !== after.silenced`; an `unsilenced` alert that is still firing is
 * notified then. Nothing is written when the flag already is so.
 */
export const setSilenced = (deps: LifecycleDeps, id: string, silenced: boolean, actor: string, at = Date.now(), detail: Record<string, unknown> = {}) =>
  act(deps, id, at, (a) => {
    if (a.silenced === silenced) return null
    return { after: { ...a, silenced }, event: { type: silenced ? 'silenced' : 'unsilenced', actor, detail: { ...detail, status: a.status } } }
  })
