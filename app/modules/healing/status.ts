/** The healing overview: open incidents, running and pending work, breakers, and where each model route points. */
import { asc, desc, inArray, sql } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { alerts } from '../../../db/schema/alerts.ts'
import { circuitBreakers, healingActions, modelRoutes } from '../../../db/schema/healing.ts'
import { toIso } from '../../lib/time.ts'
import { actionJson } from './orchestrator/store.ts'

/**
 * What the overview reads, as rows: the dashboard's live section (pages.tsx) shows the active
 * actions' rows as they are, and `statusJson` shapes the same read for the API, so the page runs
 * each query once.
 */
export async function readHealingNow(db: Db, now: number) {
  const [incidents, openIncidents, active, breakers, routes, recent] = await Promise.all([
    db
      .select({ n: sql<number>`count(*)` })
      .from(alerts)
      .where(inArray(alerts.status, ['firing', 'acknowledged'])),
    db
      .select({
        id: alerts.id,
        title: alerts.title,
        severity: alerts.severity,
        status: alerts.status,
        startsAt: alerts.startsAt,
      })
      .from(alerts)
      .where(inArray(alerts.status, ['firing', 'acknowledged']))
      .orderBy(desc(alerts.startsAt))
      .limit(20),
    db
      .select()
      .from(healingActions)
      .where(inArray(healingActions.status, ['PENDING', 'PENDING_APPROVAL', 'RUNNING', 'VERIFYING']))
      .orderBy(desc(healingActions.priority), asc(healingActions.createdAt))
      .limit(200),
    db
      .select({ state: circuitBreakers.state, n: sql<number>`count(*)` })
      .from(circuitBreakers)
      .groupBy(circuitBreakers.state),
    db
      .select({
        name: modelRoutes.name,
        targets: modelRoutes.targets,
        activeIndex: modelRoutes.activeIndex,
        changedAt: modelRoutes.changedAt,
        changeReason: modelRoutes.changeReason,
      })
      .from(modelRoutes)
      .orderBy(asc(modelRoutes.name))
      .limit(500),
    db
      .select({ status: healingActions.status, n: sql<number>`count(*)` })
      .from(healingActions)
      .where(sql`${healingActions.createdAt} >= ${now - 86_400_000}`)
      .groupBy(healingActions.status),
  ])
  return { incidents, openIncidents, active, breakers, routes, recent }
}

export type HealingNow = Awaited<ReturnType<typeof readHealingNow>>

export const healingStatus = async (db: Db, publicUrl: string, now: number) =>
  statusJson(await readHealingNow(db, now), publicUrl, now)

/** The overview as the API answers it (`GET /api/v1/healing/status`). */
export function statusJson(read: HealingNow, publicUrl: string, now: number) {
  const { incidents, openIncidents, active, breakers, routes, recent } = read
  const byState = Object.fromEntries(breakers.map((b) => [b.state, b.n]))
  const last24h = Object.fromEntries(recent.map((r) => [r.status, r.n]))
  const of = (...s: string[]) => active.filter((a) => s.includes(a.status)).map((a) => actionJson(a, publicUrl))
  return {
    at: toIso(now),
    activeIncidents: {
      count: incidents[0]?.n ?? 0,
      items: openIncidents.map((a) => ({ ...a, startsAt: toIso(a.startsAt) })),
    },
    running: of('RUNNING', 'VERIFYING'),
    queued: of('PENDING'),
    pendingApprovals: of('PENDING_APPROVAL'),
    breakers: { open: byState.OPEN ?? 0, halfOpen: byState.HALF_OPEN ?? 0, closed: byState.CLOSED ?? 0 },
    routes: routes.map((r) => ({
      name: r.name,
      activeIndex: r.activeIndex,
      activeTarget: r.targets[r.activeIndex] ?? null,
      primary: r.targets[0] ?? null,
      failedOver: r.activeIndex !== 0,
      changedAt: toIso(r.changedAt),
      changeReason: r.changeReason,
    })),
    last24h: {
      succeeded: last24h.SUCCESS ?? 0,
      failed: (last24h.FAILED ?? 0) + (last24h.ROLLED_BACK ?? 0),
      skipped: last24h.SKIPPED ?? 0,
      total: Object.values(last24h).reduce((a, b) => a + b, 0),
    },
  }
}
