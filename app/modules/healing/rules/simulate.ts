/**
 * A rule over a past time range: which triggers it would have seen, the action each would have
 * made (type, target, params with templates filled) and what the cooldown and hourly cap would
 * have done to it. Reads only; nothing is written.
 */
import { maskHeaders, openHeaders, ruleHeadersOwner } from '../actions/headers.ts'
import { and, eq, gte, lte } from 'drizzle-orm'
import { alertEvents, alerts } from '../../../../db/schema/alerts.ts'
import {
  breakerEvents,
  type HealingRule,
  type HealingTrigger,
  type HealingTriggerRef,
} from '../../../../db/schema/healing.ts'
import { toIso } from '../../../lib/time.ts'
import { checkAction, targetsFor } from '../orchestrator/enqueue.ts'
import { renderTemplates } from './template.ts'
import { alertMatches, alertRef, breakerMatches, breakerRef, detect } from './triggers.ts'
import type { HealingCtx } from '../types.ts'

const MAX_EVENTS = 5000
const MAX_RESULTS = 500
const DETECTION_STEPS = 200
const HOUR = 3_600_000

async function triggersIn(deps: HealingCtx, rule: HealingRule, from: number, to: number): Promise<HealingTriggerRef[]> {
  const { db } = deps
  const t = rule.trigger
  if (t.type === 'alert') {
    const rows = await db
      .select({
        alertId: alertEvents.alertId,
        ts: alertEvents.ts,
        title: alerts.title,
        labels: alerts.labels,
        annotations: alerts.annotations,
        ruleId: alerts.ruleId,
      })
      .from(alertEvents)
      .innerJoin(alerts, eq(alerts.id, alertEvents.alertId))
      .where(and(eq(alertEvents.type, 'fired'), gte(alertEvents.ts, from), lte(alertEvents.ts, to)))
      .orderBy(alertEvents.id)
      .limit(MAX_EVENTS)
    return rows.filter((e) => alertMatches(t, e)).map(alertRef)
  }
  if (t.type === 'breaker') {
    const rows = await db
      .select()
      .from(breakerEvents)
      .where(and(eq(breakerEvents.to, 'OPEN'), gte(breakerEvents.ts, from), lte(breakerEvents.ts, to)))
      .orderBy(breakerEvents.id)
      .limit(MAX_EVENTS)
    return rows.filter((e) => breakerMatches(t as Extract<HealingTrigger, { type: 'breaker' }>, e.key)).map(breakerRef)
  }
  const step = Math.max(t.windowMs, Math.ceil((to - from) / DETECTION_STEPS))
  const out: HealingTriggerRef[] = []
  for (let at = Math.min(to, from + t.windowMs); at <= to; at += step) out.push(...(await detect(db, rule, at)))
  return out
}

export async function simulate(deps: HealingCtx, rule: HealingRule, from: number, to: number) {
  const refs = await triggersIn(deps, rule, from, to)
  const runs = new Map<string, number[]>() // target → times of runs that would not be skipped
  const results: Record<string, unknown>[] = []
  const counts = {
    triggers: refs.length,
    wouldRun: 0,
    wouldAwaitApproval: 0,
    skippedCooldown: 0,
    skippedCap: 0,
    wouldFail: 0,
  }
  for (const ref of refs) {
    for (const target of await targetsFor(deps, rule, ref)) {
      const opened = openHeaders(deps.sealer, rule.params, ruleHeadersOwner(rule.id))
      const filled =
        'issues' in opened
          ? opened
          : renderTemplates(rule.actionType, opened.params, rule.verification, ref.labels ?? {})
      const past = runs.get(target) ?? []
      const last = past.at(-1)
      let outcome: string
      if (last !== undefined && ref.at - last < rule.cooldownMs) {
        outcome = 'skipped: cooldown'
        counts.skippedCooldown++
      } else if (past.filter((x) => x > ref.at - HOUR).length >= rule.maxPerHour) {
        outcome = 'skipped: hourly cap'
        counts.skippedCap++
      } else {
        const checked = 'issues' in filled ? filled : await checkAction(deps, rule.actionType, target, filled.params)
        past.push(ref.at)
        runs.set(target, past)
        if ('issues' in checked) {
          outcome = `would fail: ${checked.issues.map((i) => `${i.field} ${i.message}`).join('; ')}`
          counts.wouldFail++
        } else if (rule.mode === 'requires_approval') {
          outcome = 'would wait for approval'
          counts.wouldAwaitApproval++
        } else {
          outcome = 'would run'
          counts.wouldRun++
        }
      }
      if (results.length < MAX_RESULTS)
        results.push({
          at: toIso(ref.at),
          trigger: { type: ref.type, ref: ref.ref ?? null, summary: ref.summary, labels: ref.labels ?? {} },
          outcome,
          action: {
            type: rule.actionType,
            target,
            params: maskHeaders('issues' in filled ? rule.params : filled.params),
          },
        })
    }
  }
  return {
    from: toIso(from),
    to: toIso(to),
    rule: { id: rule.id, name: rule.name },
    summary: counts,
    results,
    truncated: results.length >= MAX_RESULTS,
  }
}
