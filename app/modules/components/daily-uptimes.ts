/**
 * `dailyUptimes` with each component's past days kept between calls (the status pages' builds): a
 * past day's sums change only when a result arrives after its day ended (the state it closes began
 * then; ADR 0021) or when the retention prunes the day. So each call reads today's row, the latest
 * result (the tail up to now), and one checksum row per component over its past days — count,
 * sums, and sums weighted by the day, worked out by SQLite — and re-reads the past days only of the
 * components whose checksum moved, and of all of them once a day when the window moves. The sums
 * only grow (the trigger adds a closed state's positive time), so a late result always moves the
 * checksum; the answer equals `dailyUptimes`' (tests/integration/status-pages-freshness.test.ts).
 * ADR 0025 has the figures.
 */
import { sql } from 'drizzle-orm'
import { type Db, readRows } from '../../../db/client.ts'
import { CAP_SQL } from './service.ts'
import { addTailByDay } from './uptime.ts'

const DAY_MS = 86_400_000

type Sums = { up: number; known: number }
type Kept = { first: number; today: number; check: string; past: Sums[] }
export type DailyUptimes = Map<string, { days: (number | null)[]; total: number | null }>

const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ')
const pct = (up: number, known: number) => (known > 0 ? Math.round((up / known) * 1_000_000) / 10_000 : null)

export function createDailyUptimes() {
  /** By component id, for the current window: emptied when the day changes (every past day is read again). */
  const kept = new Map<string, Kept>()
  let keptToday = 0

  return async function dailyUptimes(db: Db, ids: string[], days: number, now: number): Promise<DailyUptimes> {
    const today = Math.floor(now / DAY_MS)
    const first = today - days + 1
    const result: DailyUptimes = new Map()
    if (!ids.length) return result
    if (today !== keptToday) {
      kept.clear()
      keptToday = today
    }
    const list = placeholders(ids.length)
    const [checks, todays, tails] = await Promise.all([
      readRows(
        db,
        `select component_id, count(*), sum(up_ms), sum(known_ms), sum(day * up_ms), sum(day * known_ms)
         from status_daily where component_id in (${list}) and day >= ? and day < ? and known_ms > 0
         group by component_id`,
        [...ids, first, today],
      ),
      readRows(
        db,
        `select component_id, up_ms, known_ms from status_daily
         where component_id in (${list}) and day = ? and known_ms > 0`,
        [...ids, today],
      ) as Promise<[string, number, number][]>,
      db.all<{ id: string; up: number; last: number; cap: number }>(sql`
        select id, status = 'up' as up, last_check_at as last, ${CAP_SQL} as cap from components
        where id in (${sql.join(
          ids.map((id) => sql`${id}`),
          sql`, `,
        )}) and last_check_at is not null`),
    ])
    const checkOf = new Map(checks.map(([id, ...sums]) => [String(id), sums.map(Number).join(',')]))
    // This call's entries: a concurrent call may replace the kept ones meanwhile.
    const next = new Map<string, Kept>()
    const stale: string[] = []
    for (const id of ids) {
      const k = kept.get(id)
      const check = checkOf.get(id) ?? ''
      if (k && k.first === first && k.today === today && k.check === check) next.set(id, k)
      else {
        next.set(id, { first, today, check, past: Array.from({ length: days - 1 }, () => ({ up: 0, known: 0 })) })
        if (check) stale.push(id)
      }
    }
    if (stale.length) {
      const rows = (await readRows(
        db,
        `select component_id, day, up_ms, known_ms from status_daily
         where component_id in (${placeholders(stale.length)}) and day >= ? and day < ? and known_ms > 0`,
        [...stale, first, today],
      )) as [string, number, number, number][]
      for (const [id, day, up, known] of rows) {
        const slot = next.get(id)?.past[Number(day) - first]
        if (!slot) continue
        slot.up += Number(up)
        slot.known += Number(known)
      }
    }
    for (const [id, k] of next) kept.set(id, k)

    // Today's row and the tail are added to a copy: the kept past days stay as the database has them.
    const sums = new Map<string, Sums[]>()
    const sumsOf = (id: string) => {
      let v = sums.get(id)
      if (!v) sums.set(id, (v = [...next.get(id)!.past.map((s) => ({ ...s })), { up: 0, known: 0 }]))
      return v
    }
    for (const [id, up, known] of todays) {
      const slot = sumsOf(id)[days - 1]!
      slot.up += Number(up)
      slot.known += Number(known)
    }
    // The latest result holds from its time until now (or its cap), split at midnights.
    for (const t of tails) addTailByDay(sumsOf(t.id), t, first, now)
    for (const id of ids) {
      const v = sums.get(id) ?? [...next.get(id)!.past, { up: 0, known: 0 }]
      let up = 0
      let known = 0
      for (const s of v) {
        up += s.up
        known += s.known
      }
      result.set(id, { days: v.map((s) => pct(s.up, s.known)), total: pct(up, known) })
    }
    return result
  }
}

export type DailyUptimesReader = ReturnType<typeof createDailyUptimes>
