/**
 * What a status page shows, built from the database for one page at one time: only the names and
 * texts an admin chose for the public (display names, public titles, update messages). Component
 * names, labels, check URLs, alerts and silence matchers are never read into it, so nothing rendered
 * from it (HTML, JSON, Atom) can leak them.
 */
import { and, desc, eq, gte, inArray, ne } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { components } from '../../../db/schema/components.ts'
import {
  type IncidentImpact,
  type IncidentStatus,
  type StatusPage,
  statusIncidents,
  statusIncidentUpdates,
} from '../../../db/schema/status-pages.ts'
import { toIso } from '../../lib/time.ts'
import type { AlertsService } from '../alerts/index.ts'
import type { DailyUptimesReader } from '../components/index.ts'

/** The days of bars a page shows; public/status.css says "90 days ago" under them. */
export const BAR_DAYS = 90
const DAY_MS = 86_400_000
/** Resolved incidents and ended maintenance are shown this long. */
const HISTORY_MS = BAR_DAYS * DAY_MS
const MAINTENANCE_HISTORY_MS = 30 * DAY_MS
const MAX_PAST_INCIDENTS = 50

export type ComponentState = 'operational' | 'outage' | 'unknown'
export type Overall = 'operational' | 'degraded' | 'outage' | 'maintenance'

export type PublicIncident = {
  id: string
  title: string
  status: IncidentStatus
  impact: IncidentImpact
  components: string[]
  startedAt: string
  resolvedAt: string | null
  updatedAt: string
  updates: { status: IncidentStatus; message: string; at: string }[]
}
export type PublicMaintenance = {
  title: string
  state: 'active' | 'upcoming' | 'ended'
  recurring: boolean
  startsAt: string
  endsAt: string | null
}
export type PublicView = {
  page: { slug: string; title: string; logoText: string; footer: string }
  status: Overall
  generatedAt: string
  days: string[]
  groups: {
    name: string
    components: { name: string; status: ComponentState; uptime: number | null; days: (number | null)[] }[]
  }[]
  incidents: { active: PublicIncident[]; past: PublicIncident[] }
  maintenance: { active: PublicMaintenance[]; upcoming: PublicMaintenance[]; past: PublicMaintenance[] }
}

const NO_END = 253_402_300_799_999
/** Two decimals, as shown: finer figures would move the ETag on every rebuild for nothing a visitor sees. */
const hundredths = (x: number | null) => (x === null ? null : Math.round(x * 100) / 100)
const stateOf = (s: string): ComponentState => (s === 'up' ? 'operational' : s === 'down' ? 'outage' : 'unknown')

export type ViewDeps = {
  db: Db
  alerts: Pick<AlertsService, 'silences'>
  /** The bars' reader, keeping each component's past days between builds (components/daily-uptimes.ts). */
  dailyUptimes: DailyUptimesReader
}

export async function buildView(
  { db, alerts, dailyUptimes }: ViewDeps,
  p: StatusPage,
  now: number,
): Promise<PublicView> {
  const ids = p.groups.flatMap((g) => g.components.map((c) => c.componentId))
  const since = now - HISTORY_MS
  const [states, uptimes, incidents, maintenance] = await Promise.all([
    ids.length
      ? db.select({ id: components.id, status: components.status }).from(components).where(inArray(components.id, ids))
      : Promise.resolve([]),
    dailyUptimes(db, ids, BAR_DAYS, now),
    // Every open incident, and the most recent resolved ones (the history is capped, the present is not).
    Promise.all([
      db
        .select()
        .from(statusIncidents)
        .where(and(eq(statusIncidents.pageId, p.id), ne(statusIncidents.status, 'resolved')))
        .orderBy(desc(statusIncidents.startedAt)),
      db
        .select()
        .from(statusIncidents)
        .where(
          and(
            eq(statusIncidents.pageId, p.id),
            eq(statusIncidents.status, 'resolved'),
            gte(statusIncidents.resolvedAt, since),
          ),
        )
        .orderBy(desc(statusIncidents.startedAt))
        .limit(MAX_PAST_INCIDENTS),
    ]).then(([open, resolved]) => [...open, ...resolved]),
    alerts.silences.publicMaintenance(now, MAINTENANCE_HISTORY_MS),
  ])
  const updates = incidents.length
    ? await db
        .select()
        .from(statusIncidentUpdates)
        .where(
          inArray(
            statusIncidentUpdates.incidentId,
            incidents.map((i) => i.id),
          ),
        )
        .orderBy(desc(statusIncidentUpdates.createdAt), desc(statusIncidentUpdates.id))
    : []
  const stateById = new Map(states.map((s) => [s.id, stateOf(s.status)]))
  const displayName = new Map(p.groups.flatMap((g) => g.components.map((c) => [c.componentId, c.displayName])))
  const groups = p.groups
    .map((g) => ({
      name: g.name,
      // A component deleted since the page was saved is left out.
      components: g.components
        .filter((c) => stateById.has(c.componentId))
        .map((c) => {
          const u = uptimes.get(c.componentId)
          return {
            name: c.displayName,
            status: stateById.get(c.componentId)!,
            uptime: hundredths(u?.total ?? null),
            days: u ? u.days.map(hundredths) : Array<null>(BAR_DAYS).fill(null),
          }
        }),
    }))
    .filter((g) => g.components.length)
  const publicIncident = (i: (typeof incidents)[number]): PublicIncident => ({
    id: i.id,
    title: i.title,
    status: i.status,
    impact: i.impact,
    components: i.componentIds.flatMap((id) => (displayName.has(id) ? [displayName.get(id)!] : [])),
    startedAt: toIso(i.startedAt)!,
    resolvedAt: toIso(i.resolvedAt),
    updatedAt: toIso(i.updatedAt)!,
    updates: updates
      .filter((u) => u.incidentId === i.id)
      .map((u) => ({ status: u.status, message: u.message, at: toIso(u.createdAt)! })),
  })
  const active = incidents.filter((i) => i.status !== 'resolved').map(publicIncident)
  const past = incidents.filter((i) => i.status === 'resolved').map(publicIncident)
  const windows = maintenance
    .map(
      (m): PublicMaintenance => ({
        title: m.title,
        state: m.state === 'active' ? 'active' : m.state === 'pending' ? 'upcoming' : 'ended',
        recurring: m.recurring,
        startsAt: toIso(m.startsAt)!,
        endsAt: m.endsAt >= NO_END ? null : toIso(m.endsAt),
      }),
    )
    .sort((a, b) => a.startsAt.localeCompare(b.startsAt))
  const inMaintenance = windows.some((m) => m.state === 'active')
  const allComponents = groups.flatMap((g) => g.components)
  const status: Overall =
    allComponents.some((c) => c.status === 'outage') ||
    active.some((i) => i.impact === 'major' || i.impact === 'critical')
      ? 'outage'
      : active.length
        ? 'degraded'
        : inMaintenance
          ? 'maintenance'
          : 'operational'
  const today = Math.floor(now / DAY_MS)
  return {
    page: { slug: p.slug, title: p.title, logoText: p.logoText, footer: p.footer },
    status,
    generatedAt: toIso(now)!,
    days: Array.from({ length: BAR_DAYS }, (_, i) => toIso((today - BAR_DAYS + 1 + i) * DAY_MS)!.slice(0, 10)),
    groups,
    incidents: { active, past },
    maintenance: {
      active: windows.filter((m) => m.state === 'active'),
      upcoming: windows.filter((m) => m.state === 'upcoming'),
      past: windows.filter((m) => m.state === 'ended').reverse(),
    },
  }
}
