import { and, asc, desc, eq, gte, lt, or, sql } from 'drizzle-orm'
import { readRows, writeNow, type Db } from '../../../db/client.ts'
import { components, statusHistory, type Component, type StatusRow } from '../../../db/schema/components.ts'
import { type Sealer, sha256 } from '../../lib/crypto.ts'
import { isUniqueViolation } from '../../lib/db-errors.ts'
import { badRequest, conflict, notFound } from '../../lib/errors.ts'
import { newId, randomToken } from '../../lib/ids.ts'
import { page } from '../../lib/pagination.ts'
import { toIso } from '../../lib/time.ts'
import type { MetricStore, Sample } from '../metrics/index.ts'
import type { ComponentInput, ComponentPatchInput } from './schema.ts'

export const DEFAULTS = {
  method: 'GET',
  intervalSeconds: 60,
  timeoutMs: 10_000,
  expectedStatus: ['200-399'],
  graceSeconds: 30,
} as const

type Deps = { db: Db; sealer: Sealer }

/** The columns a component's check configuration sets; the other kind's columns are cleared. */
function checkColumns(input: Pick<ComponentInput, 'http' | 'push'>, now: number, current?: Component) {
  if (input.http) {
    const h = input.http
    const interval = h.intervalSeconds ?? DEFAULTS.intervalSeconds
    const timeout = h.timeoutMs ?? DEFAULTS.timeoutMs
    if (timeout > interval * 1000)
      throw badRequest('Invalid body', [
        { field: 'http.timeoutMs', message: `must not be longer than the interval (${interval * 1000} ms)` },
      ])
    if (h.expectedBodyText && h.method === 'HEAD')
      throw badRequest('Invalid body', [
        { field: 'http.expectedBodyText', message: 'cannot be checked with HEAD (no body); use GET or POST' },
      ])
    const expected = h.expectedStatus ?? null
    return {
      checkType: 'http' as const,
      url: h.url,
      method: h.method ?? DEFAULTS.method,
      intervalSeconds: interval,
      timeoutMs: timeout,
      expectedStatus: expected && !(expected.length === 1 && expected[0] === '200-399') ? expected : null,
      expectedBodyText: h.expectedBodyText || null,
      pushTokenHash: null,
      pushTokenSealed: null,
      expectedIntervalSeconds: null,
      graceSeconds: null,
      // A new or changed check runs at the next tick.
      nextCheckAt: now,
    }
  }
  const p = input.push!
  const wasPush = current?.checkType === 'push'
  const grace = p.graceSeconds ?? DEFAULTS.graceSeconds
  const since = wasPush ? Math.max(current!.lastCheckAt ?? current!.createdAt, current!.createdAt) : now
  return {
    checkType: 'push' as const,
    url: null,
    method: null,
    intervalSeconds: null,
    timeoutMs: null,
    expectedStatus: null,
    expectedBodyText: null,
    expectedIntervalSeconds: p.expectedIntervalSeconds,
    graceSeconds: grace,
    // A missing heartbeat is recorded once the interval and grace have passed without one.
    nextCheckAt: Math.max(now, since + (p.expectedIntervalSeconds + grace) * 1000),
  }
}

/** Where a component's sealed push token lives (AAD): it opens in this row only, never copied into another. */
export const pushTokenAad = (id: string) => `components:${id}:push_token_sealed`

function newToken(sealer: Sealer, id: string) {
  const token = randomToken(24)
  return { token, pushTokenHash: sha256(token), pushTokenSealed: sealer.seal(token, pushTokenAad(id)) }
}

/** The push token in the clear (shown to operators), or null when there is none or it does not open here. */
export function openPushToken(sealer: Sealer, c: Component): string | null {
  if (c.checkType !== 'push' || !c.pushTokenSealed) return null
  try {
    return sealer.open(c.pushTokenSealed, pushTokenAad(c.id))
  } catch {
    return null // copied from another row or sealed with another SECRET_KEY: rotate the token
  }
}

async function assertNameFree(db: Db, name: string, exceptId?: string) {
  const [row] = await db.select({ id: components.id }).from(components).where(eq(components.name, name))
  if (row && row.id !== exceptId) throw conflict(`A component named ${name} already exists`)
}

function eitherCheck(input: { http?: unknown; push?: unknown }, required: boolean) {
  if (input.http && input.push)
    throw badRequest('Invalid body', [
      { field: 'push', message: 'give either an http check or a push heartbeat, not both' },
    ])
  if (required && !input.http && !input.push)
    throw badRequest('Invalid body', [
      { field: 'http', message: 'give an http check {url, …} or a push heartbeat {expectedIntervalSeconds}' },
    ])
}

export async function createComponent({ db, sealer }: Deps, input: ComponentInput, now = Date.now()) {
  eitherCheck(input, true)
  await assertNameFree(db, input.name)
  const id = newId(now)
  const row: Component = {
    id,
    name: input.name,
    kind: input.kind,
    description: input.description ?? '',
    labels: input.labels ?? {},
    pushTokenHash: null,
    pushTokenSealed: null,
    ...checkColumns(input, now),
    ...(input.push ? newToken(sealer, id) : {}),
    status: 'unknown',
    statusSince: now,
    lastCheckAt: null,
    lastMessage: null,
    lastLatencyMs: null,
    createdAt: now,
    updatedAt: now,
  }
  try {
    await db.insert(components).values(row)
  } catch (error) {
    if (isUniqueViolation(error)) throw conflict(`A component named ${input.name} already exists`)
    throw error
  }
  return row
}

export async function getComponent(db: Db, id: string) {
  const [row] = await db.select().from(components).where(eq(components.id, id))
  if (!row) throw notFound('Component')
  return row
}

export async function updateComponent({ db, sealer }: Deps, id: string, patch: ComponentPatchInput, now = Date.now()) {
  eitherCheck(patch, false)
  const current = await getComponent(db, id)
  if (patch.name !== undefined && patch.name !== current.name) await assertNameFree(db, patch.name, id)
  const set: Partial<Component> = { updatedAt: now }
  if (patch.name !== undefined) set.name = patch.name
  if (patch.kind !== undefined) set.kind = patch.kind
  if (patch.labels !== undefined) set.labels = patch.labels
  if (patch.description !== undefined) set.description = patch.description
  if (patch.http) {
    const base = current.checkType === 'http' ? httpConfig(current)! : undefined
    const merged = {
      ...base,
      ...Object.fromEntries(Object.entries(patch.http).filter(([, value]) => value !== undefined)),
    }
    if (!merged.url)
      throw badRequest('Invalid body', [{ field: 'http.url', message: 'is required when switching to an http check' }])
    Object.assign(set, checkColumns({ http: merged as NonNullable<ComponentInput['http']> }, now, current))
  }
  if (patch.push) {
    const base =
      current.checkType === 'push'
        ? { expectedIntervalSeconds: current.expectedIntervalSeconds!, graceSeconds: current.graceSeconds! }
        : undefined
    const merged = {
      ...base,
      ...Object.fromEntries(Object.entries(patch.push).filter(([, value]) => value !== undefined)),
    }
    if (merged.expectedIntervalSeconds === undefined)
      throw badRequest('Invalid body', [
        { field: 'push.expectedIntervalSeconds', message: 'is required when switching to a push heartbeat' },
      ])
    Object.assign(set, checkColumns({ push: merged as NonNullable<ComponentInput['push']> }, now, current))
    if (current.checkType !== 'push') Object.assign(set, newToken(sealer, id))
  }
  try {
    await db.update(components).set(set).where(eq(components.id, id))
  } catch (error) {
    if (isUniqueViolation(error)) throw conflict(`A component named ${patch.name} already exists`)
    throw error
  }
  return { ...current, ...set } as Component
}

export async function rotateToken({ db, sealer }: Deps, id: string, now = Date.now()) {
  const current = await getComponent(db, id)
  if (current.checkType !== 'push')
    throw badRequest('This component has an http check, not a push heartbeat', [
      { field: 'id', message: 'is not a push component' },
    ])
  const set = { ...newToken(sealer, id), updatedAt: now }
  await db.update(components).set(set).where(eq(components.id, id))
  return { ...current, ...set } as Component
}

export async function deleteComponent(db: Db, id: string) {
  const row = await getComponent(db, id)
  await db.batch([
    db.delete(statusHistory).where(eq(statusHistory.componentId, id)),
    db.delete(components).where(eq(components.id, id)),
  ])
  return row
}

export async function listComponents(db: Db, q: { limit: number; cursor?: string; kind?: Component['kind'] }) {
  const rows = await db
    .select()
    .from(components)
    .where(
      and(
        q.kind ? eq(components.kind, q.kind) : undefined,
        q.cursor ? sql`${components.name} > ${q.cursor}` : undefined,
      ),
    )
    .orderBy(asc(components.name))
    .limit(q.limit + 1)
  return page(rows, q.limit, (r) => r.name)
}

/**
 * A URL without its user, password, query string and fragment, for showing to those who may not
 * change it: check URLs often carry a token there (`?apikey=…`, `https://user:pass@…`).
 */
export function safeUrl(url: string) {
  try {
    const u = new URL(url)
    if (!u.username && !u.password && !u.search && !u.hash) return url
    u.username = ''
    u.password = ''
    u.search = ''
    u.hash = ''
    return u.toString()
  } catch {
    return '(hidden)'
  }
}

export function httpConfig(c: Component) {
  if (c.checkType !== 'http') return null
  return {
    url: c.url!,
    method: c.method!,
    intervalSeconds: c.intervalSeconds!,
    timeoutMs: c.timeoutMs!,
    expectedStatus: c.expectedStatus ?? [...DEFAULTS.expectedStatus],
    expectedBodyText: c.expectedBodyText,
  }
}

/** The API shape. Operators see the push token and URL; viewers do not. */
export function componentJson(
  c: Component,
  opts: { sealer: Sealer; publicUrl: string; showToken: boolean },
  extra: Record<string, unknown> = {},
) {
  const token = opts.showToken ? (openPushToken(opts.sealer, c) ?? undefined) : undefined
  return {
    id: c.id,
    name: c.name,
    kind: c.kind,
    description: c.description,
    labels: c.labels,
    check: c.checkType,
    http: c.checkType === 'http' ? { ...httpConfig(c)!, url: opts.showToken ? c.url! : safeUrl(c.url!) } : null,
    push:
      c.checkType === 'push'
        ? {
            expectedIntervalSeconds: c.expectedIntervalSeconds!,
            graceSeconds: c.graceSeconds!,
            ...(token ? { token, url: `${opts.publicUrl}/api/v1/push/${token}` } : {}),
          }
        : null,
    status: {
      state: c.status,
      since: toIso(c.statusSince),
      lastCheckAt: toIso(c.lastCheckAt),
      message: c.lastMessage,
      latencyMs: c.lastLatencyMs,
    },
    ...extra,
    createdAt: toIso(c.createdAt),
    updatedAt: toIso(c.updatedAt),
  }
}

export type CheckResult = {
  ts: number
  up: boolean
  source: StatusRow['source']
  code?: number | null
  message?: string | null
  latencyMs?: number | null
  /** Extra metric samples, e.g. ping_ms of a heartbeat. */
  metrics?: { name: string; value: number }[]
  /** When the next check is due (HTTP) or the next missing heartbeat is recorded (push). */
  nextCheckAt?: number
}

/**
 * Told when a component goes up or down (not on every result): the status pages drop what they
 * cached for it. `c.status` is the state read before the check, so a change by another instance
 * at the same moment may be told twice, which only costs a cache refill.
 */
export type StateChangeListener = (componentId: string, state: 'up' | 'down') => void

/** How long one result counts for uptime at most: two check intervals (push: interval + grace). */
const CAP = `(case check_type when 'http' then interval_seconds * 2000 else (expected_interval_seconds + grace_seconds) * 2000 end)`
export const CAP_SQL = sql.raw(CAP)

export const metricLabels = (c: Pick<Component, 'name' | 'labels'>) => ({ ...c.labels, component: c.name })

// A result's two writes as fixed SQL texts: on a local file they run on the writer's connection
// with kept statements (db/client.ts `writeNow`). Building them with Drizzle and preparing them
// anew was most of a heartbeat's CPU (issue 24: 3 ms a heartbeat, for two one-row statements).
// The previous result (the component's current status) held from its time until this one.
const INSERT_HISTORY = `insert into status_history
  (component_id, ts, up, source, code, message, latency_ms, prev_ts, prev_up, held_ms)
  select id, ?1, ?2, ?3, ?4, ?5, ?6, last_check_at,
    case when last_check_at is null then null else status = 'up' end,
    case when last_check_at is null then 0 else max(0, min(?1 - last_check_at, ${CAP})) end
  from components where id = ?7`
// `next_check_at` stays as it is when the result names none (?5 null).
const UPDATE_STATUS = `update components set status = ?1,
  status_since = case when status = ?1 then status_since else ?2 end,
  last_check_at = max(coalesce(last_check_at, 0), ?2),
  last_message = ?3, last_latency_ms = ?4, next_check_at = coalesce(?5, next_check_at)
  where id = ?6`

/** What recording a result needs of its component (a heartbeat reads only these). */
export type ResultTarget = Pick<Component, 'id' | 'name' | 'labels' | 'status'>

/**
 * Records one result: a status-history row and the component's current status (one transaction),
 * then `up` and the result's other metrics through the metric store.
 */
export async function recordResult(
  deps: { db: Db; store: MetricStore; onStateChange?: StateChangeListener },
  c: ResultTarget,
  r: CheckResult,
) {
  const { db, store } = deps
  const state = r.up ? 'up' : 'down'
  const message = r.message ? r.message.slice(0, 1000) : null
  const [inserted] = await writeNow(db, [
    {
      sql: INSERT_HISTORY,
      args: [r.ts, r.up ? 1 : 0, r.source, r.code ?? null, message, r.latencyMs ?? null, c.id],
    },
    { sql: UPDATE_STATUS, args: [state, r.ts, message, r.latencyMs ?? null, r.nextCheckAt ?? null, c.id] },
  ])
  if (!inserted) return false // the component was deleted meanwhile
  if (c.status !== state) deps.onStateChange?.(c.id, state)
  const labels = metricLabels(c)
  const samples: Sample[] = [
    { name: 'up', labels, value: r.up ? 1 : 0, ts: r.ts },
    ...(r.metrics ?? []).map((m) => ({ ...m, labels, ts: r.ts })),
  ]
  await store.write(samples, r.ts)
  return true
}

const PUSH_TARGET = `select id, name, labels, status, expected_interval_seconds, grace_seconds
  from components where push_token_hash = ? and check_type = 'push'`

/**
 * The push component a heartbeat's token names, or undefined: one read with a kept statement of
 * only the columns a heartbeat uses (db/client.ts `readRows`), no Drizzle row mapping.
 */
export async function findPushTarget(db: Db, token: string) {
  const [row] = await readRows(db, PUSH_TARGET, [sha256(token)])
  if (!row) return undefined
  const [id, name, labels, status, interval, grace] = row as [
    string,
    string,
    string,
    Component['status'],
    number,
    number,
  ]
  return {
    id,
    name,
    labels: JSON.parse(labels) as Record<string, string>,
    status,
    intervalMs: (interval + grace) * 1000,
  }
}

export async function listHistory(
  db: Db,
  id: string,
  q: { from?: number; to?: number; limit: number; cursor?: string },
) {
  const [cts, cid] = q.cursor ? q.cursor.split(':').map(Number) : []
  const rows = await db
    .select()
    .from(statusHistory)
    .where(
      and(
        eq(statusHistory.componentId, id),
        q.from !== undefined ? gte(statusHistory.ts, q.from) : undefined,
        q.to !== undefined ? lt(statusHistory.ts, q.to) : undefined,
        cts !== undefined
          ? or(lt(statusHistory.ts, cts), and(eq(statusHistory.ts, cts), lt(statusHistory.id, cid!)))
          : undefined,
      ),
    )
    .orderBy(desc(statusHistory.ts), desc(statusHistory.id))
    .limit(q.limit + 1)
  return page(rows, q.limit, (r) => `${r.ts}:${r.id}`)
}

export const historyJson = (r: StatusRow) => ({
  ts: toIso(r.ts),
  up: r.up,
  source: r.source,
  code: r.code,
  message: r.message,
  latencyMs: r.latencyMs,
})
