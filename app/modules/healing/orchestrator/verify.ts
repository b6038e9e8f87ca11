/**
 * Verification checks after an action: what must hold for it to count as a recovery. Each check
 * reads only (it may run again after a restart) and is bounded by a timeout, so a check that
 * hangs ends as a failed one.
 */
import { eq } from 'drizzle-orm'
import { alerts } from '../../../../db/schema/alerts.ts'
import type { HealingAction, HealingVerification } from '../../../../db/schema/healing.ts'
import { OutboundError, outboundFetch } from '../../../lib/outbound.ts'
import { evaluateRule } from '../../alerts/index.ts'
import { getBreaker } from '../breakers/breakers.ts'
import type { HealingDeps } from '../types.ts'

const CHECK_TIMEOUT_MS = 10_000

export type CheckResult = { ok: boolean; detail?: Record<string, unknown> }

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms)
  })
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer))
}

export function runCheck(
  deps: HealingDeps,
  a: HealingAction,
  spec: HealingVerification,
  remainingMs: number,
): Promise<CheckResult> {
  const ms = Math.max(1, Math.min(CHECK_TIMEOUT_MS, remainingMs))
  return withTimeout(check(deps, a, spec, ms), ms, `${spec.type} check`)
}

async function check(deps: HealingDeps, a: HealingAction, spec: HealingVerification, ms: number): Promise<CheckResult> {
  switch (spec.type) {
    case 'none':
      return { ok: true }
    case 'breaker_closed': {
      const b = await getBreaker(deps.db, spec.key)
      return { ok: !!b && b.state === 'CLOSED', detail: { key: spec.key, state: b?.state ?? 'unknown' } }
    }
    case 'alert_resolved': {
      if (a.trigger.type !== 'alert' || !a.trigger.ref)
        return { ok: false, detail: { error: 'the action was not triggered by an alert' } }
      const [row] = await deps.db.select({ status: alerts.status }).from(alerts).where(eq(alerts.id, a.trigger.ref))
      return { ok: row?.status === 'resolved', detail: { alertId: a.trigger.ref, status: row?.status ?? 'gone' } }
    }
    case 'metric': {
      const now = Date.now()
      const found = await evaluateRule(
        deps.db,
        {
          kind: 'threshold',
          metric: spec.metric,
          matchers: spec.matchers ?? [],
          by: [],
          agg: spec.agg,
          windowMs: spec.windowMs,
          comparator: spec.comparator,
          value: spec.value,
          params: {},
        },
        now,
      )
      const c = found[0]
      return {
        ok: !!c?.holds,
        detail: {
          metric: spec.metric,
          value: c?.value ?? null,
          condition: `${spec.agg} ${spec.comparator} ${spec.value}`,
        },
      }
    }
    case 'http': {
      const expect = spec.expectStatus ?? 200
      try {
        const res = await outboundFetch(deps.outbound, spec.url, {
          timeoutMs: ms,
          maxRedirects: 0,
          headers: { 'User-Agent': 'homeostat' },
          // Only the status matters.
          maxBytes: 0,
        })
        return { ok: res.status === expect, detail: { url: spec.url, status: res.status, expected: expect } }
      } catch (error) {
        // The helper's message only: refused by the policy, timed out, or could not reach.
        const why = error instanceof OutboundError ? error.message : String((error as Error)?.message ?? error)
        return { ok: false, detail: { url: spec.url, error: why } }
      }
    }
  }
}
