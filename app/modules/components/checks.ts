import { and, eq, inArray, lt, lte, sql } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { components, statusDaily, statusHistory, type Component } from '../../../db/schema/components.ts'
import { OutboundError, type OutboundPolicy, outboundFetch, UNREACHABLE } from '../../lib/outbound.ts'
import type { MetricStore } from '../metrics/index.ts'
import { DEFAULTS, recordResult, type CheckResult, type StateChangeListener } from './service.ts'

/** How many HTTP checks run at once. */
export const CHECK_CONCURRENCY = 8
/** A check due within this much of a tick runs at that tick (ticks are 10 s apart, intervals ≥ 10 s). */
const DUE_SLACK_MS = 2000
/** Most body read when looking for the expected text. */
const MAX_BODY_BYTES = 1024 * 1024
const PURGE_BATCH = 2000

/** Whether a status matches `["200-399", "418"]`-style specs. */
export function statusMatches(status: number, specs: readonly string[]) {
  return specs.some((s) => {
    const [lo, hi = lo] = s.split('-').map(Number)
    return status >= lo! && status <= hi!
  })
}

/**
 * A short reason for a failed request, without the URL (it may carry credentials). A timeout and a
 * refused or reset connection read the same: telling them apart would let anyone who may set a
 * check URL or a model route map which ports answer (a closed port refuses, a filtered one hangs).
 */
export function failureReason(error: unknown) {
  if (error instanceof OutboundError) return error.reason === 'timeout' ? UNREACHABLE : error.message
  return UNREACHABLE
}

/**
 * Runs one HTTP check now, under the outbound policy: a timeout covering the headers and the body
 * read; redirects are followed by the helper, each hop checked against the policy like the first.
 */
export async function runHttpCheck(
  outbound: OutboundPolicy,
  c: Pick<Component, 'url' | 'method' | 'timeoutMs' | 'expectedStatus' | 'expectedBodyText'>,
) {
  const timeoutMs = c.timeoutMs ?? DEFAULTS.timeoutMs
  const expected = c.expectedStatus ?? [...DEFAULTS.expectedStatus]
  const started = performance.now()
  try {
    const wantText = c.expectedBodyText && c.method !== 'HEAD'
    const res = await outboundFetch(outbound, c.url!, {
      method: c.method ?? 'GET',
      timeoutMs,
      headers: { 'user-agent': 'Homeostat-Check/1.0', accept: '*/*' },
      // Only read the body when looking for the expected text.
      maxBytes: wantText ? MAX_BODY_BYTES : 0,
    })
    const body = wantText ? res.text() : ''
    const latencyMs = Math.round((performance.now() - started) * 10) / 10
    if (!statusMatches(res.status, expected))
      return { up: false, code: res.status, latencyMs, message: `status ${res.status} is not ${expected.join(', ')}` }
    if (wantText && !body.includes(c.expectedBodyText!))
      return {
        up: false,
        code: res.status,
        latencyMs,
        message: `body does not contain ${JSON.stringify(c.expectedBodyText)}`,
      }
    return { up: true, code: res.status, latencyMs, message: null }
  } catch (error) {
    return { up: false, code: null, latencyMs: null, message: failureReason(error) }
  }
}

/** Runs `fn` over the items, at most `limit` at a time. */
export async function inPool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!)
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

/** What a check result is also reported to: the component's circuit breaker (healing, wired at the root). */
export type OutcomeListener = (key: string, outcome: { ok: boolean; error?: string }, at: number) => Promise<unknown>

type Deps = {
  db: Db
  store: MetricStore
  /** The outbound policy every check's request goes through. */
  outbound: OutboundPolicy
  historyDays: number
  concurrency?: number
  onOutcome?: OutcomeListener
  onStateChange?: StateChangeListener
}

/**
 * One tick of the component job at time `now`: runs every HTTP check that is due (claimed first by
 * moving its next time on, so another instance or tick does not run it too), records a missing
 * heartbeat for every push component whose deadline passed (once per missed interval), and purges
 * status history older than `historyDays` in small batches.
 */
export async function runComponentChecks(deps: Deps, now: number) {
  const { db } = deps
  const counts = { checked: 0, up: 0, down: 0, missed: 0, dropped: 0, purged: 0 }
  // A component deleted while its check ran has nowhere to put the result: it is dropped.
  const record = async (c: Component, r: CheckResult) => {
    if (!(await recordResult(deps, c, r))) return void counts.dropped++
    // Each check result is also an outcome for the component's circuit breaker (healing).
    await deps.onOutcome?.(`component:${c.name}`, { ok: r.up, ...(r.message ? { error: r.message } : {}) }, r.ts)
  }

  const due = await db
    .select()
    .from(components)
    .where(and(eq(components.checkType, 'http'), lte(components.nextCheckAt, now + DUE_SLACK_MS)))
  const claimed: Component[] = []
  for (const c of due) {
    const won = await db
      .update(components)
      .set({ nextCheckAt: now + c.intervalSeconds! * 1000 })
      .where(and(eq(components.id, c.id), eq(components.nextCheckAt, c.nextCheckAt!)))
      .returning({ id: components.id })
    if (won.length) claimed.push(c)
  }
  await inPool(claimed, deps.concurrency ?? CHECK_CONCURRENCY, async (c) => {
    const r = await runHttpCheck(deps.outbound, c)
    counts.checked++
    counts[r.up ? 'up' : 'down']++
    await record(c, {
      ts: now,
      source: 'http',
      ...r,
      // In seconds, Prometheus' base unit (`latency_ms` before 0.2: metrics/names.ts).
      metrics: r.latencyMs !== null ? [{ name: 'check_duration_seconds', value: r.latencyMs / 1000 }] : [],
    })
  })

  const late = await db
    .select()
    .from(components)
    .where(and(eq(components.checkType, 'push'), lte(components.nextCheckAt, now)))
  for (const c of late) {
    const step = c.expectedIntervalSeconds! * 1000
    let deadline = c.nextCheckAt!
    while (deadline <= now) deadline += step
    const won = await db
      .update(components)
      .set({ nextCheckAt: deadline })
      .where(and(eq(components.id, c.id), eq(components.nextCheckAt, c.nextCheckAt!)))
      .returning({ id: components.id })
    if (!won.length) continue
    counts.missed++
    await record(c, { ts: now, up: false, source: 'missed', message: 'missed heartbeat' })
  }

  const old = await db
    .select({ id: statusHistory.id })
    .from(statusHistory)
    .where(sql`${statusHistory.ts} < ${now - deps.historyDays * 86_400_000}`)
    .limit(PURGE_BATCH)
  if (old.length) {
    await db.delete(statusHistory).where(
      inArray(
        statusHistory.id,
        old.map((r) => r.id),
      ),
    )
    counts.purged = old.length
    // The days summed for the bars go with them, once whole (the bars never reach back that far).
    const oldestDay = Math.floor((now - deps.historyDays * 86_400_000) / 86_400_000)
    await db.delete(statusDaily).where(lt(statusDaily.day, oldestDay))
  }
  return counts
}
