/**
 * What starts a rule: an alert firing (new `fired` rows of alert_events), a breaker opening (new
 * `to_state = 'OPEN'` rows of breaker_events) — each read past a watermark kept in `settings`, so
 * every event is seen once — or the rule's own detection over a metric (the alert rules'
 * threshold evaluation), evaluated every DETECTION_EVERY_MS while the rule is enabled.
 * Events older than the rule's last change (creation, edit, enable) never fire it: re-enabling
 * a rule does not replay what happened while it was off.
 */
import { and, desc, eq, gt, inArray, lte, lt, sql } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import { alertEvents, alerts } from '../../../../db/schema/alerts.ts'
import {
  breakerEvents,
  healingRules,
  type HealingRule,
  type HealingTrigger,
  type HealingTriggerRef,
} from '../../../../db/schema/healing.ts'
import { settings } from '../../../../db/schema/system.ts'
import { compileMatchers } from '../../../lib/matchers.ts'
import { compileUserRegex } from '../../../lib/safe-regex.ts'
import { evaluateRule } from '../../alerts/index.ts'
import type { HealingDeps } from '../types.ts'

export const DETECTION_EVERY_MS = 10_000
const SCAN = 500
const WM = { alert: 'healing.watermark.alert_events', breaker: 'healing.watermark.breaker_events' } as const

export type Fired = { rule: HealingRule; ref: HealingTriggerRef }

/** Labels of a breaker event: its key, and the kind (the part before the first colon). */
export const breakerLabels = (key: string) => ({ key, kind: key.includes(':') ? key.slice(0, key.indexOf(':')) : key })

/** Does an alert (rule id, labels) start this trigger? */
export function alertMatches(
  t: Extract<HealingTrigger, { type: 'alert' }>,
  alert: { ruleId: string | null; labels: Record<string, string> },
) {
  if (t.ruleId && alert.ruleId !== t.ruleId) return false
  if (!t.ruleId && !t.matchers?.length) return true
  return compileMatchers(t.matchers ?? [])(alert.labels)
}

/** A key pattern matches anywhere in the key (as RegExp.test did), on the linear-time engine. */
export const breakerMatches = (t: Extract<HealingTrigger, { type: 'breaker' }>, key: string) =>
  compileUserRegex(t.keyPattern, { anchored: false }).test(key)

/**
 * An alert's trigger. Its `{{name}}` values are the alert's labels, then the annotations that no
 * label names (an `n8n_execution_failed` alert's `execution_id`: which execution to retry, a value
 * that must not be a label, as each failed execution would then be an alert of its own), and `alert_id`.
 */
export const alertRef = (e: {
  alertId: string
  ts: number
  title: string
  labels: Record<string, string>
  annotations?: Record<string, string>
  ruleId: string | null
}): HealingTriggerRef => ({
  type: 'alert',
  ref: e.alertId,
  summary: `alert fired: ${e.title}`.slice(0, 300),
  labels: { ...annotationValues(e.annotations), ...e.labels, alert_id: e.alertId },
  at: e.ts,
})

/** Annotations short enough to be a value (a summary of a whole response body is not one). */
const annotationValues = (a: Record<string, string> | undefined) =>
  Object.fromEntries(Object.entries(a ?? {}).filter(([, v]) => typeof v === 'string' && v.length <= 200))
export const breakerRef = (e: { id: number; key: string; ts: number; reason: string }): HealingTriggerRef => ({
  type: 'breaker',
  ref: String(e.id),
  summary: `breaker ${e.key} opened${e.reason ? `: ${e.reason}` : ''}`.slice(0, 300),
  labels: breakerLabels(e.key),
  at: e.ts,
})

async function readWatermarks(db: Db) {
  const rows = await db
    .select()
    .from(settings)
    .where(inArray(settings.key, Object.values(WM)))
  const get = (k: string) => {
    const r = rows.find((x) => x.key === k)
    return r ? Number(r.value) : undefined
  }
  return { alert: get(WM.alert), breaker: get(WM.breaker) }
}

/**
 * Moves a watermark from `prev` (undefined: none yet) to `id` as a compare-and-set: false when
 * another tick moved it first — that tick fires the events, this one drops them, so each event
 * fires its rules once even if two ticks ever overlapped.
 */
async function advanceWatermark(db: Db, key: string, prev: number | undefined, id: number, now: number) {
  const rows =
    prev === undefined
      ? await db
          .insert(settings)
          .values({ key, value: id, updatedAt: now })
          .onConflictDoNothing()
          .returning({ key: settings.key })
      : await db
          .update(settings)
          .set({ value: id, updatedAt: now })
          .where(and(eq(settings.key, key), sql`${settings.value} = ${JSON.stringify(prev)}`))
          .returning({ key: settings.key })
  return rows.length > 0
}

/** Where to start when there is no watermark yet: after the last event older than the oldest rule. */
async function startAfter(db: Db, table: 'alert' | 'breaker', since: number) {
  if (table === 'alert')
    return (
      (
        await db
          .select({ id: alertEvents.id })
          .from(alertEvents)
          .where(lt(alertEvents.ts, since))
          .orderBy(desc(alertEvents.id))
          .limit(1)
      )[0]?.id ?? 0
    )
  return (
    (
      await db
        .select({ id: breakerEvents.id })
        .from(breakerEvents)
        .where(lt(breakerEvents.ts, since))
        .orderBy(desc(breakerEvents.id))
        .limit(1)
    )[0]?.id ?? 0
  )
}

/**
 * Enabled rules whose trigger fired since the last tick, each with the trigger that fired it.
 * `lastDetection` (rule id → when its detection last ran) is the caller's, kept between ticks.
 */
export async function collectTriggers(
  deps: HealingDeps,
  lastDetection: Map<string, number>,
  now: number,
): Promise<Fired[]> {
  const { db } = deps
  const rules = await db.select().from(healingRules).where(eq(healingRules.enabled, true))
  if (!rules.length) return []
  const fired: Fired[] = []
  const byType = (type: HealingTrigger['type']) => rules.filter((r) => r.trigger.type === type)
  const alertRules = byType('alert')
  const breakerRules = byType('breaker')
  const wm =
    alertRules.length || breakerRules.length ? await readWatermarks(db) : { alert: undefined, breaker: undefined }

  if (alertRules.length) {
    const from = wm.alert ?? (await startAfter(db, 'alert', Math.min(...alertRules.map((r) => r.updatedAt))))
    const top = (await db.select({ id: sql<number | null>`max(${alertEvents.id})` }).from(alertEvents))[0]?.id ?? from
    if (top > from) {
      const events = await db
        .select({
          id: alertEvents.id,
          alertId: alertEvents.alertId,
          ts: alertEvents.ts,
          title: alerts.title,
          labels: alerts.labels,
          annotations: alerts.annotations,
          ruleId: alerts.ruleId,
        })
        .from(alertEvents)
        .innerJoin(alerts, eq(alerts.id, alertEvents.alertId))
        .where(and(gt(alertEvents.id, from), lte(alertEvents.id, top), eq(alertEvents.type, 'fired')))
        .orderBy(alertEvents.id)
        .limit(SCAN)
      if (await advanceWatermark(db, WM.alert, wm.alert, events.length === SCAN ? events.at(-1)!.id : top, now)) {
        for (const e of events)
          for (const rule of alertRules)
            if (e.ts >= rule.updatedAt && alertMatches(rule.trigger as Extract<HealingTrigger, { type: 'alert' }>, e))
              fired.push({ rule, ref: alertRef(e) })
      }
    } else if (wm.alert === undefined) await advanceWatermark(db, WM.alert, undefined, from, now)
  }

  if (breakerRules.length) {
    const from = wm.breaker ?? (await startAfter(db, 'breaker', Math.min(...breakerRules.map((r) => r.updatedAt))))
    const events = await db
      .select()
      .from(breakerEvents)
      .where(and(gt(breakerEvents.id, from), eq(breakerEvents.to, 'OPEN')))
      .orderBy(breakerEvents.id)
      .limit(SCAN)
    const last = events.at(-1)?.id
    if (last !== undefined) {
      if (await advanceWatermark(db, WM.breaker, wm.breaker, last, now)) {
        for (const e of events)
          for (const rule of breakerRules)
            if (
              e.ts >= rule.updatedAt &&
              safe(() => breakerMatches(rule.trigger as Extract<HealingTrigger, { type: 'breaker' }>, e.key))
            )
              fired.push({ rule, ref: breakerRef(e) })
      }
    } else if (wm.breaker === undefined) await advanceWatermark(db, WM.breaker, undefined, from, now)
  }

  const detection = byType('detection')
  if (detection.length) {
    for (const rule of detection) {
      const at = lastDetection.get(rule.id)
      if (at !== undefined && now - at < DETECTION_EVERY_MS && now >= at) continue
      lastDetection.set(rule.id, now)
      try {
        fired.push(...(await detect(db, rule, now)).map((ref) => ({ rule, ref })))
      } catch (error) {
        deps.log?.warn('healing detection failed', {
          rule: rule.name,
          error: String((error as Error)?.message ?? error),
        })
      }
    }
  }
  return fired
}

const safe = (f: () => boolean) => {
  try {
    return f()
  } catch {
    return false
  }
}

/** The rule's own detection at `now`: one trigger per label set (target label) whose condition holds. */
export async function detect(db: Db, rule: Pick<HealingRule, 'trigger'>, now: number): Promise<HealingTriggerRef[]> {
  const t = rule.trigger as Extract<HealingTrigger, { type: 'detection' }>
  const found = await evaluateRule(
    db,
    {
      kind: 'threshold',
      metric: t.metric,
      matchers: t.matchers ?? [],
      by: t.targetLabel ? [t.targetLabel] : [],
      agg: t.agg,
      windowMs: t.windowMs,
      comparator: t.comparator,
      value: t.value,
      params: {},
    },
    now,
  )
  const pattern = t.targetPattern && t.targetLabel ? compileUserRegex(t.targetPattern) : null
  return found
    .filter((c) => c.holds && (!pattern || pattern.test(c.labels[t.targetLabel!] ?? '')))
    .map((c) => ({
      type: 'detection' as const,
      summary:
        `${t.agg}(${t.metric}) = ${c.value} ${t.comparator} ${t.value}${t.targetLabel ? ` for ${t.targetLabel}=${c.labels[t.targetLabel] ?? ''}` : ''}`.slice(
          0,
          300,
        ),
      labels: { ...c.labels, value: String(c.value) },
      at: now,
    }))
}
