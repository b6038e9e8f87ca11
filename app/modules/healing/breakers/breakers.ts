import { and, asc, desc, eq, gt, inArray, sql } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import {
  breakerEvents,
  circuitBreakers,
  type BreakerSettings,
  type BreakerState,
  type CircuitBreaker,
  type RouteTarget,
} from '../../../../db/schema/healing.ts'
import { toIso } from '../../../lib/time.ts'

export type { BreakerState, CircuitBreaker } from '../../../../db/schema/healing.ts'
export type Outcome = { ok: boolean; error?: string }
export type Transition = { from: BreakerState; to: BreakerState }

/**
 * A breaker's settings. `consecutiveFailures` is stored in the same JSON as the schema's fields: a
 * CLOSED breaker also opens after this many failures in a row, so a target probed every second is
 * found dead in about that many seconds even before the window has `minCalls` outcomes.
 */
export type Settings = BreakerSettings & { consecutiveFailures: number }

export const DEFAULT_SETTINGS: Settings = {
  windowSize: 10,
  failureRate: 0.5,
  minCalls: 5,
  consecutiveFailures: 3,
  baseBackoffMs: 5_000,
  maxBackoffMs: 300_000,
  successesToClose: 3,
}

/**
 * Breaker keys are `<kind>:<name>`, e.g. `model:http://host:11434/llama3:8b`, `component:api`,
 * `agent:planner`: a kind of letters, digits, _ . - (1–40), a colon, then 1 or more of letters,
 * digits and . _ : / @ + ~ = , [ ] -; 300 characters at most in all.
 */
export const BREAKER_KEY = /^(?=.{3,300}$)[A-Za-z0-9][A-Za-z0-9_.-]{0,39}:[A-Za-z0-9._:/@+~=,[\]-]+$/
export const KEY_RULE =
  'must be <kind>:<name> (e.g. model:http://host:11434/llama3, component:api), at most 300 characters: letters, digits and . _ : / @ + ~ = , [ ] -'

export const targetBreakerKey = (t: RouteTarget) => `model:${t.host}/${t.model}`

export const settingsOf = (b: Pick<CircuitBreaker, 'settings'>): Settings => ({
  ...DEFAULT_SETTINGS,
  ...(b.settings as Partial<Settings>),
})

/** The wait before the breaker lets a probe through after its `openCount`-th opening in a row. */
export const backoffMs = (s: Settings, openCount: number) =>
  Math.min(s.maxBackoffMs, s.baseBackoffMs * 2 ** Math.max(0, Math.min(openCount - 1, 30)))

const trailingFailures = (window: number[]) => {
  let n = 0
  for (let i = window.length - 1; i >= 0 && window[i] === 0; i--) n++
  return n
}

type Mutable = Pick<
  CircuitBreaker,
  | 'state'
  | 'window'
  | 'openCount'
  | 'openedAt'
  | 'retryAt'
  | 'halfOpenSuccesses'
  | 'lastFailureAt'
  | 'lastSuccessAt'
  | 'lastError'
>
type Step = { from: BreakerState; to: BreakerState; reason: string }

/**
 * The state machine, pure: the breaker after one outcome at `now`, and the transitions on the way.
 *
 * - CLOSED: the outcome joins the window (last `windowSize` calls). A failure opens the breaker when
 *   the last `consecutiveFailures` calls all failed, or when the window holds at least `minCalls`
 *   calls and at least `failureRate` of them failed.
 * - OPEN: until `retryAt` outcomes are recorded (last success/failure) but change nothing. The first
 *   outcome at or after `retryAt` is the half-open probe: the breaker goes HALF_OPEN and the outcome
 *   is applied there.
 * - HALF_OPEN: a success counts; `successesToClose` of them close the breaker (window emptied, backoff
 *   reset). A failure opens it again with the backoff doubled (`baseBackoffMs · 2^(opens−1)`, at most
 *   `maxBackoffMs`).
 */
export function step(
  b: Mutable & { settings: CircuitBreaker['settings'] },
  outcome: Outcome,
  now: number,
): { next: Mutable; steps: Step[] } {
  const s = settingsOf(b)
  const next: Mutable = { ...b, window: [...b.window] }
  const steps: Step[] = []
  const error = outcome.ok ? null : (outcome.error ?? 'failure').slice(0, 1000)
  if (outcome.ok) next.lastSuccessAt = now
  else {
    next.lastFailureAt = now
    next.lastError = error
  }
  const open = (from: BreakerState, reason: string) => {
    next.state = 'OPEN'
    next.openCount = b.openCount + 1
    next.openedAt = now
    next.retryAt = now + backoffMs(s, next.openCount)
    next.halfOpenSuccesses = 0
    steps.push({ from, to: 'OPEN', reason })
  }
  let state = b.state
  if (state === 'OPEN') {
    if (b.retryAt !== null && now < b.retryAt) return { next, steps }
    steps.push({ from: 'OPEN', to: 'HALF_OPEN', reason: 'backoff elapsed: probing' })
    state = next.state = 'HALF_OPEN'
    next.halfOpenSuccesses = 0
  }
  if (state === 'HALF_OPEN') {
    if (!outcome.ok) {
      open('HALF_OPEN', `half-open probe failed: ${error}`)
      return { next, steps }
    }
    next.halfOpenSuccesses = (state === b.state ? b.halfOpenSuccesses : 0) + 1
    if (next.halfOpenSuccesses >= s.successesToClose) {
      next.state = 'CLOSED'
      next.window = []
      next.openCount = 0
      next.openedAt = null
      next.retryAt = null
      next.halfOpenSuccesses = 0
      steps.push({
        from: 'HALF_OPEN',
        to: 'CLOSED',
        reason: `${s.successesToClose} successful probe${s.successesToClose === 1 ? '' : 's'}`,
      })
    }
    return { next, steps }
  }
  // CLOSED
  next.window.push(outcome.ok ? 1 : 0)
  if (next.window.length > s.windowSize) next.window.splice(0, next.window.length - s.windowSize)
  if (!outcome.ok) {
    const inRow = trailingFailures(next.window)
    const failures = next.window.filter((x) => x === 0).length
    if (inRow >= s.consecutiveFailures) open('CLOSED', `${inRow} failures in a row (last: ${error})`)
    else if (next.window.length >= s.minCalls && failures / next.window.length >= s.failureRate)
      open('CLOSED', `${failures} of the last ${next.window.length} calls failed (last: ${error})`)
  }
  return { next, steps }
}

const MAX_ATTEMPTS = 20

/**
 * The breakers' writers, made once by the healing service. Reports for one key in this process run
 * one after another (no retries needed); across processes sharing the database the compare-and-set
 * on updated_at keeps every outcome. `generation()` moves whenever a breaker changes state in this
 * process: readers that cache breaker states (the model-route answer) compare it.
 */
export function createBreakers(db: Db) {
  const queues = new Map<string, Promise<unknown>>()
  let generation = 0
  const bump = () => {
    generation++
  }

  function serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = queues.get(key) ?? Promise.resolve()
    const run = prev.then(fn, fn)
    const tail = run.catch(() => {})
    queues.set(key, tail)
    void tail.then(() => {
      if (queues.get(key) === tail) queues.delete(key)
    })
    return run
  }

  /**
   * Applies one outcome to the breaker `key` (created CLOSED with the default settings on first use),
   * writing every state change to `breaker_events`. The read-modify-write is a compare-and-set on
   * `updated_at` (always moved forward, by at least 1 ms), retried when another writer got there
   * first, so racing reports never lose an outcome.
   */
  function report(
    key: string,
    outcome: Outcome,
    now: number,
  ): Promise<{ breaker: CircuitBreaker; transition?: Transition }> {
    return serial(key, async () => {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        let [b] = await db.select().from(circuitBreakers).where(eq(circuitBreakers.key, key))
        if (!b) {
          await db
            .insert(circuitBreakers)
            .values({ key, state: 'CLOSED', window: [], settings: DEFAULT_SETTINGS, updatedAt: now })
            .onConflictDoNothing()
          ;[b] = await db.select().from(circuitBreakers).where(eq(circuitBreakers.key, key))
          if (!b) continue
          bump() // a new breaker shows in cached route answers
        }
        const { next, steps } = step(b, outcome, now)
        const updatedAt = Math.max(now, b.updatedAt + 1)
        // One transaction: the events go in only while the row is still the one read, and the
        // update only applies then; when another writer got there first, neither happens.
        const results = await db.batch([
          ...steps.map((s) => guardedEvent(db, key, now, b.updatedAt, s)),
          db
            .update(circuitBreakers)
            .set({ ...next, updatedAt })
            .where(and(eq(circuitBreakers.key, key), eq(circuitBreakers.updatedAt, b.updatedAt)))
            .returning(),
        ] as unknown as [ReturnType<typeof guardedEvent>])
        const [row] = results.at(-1) as unknown as CircuitBreaker[]
        if (!row) continue
        if (steps.length) bump()
        const transition = steps.length ? { from: steps[0]!.from, to: steps.at(-1)!.to } : undefined
        return { breaker: row, ...(transition ? { transition } : {}) }
      }
      throw new Error(`breaker ${key}: too many concurrent updates`)
    })
  }

  /** Closes the breaker by hand: window emptied, backoff reset. Undefined when there is no such breaker. */
  function reset(key: string, opts: { actor: string; now: number }): Promise<CircuitBreaker | undefined> {
    return serial(key, async () => {
      const before = await getBreaker(db, key)
      if (!before) return undefined
      const updatedAt = Math.max(opts.now, before.updatedAt + 1)
      const [, rows] = await db.batch([
        guardedEvent(db, key, opts.now, before.updatedAt, {
          from: before.state,
          to: 'CLOSED',
          reason: `reset by ${opts.actor}`,
        }),
        db
          .update(circuitBreakers)
          .set({
            state: 'CLOSED',
            window: [],
            openCount: 0,
            openedAt: null,
            retryAt: null,
            halfOpenSuccesses: 0,
            updatedAt,
          })
          .where(and(eq(circuitBreakers.key, key), eq(circuitBreakers.updatedAt, before.updatedAt)))
          .returning(),
      ])
      bump()
      // Lost to a report from another instance in the same millisecond: read what is there now.
      return (rows as CircuitBreaker[])[0] ?? (await getBreaker(db, key))
    })
  }

  /**
   * Changes a breaker's settings (merged over its current ones), creating it CLOSED when it does not
   * exist yet, so a key can be tuned before its first report. A window longer than the new size is
   * trimmed to its newest outcomes. The state is left as it is.
   */
  function updateSettings(key: string, patch: Partial<Settings>, now: number): Promise<CircuitBreaker> {
    return serial(key, async () => {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const b = await getBreaker(db, key)
        if (!b) {
          const [row] = await db
            .insert(circuitBreakers)
            .values({ key, state: 'CLOSED', window: [], settings: { ...DEFAULT_SETTINGS, ...patch }, updatedAt: now })
            .onConflictDoNothing()
            .returning()
          if (!row) continue
          bump()
          return row
        }
        const settings = { ...settingsOf(b), ...patch }
        const [row] = await db
          .update(circuitBreakers)
          .set({ settings, window: b.window.slice(-settings.windowSize), updatedAt: Math.max(now, b.updatedAt + 1) })
          .where(and(eq(circuitBreakers.key, key), eq(circuitBreakers.updatedAt, b.updatedAt)))
          .returning()
        if (row) return row
      }
      throw new Error(`breaker ${key}: too many concurrent updates`)
    })
  }

  return { report, reset, updateSettings, generation: () => generation }
}

export type Breakers = ReturnType<typeof createBreakers>

/** An event row, written only while the breaker row still has `updatedAt` (the compare-and-set's guard). */
const guardedEvent = (db: Db, key: string, now: number, updatedAt: number, s: Step) =>
  db.run(sql`insert into breaker_events (key, ts, from_state, to_state, reason)
    select ${key}, ${now}, ${s.from}, ${s.to}, ${s.reason.slice(0, 500)} where exists (select 1 from circuit_breakers where key = ${key} and updated_at = ${updatedAt})`)

export async function getBreaker(db: Db, key: string): Promise<CircuitBreaker | undefined> {
  const [b] = await db.select().from(circuitBreakers).where(eq(circuitBreakers.key, key))
  return b
}

export async function getBreakers(db: Db, keys: string[]): Promise<Map<string, CircuitBreaker>> {
  if (!keys.length) return new Map()
  const rows = await db
    .select()
    .from(circuitBreakers)
    .where(inArray(circuitBreakers.key, [...new Set(keys)]))
  return new Map(rows.map((r) => [r.key, r]))
}

/** OPEN and not yet due a half-open probe. */
export const breakerIsOpen = (b: Pick<CircuitBreaker, 'state' | 'retryAt'> | undefined, now: number) =>
  b?.state === 'OPEN' && (b.retryAt === null || now < b.retryAt)

export async function isOpen(db: Db, key: string, now: number): Promise<boolean> {
  return breakerIsOpen(await getBreaker(db, key), now)
}

export async function listBreakers(
  db: Db,
  q: { limit: number; cursor?: string; state?: BreakerState; prefix?: string },
) {
  const rows = await db
    .select()
    .from(circuitBreakers)
    .where(
      and(
        q.cursor ? gt(circuitBreakers.key, q.cursor) : undefined,
        q.state ? eq(circuitBreakers.state, q.state) : undefined,
        q.prefix ? sql`substr(${circuitBreakers.key}, 1, ${q.prefix.length}) = ${q.prefix}` : undefined,
      ),
    )
    .orderBy(asc(circuitBreakers.key))
    .limit(q.limit + 1)
  const items = rows.slice(0, q.limit)
  return { items, next: rows.length > q.limit ? items.at(-1)!.key : null }
}

export async function breakerHistory(db: Db, key: string, limit = 50) {
  return db.select().from(breakerEvents).where(eq(breakerEvents.key, key)).orderBy(desc(breakerEvents.id)).limit(limit)
}

/** When the breaker last went CLOSED (its creation when it never changed), for failback. */
export async function closedSince(db: Db, b: CircuitBreaker): Promise<number | null> {
  if (b.state !== 'CLOSED') return null
  const [last] = await db
    .select({ ts: breakerEvents.ts, to: breakerEvents.to })
    .from(breakerEvents)
    .where(and(eq(breakerEvents.key, b.key), eq(breakerEvents.to, 'CLOSED')))
    .orderBy(desc(breakerEvents.id))
    .limit(1)
  return last?.ts ?? 0
}

export function breakerJson(b: CircuitBreaker, now: number) {
  const s = settingsOf(b)
  const failures = b.window.filter((x) => x === 0).length
  return {
    key: b.key,
    state: b.state,
    /** OPEN but its backoff has elapsed: the next outcome is the half-open probe. */
    probeDue: b.state === 'OPEN' && b.retryAt !== null && now >= b.retryAt,
    window: {
      calls: b.window.length,
      failures,
      failureRate: b.window.length ? failures / b.window.length : 0,
      consecutiveFailures: trailingFailures(b.window),
    },
    openCount: b.openCount,
    openedAt: toIso(b.openedAt),
    retryAt: toIso(b.retryAt),
    halfOpenSuccesses: b.halfOpenSuccesses,
    lastSuccessAt: toIso(b.lastSuccessAt),
    lastFailureAt: toIso(b.lastFailureAt),
    lastError: b.lastError,
    settings: s,
    updatedAt: toIso(b.updatedAt),
  }
}

export const breakerEventJson = (e: typeof breakerEvents.$inferSelect) => ({
  id: e.id,
  ts: toIso(e.ts),
  from: e.from,
  to: e.to,
  reason: e.reason,
})
