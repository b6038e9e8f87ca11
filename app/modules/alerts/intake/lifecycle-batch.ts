/**
 * The group commit of the alert lifecycle: `reportAlerts` applies many reports (a receiver's
 * delivery, a rule evaluation) with one read and one transaction, joining deliveries that arrive
 * together, with up to two groups in flight (one committing on the database's transaction thread,
 * the next worked out meanwhile). The results are those of `reportAlert` (../lifecycle/lifecycle.ts)
 * for each in order. The statements themselves are built in batch-statements.ts.
 *
 * This folder (intake/) is the intake's fast path: only the alerts service (../service.ts) uses it,
 * through `createIntake`; nothing else knows of its cache, its filter or `alert_repeats`.
 */
import { eq, getTableColumns } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
import { lockerOf, transactionEpoch, writeTransaction } from '../../../../db/client.ts'
import type { LockedRead } from '../../../../db/locked-txn.ts'
import { toStatement, type TxnStatement } from '../../../../db/txn-thread.ts'
import { alertEvents, alertRepeats, alerts, type Alert, storedAlertJoined } from '../../../../db/schema/alerts.ts'
import { alertsQuery, createAlertsRead } from './read.ts'
import { FOLDED, insertJson, insertRows, insertRowsOf, REPEATS, updateJson } from './batch-statements.ts'
import { mayBeStale, resolvedBySender, retryLater, staleIn, staleOf } from './stale.ts'
import {
  cacheCheck,
  createAlertCache,
  createKnownFingerprints,
  isStaleCache,
  plainText,
  type AlertCache,
  type KnownFingerprints,
} from './alert-cache.ts'
import {
  find,
  nextState,
  reportOne,
  sameValue,
  uniqueFingerprint,
  type AlertReport,
  type LifecycleDeps,
  type ReportResult,
  type ReportsOptions,
  type TableRow,
  type Transition,
} from '../lifecycle/lifecycle.ts'

type Delivery = { reports: AlertReport[]; at: number; opts: ReportsOptions }
type Waiting = Delivery & { resolve: (r: ReportResult[]) => void; reject: (e: unknown) => void }

/** The most reports one group commit takes (a delivery is never split). */
const GROUP_MAX_REPORTS = 2000
/**
 * Groups in flight at once: while one commits on the database's transaction thread, the next is
 * worked out on this one and queued behind it. It starts once this many reports wait (or nothing
 * is in flight), so that groups stay large enough to be cheap to commit.
 */
const PIPELINE_DEPTH = 2
const GROUP_MIN_REPORTS = 150

type Pipeline = {
  waiting: Waiting[]
  running: boolean
  /** Wakes the drain when a delivery arrives. */
  wake?: () => void
  /** The turns (serializedAll) of the groups in flight. */
  turns: Set<Promise<unknown>>
  /** Resolves when the last group taken has been answered (or retried): groups are answered in order. */
  answered: Promise<void>
  /** Alerts resolved by groups not yet committed: whether by their sender (the stale guard reads it). */
  resolvedBySender: Map<string, boolean>
}

/** The lifecycle with the intake's own state: its alert cache and its known fingerprints. */
type IntakeDeps = LifecycleDeps & {
  cache: AlertCache
  known: (minCapacity?: number) => Promise<KnownFingerprints>
  /** The read of the alerts a group has not cached (read.ts). */
  readAlerts: (fingerprints: string[]) => Promise<Alert[]>
}

/**
 * The intake of one alerts service: its group commit (`reportAlerts`), its alert cache and known
 * fingerprints. A second service (another connection, another instance) has its own, like a second
 * server; what one changes, the other's checks find (see alert-cache.ts).
 */
export function createIntake(lifecycle: LifecycleDeps) {
  const deps: IntakeDeps = {
    ...lifecycle,
    cache: createAlertCache(),
    known: createKnownFingerprints(lifecycle.db),
    readAlerts: createAlertsRead(lifecycle.db),
  }
  const g: Pipeline = {
    waiting: [],
    running: false,
    turns: new Set(),
    answered: Promise.resolve(),
    resolvedBySender: new Map(),
  }
  return {
    reportAlerts: (reports: AlertReport[], at = Date.now(), opts: ReportsOptions = {}) =>
      reportAlerts(deps, g, reports, at, opts),
    /** Drops a cached alert (changed one at a time, outside the group commit). */
    forget: (fingerprint: string) => deps.cache.delete(fingerprint),
    /** The statement that drops an alert's pending repeats (its row, written whole, holds them now). */
    foldRepeats: (alertId: string) => lifecycle.db.delete(alertRepeats).where(eq(alertRepeats.alertId, alertId)),
    /** For the intake's own tests: the cache and the known fingerprints. */
    cache: deps.cache,
    known: deps.known,
  }
}

export type Intake = ReturnType<typeof createIntake>

/**
 * Reports many alerts (a receiver's delivery) atomically: the same results as `reportAlert` for
 * each in order (several reports of one fingerprint apply one after another), with one read of
 * the alerts and one commit instead of one of each per alert. Deliveries that arrive while a
 * commit is under way are applied together in the next one (a group commit: one read, one
 * transaction for all of them, each delivery still in arrival order); the promise resolves once
 * its delivery is committed. When the group fails, its deliveries are applied one by one, and
 * one delivery fails alone; when another instance created one of the fingerprints meanwhile, its
 * reports apply one by one.
 *
 * Groups are pipelined: the next group is worked out from the cached alerts as the group before
 * left them, before that one is committed, and its transaction checks those rows (see
 * alert-cache.ts). If the group before fails, so do the checks, and the next group is applied
 * again from a fresh read once the one before has been retried: the outcome is as if one by one.
 */
function reportAlerts(
  deps: IntakeDeps,
  g: Pipeline,
  reports: AlertReport[],
  at: number,
  opts: ReportsOptions,
): Promise<ReportResult[]> {
  if (!reports.length && !opts.rows) return Promise.resolve([])
  return new Promise<ReportResult[]>((resolve, reject) => {
    g.waiting.push({ reports, at, opts, resolve, reject })
    g.wake?.()
    if (g.running) return
    g.running = true
    // Let the deliveries that arrive in this turn of the event loop join the first commit.
    setTimeout(() => void drain(deps, g), 0)
  })
}

const waitingReports = (g: Pipeline) => g.waiting.reduce((n, d) => n + d.reports.length, 0)

async function drain(deps: IntakeDeps, g: Pipeline) {
  const inflight = new Set<Promise<unknown>>()
  try {
    while (g.waiting.length || inflight.size) {
      const ready =
        g.waiting.length > 0 &&
        inflight.size < PIPELINE_DEPTH &&
        (inflight.size === 0 || waitingReports(g) >= GROUP_MIN_REPORTS)
      if (!ready) {
        await new Promise<void>((wake) => {
          g.wake = wake
          for (const p of inflight) void p.then(() => wake())
        })
        g.wake = undefined
        continue
      }
      // With nothing in flight, half of what waits (when that is enough for two groups): the other
      // half is worked out while the first commits, and the pipeline stays full from then on.
      const waiting = waitingReports(g)
      const max =
        !inflight.size && waiting >= 2 * GROUP_MIN_REPORTS
          ? Math.min(GROUP_MAX_REPORTS, Math.ceil(waiting / 2))
          : GROUP_MAX_REPORTS
      let n = 0
      let size = 0
      while (n < g.waiting.length && (n === 0 || size + g.waiting[n]!.reports.length <= max))
        size += g.waiting[n++]!.reports.length
      const taken = g.waiting.splice(0, n)
      let workedOut!: () => void
      const ready2 = new Promise<void>((r) => (workedOut = r))
      const previous = g.answered
      let answered!: () => void
      g.answered = new Promise<void>((r) => (answered = r))
      const keys: string[] = []
      for (const d of taken) for (const r of d.reports) keys.push(r.fingerprint)
      const done = deps.turns.serializedAll(
        keys,
        () => commitGroup(deps, g, taken, workedOut, previous).finally(answered),
        g.turns,
      )
      inflight.add(done)
      void done.finally(() => {
        inflight.delete(done)
        if (!inflight.size) g.resolvedBySender.clear()
      })
      // The next group is worked out only from this one's results.
      await ready2
    }
  } finally {
    g.running = false
  }
}

/**
 * Works out a group (then `workedOut`), commits it, and answers its deliveries once the group
 * before has been answered; a group that failed is applied again as `reportBatch` does, then one
 * delivery at a time.
 */
async function commitGroup(
  deps: IntakeDeps,
  g: Pipeline,
  taken: Waiting[],
  workedOut: () => void,
  previous: Promise<void>,
) {
  let results: ReportResult[][] | undefined
  let failure: unknown
  try {
    results = await reportBatchWith(deps, taken, true, g.resolvedBySender, workedOut)
  } catch (error) {
    failure = error
  } finally {
    workedOut()
  }
  await previous
  if (results) return taken.forEach((d, i) => void d.resolve(results[i]!))
  try {
    const again = await againFromFreshRead(deps, taken, failure)
    return taken.forEach((d, i) => void d.resolve(again[i]!))
  } catch (error) {
    failure = error
  }
  if (taken.length === 1 && !uniqueFingerprint(failure)) return taken[0]!.reject(retryLater(failure))
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
        for (const r of d.reports)
          results.push(
            stale.has(r)
              ? { alert: await find(deps.db, r.fingerprint), change: 'stale' }
              : await reportOne(deps, r, d.at),
          )
        const extra = insertRows(d.opts.rows?.(results) ?? [])
        if (extra.length) await writeTransaction(deps.db, extra)
        d.resolve(results)
      }
    } catch (error) {
      d.reject(retryLater(error))
    }
  }
}

const ALERT_KEYS = Object.keys(getTableColumns(alerts)) as (keyof Alert)[]
const EVENT_KEYS = ['alertId', 'ts', 'type', 'actor', 'detail'] as const

// The columns a quiet repeat moves on (in alert_repeats); a row that differs from its stored self in these only is "touched".
const TOUCHED = new Set<keyof Alert>(['lastSeenAt', 'updatedAt', 'repeatCount'])
// The columns other than those of a quiet repeat.
const CHANGEABLE = ALERT_KEYS.filter((k) => k !== 'id' && !TOUCHED.has(k))

/**
 * One read of the alerts of every delivery, then per delivery and report (in order) the next
 * state and what the hooks add; then one transaction: new alerts, changed alerts' rows (one update
 * per set of changed columns), quiet repeats (their `alert_repeats` rows), every event, then the
 * hooks' statements (they refer to the rows) and the deliveries' rows (audit).
 */
async function reportBatch(deps: IntakeDeps, deliveries: Delivery[]): Promise<ReportResult[][]> {
  try {
    return await reportBatchWith(deps, deliveries)
  } catch (error) {
    return againFromFreshRead(deps, deliveries, error)
  }
}

/**
 * After a group failed: its alerts are dropped from the cache (it may hold what was not committed)
 * and, when the failure was a cached alert changed elsewhere or a fingerprint taken to be new that
 * another instance created, the group is applied again from a fresh read; any other failure is thrown.
 *
 * On a local file the fresh read is made in a locked transaction (db/locked-txn.ts): the write lock
 * is taken first, so no other connection or instance can commit between the read and the write.
 * Read unlocked and checked at the commit instead, it was overtaken again and again by the other
 * instance's commits of the same alerts when two busy instances share a file (ADR 0012), and the
 * delivery failed. It runs on this thread, but only after a refusal: the hot path stays as it is.
 */
async function againFromFreshRead(
  deps: IntakeDeps,
  deliveries: Delivery[],
  failure: unknown,
): Promise<ReportResult[][]> {
  const { cache } = deps
  const forget = () => {
    for (const d of deliveries) for (const r of d.reports) cache.delete(r.fingerprint)
  }
  const locker = lockerOf(deps.db)
  if (locker) {
    forget()
    if (!isStaleCache(failure) && !uniqueFingerprint(failure)) throw failure
    try {
      let news: readonly string[] = []
      const result = await locker.run(async (read) => {
        const locked: Locked = { read, statements: [], changed: [] }
        const result = await reportBatchWith(deps, deliveries, false, undefined, undefined, locked)
        news = locked.changed
        return { statements: locked.statements, result }
      })
      // Committed when `run` returns.
      if (news.length) deps.changed?.(news)
      return result
    } catch (error) {
      forget()
      throw error
    }
  }
  // Without a local file (`:memory:`, a remote database) no lock can be held across the reads: the
  // rows read are checked at the commit instead, and a fresh read overtaken again is tried again,
  // a bounded number of times (each attempt reads the alerts as they then stand).
  for (let attempt = 1; ; attempt++) {
    forget()
    if (attempt > FRESH_ATTEMPTS || (!isStaleCache(failure) && !uniqueFingerprint(failure))) throw failure
    // Two instances retrying the same alerts in step overtake each other again and again: a random
    // pause, growing with the attempt, lets one of them commit first.
    if (attempt > 1) await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * 2 ** attempt))
    try {
      return await reportBatchWith(deps, deliveries, false)
    } catch (error) {
      failure = error
    }
  }
}
/** How many times a failed group is applied again from a fresh read before it is applied one delivery at a time. */
const FRESH_ATTEMPTS = 6

/** A group applied in a locked transaction: its reads, and the statements it leaves for the commit. */
type Locked = { read: LockedRead; statements: TxnStatement[]; changed: string[] }

/**
 * `reportBatch` with the alerts found in `cache` taken from it (`useCache`), checked in the
 * transaction (see alert-cache.ts); the others read, unless never stored (`KnownFingerprints`).
 * The cache takes every alert of the group as it will be stored once it is worked out, before the
 * commit (`workedOut` then lets the next group start); a failed group's entries are dropped.
 * `locked`: read under the write lock and leave the statements there (nothing to check: nothing
 * read can have changed by the commit).
 */
async function reportBatchWith(
  deps: IntakeDeps,
  deliveries: Delivery[],
  useCache = true,
  inFlight?: Map<string, boolean>,
  workedOut?: () => void,
  locked?: Locked,
): Promise<ReportResult[][]> {
  const { db, cache } = deps
  // What the cache holds is right as of this epoch at best (taken before anything is awaited).
  const epoch = transactionEpoch(db)
  const stored = new Map<string, Alert>()
  // The cached alerts used (`fromCache`), and those of them the transaction must check.
  let fromCache = 0
  const cached: Alert[] = []
  // The rows the epoch vouches for (cached as of it, or read after it was taken): checked only if
  // the epoch has moved on by the commit (the transaction's fallback), instead of refusing it.
  const spared: Alert[] = []
  const unknown: string[] = []
  const existing = await deps.known()
  for (const d of deliveries) {
    for (const { fingerprint: fp } of d.reports) {
      if (stored.has(fp)) continue // a fingerprint reported again in the group
      const a = useCache ? cache.get(fp) : undefined
      if (a) {
        stored.set(fp, a)
        fromCache++
        if (epoch === undefined || cache.needsCheck(fp, epoch)) cached.push(a)
        else spared.push(a)
      } else if (!useCache || existing.has(fp)) unknown.push(fp) // (read below; listed twice, found once)
      // else: new (see KnownFingerprints; its insert is checked by the unique index)
    }
  }
  // The pending repeats joined once, not looked up three times a row; on the transaction thread,
  // whose page cache is warm, unless under the write lock (read.ts, ADR 0013).
  const read = !unknown.length
    ? []
    : locked
      ? locked.read<Alert>(alertsQuery(db, unknown), storedAlertJoined)
      : await deps.readAlerts(unknown)
  for (const a of read) stored.set(a.fingerprint, a)
  // Read afresh (after a refusal), nothing vouches for these rows at the commit (the transaction is
  // sent with no epoch): each is checked like a cached one, so a write worked out from a row another
  // instance changed meanwhile (an acknowledge, a resolve) is refused rather than written over it.
  // Only this retry path pays for it; the hot path's rows are cached and spared by the epoch.
  if (!useCache && !locked) for (const a of read) cached.push(a)
  // Stale reports are judged against the alert as each delivery finds it (as if applied one by one).
  const maybe = new Set<string>()
  for (const d of deliveries)
    if (d.opts.staleGuard)
      for (const r of d.reports) if (mayBeStale(r, stored.get(r.fingerprint))) maybe.add(stored.get(r.fingerprint)!.id)
  // Resolutions of groups still in flight are not in the database yet.
  const bySender = await resolvedBySender(
    db,
    [...maybe].filter((id) => !inFlight?.has(id)),
    locked?.read,
  )
  for (const id of maybe) if (inFlight?.has(id)) bySender.set(id, inFlight.get(id)!)
  // Each alert as the group has left it so far: changed in it, else as stored.
  const changed = new Map<string, Alert>()
  const current = (fp: string) => changed.get(fp) ?? stored.get(fp)
  const events: (typeof alertEvents.$inferInsert)[] = []
  const extra: BatchItem<'sqlite'>[] = []
  const rows: TableRow[] = []
  // Alerts whose change records events: told to `deps.changed` once committed (a quiet repeat is not news).
  const news: string[] = []
  const out: ReportResult[][] = []
  for (const d of deliveries) {
    const { at } = d
    const stale = d.opts.staleGuard ? staleIn(d.reports, current, bySender) : undefined
    const results: ReportResult[] = []
    for (const r of d.reports) {
      const before = current(r.fingerprint) ?? null
      if (stale?.has(r)) {
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
      for (const e of t.events)
        events.push({ alertId: t.after.id, ts: at, type: e.type, actor: e.actor, detail: e.detail ?? {} })
      if (t.events.length) news.push(t.after.id)
      for (const hook of deps.hooks) {
        const added = hook(db, t)
        const statements = Array.isArray(added) ? added : await added
        if (statements.length) extra.push(...statements)
      }
      if (t.events.length && t.events.some((e) => e.type === 'resolved')) {
        const own = !t.events.some((e) => e.type === 'resolved' && e.detail?.reason !== undefined)
        bySender.set(t.after.id, own)
        inFlight?.set(t.after.id, own)
      }
      changed.set(r.fingerprint, t.after)
      results.push({ alert: t.after, change: next.change })
    }
    rows.push(...(d.opts.rows?.(results) ?? []))
    out.push(results)
  }
  // Each changed alert is new, a quiet repeat (only its count, last seen and update time moved),
  // or changed in other columns: grouped by which, so each set updates only its columns and
  // indexes over the others are left alone.
  const inserted: Alert[] = []
  const updated = new Map<string, { keys: (keyof Alert)[]; rows: Alert[] }>()
  const touched: { a: Alert; s: Alert }[] = []
  for (const a of changed.values()) {
    const s = stored.get(a.fingerprint)
    if (!s) {
      inserted.push(a)
      continue
    }
    const keys = CHANGEABLE.some((k) => !sameValue(s[k], a[k])) ? CHANGEABLE.filter((k) => !sameValue(s[k], a[k])) : []
    if (!keys.length) {
      touched.push({ a, s })
      continue
    }
    // The row takes the count, last seen and update time as they stand; its pending repeats go.
    keys.push(...TOUCHED)
    const shape = keys.join(',')
    updated.get(shape)?.rows.push(a) ?? updated.set(shape, { keys, rows: [a] })
  }
  // Remembered before the commit, so the next group can be worked out meanwhile: if this one
  // fails, the next one fails too (its checks, or the thread refuses it: the epoch moved on), and
  // the entries are dropped. An alert read from the
  // database is cached as stored (one taken from the cache is there already), and a quiet repeat
  // keeps that object, moved on below once the statements are out (see `moveOn`); a changed row
  // replaces it.
  for (const a of read) cache.set(a, epoch)
  for (const a of inserted) cache.set(a, epoch)
  for (const u of updated.values()) for (const a of u.rows) cache.set(a, epoch)
  for (const a of inserted) existing.add(a.fingerprint)
  workedOut?.()
  // Cached alerts used, even with nothing to write: the transaction (perhaps empty) confirms them.
  if (!changed.size && !extra.length && !rows.length && !fromCache) return out
  const statements: TxnStatement[] = []
  // First, in the same transaction: the cached alerts used are still as stored (else it all rolls back).
  if (cached.length) statements.push(cacheCheck(cached))
  // Quiet repeats: only their narrow alert_repeats rows move; the count moves on by how many came
  // (so no other writer's repeat is lost).
  if (touched.length) statements.push({ sql: REPEATS, args: [repeatsJson(touched)] })
  const folded = [...updated.values()].flatMap((u) => u.rows.map((a) => a.id))
  if (folded.length) statements.push({ sql: FOLDED, args: [JSON.stringify(folded)] })
  if (inserted.length) statements.push(insertRowsOf(alerts, ALERT_KEYS, inserted))
  for (const { keys, rows: list } of updated.values()) statements.push(updateJson(alerts, keys, list))
  if (events.length) statements.push(insertJson(alertEvents, [...EVENT_KEYS], events))
  // The statements are read when the transaction is sent (synchronously), before the cached alerts move on.
  // Sent with the epoch the unchecked alerts are right as of; a group read afresh checks every row it read.
  // With the epoch, a fallback: should it have moved on by the commit (another connection committed:
  // most often a job's lease row, a few times a second, which changes no alert), what it vouched for
  // is checked instead and the group commits unless one of those alerts really changed. Refusing it
  // instead cost the group and the one pipelined behind it a fresh read and a second transaction each.
  // When the epoch vouches for nothing (every alert used is checked above), it is not sent at all.
  if (locked) {
    locked.statements = [...statements, ...extra, ...insertRows(rows)].map(toStatement)
    locked.changed = news
    moveOn(touched)
    return out
  }
  const vouched = useCache && epoch !== undefined ? [...spared, ...read] : []
  const committed = writeTransaction(
    db,
    [...statements, ...extra, ...insertRows(rows)],
    vouched.length ? epoch : undefined,
    vouched.length ? cacheCheck(vouched) : undefined,
  )
  moveOn(touched)
  await committed
  if (news.length) deps.changed?.(news)
  return out
}

/** The quiet repeats' rows for REPEATS, `[[id, n, lastSeenAt, updatedAt], …]`, written out as text (no array a row). */
function repeatsJson(touched: { a: Alert; s: Alert }[]) {
  let rows = ''
  for (const { a, s } of touched)
    rows += `${rows ? ',' : ''}[${plainText(a.id) ? `"${a.id}"` : JSON.stringify(a.id)},${a.repeatCount - s.repeatCount},${a.lastSeenAt},${a.updatedAt}]`
  return `[${rows}]`
}

/**
 * A quiet repeat moves its cached alert on in place (count, last seen, update time) rather than
 * caching a new copy: the cache lives long, so each copy outlived the young collections and a copy
 * per repeat was most of what the heap kept between full collections (ADR 0006).
 * The same as caching the copy: transitions copy the cached alert, the next group reads it as
 * this one left it (and its checks fail if this one does not commit), and a group that fails
 * drops its alerts from the cache.
 */
function moveOn(touched: { a: Alert; s: Alert }[]) {
  for (const { a, s } of touched) {
    s.repeatCount = a.repeatCount
    s.lastSeenAt = a.lastSeenAt
    s.updatedAt = a.updatedAt
  }
}
