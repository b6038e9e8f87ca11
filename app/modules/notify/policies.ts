/**
 * Notification policies: ordered label matchers → channels, with grouping, repeat, resolved
 * notifications and escalation. An alert takes the first policy that matches, and the next ones
 * too while the matched policy says `continue`. No match: the default route (every enabled
 * channel, no grouping).
 */
import { asc, eq, inArray, max } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { channels, policies, webhookSubscriptions, type Escalation, type Policy } from '../../../db/schema/notify.ts'
import { isUniqueViolation } from '../../lib/db-errors.ts'
import { badRequest, conflict, notFound } from '../../lib/errors.ts'
import { newId } from '../../lib/ids.ts'
import { compileMatchers } from '../../lib/matchers.ts'
import { toIso } from '../../lib/time.ts'
import { NOTIFICATION_FAILED } from './dead.ts'
import type { PolicyInput, PolicyPatchInput } from './schema.ts'

export type Route = {
  policyId: string | null
  channelIds: string[]
  groupBy: string[]
  groupWaitMs: number
  groupIntervalMs: number
  repeatIntervalMs: number
  sendResolved: boolean
  escalations: Escalation[]
}

export const DEFAULT_REPEAT_MS = 4 * 3_600_000

export type Routing = {
  enabledChannels: Set<string>
  policies: (Policy & { test: (labels: Record<string, string>) => boolean })[]
  subscriptions: (typeof webhookSubscriptions.$inferSelect)[]
}

async function readRouting(db: Db): Promise<Routing> {
  const enabledChannels = new Set(
    (await db.select({ id: channels.id }).from(channels).where(eq(channels.enabled, true))).map((c) => c.id),
  )
  const list = await db
    .select()
    .from(policies)
    .where(eq(policies.enabled, true))
    .orderBy(asc(policies.position), asc(policies.createdAt))
  const subscriptions = await db.select().from(webhookSubscriptions)
  return { enabledChannels, policies: list.map((p) => ({ ...p, test: compileMatchers(p.matchers) })), subscriptions }
}

// Every fired alert needs the routing: it is read at most once a second (and again at once after
// a change through this instance's API), so a burst of alerts does not re-read it per alert.
const ROUTING_TTL_MS = 1000

/**
 * The enabled policies (in order), enabled channels and webhook subscriptions, read at most once
 * per ROUTING_TTL_MS. The notifier (notifier.ts) keeps one for its database; the routes and
 * pages that change channels, policies or subscriptions invalidate it.
 */
export function createRoutingCache(db: Db) {
  let hit: { at: number; routing: Promise<Routing> } | undefined
  function load(): Promise<Routing> {
    const now = Date.now()
    if (hit && now - hit.at >= 0 && now - hit.at < ROUTING_TTL_MS) return hit.routing
    const entry = { at: now, routing: readRouting(db) }
    hit = entry
    entry.routing.catch(() => {
      if (hit === entry) hit = undefined
    })
    return entry.routing
  }
  /** Channels, policies or subscriptions changed: read them again next time. */
  const invalidate = () => void (hit = undefined)
  return { load, invalidate }
}
export type RoutingCache = ReturnType<typeof createRoutingCache>

/**
 * Where an alert with these labels is notified: the matching policies' routes, or the default. A
 * `homeostat_notification_failed` alert (dead.ts) is never sent through the channel that failed
 * (its `channel_id` label): that channel is left out of every route and escalation, and when the
 * policies chose only it, the alert goes to every other enabled channel instead (the default
 * route without it), so a person hears of the failure wherever else they can.
 */
export function routesFrom(routing: Routing, labels: Record<string, string>): Route[] {
  const failed = labels.alertname === NOTIFICATION_FAILED ? labels.channel_id : undefined
  const routes = policyRoutes(routing, labels)
  if (!failed) return routes
  const avoid = (ids: string[]) => ids.filter((id) => id !== failed)
  const kept = routes.map((r) => ({
    ...r,
    channelIds: avoid(r.channelIds),
    escalations: r.escalations.map((e) => ({ ...e, channelIds: avoid(e.channelIds) })),
  }))
  return kept.some((r) => r.channelIds.length) ? kept : [defaultRoute(avoid([...routing.enabledChannels]))]
}

function policyRoutes({ enabledChannels, policies: list }: Routing, labels: Record<string, string>): Route[] {
  const routes: Route[] = []
  for (const p of list) {
    if (!p.test(labels)) continue
    routes.push({
      policyId: p.id,
      channelIds: p.channelIds.filter((id) => enabledChannels.has(id)),
      groupBy: p.groupBy,
      groupWaitMs: p.groupWaitMs,
      groupIntervalMs: p.groupIntervalMs,
      repeatIntervalMs: p.repeatIntervalMs,
      sendResolved: p.sendResolved,
      escalations: p.escalations.map((e) => ({
        afterMs: e.afterMs,
        channelIds: e.channelIds.filter((id) => enabledChannels.has(id)),
      })),
    })
    if (!p.continue) break
  }
  if (routes.length) return routes
  return [defaultRoute([...enabledChannels])]
}

/** The route of an alert no policy matches: every enabled channel, at once, no grouping. */
const defaultRoute = (channelIds: string[]): Route => ({
  policyId: null,
  channelIds,
  groupBy: [],
  groupWaitMs: 0,
  groupIntervalMs: 0,
  repeatIntervalMs: DEFAULT_REPEAT_MS,
  sendResolved: true,
  escalations: [],
})

/** Alerts of one policy with the same values of its groupBy labels share a group. */
export const groupKeyOf = (r: Route, labels: Record<string, string>) =>
  r.policyId ? `${r.policyId}:${JSON.stringify(r.groupBy.map((l) => labels[l] ?? ''))}` : null

async function checkChannels(db: Db, ids: string[], field: string) {
  if (!ids.length) return
  const found = new Set(
    (await db.select({ id: channels.id }).from(channels).where(inArray(channels.id, ids))).map((c) => c.id),
  )
  const missing = ids.filter((id) => !found.has(id))
  if (missing.length) throw badRequest('Unknown channel', [{ field, message: `unknown channel ${missing.join(', ')}` }])
}

type Row = Omit<Policy, 'id' | 'createdAt' | 'updatedAt'>

function toRow(input: PolicyInput | PolicyPatchInput, base: Row): Row {
  return {
    name: input.name ?? base.name,
    position: input.position ?? base.position,
    matchers: input.matchers ?? base.matchers,
    channelIds: input.channelIds ?? base.channelIds,
    groupBy: input.groupBy ?? base.groupBy,
    groupWaitMs: input.groupWait ?? base.groupWaitMs,
    groupIntervalMs: input.groupInterval ?? base.groupIntervalMs,
    repeatIntervalMs: input.repeatInterval ?? base.repeatIntervalMs,
    continue: input.continue ?? base.continue,
    sendResolved: input.sendResolved ?? base.sendResolved,
    escalations: input.escalations
      ? input.escalations.map((e) => ({ afterMs: e.after, channelIds: e.channelIds }))
      : base.escalations,
    enabled: input.enabled ?? base.enabled,
  }
}

async function check(db: Db, row: Row) {
  await checkChannels(db, row.channelIds, 'channelIds')
  for (const [i, e] of row.escalations.entries()) await checkChannels(db, e.channelIds, `escalations.${i}.channelIds`)
}

const uniqueName = (error: unknown) => isUniqueViolation(error, 'policies.name')

export async function createPolicy(db: Db, input: PolicyInput, now: number) {
  const [last] = await db.select({ position: max(policies.position) }).from(policies)
  const base: Row = {
    name: input.name,
    position: (last?.position ?? -10) + 10,
    matchers: [],
    channelIds: [],
    groupBy: [],
    groupWaitMs: 30_000,
    groupIntervalMs: 300_000,
    repeatIntervalMs: DEFAULT_REPEAT_MS,
    continue: false,
    sendResolved: true,
    escalations: [],
    enabled: true,
  }
  const row = toRow(input, base)
  await check(db, row)
  try {
    const [created] = await db
      .insert(policies)
      .values({ ...row, id: newId(now), createdAt: now, updatedAt: now })
      .returning()
    return created!
  } catch (error) {
    if (uniqueName(error)) throw conflict(`A policy named ${row.name} already exists`)
    throw error
  }
}

export async function getPolicy(db: Db, id: string) {
  const [row] = await db.select().from(policies).where(eq(policies.id, id))
  if (!row) throw notFound('Policy')
  return row
}

export const listPolicies = (db: Db) =>
  db.select().from(policies).orderBy(asc(policies.position), asc(policies.createdAt))

export async function updatePolicy(db: Db, before: Policy, patch: PolicyPatchInput, now: number) {
  const row = toRow(patch, before)
  await check(db, row)
  try {
    const [updated] = await db
      .update(policies)
      .set({ ...row, updatedAt: now })
      .where(eq(policies.id, before.id))
      .returning()
    if (!updated) throw notFound('Policy')
    return updated
  } catch (error) {
    if (uniqueName(error)) throw conflict(`A policy named ${row.name} already exists`)
    throw error
  }
}

export const deletePolicy = (db: Db, id: string) => db.delete(policies).where(eq(policies.id, id))

export const policyJson = (p: Policy) => ({
  id: p.id,
  name: p.name,
  position: p.position,
  matchers: p.matchers,
  channelIds: p.channelIds,
  groupBy: p.groupBy,
  groupWaitMs: p.groupWaitMs,
  groupIntervalMs: p.groupIntervalMs,
  repeatIntervalMs: p.repeatIntervalMs,
  continue: p.continue,
  sendResolved: p.sendResolved,
  escalations: p.escalations,
  enabled: p.enabled,
  createdAt: toIso(p.createdAt),
  updatedAt: toIso(p.updatedAt),
})
