/**
 * The alert lifecycle: the one place where alerts change state. Every source (rules, the generic
 * API, the receivers for Alertmanager, Grafana and Uptime Kuma, healing) reports through the
 * alerts service (../service.ts); people act through its acknowledge, unacknowledge and resolve.
 * Each change is one atomic batch: the alert row, its events, and whatever the registered hooks
 * add (the notification outbox writes its rows here, in the same batch as the state change).
 *
 * This file holds the shared types, fingerprints, the per-fingerprint turns and the single report;
 * the group commit of many reports is the intake's (../intake/), and people's actions
 * (acknowledge, unacknowledge, resolve, silence) are in lifecycle-actions.ts.
 */
import { eq, sql } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
import type { SQLiteTable } from 'drizzle-orm/sqlite-core'
import { clientWriteTransaction, type Db } from '../../../../db/client.ts'
import {
  alertEvents,
  alerts,
  type Alert,
  type AlertEventType,
  type Severity,
  storedAlert,
} from '../../../../db/schema/alerts.ts'
import { sha256 } from '../../../lib/crypto.ts'
import { isUniqueViolation } from '../../../lib/db-errors.ts'
import { newId } from '../../../lib/ids.ts'
import { canonicalLabels } from '../../metrics/index.ts'

export type EventInput = { type: AlertEventType; actor: string; detail?: Record<string, unknown> }

/** A state change about to be written: the alert before and after, and the events it records. */
export type Transition = { before: Alert | null; after: Alert; events: EventInput[]; at: number }

/** Extra statements to write in the same batch as a transition (e.g. notification outbox rows). */
export type TransitionHook = (
  db: Db,
  t: Transition,
) => readonly BatchItem<'sqlite'>[] | Promise<readonly BatchItem<'sqlite'>[]>
/** What a hook answers when it adds nothing (most reports): one shared list, not one made each time. */
export const NO_STATEMENTS: readonly BatchItem<'sqlite'>[] = Object.freeze([])

/**
 * One alerts service's lifecycle: its database, the hooks every change runs (in order), its
 * per-fingerprint turns, and what the intake (intake/) needs of a change written one at a time,
 * outside its group commit: `forget` drops its cached copy (the next group reads the alert afresh),
 * `foldRepeats` is the statement that drops the alert's pending repeats once the row written holds
 * them (the alert is read as it stands, see `storedAlert`). Made once per service.
 */
export type LifecycleDeps = {
  db: Db
  hooks: readonly TransitionHook[]
  turns: Turns
  forget: (fingerprint: string) => void
  foldRepeats: (alertId: string) => BatchItem<'sqlite'>
  /**
   * Hears the alerts whose change recorded events (created, fired, acknowledged, resolved…) once it
   * has COMMITTED: a page refreshed on it reads the new state. A hook runs before the commit, so the
   * live feed told from a hook raced the commit and lost under load (the page read the old list).
   */
  changed?: (alertIds: readonly string[]) => void
}

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

/** A row for `table`, written in the same transaction as the alerts it goes with (an audit row). */
export type TableRow = { table: SQLiteTable; row: Record<string, unknown> }

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

export type ReportResult = {
  alert: Alert | null
  change: 'created' | 'pending' | 'fired' | 'repeated' | 'resolved' | 'none' | 'stale'
}

/** The fingerprint of a rule's alert: the rule id and the alert's own (sorted) labels. */
export const ruleFingerprint = (ruleId: string, labels: Record<string, string>) =>
  sha256(`rule\u0000${ruleId}\u0000${canonicalText(labels)}`).slice(0, 32)

/**
 * `JSON.stringify(canonicalLabels(labels))` (the text every stored fingerprint was made from), written
 * out directly: no entries array, no object rebuilt, no sort when the names come sorted (Prometheus
 * sends them so), and names and values that need no escaping written between quotes as they are
 * (a `JSON.stringify` call per name and value was most of this function). It runs for every alert
 * received, on every order (ADR 0013). A name that starts with a digit may be an array index, which
 * an object puts first whatever the sort: those sets (and values that are not text) take the
 * original path.
 */
export function canonicalText(labels: Record<string, string>): string {
  const names: string[] = []
  for (const k in labels) {
    if (!Object.hasOwn(labels, k)) continue
    const c = k.charCodeAt(0)
    const value = labels[k]
    if ((c >= 48 && c <= 57) || typeof value !== 'string') return JSON.stringify(canonicalLabels(labels))
    if (value === '') continue
    // Sorted as they come (insertion: a label set is small, and usually sorted already): `<` compares
    // UTF-16 code units, as canonicalLabels' comparator does. Names of an object are never equal.
    let i = names.length
    names.push(k)
    while (i > 0 && names[i - 1]! > k) {
      names[i] = names[i - 1]!
      i--
    }
    names[i] = k
  }
  let text = '{'
  for (let i = 0; i < names.length; i++) {
    const k = names[i]!
    const v = labels[k]!
    text += `${i ? ',' : ''}${jsonString(k)}:${jsonString(v)}`
  }
  return `${text}}`
}
/** `JSON.stringify(s)` for a string: between quotes as it is when nothing in it needs escaping. */
const jsonString = (s: string) => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`)
// Quote, backslash, control characters (escaped by JSON.stringify) and surrogates (a lone one is
// escaped; a pair is not, but is rare enough in labels to take the slow path).
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what JSON must escape
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/

/**
 * The fingerprint of a received alert: its sender's labels, sorted (as Alertmanager does), after
 * `prefix` (the source, e.g. `prometheus:`). Pure, and worked out for every alert received. There is
 * no memo of it: one (of the last 16 384 label sets) saved a little on the bench's own order and
 * cost more than it saved whenever the label sets outnumbered it in any other order; with the
 * canonical text written out directly the fingerprint is cheap on every order (ADR 0013).
 */
export const labelsFingerprint = (labels: Record<string, string>, prefix = '') =>
  prefix + sha256(`labels\u0000${canonicalText(labels)}`).slice(0, 32)

export type LabelsFingerprint = typeof labelsFingerprint

// Reports for one fingerprint are applied one after another, so counts and transitions never race.
// A single report's turn (`serialized`) is kept per fingerprint until it ends; a group's turn
// (`serializedAll`) is kept once with the list of its fingerprints, not a map entry per
// fingerprint: a group commit takes hundreds, and with no single turn under way (nearly always)
// it then looks up nothing at all. A single report scans the few groups in flight instead.
// The turns belong to one alerts service (another instance on the same database has its own,
// like a second server: its conflicts are found by the database, see intake/).
export type Turns = ReturnType<typeof createTurns>

export function createTurns() {
  const singles = new Map<string, Promise<unknown>>()
  type GroupTurn = { keys: string[]; tail: Promise<unknown> }
  const groupTurns = new Set<GroupTurn>()

  function serialized<T>(key: string, run: () => Promise<T>): Promise<T> {
    const waits: Promise<unknown>[] = []
    const single = singles.get(key)
    if (single) waits.push(single)
    for (const g of groupTurns) if (g.keys.includes(key)) waits.push(g.tail)
    const next = Promise.all(waits).then(run, run)
    const tail = next.catch(() => undefined)
    singles.set(key, tail)
    void tail.then(() => {
      if (singles.get(key) === tail) singles.delete(key)
    })
    return next
  }

  // Waits for the turn of every key at once (registered synchronously, so two callers never wait on
  // each other). Turns in `pipeline` are not waited for (the group commit's own earlier groups, which
  // are ordered by it), and this call's turn is added to it until it ends. Keys may repeat; nothing is
  // made per key (a group commit calls this with the fingerprint of every report it takes).
  function serializedAll<T>(keys: string[], run: () => Promise<T>, pipeline?: Set<Promise<unknown>>): Promise<T> {
    const waits: Promise<unknown>[] = []
    if (singles.size) {
      for (const k of keys) {
        const p = singles.get(k)
        if (p) waits.push(p)
      }
    }
    // Groups taken outside the pipeline: those sharing a key.
    let mine: Set<string> | undefined
    for (const g of groupTurns) {
      if (pipeline?.has(g.tail)) continue
      mine ??= new Set(keys)
      if (g.keys.some((k) => mine!.has(k))) waits.push(g.tail)
    }
    const next = (waits.length ? Promise.all(waits) : Promise.resolve()).then(run, run)
    const tail = next.catch(() => undefined)
    const turn = { keys, tail }
    groupTurns.add(turn)
    pipeline?.add(tail)
    void tail.then(() => {
      groupTurns.delete(turn)
      pipeline?.delete(tail)
    })
    return next
  }

  return { serialized, serializedAll }
}

/** The statements of one transition: the alert row, its events, `rows` (its audit row), and what the hooks add. */
async function statementsFor(deps: LifecycleDeps, t: Transition, insert: boolean, rows: readonly TableRow[]) {
  const { db } = deps
  const row = t.after
  // An update writes the row as it stands (count, last seen): its pending repeats are in it now.
  const main = insert
    ? [db.insert(alerts).values(row)]
    : [db.update(alerts).set(row).where(eq(alerts.id, row.id)), deps.foldRepeats(row.id)]
  const events = t.events.length
    ? [
        db
          .insert(alertEvents)
          .values(
            t.events.map((e) => ({ alertId: row.id, ts: t.at, type: e.type, actor: e.actor, detail: e.detail ?? {} })),
          ),
      ]
    : []
  const extra: BatchItem<'sqlite'>[] = rows.map((r) => db.insert(r.table).values(r.row))
  for (const hook of deps.hooks) {
    const added = hook(db, t)
    extra.push(...(Array.isArray(added) ? added : await added))
  }
  return [...main, ...events, ...extra] as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]]
}

/**
 * What decides an alert's next state, as one string: its update time, status, repeat count (pending
 * repeats included), silenced flag and rule. A write made from a row read earlier is refused unless
 * the row still has this state (`rowGuard`; the intake's cache check compares the same, see
 * ../intake/alert-cache.ts). A new column that decides a next state belongs here and in both SQL texts.
 */
export const alertState = (a: Alert) =>
  `${a.updatedAt}|${a.status}|${a.repeatCount}|${a.silenced ? 1 : 0}|${a.ruleId ?? ''}`

/**
 * The first statement of a write made from `before` (read earlier): it fails (SQLite's "malformed
 * JSON", like the intake's cache check, so the whole batch rolls back: row, events, outbox, audit)
 * unless the alert still stands as read. Another instance's (or connection's) acknowledge, resolve
 * or repeats in between are never overwritten: the write is worked out again from a fresh read.
 * It rides in the batch already sent, so it costs no round trip.
 */
const rowGuard = (db: Db, before: Alert) =>
  db.run(sql`select case when (select max(a.updated_at, coalesce(r.updated_at, 0)) || '|' || a.status || '|' || (a.repeat_count + coalesce(r.n, 0)) || '|' || a.silenced || '|' || coalesce(a.rule_id, '')
    from alerts a left join alert_repeats r on r.alert_id = a.id where a.id = ${before.id}) = ${alertState(before)} then 1 else json('stale alert row') end`)

/** Whether a write was refused because the alert changed since it was read (`rowGuard`). */
export const staleRow = (error: unknown) =>
  /malformed JSON|stale alert/i.test(
    `${String((error as Error)?.message ?? error)} ${String(((error as Error)?.cause as Error | undefined)?.message ?? '')}`,
  )

/** How many times a single write is worked out again after the alert changed under it. */
export const WRITE_ATTEMPTS = 8

/**
 * Writes a transition in one batch; `rows` (an audit row) commit or roll back with it. An update
 * is conditional on `t.before` still being stored (`rowGuard`); a refusal throws (see `staleRow`)
 * and the caller works the change out again from a fresh read.
 */
export async function write(deps: LifecycleDeps, t: Transition, insert: boolean, rows: readonly TableRow[] = []) {
  // Changed one at a time: the group commit reads it afresh next time.
  deps.forget(t.after.fingerprint)
  const statements = await statementsFor(deps, t, insert, rows)
  // BEGIN IMMEDIATE on the client's connection (see `clientWriteTransaction`): the guard reads first.
  await clientWriteTransaction(deps.db, insert || !t.before ? statements : [rowGuard(deps.db, t.before), ...statements])
  if (t.events.length) deps.changed?.([t.after.id])
  return t.after
}

export const uniqueFingerprint = (error: unknown) => isUniqueViolation(error, 'alerts.fingerprint')

export const find = async (db: Db, fingerprint: string) =>
  (await db.select(storedAlert).from(alerts).where(eq(alerts.fingerprint, fingerprint)).limit(1))[0] ?? null

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

// Values of a row: equal, or flat objects (labels, annotations) with the same entries. No arrays
// are made: this runs for every column of every changed alert.
export const sameValue = (a: unknown, b: unknown): boolean => {
  if (a === b) return true
  if (!a || !b || typeof a !== 'object' || typeof b !== 'object') return false
  let n = 0
  for (const k in a) {
    if ((a as Record<string, unknown>)[k] !== (b as Record<string, unknown>)[k]) return false
    n++
  }
  for (const _ in b) n--
  return n === 0
}
// The stored alert's own value where the report's is the same: the cache then keeps holding the
// values it had instead of each request's copies (which, once a long-lived cache holds them, only
// a full collection reclaims: at intake rates that grew the heap fast between collections, ADR 0006).
const kept = <T>(stored: T | undefined, reported: T): T =>
  stored !== undefined && sameValue(stored, reported) ? stored : reported

/**
 * A copy of a row as one object literal of every column (TypeScript fails here if one is missing):
 * cheaper than `{ ...a }`, which adds the columns one at a time to an object that then keeps them
 * out of line, and it is made for every report of an alert.
 */
const copyAlert = (a: Alert): Alert => ({
  id: a.id,
  fingerprint: a.fingerprint,
  ruleId: a.ruleId,
  source: a.source,
  title: a.title,
  status: a.status,
  silenced: a.silenced,
  severity: a.severity,
  labels: a.labels,
  annotations: a.annotations,
  value: a.value,
  startsAt: a.startsAt,
  activeAt: a.activeAt,
  endsAt: a.endsAt,
  lastSeenAt: a.lastSeenAt,
  repeatCount: a.repeatCount,
  ackBy: a.ackBy,
  ackAt: a.ackAt,
  resolvedBy: a.resolvedBy,
  resolvedAt: a.resolvedAt,
  createdAt: a.createdAt,
  updatedAt: a.updatedAt,
})

/** A copy of the stored alert with what the report says of it (title, severity, labels, annotations, value) as of `at`. */
function reported(before: Alert, r: AlertReport, at: number): Alert {
  const a = copyAlert(before)
  a.title = kept(before.title, r.title)
  a.severity = kept(before.severity, r.severity)
  a.labels = kept(before.labels, r.labels)
  a.annotations = kept(before.annotations, r.annotations ?? before.annotations)
  a.value = r.value ?? before.value
  a.updatedAt = at
  return a
}

const valueDetail = (r: AlertReport) => (r.value !== undefined && r.value !== null ? { value: r.value } : {})

/** Works out the next row and events for a report, or null when nothing changes. Pure. */
export function nextState(
  before: Alert | null,
  r: AlertReport,
  at: number,
): { after: Alert; events: EventInput[]; change: ReportResult['change'] } | null {
  const actor = r.actor ?? r.source
  if (r.state === 'resolved') {
    if (!before || before.status === 'resolved') return null
    const after = reported(before, r, at)
    after.status = 'resolved'
    after.endsAt = r.endsAt ?? at
    after.resolvedBy = actor
    after.resolvedAt = at
    return {
      after,
      events: [{ type: 'resolved', actor, detail: { ...valueDetail(r), from: before.status } }],
      change: 'resolved',
    }
  }
  if (!before || before.status === 'resolved') {
    // New, or back after it resolved: the same row starts over; the history stays in its events.
    let after: Alert
    if (before) {
      after = reported(before, r, at)
      after.ackBy = after.ackAt = after.resolvedBy = after.resolvedAt = after.endsAt = null
      after.activeAt = r.startsAt ?? at
      after.lastSeenAt = at
    } else after = fresh(r, at)
    const events: EventInput[] = before ? [] : [{ type: 'created', actor, detail: { source: r.source } }]
    if (r.state === 'pending') {
      after.status = 'pending'
      after.startsAt = null
      after.repeatCount = 0
      events.push({ type: 'pending', actor, detail: { ...valueDetail(r), reopened: !!before } })
      return { after, events, change: before ? 'pending' : 'created' }
    }
    after.status = 'firing'
    after.startsAt = r.startsAt ?? at
    after.repeatCount = 1
    events.push({ type: 'fired', actor, detail: { ...valueDetail(r), reopened: !!before } })
    return { after, events, change: before ? 'fired' : 'created' }
  }
  const after = reported(before, r, at)
  after.lastSeenAt = at
  if (before.status === 'pending') {
    if (r.state === 'pending') return { after, events: [], change: 'none' }
    after.status = 'firing'
    after.startsAt = r.startsAt ?? at
    after.repeatCount = 1
    return {
      after,
      events: [
        { type: 'fired', actor, detail: { ...valueDetail(r), pendingSince: new Date(before.activeAt).toISOString() } },
      ],
      change: 'fired',
    }
  }
  // Firing or acknowledged: a repeat. It keeps its state (an acknowledged alert stays acknowledged).
  after.repeatCount = before.repeatCount + 1
  return {
    after,
    events: r.quietRepeat ? [] : [{ type: 'repeated', actor, detail: { ...valueDetail(r), count: after.repeatCount } }],
    change: 'repeated',
  }
}

/** Rows written in the same transaction as a report's change, from its result (the request's audit row). */
export type RowsOf = (result: ReportResult) => readonly TableRow[]

/**
 * Reports an alert's state by fingerprint: creates it, moves it on (pending → firing), counts a
 * repeat (count, last value, last seen; never a second alert), or resolves it. `rows` are written
 * with the change (nothing is written when nothing changes).
 */
export function reportAlert(
  deps: LifecycleDeps,
  r: AlertReport,
  at = Date.now(),
  rows?: RowsOf,
): Promise<ReportResult> {
  return deps.turns.serialized(r.fingerprint, () => reportOne(deps, r, at, rows))
}

/** `reportAlert` without the queue (the caller holds the fingerprint's turn). */
export async function reportOne(deps: LifecycleDeps, r: AlertReport, at: number, rows?: RowsOf): Promise<ReportResult> {
  for (let attempt = 0; ; attempt++) {
    const before = await find(deps.db, r.fingerprint)
    const next = nextState(before, r, at)
    if (!next) return { alert: before, change: 'none' as const }
    const result: ReportResult = { alert: next.after, change: next.change }
    try {
      await write(deps, { before, after: next.after, events: next.events, at }, !before, rows?.(result))
      return result
    } catch (error) {
      // Another instance created the same fingerprint first, or changed the alert since it was
      // read: apply this report to the row as it now stands (bounded: a report never spins).
      if (attempt + 1 < WRITE_ATTEMPTS && ((!before && uniqueFingerprint(error)) || (before && staleRow(error))))
        continue
      throw error
    }
  }
}
