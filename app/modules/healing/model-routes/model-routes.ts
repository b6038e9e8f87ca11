import { and, asc, desc, eq, gt, lt, ne, sql } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import {
  modelRouteEvents,
  modelRoutes,
  type CircuitBreaker,
  type ModelRoute,
  type RouteTarget,
} from '../../../../db/schema/healing.ts'
import { sha256 } from '../../../lib/crypto.ts'
import { conflict } from '../../../lib/errors.ts'
import { newId } from '../../../lib/ids.ts'
import { toIso } from '../../../lib/time.ts'
import { type Breakers, breakerIsOpen, closedSince, getBreakers, targetBreakerKey } from '../breakers/breakers.ts'
import { isWeighted, pickByKey, pickRandom, type Split, splitOf } from './weights.ts'

export type { ModelRoute, RouteTarget } from '../../../../db/schema/healing.ts'

export type RouteInput = {
  name: string
  description?: string
  targets: RouteTarget[]
  failbackAfterMs?: number
  probePath?: string
}
export type RoutePatch = Partial<Omit<RouteInput, 'name'>>

/**
 * A target traffic may move to: its breaker is CLOSED, or it has none yet (never reported).
 * OPEN and HALF_OPEN targets are skipped: a half-open target has not proven itself yet.
 */
export const usable = (b: CircuitBreaker | undefined) => !b || b.state === 'CLOSED'

// --- the answer agents read, cached per process ---------------------------------------------------

/** How long a cached answer is served before it is read again (covers changes made by other instances). */
export const ROUTE_CACHE_MS = 1000
/** Compare-and-set attempts of a traffic move before it gives up. */
const RETRIES = 5

/**
 * One route's cached answer. An unweighted route has one answer for everyone; a weighted one has an
 * answer per target a caller may be sent to (`split`), built the first time it is picked.
 */
type Cached = {
  at: number
  gen: number
  etag: string
  body: string
  version: number
  split?: Split
  picks?: ({ etag: string; body: string } | undefined)[]
  build?: (pick: number) => string
}

const stateLetter = (b: CircuitBreaker | undefined) => (b ? b.state[0] : 'N')

export async function getRouteByName(db: Db, name: string): Promise<ModelRoute | undefined> {
  const [r] = await db.select().from(modelRoutes).where(eq(modelRoutes.name, name))
  return r
}

/**
 * A route as the API shows it. `pick`: for the agents' read of a weighted route, the target this
 * caller is sent to, shown as `active`/`activeIndex` so an agent's loop (call `active`) is the
 * same for both kinds of route; without it `active` is the route's failover position.
 * `resolved`: target index → the model an alias target points at now (the answer names that model,
 * and the alias it came from); breaker keys stay those of the target as written.
 */
export function routeJson(
  r: ModelRoute,
  breakers: Map<string, CircuitBreaker>,
  now: number,
  pick?: number,
  resolved: Map<number, string | null> = new Map(),
) {
  const activeIndex = pick ?? r.activeIndex
  const targets = r.targets.map((t, index) => {
    const key = targetBreakerKey(t)
    const b = breakers.get(key)
    const alias = resolved.has(index) ? { alias: t.model, aliasResolved: resolved.get(index) !== null } : {}
    return {
      index,
      model: resolved.get(index) ?? t.model,
      ...alias,
      host: t.host,
      ...(t.weight !== undefined ? { weight: t.weight } : {}),
      active: index === activeIndex,
      breaker: {
        key,
        state: b?.state ?? null,
        retryAt: b?.state === 'OPEN' ? toIso(b.retryAt) : null,
        lastError: b && b.state !== 'CLOSED' ? b.lastError : null,
      },
      healthy: usable(b),
    }
  })
  const active = targets[activeIndex] ?? null
  return {
    id: r.id,
    name: r.name,
    description: r.description,
    version: r.version,
    weighted: isWeighted(r.targets),
    activeIndex,
    active: active
      ? {
          model: active.model,
          ...('alias' in active ? { alias: active.alias } : {}),
          host: active.host,
          ...(active.weight !== undefined ? { weight: active.weight } : {}),
          healthy: active.healthy,
          breakerState: active.breaker.state,
        }
      : null,
    targets,
    /** Whether the breaker of the active target is open right now (OPEN and not due a probe). */
    activeOpen: active ? breakerIsOpen(breakers.get(active.breaker.key), now) : false,
    failbackAfterMs: r.failbackAfterMs,
    probePath: r.probePath,
    changedAt: toIso(r.changedAt),
    changeReason: r.changeReason,
    createdAt: toIso(r.createdAt),
    updatedAt: toIso(r.updatedAt),
  }
}

/** Whether an If-None-Match header matches the ETag (weak comparison, as RFC 9110 asks for GET). */
export function etagMatches(header: string | undefined, etag: string) {
  if (!header) return false
  if (header.trim() === '*') return true
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)
}

// --- CRUD -----------------------------------------------------------------------------------------

export async function listRoutes(db: Db, q: { limit: number; cursor?: string }) {
  const rows = await db
    .select()
    .from(modelRoutes)
    .where(q.cursor ? gt(modelRoutes.name, q.cursor) : undefined)
    .orderBy(asc(modelRoutes.name))
    .limit(q.limit + 1)
  const items = rows.slice(0, q.limit)
  return { items, next: rows.length > q.limit ? items.at(-1)!.name : null }
}

const normaliseTargets = (targets: RouteTarget[]) =>
  targets.map((t) => ({
    model: t.model,
    host: t.host.replace(/\/+$/, ''),
    ...(t.weight !== undefined ? { weight: t.weight } : {}),
  }))

export async function routeEvents(db: Db, routeId: string, q: { limit: number; cursor?: string }) {
  const rows = await db
    .select()
    .from(modelRouteEvents)
    .where(
      and(
        eq(modelRouteEvents.routeId, routeId),
        q.cursor && /^\d+$/.test(q.cursor) ? lt(modelRouteEvents.id, Number(q.cursor)) : undefined,
      ),
    )
    .orderBy(desc(modelRouteEvents.id))
    .limit(q.limit + 1)
  const items = rows.slice(0, q.limit)
  return { items, next: rows.length > q.limit ? String(items.at(-1)!.id) : null }
}

export const routeEventJson = (e: typeof modelRouteEvents.$inferSelect) => ({
  id: e.id,
  ts: toIso(e.ts),
  from: e.fromIndex,
  to: e.toIndex,
  reason: e.reason,
  actor: e.actor,
})

/** Names of the routes whose active target is the one behind this breaker key. */
export async function routesOnBreaker(db: Db, key: string): Promise<string[]> {
  const rows = await db
    .select({ name: modelRoutes.name, targets: modelRoutes.targets, activeIndex: modelRoutes.activeIndex })
    .from(modelRoutes)
  return rows
    .filter((r) => r.targets[r.activeIndex] && targetBreakerKey(r.targets[r.activeIndex]!) === key)
    .map((r) => r.name)
}

// --- what writes routes, made once by the healing service ----------------------------------------

/**
 * The model routes' answer cache and every write that must invalidate it: creating, changing,
 * deleting a route and moving its traffic (failover, failback). One per process, made by the
 * healing service; the cached answer also follows `breakers.generation()`.
 */
export function createModelRoutes(
  db: Db,
  breakers: Pick<Breakers, 'generation'>,
  resolveModel?: (model: string) => Promise<string | null>,
) {
  const cache = new Map<string, Cached>()
  /** Drops the cached answers (after any route change in this process). */
  const invalidate = () => cache.clear()

  /**
   * The answer of `GET /api/v1/model-routes/:name`: the JSON text and its strong ETag
   * (`"<version>.<one letter per target: C closed, O open, H half-open, N no breaker>"`).
   * Served from a per-process cache that any route or breaker change in this process invalidates,
   * and that is read again after ROUTE_CACHE_MS at most (changes made by another instance).
   */
  async function answer(
    name: string,
    now: number,
    callerKey?: string,
  ): Promise<{ etag: string; body: string; weighted: boolean } | undefined> {
    const gen = breakers.generation()
    let entry = cache.get(name)
    if (!entry || entry.gen !== gen || now - entry.at >= ROUTE_CACHE_MS || now < entry.at) {
      const r = await getRouteByName(db, name)
      if (!r) {
        cache.delete(name)
        return undefined
      }
      const states = await getBreakers(db, r.targets.map(targetBreakerKey))
      const letters = r.targets.map((t) => stateLetter(states.get(targetBreakerKey(t)))).join('')
      // Alias targets are read each time the answer is (re)built; a moved alias drops the cache
      // and changes the ETag.
      const resolved = new Map<number, string | null>()
      if (resolveModel)
        for (const [i, t] of r.targets.entries())
          if (t.model.startsWith('alias:')) resolved.set(i, await resolveModel(t.model))
      const aliasPart = [...resolved.values()].map((m) => m ?? '-').join(',')
      const etag = `"${r.version}.${letters}${aliasPart ? `.${sha256(aliasPart).slice(0, 8)}` : ''}"`
      entry = { at: now, gen, etag, body: '', version: r.version }
      if (isWeighted(r.targets)) {
        const healthy = r.targets.map((t) => usable(states.get(targetBreakerKey(t))))
        entry.split = splitOf(r.targets, healthy, targetBreakerKey)
        entry.picks = []
        entry.build = (pick) => JSON.stringify(routeJson(r, states, now, pick, resolved))
      } else entry.body = JSON.stringify(routeJson(r, states, now, undefined, resolved))
      if (cache.size > 10_000) cache.clear()
      cache.set(name, entry)
    }
    if (!entry.split) return { etag: entry.etag, body: entry.body, weighted: false }
    const pick = callerKey === undefined ? pickRandom(entry.split, Math.random()) : pickByKey(entry.split, callerKey)
    // One ETag per target a caller can be sent to: a caller whose target is unchanged keeps its 304s.
    let built = entry.picks![pick]
    if (!built) {
      built = { etag: `${entry.etag.slice(0, -1)}.${pick}"`, body: entry.build!(pick) }
      entry.picks![pick] = built
    }
    return { ...built, weighted: true }
  }

  async function create(input: RouteInput, now: number): Promise<ModelRoute> {
    const row: ModelRoute = {
      id: newId(now),
      name: input.name,
      description: input.description ?? '',
      targets: normaliseTargets(input.targets),
      activeIndex: 0,
      failbackAfterMs: input.failbackAfterMs ?? 60_000,
      probePath: input.probePath ?? '',
      version: 1,
      changedAt: now,
      changeReason: 'created',
      createdAt: now,
      updatedAt: now,
    }
    const inserted = await db.insert(modelRoutes).values(row).onConflictDoNothing().returning()
    if (!inserted.length) throw conflict(`A model route named ${input.name} already exists`)
    invalidate()
    return inserted[0]!
  }

  /**
   * Changes a route. New targets keep the one in use active when it is still in the list (at its
   * new place); otherwise the route goes back to target 0 (recorded as a route event).
   */
  async function update(before: ModelRoute, patch: RoutePatch, actor: string, now: number): Promise<ModelRoute> {
    const set: Partial<ModelRoute> = { updatedAt: now }
    if (patch.description !== undefined) set.description = patch.description
    if (patch.failbackAfterMs !== undefined) set.failbackAfterMs = patch.failbackAfterMs
    if (patch.probePath !== undefined) set.probePath = patch.probePath
    let moved: { from: number; to: number } | undefined
    if (patch.targets) {
      const targets = normaliseTargets(patch.targets)
      set.targets = targets
      const activeKey = before.targets[before.activeIndex] ? targetBreakerKey(before.targets[before.activeIndex]!) : ''
      const at = targets.findIndex((t) => targetBreakerKey(t) === activeKey)
      const to = at >= 0 ? at : 0
      set.activeIndex = to
      if (to !== before.activeIndex || at < 0) {
        moved = { from: before.activeIndex, to }
        set.changedAt = now
        set.changeReason = at < 0 ? 'targets changed: the active target was removed' : 'targets changed'
      }
    }
    const [row] = await db.batch([
      db
        .update(modelRoutes)
        .set({ ...set, version: sql`${modelRoutes.version} + 1` })
        .where(eq(modelRoutes.id, before.id))
        .returning(),
      ...(moved && moved.from !== moved.to
        ? [
            db.insert(modelRouteEvents).values({
              routeId: before.id,
              ts: now,
              fromIndex: moved.from,
              toIndex: moved.to,
              reason: set.changeReason!,
              actor,
            }),
          ]
        : []),
    ])
    invalidate()
    return (row as ModelRoute[])[0] ?? before
  }

  async function remove(id: string) {
    await db.delete(modelRoutes).where(eq(modelRoutes.id, id))
    invalidate()
  }

  // --- moving traffic -------------------------------------------------------------------------------

  /**
   * Sets the active index from `from` to `to` when the route is still at `version` (compare-and-set),
   * with its event in the same transaction. False when another change got there first.
   */
  async function move(r: ModelRoute, to: number, opts: { reason: string; actor: string; now: number }) {
    const reason = opts.reason.slice(0, 500)
    const [, rows] = await db.batch([
      db.run(sql`insert into model_route_events (route_id, ts, from_index, to_index, reason, actor)
        select ${r.id}, ${opts.now}, ${r.activeIndex}, ${to}, ${reason}, ${opts.actor.slice(0, 200)}
        where exists (select 1 from model_routes where id = ${r.id} and version = ${r.version})`),
      db
        .update(modelRoutes)
        .set({
          activeIndex: to,
          version: r.version + 1,
          changedAt: opts.now,
          changeReason: reason,
          updatedAt: opts.now,
        })
        .where(and(eq(modelRoutes.id, r.id), eq(modelRoutes.version, r.version)))
        .returning({ id: modelRoutes.id }),
    ])
    invalidate()
    return (rows as unknown[]).length > 0
  }

  /**
   * Moves the route to the next target whose breaker is not OPEN (CLOSED or never reported; HALF_OPEN
   * targets are skipped too), looking after the active one first and then from the top of the list.
   * Null when none is healthy (nothing changes), or when the route does not exist. Writes
   * model_route_events, bumps version.
   *
   * `ifActiveKey`: only move when the active target's breaker key is this one (for a breaker that
   * opened: a target that is not in use opening moves nothing); otherwise `{from, to}` are equal.
   */
  async function failover(
    name: string,
    opts: { reason: string; actor: string; now: number; ifActiveKey?: string },
  ): Promise<{ from: number; to: number } | null> {
    for (let attempt = 0; attempt < RETRIES; attempt++) {
      const r = await getRouteByName(db, name)
      if (!r) return null
      if (opts.ifActiveKey !== undefined && targetBreakerKey(r.targets[r.activeIndex]!) !== opts.ifActiveKey)
        return { from: r.activeIndex, to: r.activeIndex }
      const states = await getBreakers(db, r.targets.map(targetBreakerKey))
      const order = [...r.targets.keys()]
        .map((i) => (r.activeIndex + 1 + i) % r.targets.length)
        .filter((i) => i !== r.activeIndex)
      const to = order.find((i) => usable(states.get(targetBreakerKey(r.targets[i]!))))
      if (to === undefined) return null
      if (await move(r, to, opts)) return { from: r.activeIndex, to }
    }
    return null
  }

  /** Back to target 0 (or a given index). Null when the route does not exist, the index is out of range, or it is already there. */
  async function failback(
    name: string,
    opts: { reason: string; actor: string; now: number; toIndex?: number },
  ): Promise<{ from: number; to: number } | null> {
    const to = opts.toIndex ?? 0
    for (let attempt = 0; attempt < RETRIES; attempt++) {
      const r = await getRouteByName(db, name)
      if (!r || to < 0 || to >= r.targets.length || r.activeIndex === to) return null
      if (await move(r, to, opts)) return { from: r.activeIndex, to }
    }
    return null
  }

  /**
   * Automatic failback (run by the probe job every tick): a route not on target 0 goes back to it
   * when target 0's breaker has been CLOSED — closed again after its half-open probes, or never
   * opened — with no failure for `failbackAfterMs`, and the route itself has not changed for that
   * long. Recorded in model_route_events with the reason. A route a person moved (manual failover
   * or failback through the API) is left where they put it.
   */
  async function runFailbacks(now: number): Promise<number> {
    const away = await db.select().from(modelRoutes).where(ne(modelRoutes.activeIndex, 0))
    if (!away.length) return 0
    const states = await getBreakers(
      db,
      away.map((r) => targetBreakerKey(r.targets[0]!)),
    )
    let moved = 0
    for (const r of away) {
      const b = states.get(targetBreakerKey(r.targets[0]!))
      if (!b || b.state !== 'CLOSED' || b.lastSuccessAt === null) continue
      // A person moved it (manual failover): it stays until they move it back.
      const [last] = await db
        .select({ actor: modelRouteEvents.actor })
        .from(modelRouteEvents)
        .where(eq(modelRouteEvents.routeId, r.id))
        .orderBy(desc(modelRouteEvents.id))
        .limit(1)
      if (last && /^(user|key):/.test(last.actor)) continue
      const since = Math.max(
        (await closedSince(db, b)) ?? now,
        b.lastFailureAt !== null ? b.lastFailureAt + 1 : 0,
        r.changedAt,
      )
      if (now - since < r.failbackAfterMs) continue
      const back = await failback(r.name, {
        reason: `failback: ${r.targets[0]!.model} on ${r.targets[0]!.host} healthy for ${Math.round((now - since) / 1000)} s (breaker closed)`,
        actor: 'system:failback',
        now,
      })
      if (back) moved++
    }
    return moved
  }

  return { answer, invalidate, create, update, remove, failover, failback, runFailbacks }
}

export type ModelRoutes = ReturnType<typeof createModelRoutes>
