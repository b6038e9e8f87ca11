import { and, desc, eq, gte, inArray, lt, lte, or, isNull, sql, type SQL } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import {
  alertEvents,
  alerts,
  type Alert,
  type AlertEvent,
  type AlertStatus,
  type Severity,
  storedAlert,
} from '../../../../db/schema/alerts.ts'
import { notFound } from '../../../lib/errors.ts'
import { page } from '../../../lib/pagination.ts'
import { toIso } from '../../../lib/time.ts'
import type { AlertReport, LabelsFingerprint } from './lifecycle.ts'
import type { AlertEventInput } from '../schema.ts'

export function alertJson(a: Alert) {
  return {
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
    startsAt: toIso(a.startsAt),
    activeAt: toIso(a.activeAt),
    endsAt: toIso(a.endsAt),
    lastSeenAt: toIso(a.lastSeenAt),
    repeatCount: a.repeatCount,
    acknowledgedBy: a.ackBy,
    acknowledgedAt: toIso(a.ackAt),
    resolvedBy: a.resolvedBy,
    resolvedAt: toIso(a.resolvedAt),
    createdAt: toIso(a.createdAt),
    updatedAt: toIso(a.updatedAt),
  }
}

export const eventJson = (e: AlertEvent) => ({
  id: e.id,
  ts: toIso(e.ts),
  type: e.type,
  actor: e.actor,
  detail: e.detail,
})

export type AlertFilter = {
  limit: number
  cursor?: string
  status?: AlertStatus[]
  severity?: Severity[]
  source?: string
  fingerprint?: string
  rule?: string
  silenced?: boolean
  match?: Record<string, string>
  from?: number
  to?: number
}

/** Alerts newest first. A time range selects the alerts active during it (from pending until resolved). */
export async function listAlerts(db: Db, f: AlertFilter) {
  const where: (SQL | undefined)[] = [
    f.status?.length ? inArray(alerts.status, f.status) : undefined,
    f.severity?.length ? inArray(alerts.severity, f.severity) : undefined,
    f.source ? eq(alerts.source, f.source) : undefined,
    f.fingerprint ? eq(alerts.fingerprint, f.fingerprint) : undefined,
    f.rule ? eq(alerts.ruleId, f.rule) : undefined,
    f.silenced !== undefined ? eq(alerts.silenced, f.silenced) : undefined,
    f.to !== undefined ? lte(alerts.activeAt, f.to) : undefined,
    f.from !== undefined ? or(isNull(alerts.endsAt), gte(alerts.endsAt, f.from)) : undefined,
    f.cursor ? lt(alerts.id, f.cursor) : undefined,
    ...Object.entries(f.match ?? {}).map(([k, v]) => sql`json_extract(${alerts.labels}, ${`$."${k}"`}) = ${v}`),
  ]
  const rows = await db
    .select(storedAlert)
    .from(alerts)
    .where(and(...where))
    .orderBy(desc(alerts.id))
    .limit(f.limit + 1)
  return page(rows, f.limit, (r) => r.id)
}

export async function getAlert(db: Db, id: string) {
  const [row] = await db.select(storedAlert).from(alerts).where(eq(alerts.id, id))
  if (!row) throw notFound('Alert')
  const events = await db.select().from(alertEvents).where(eq(alertEvents.alertId, id)).orderBy(alertEvents.id)
  return { alert: row, events }
}

/**
 * The report of a generic event (scripts, agents, n8n): firing or resolved by fingerprint. Without
 * a fingerprint it is the labels' (with `alertname` set to the title when absent), so the same
 * event sent twice is one alert.
 */
export function eventReport(input: AlertEventInput, actor: string, fingerprintOf: LabelsFingerprint): AlertReport {
  const labels = { alertname: input.title, ...(input.labels ?? {}) }
  const source = input.source ?? 'api'
  return {
    fingerprint: input.fingerprint ? `${source}:${input.fingerprint}` : fingerprintOf(labels),
    source,
    state: input.status,
    severity: input.severity,
    title: input.title,
    labels,
    annotations: input.annotations,
    value: input.value,
    actor,
  }
}
