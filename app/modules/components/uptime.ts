import { sql } from 'drizzle-orm'
import { type Db, readRows } from '../../../db/client.ts'
import { CAP_SQL } from './service.ts'

const DAY_MS = 86_400_000

/** `col` among the components `ids` (none: no row; no list: every component). */
const componentsIn = (col: string, ids?: string[]) =>
  ids
    ? ids.length
      ? sql`${sql.raw(col)} in (${sql.join(
          ids.map((id) => sql`${id}`),
          sql`, `,
        )})`
      : sql`0`
    : sql`${sql.raw(col)} in (select id from components)`

export const UPTIME_WINDOWS = { '24h': 86_400_000, '7d': 7 * 86_400_000, '30d': 30 * 86_400_000 } as const

/**
 * Time-weighted uptime % for windows ending now, from the status history. Each result's state holds
 * from its time until the next result, for at most two check intervals (HTTP: the interval; push:
 * interval + grace), so a time when nothing checked (Homeostat itself down) is unknown rather than
 * up or down. Every history row stores the previous result's time, state and how long it held
 * (`prev_ts`, `prev_up`, `held_ms`), so a window is one aggregate over a covering index: the rows
 * inside the window (clipped at the window's start) plus the latest result's interval up to now.
 * Uptime = time up / time known; null when nothing is known in the window.
 */
export async function uptimes(db: Db, windowsMs: number[], now: number, ids?: string[]) {
  const starts = windowsMs.map((w) => now - w)
  const from = Math.min(...starts)
  const only = (col: string) => componentsIn(col, ids)
  // The part of [prev_ts, prev_ts + held_ms) inside a window starting at f.
  const part = (f: number) => sql`max(0, prev_ts + held_ms - max(prev_ts, ${f}))`
  const sums = starts.map(
    (f, i) =>
      sql`, sum(case when prev_up = 1 then ${part(f)} else 0 end) as ${sql.raw(`up${i}`)}, sum(${part(f)}) as ${sql.raw(`known${i}`)}`,
  )
  const [rows, tails] = await Promise.all([
    db.all<Record<string, number | string | null>>(sql`
      select component_id ${sql.join(sums, sql``)} from status_history
      where ${only('component_id')} and ts > ${from} and ts <= ${now} and held_ms > 0
      group by component_id`),
    db.all<{ id: string; up: number; last: number; cap: number }>(sql`
      select id, status = 'up' as up, last_check_at as last, ${CAP_SQL} as cap from components
      where ${only('id')} and last_check_at is not null`),
  ])
  const out = new Map<string, { up: number; known: number }[]>()
  const get = (id: string) => {
    let v = out.get(id)
    if (!v) out.set(id, (v = starts.map(() => ({ up: 0, known: 0 }))))
    return v
  }
  for (const r of rows) {
    const v = get(String(r.component_id))
    starts.forEach((_, i) => {
      v[i]!.up += Number(r[`up${i}`] ?? 0)
      v[i]!.known += Number(r[`known${i}`] ?? 0)
    })
  }
  // The latest result holds from its time until now (or its cap).
  for (const t of tails) {
    const end = Math.min(now, t.last + t.cap)
    const v = get(t.id)
    starts.forEach((f, i) => {
      const held = Math.max(0, end - Math.max(t.last, f))
      v[i]!.known += held
      if (t.up) v[i]!.up += held
    })
  }
  const result = new Map<string, (number | null)[]>()
  for (const [id, v] of out)
    result.set(
      id,
      v.map((x) => (x.known > 0 ? Math.round((x.up / x.known) * 1_000_000) / 10_000 : null)),
    )
  return result
}

/**
 * The same uptime as `uptimes` for one window starting at `from`, the same answer, but with the
 * window's whole UTC days read from `status_daily` (ADR 0021: a row per component and day, kept by a
 * trigger) instead of summing every `status_history` row in them: the components overview over 30
 * days read every result of 30 days; now it reads 30 rows a component and the results of the
 * partial first day. `status_daily` puts a state in the day it began (`prev_ts`), so the days from
 * `B` (the first midnight at or after `from`) hold every state that began at or after `B`; the
 * history gives the states that began before `B` and end after `from`: the results recorded in
 * (`from`, `B`), and per component the first result at or after `B` (the one that closes the state
 * held across `B`).
 */
export async function uptimeSince(db: Db, from: number, now: number, ids?: string[]) {
  const boundary = Math.ceil(from / DAY_MS) * DAY_MS
  // Less than a whole day in the window: nothing to gain from the day rows.
  if (boundary >= now) return uptimes(db, [now - from], now, ids)
  const only = (col: string) => componentsIn(col, ids)
  const part = sql`max(0, prev_ts + held_ms - max(prev_ts, ${from}))`
  const [partial, straddling, days, tails] = await Promise.all([
    db.all<{ id: string; up: number; known: number }>(sql`
      select component_id as id, sum(case when prev_up = 1 then ${part} else 0 end) as up, sum(${part}) as known
      from status_history
      where ${only('component_id')} and ts > ${from} and ts < ${boundary} and ts <= ${now} and held_ms > 0
      group by component_id`),
    db.all<{ id: string; up: number; known: number }>(sql`
      select h.component_id as id, sum(case when h.prev_up = 1 then ${part} else 0 end) as up, sum(${part}) as known
      from components c join status_history h on h.component_id = c.id
        and h.ts = (select min(s.ts) from status_history s where s.component_id = c.id and s.ts >= ${boundary})
      where ${only('c.id')} and h.prev_ts < ${boundary} and h.ts <= ${now} and h.held_ms > 0
      group by h.component_id`),
    db.all<{ id: string; up: number; known: number }>(sql`
      select component_id as id, sum(up_ms) as up, sum(known_ms) as known from status_daily
      where ${only('component_id')} and day >= ${boundary / DAY_MS} and known_ms > 0
      group by component_id`),
    db.all<{ id: string; up: number; last: number; cap: number }>(sql`
      select id, status = 'up' as up, last_check_at as last, ${CAP_SQL} as cap from components
      where ${only('id')} and last_check_at is not null`),
  ])
  const out = new Map<string, { up: number; known: number }>()
  const add = (id: string, up: number, known: number) => {
    const v = out.get(id) ?? { up: 0, known: 0 }
    v.up += up
    v.known += known
    out.set(id, v)
  }
  for (const r of [...partial, ...straddling, ...days]) add(String(r.id), Number(r.up ?? 0), Number(r.known ?? 0))
  // The latest result holds from its time until now (or its cap).
  for (const t of tails) {
    const held = Math.max(0, Math.min(now, t.last + t.cap) - Math.max(t.last, from))
    add(t.id, t.up ? held : 0, held)
  }
  const result = new Map<string, (number | null)[]>()
  for (const [id, x] of out) result.set(id, [x.known > 0 ? Math.round((x.up / x.known) * 1_000_000) / 10_000 : null])
  return result
}

/** Uptime % over 24h, 7d and 30d for one component. */
export async function componentUptime(db: Db, id: string, now: number) {
  const keys = Object.keys(UPTIME_WINDOWS) as (keyof typeof UPTIME_WINDOWS)[]
  const values = (await uptimes(db, Object.values(UPTIME_WINDOWS), now, [id])).get(id) ?? keys.map(() => null)
  return Object.fromEntries(keys.map((k, i) => [k, values[i] ?? null])) as Record<
    keyof typeof UPTIME_WINDOWS,
    number | null
  >
}

/**
 * Adds the latest result's state (from its time until now, or its cap) to the per-day sums `v` of the
 * days from `first`, split at midnights; the part before `first` counts for no day.
 */
export function addTailByDay(
  v: { up: number; known: number }[],
  t: { up: number; last: number; cap: number },
  first: number,
  now: number,
) {
  let from = Math.max(t.last, first * DAY_MS)
  const end = Math.min(now, t.last + t.cap)
  while (from < end) {
    const day = Math.floor(from / DAY_MS)
    const until = Math.min(end, (day + 1) * DAY_MS)
    const slot = v[day - first]
    if (slot) {
      slot.known += until - from
      if (t.up) slot.up += until - from
    }
    from = until
  }
}

/**
 * Daily uptime % of each component for the `days` UTC days up to and including today (oldest
 * first; null for a day nothing was known), and over all those days, for the status pages' bars.
 * The same time-weighted sums as `uptimes`, grouped by the UTC day each held state began (a state
 * held across midnight counts for the day it began; it is at most two check intervals long), plus
 * the latest result up to now.
 * The closed states come summed per day from `status_daily` (kept by a trigger as results are
 * written): one indexed read of `days` rows a component, whatever the number of results.
 */
export async function dailyUptimes(db: Db, ids: string[], days: number, now: number) {
  const today = Math.floor(now / DAY_MS)
  const first = today - days + 1
  const result = new Map<string, { days: (number | null)[]; total: number | null }>()
  if (!ids.length) return result
  const list = sql.join(
    ids.map((id) => sql`${id}`),
    sql`, `,
  )
  const [rows, tails] = await Promise.all([
    // Positional rows on a kept statement (readRows): the client would make an object per row, and at
    // 40 components × 90 days that costs ten times the read itself.
    readRows(
      db,
      `select component_id, day, up_ms, known_ms from status_daily
       where component_id in (${ids.map(() => '?').join(', ')}) and day >= ? and day <= ? and known_ms > 0`,
      [...ids, first, today],
    ) as Promise<[string, number, number, number][]>,
    db.all<{ id: string; up: number; last: number; cap: number }>(sql`
      select id, status = 'up' as up, last_check_at as last, ${CAP_SQL} as cap from components
      where id in (${list}) and last_check_at is not null`),
  ])
  const sums = new Map<string, { up: number; known: number }[]>()
  const get = (id: string) => {
    let v = sums.get(id)
    if (!v) sums.set(id, (v = Array.from({ length: days }, () => ({ up: 0, known: 0 }))))
    return v
  }
  for (const [id, day, up, known] of rows) {
    const slot = get(id)[Number(day) - first]
    if (!slot) continue
    slot.up += Number(up)
    slot.known += Number(known)
  }
  // The latest result holds from its time until now (or its cap), split at midnights.
  for (const t of tails) addTailByDay(get(t.id), t, first, now)
  const pct = (up: number, known: number) => (known > 0 ? Math.round((up / known) * 1_000_000) / 10_000 : null)
  for (const id of ids) {
    const v = sums.get(id) ?? []
    const total = v.reduce((a, x) => ({ up: a.up + x.up, known: a.known + x.known }), { up: 0, known: 0 })
    result.set(id, {
      days: v.length ? v.map((x) => pct(x.up, x.known)) : Array<null>(days).fill(null),
      total: pct(total.up, total.known),
    })
  }
  return result
}
