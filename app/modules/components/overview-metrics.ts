import { sql, type SQL } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { rollupWatermarks } from '../../../db/schema/metrics.ts'
import {
  rawPointsSql,
  addValue,
  emptySketch,
  mergeInto,
  quantile,
  scaleSketch,
  type Sketch,
  storedNames,
} from '../metrics/index.ts'

const HOUR = 3_600_000
const MINUTE = 60_000

/** A part of the range and where it is read from: hourly or minute rollups, or raw points (null). */
export type Segment = { res: 3600 | 60 | null; from: number; to: number }

/**
 * Splits [from, to) like the query engine does: whole hours behind the hourly watermark from hourly
 * rollups, minutes behind the minute watermark from minute rollups, the rest (the last minute or
 * two, or everything before the first rollup run) from raw points.
 */
export function plan(from: number, to: number, marks: Map<number, number>): Segment[] {
  const h0 = Math.ceil(from / HOUR) * HOUR
  const h1 = Math.min(to - (to % HOUR), marks.get(3600) ?? 0)
  const hourly = h1 > h0
  const m1 = Math.min(to - (to % MINUTE), marks.get(60) ?? 0)
  const out: Segment[] = []
  let c = from
  while (c < to) {
    if (hourly && c === h0) {
      out.push({ res: 3600, from: c, to: h1 })
      c = h1
    } else if (c < m1 && c % MINUTE === 0) {
      const next = hourly && h0 > c ? Math.min(h0, m1) : m1
      out.push({ res: 60, from: c, to: next })
      c = next
    } else {
      const next = hourly && h0 > c ? h0 : c < m1 ? Math.min(to, c - (c % MINUTE) + MINUTE) : to
      out.push({ res: null, from: c, to: next })
      c = next
    }
  }
  return out
}

const nameIn = (names: string[]) =>
  sql`s.name in (${sql.join(
    names.map((n) => sql`${n}`),
    sql`, `,
  )})`

/**
 * A correlated subquery aggregating one series' part of a segment: `agg` over the rollup rows
 * (primary-key range) or raw points (both tables: app/modules/metrics/inbox.ts). Aggregating per series first, then per label, keeps label
 * parsing to once per series.
 */
function perSeries(seg: Segment, agg: (col: SQL) => SQL, kind: 'sum' | 'sketch') {
  if (seg.res === null) return sql`(select ${agg(sql`r.value`)} from (${rawPointsSql(sql`s.id`, seg.from, seg.to)}) r)`
  return sql`(select ${agg(kind === 'sum' ? sql`p.sum` : sql`p.sketch`)} from rollups p where p.series_id = s.id and p.resolution = ${seg.res} and p.bucket >= ${seg.from} and p.bucket < ${seg.to})`
}

const col = (i: number) => sql.raw(`v${i}`)

/**
 * Sum of the values of each metric per `component` label over the segments, in one statement: per
 * series one subquery per segment, then summed per label (series without it count under null).
 * A renamed metric's series under its other name count too, in its unit (metrics/names.ts).
 * Keys: metric name, then component.
 */
export async function sumsByComponent(db: Db, names: string[], segs: Segment[]) {
  const out = new Map<string, Map<string | null, number>>(names.map((n) => [n, new Map()]))
  if (!segs.length) return out
  const into = new Map<string, { name: string; scale: number }>() // stored name → metric asked for
  for (const n of names)
    for (const s of storedNames(n)) if (!into.has(s.name)) into.set(s.name, { name: n, scale: s.scale })
  const cols = segs.map((seg, i) => sql`, ${perSeries(seg, (c) => sql`sum(${c})`, 'sum')} as ${col(i)}`)
  const total = sql.join(
    segs.map((_, i) => sql`total(${col(i)})`),
    sql` + `,
  )
  const seen = sql.join(
    segs.map((_, i) => sql`count(${col(i)})`),
    sql` + `,
  )
  const rows = await db.all<{ name: string; comp: string | null; v: number; n: number }>(sql`
    select name, json_extract(labels, '$.component') as comp, ${total} as v, ${seen} as n from (
      select s.name as name, s.labels as labels ${sql.join(cols, sql``)} from series s where ${nameIn([...into.keys()])}
    ) group by 1, 2`)
  for (const r of rows) {
    if (!(Number(r.n) > 0)) continue
    const to = into.get(r.name)!
    const m = out.get(to.name)!
    m.set(r.comp, (m.get(r.comp) ?? 0) + Number(r.v) * to.scale)
  }
  return out
}

/** Adds sketches in their stored text form (`zero|i:c,…|i:c,…`, joined by `;`) into one. */
function mergeEncoded(into: Sketch, text: string) {
  for (const one of text.split(';')) {
    const [zero = '0', pos = '', neg = ''] = one.split('|')
    const z = Number(zero)
    into.zero += z
    into.count += z
    for (const [part, store] of [
      [pos, into.pos],
      [neg, into.neg],
    ] as const) {
      if (!part) continue
      for (const pair of part.split(',')) {
        const at = pair.indexOf(':')
        const i = Number(pair.slice(0, at))
        const n = Number(pair.slice(at + 1))
        store.set(i, (store.get(i) ?? 0) + n)
        into.count += n
      }
    }
  }
}

/**
 * A quantile of a metric per component over the segments, in the metric's unit, over the series
 * stored under its other name too (a renamed metric, metrics/names.ts).
 */
export async function quantileByComponent(db: Db, name: string, q: number, segs: Segment[]) {
  const merged = new Map<string, Sketch>()
  for (const stored of storedNames(name))
    for (const [comp, s] of await sketchesByComponent(db, stored.name, segs)) {
      const into = merged.get(comp) ?? emptySketch()
      mergeInto(into, scaleSketch(s, stored.scale))
      merged.set(comp, into)
    }
  const out = new Map<string, number>()
  for (const [comp, s] of merged) {
    const v = quantile(s, q)
    if (v !== null) out.set(comp, v)
  }
  return out
}

/**
 * One stored name's sketch per component over the segments: the components' rollup sketches are
 * concatenated in SQL and merged here; raw values are added to the same sketch.
 */
async function sketchesByComponent(db: Db, name: string, segs: Segment[]) {
  const sketches = new Map<string, Sketch>()
  const get = (comp: string) => {
    let s = sketches.get(comp)
    if (!s) sketches.set(comp, (s = emptySketch()))
    return s
  }
  if (segs.length) {
    const sepOf = (seg: Segment) => (seg.res === null ? ',' : ';')
    const cols = segs.map(
      (seg, i) => sql`, ${perSeries(seg, (c) => sql`group_concat(${c}, ${sepOf(seg)})`, 'sketch')} as ${col(i)}`,
    )
    const outer = segs.map((seg, i) => sql`group_concat(${col(i)}, ${sepOf(seg)}) as ${col(i)}`)
    const rows = await db.all<Record<string, string | null>>(sql`
      select comp, ${sql.join(outer, sql`, `)} from (
        select json_extract(s.labels, '$.component') as comp ${sql.join(cols, sql``)}
        from series s where s.name = ${name} and json_extract(s.labels, '$.component') is not null
      ) group by 1`)
    for (const r of rows) {
      segs.forEach((seg, i) => {
        const text = r[`v${i}`]
        if (text === null || text === undefined) return
        if (seg.res === null) for (const x of String(text).split(',')) addValue(get(String(r.comp)), Number(x))
        else mergeEncoded(get(String(r.comp)), String(text))
      })
    }
  }
  return sketches
}

export async function watermarks(db: Db) {
  return new Map((await db.select().from(rollupWatermarks)).map((w) => [w.resolution, w.watermark]))
}
