/**
 * The alert lifecycle: the one place where alerts change state. Every source (rules, the generic
 * API, the receivers for Alertmanager, Grafana and Uptime Kuma) reports through `reportAlert`;
 * people act through `acknowledgeAlert`, `unacknowledgeAlert` and `resolveAlert`. Each change is
 * one atomic batch: the alert row, its events, and whatever the registered hooks add (the
 * notification outbox writes its rows here, in the same batch as the state change).
 */
import { eq, getTableColumns, inArray, sql } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
import type { Db } from '../../../db/client.ts'
import { alertEvents, alerts, type Alert, type AlertEventType, type Severity } from '../../../db/schema/alerts.ts'
import { sha256 } from '../../lib/crypto.ts'
import { AppError, notFound } from '../../lib/errors.ts'
import { newId } from '../../lib/ids.ts'
import { canonicalLabels } from '../metrics/store.ts'

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

export type ReportResult = { alert: Alert | null; change: 'created' | 'pending' | 'fired' | 'repeated' | 'resolved' | 'none' }

/** The fingerprint of a rule's alert: the rule id and the alert's own (sorted) labels. */
export const ruleFingerprint = (ruleId: string, labels: Record<string, string>) => sha256(`rule\u0000${ruleId}\u0000${JSON.stringify(canonicalLabels(labels))}`).slice(0, 32)

/** The fingerprint of a received alert: its sender's labels, sorted (as Alertmanager does). */
export const labelsFingerprint = (labels: Record<string, string>) => sha256(`labels\u0000${JSON.stringify(canonicalLabels(labels))}`).slice(0, 32)

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

/**
 * Reports many alerts (a receiver's delivery) as ONE atomic batch: the same results as
 * `reportAlert` for each in order (several reports of one fingerprint apply one after another),
 * with one read of the alerts and one commit instead of one of each per alert. When another
 * instance created one of the fingerprints meanwhile, nothing is written and they apply one by one.
 */
export function reportAlerts(deps: LifecycleDeps, reports: AlertReport[], at = Date.now()): Promise<ReportResult[]> {
  if (reports.length === 1) return reportAlert(deps, reports[0]!, at).then((r) => [r])
  if (!reports.length) return Promise.resolve([])
  return serializedAll(reports.map((r) => r.fingerprint), async () => {
    try {
      return await reportBatch(deps, reports, at)
    } catch (error) {
      if (!uniqueFingerprint(error)) throw error
    }
    const results: ReportResult[] = []
    for (const r of reports) results.push(await reportOne(deps, r, at))
    return results
  })
}

// Every column but the key, set from the row an upsert tried to insert.
const upsertSet = Object.fromEntries(
  Object.entries(getTableColumns(alerts))
    .filter(([key]) => key !== 'id')
    .map(([key, col]) => [key, sql.raw(`excluded."${col.name}"`)]),
)

/**
 * One read of the alerts, then per report (in order) the next state and what the hooks add; then
 * one batch: every changed alert's final row in one upsert, every event in one insert, and the
 * hooks' statements after them (they refer to the rows).
 */
async function reportBatch(deps: LifecycleDeps, reports: AlertReport[], at: number): Promise<ReportResult[]> {
  const { db } = deps
  const rows = await db.select().from(alerts).where(inArray(alerts.fingerprint, [...new Set(reports.map((r) => r.fingerprint))]))
  const current = new Map<string, Alert | null>(rows.map((a) => [a.fingerprint, a]))
  const changed = new Map<string, Alert>()
  const events: (typeof alertEvents.$inferInsert)[] = []
  const extra: BatchItem<'sqlite'>[] = []
  const results: ReportResult[] = []
  for (const r of reports) {
    const before = current.get(r.fingerprint) ?? null
    const next = nextState(before, r, at)
    if (!next) {
      results.push({ alert: before, change: 'none' })
      continue
    }
    const t: Transition = { before, after: next.after, events: next.events, at }
    // The transition's own events; events a hook adds (silenced) come with its own statements.
    events.push(...t.events.map((e) => ({ alertId: t.after.id, ts: at, type: e.type, actor: e.actor, detail: e.detail ?? {} })))
    for (const hook of deps.hooks ?? []) extra.push(...(await hook(db, t)))
    current.set(r.fingerprint, t.after)
    changed.set(r.fingerprint, t.after)
    results.push({ alert: t.after, change: next.change })
  }
  if (!changed.size) return results
  const statements: BatchItem<'sqlite'>[] = []
  const list = [...changed.values()]
  for (let i = 0; i < list.length; i += 500) statements.push(db.insert(alerts).values(list.slice(i, i + 500)).onConflictDoUpdate({ target: alerts.id, set: upsertSet }))
  for (let i = 0; i < events.length; i += 1000) statements.push(db.insert(alertEvents).values(events.slice(i, i + 1000)))
  await db.batch([...statements, ...extra] as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]])
  return results
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
