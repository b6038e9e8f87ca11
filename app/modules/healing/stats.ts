/** Success rate and MTTR (trigger → verified recovery) per action type, rule and target, over a window. */
import { and, gte, inArray } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { healingActions, healingRules } from '../../../db/schema/healing.ts'
import { toIso } from '../../lib/time.ts'

export const WINDOWS = { '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 } as const
const MAX_ROWS = 50_000

type Row = { status: string; triggerAt: number; finishedAt: number | null }

function summarize(rows: Row[]) {
  const succeeded = rows.filter((r) => r.status === 'SUCCESS')
  const failed = rows.filter((r) => r.status === 'FAILED' || r.status === 'ROLLED_BACK').length
  const times = succeeded
    .filter((r) => r.finishedAt !== null)
    .map((r) => Math.max(0, r.finishedAt! - r.triggerAt))
    .sort((a, b) => a - b)
  return {
    total: rows.length,
    succeeded: succeeded.length,
    failed,
    rolledBack: rows.filter((r) => r.status === 'ROLLED_BACK').length,
    rejected: rows.filter((r) => r.status === 'REJECTED').length,
    expired: rows.filter((r) => r.status === 'EXPIRED').length,
    successRate: succeeded.length + failed ? succeeded.length / (succeeded.length + failed) : null,
    mttrMs: times.length ? Math.round(times.reduce((a, b) => a + b, 0) / times.length) : null,
    mttrP50Ms: times.length ? times[Math.floor((times.length - 1) / 2)]! : null,
  }
}

export async function healingStats(db: Db, window: keyof typeof WINDOWS, now: number) {
  const from = now - WINDOWS[window]
  const rows = await db
    .select({
      ruleId: healingActions.ruleId,
      actionType: healingActions.actionType,
      target: healingActions.target,
      status: healingActions.status,
      trigger: healingActions.trigger,
      finishedAt: healingActions.finishedAt,
      dryRun: healingActions.dryRun,
      output: healingActions.output,
    })
    .from(healingActions)
    .where(
      and(
        gte(healingActions.createdAt, from),
        inArray(healingActions.status, ['SUCCESS', 'FAILED', 'ROLLED_BACK', 'REJECTED', 'EXPIRED']),
      ),
    )
    .limit(MAX_ROWS)
  // Dry runs, and runs that found nothing to do (a route already off the breaker's target), are not recoveries.
  const real = rows
    .filter((r) => !r.dryRun && !(r.output.result as { unchanged?: unknown } | undefined)?.unchanged)
    .map((r) => ({ ...r, triggerAt: r.trigger.at }))
  const group = (key: (r: (typeof real)[number]) => string | null) => {
    const m = new Map<string, typeof real>()
    for (const r of real) {
      const k = key(r)
      if (k === null) continue
      m.set(k, [...(m.get(k) ?? []), r])
    }
    return m
  }
  const ruleIds = [...new Set(real.map((r) => r.ruleId).filter((x): x is string => !!x))]
  const names = new Map(
    (ruleIds.length
      ? await db
          .select({ id: healingRules.id, name: healingRules.name })
          .from(healingRules)
          .where(inArray(healingRules.id, ruleIds))
      : []
    ).map((r) => [r.id, r.name]),
  )
  return {
    window,
    from: toIso(from),
    to: toIso(now),
    overall: summarize(real),
    byActionType: [...group((r) => r.actionType)].map(([actionType, rs]) => ({ actionType, ...summarize(rs) })),
    byRule: [...group((r) => r.ruleId ?? 'manual')].map(([ruleId, rs]) => ({
      ruleId: ruleId === 'manual' ? null : ruleId,
      ruleName: ruleId === 'manual' ? '(manual)' : (names.get(ruleId) ?? '(deleted)'),
      ...summarize(rs),
    })),
    byTarget: [...group((r) => r.target)].map(([target, rs]) => ({ target, ...summarize(rs) })),
  }
}
