import { sql, type SQL } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { rollupWatermarks } from '../../../db/schema/metrics.ts'
import { readRuns } from './inbox.ts'
import { minuteSketches, readMinutes } from './minutes.ts'
import { storedNames } from './names.ts'
import {
  addValue,
  concatSketchesSql,
  emptySketch,
  mergeEncoded,
  mergeInto,
  quantile,
  scaleSketch,
  type Sketch,
} from './sketch.ts'

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
 * A correlated subquery aggregating one series' part of a rollup segment: `agg` over the rollup
 * rows (primary-key range). Aggregating per series first, then per label, keeps label parsing to
 * once per series. Raw segments are read apart (rawBySeries): raw points are chunks, not rows.
 */
function perSeries(seg: Segment, agg: (col: SQL) => SQL) {
  // Minutes are packed an hour a row (ADR 0030): read apart too (minutesBySeries).
  if (seg.res !== 3600) return sql`null`
  return sql`(select ${agg(sql`p.sum`)} from rollups p where p.series_id = s.id and p.resolution = ${seg.res} and p.bucket >= ${seg.from} and p.bucket < ${seg.to})`
}

const col = (i: number) => sql.raw(`v${i}`)

/**
 * The series of these names (with one label's value) and each one's raw points over the raw
 * segments (app/modules/metrics/inbox.ts reads chunks and inbox).
 */
async function rawBySeries(db: Db, names: string[], segs: Segment[], label: string, only?: string[]) {
  const raw = segs.filter((s) => s.res === null)
  if (!raw.length || !names.length) return []
  const found = await db.all<{ id: number; name: string; comp: string | null }>(
    sql`select s.id as id, s.name as name, json_extract(s.labels, ${labelPath(label)}) as comp from series s where ${nameIn(names)}${valueIn(label, only)}`,
  )
  const ids = found.map((f) => Number(f.id))
  const values = new Map<number, number[][]>() // series → per raw segment, its values
  for (const [k, seg] of raw.entries())
    for (let i = 0; i < ids.length; i += 500)
      for (const run of await readRuns(db, ids.slice(i, i + 500), seg.from, seg.to)) {
        let per = values.get(run.seriesId)
        if (!per) values.set(run.seriesId, (per = raw.map(() => [])))
        per[k] = run.values
      }
  return found.flatMap((f) => {
    const per = values.get(Number(f.id))
    return per ? [{ name: f.name, comp: f.comp === null ? null : String(f.comp), per }] : []
  })
}

/** The series of these names, with one label's value (narrowed to `only`). */
async function seriesOf(db: Db, names: string[], label: string, only?: string[]) {
  const found = await db.all<{ id: number; name: string; comp: string | null }>(
    sql`select s.id as id, s.name as name, json_extract(s.labels, ${labelPath(label)}) as comp from series s where ${nameIn(names)}${valueIn(label, only)}`,
  )
  return found.map((f) => ({ id: Number(f.id), name: f.name, comp: f.comp === null ? null : String(f.comp) }))
}

/**
 * Each series' sum and count of values over the minute segments (packed an hour a row, so read here
 * rather than in SQL), for those with at least one minute there: what the SQL of an hourly segment
 * gives per series and segment.
 */
async function minutesBySeries(db: Db, names: string[], segs: Segment[], label: string, only?: string[]) {
  const minute = segs.filter((s) => s.res === 60)
  if (!minute.length || !names.length) return []
  const found = await seriesOf(db, names, label, only)
  const ids = found.map((f) => f.id)
  const per = new Map<number, { sum: number; count: number }[]>()
  for (const seg of minute)
    for (let i = 0; i < ids.length; i += 500) {
      const sums = new Map<number, { sum: number; count: number }>()
      for (const m of await readMinutes(db, ids.slice(i, i + 500), seg.from, seg.to)) {
        const a = sums.get(m.seriesId)
        if (a) {
          a.sum += m.sum
          a.count += m.count
        } else sums.set(m.seriesId, { sum: m.sum, count: m.count })
      }
      for (const [id, a] of sums) {
        const list = per.get(id)
        if (list) list.push(a)
        else per.set(id, [a])
      }
    }
  return found.flatMap((f) => {
    const parts = per.get(f.id)
    return parts ? [{ ...f, parts }] : []
  })
}

/** `json_extract` path of one label (a bound parameter, like every value). */
const labelPath = (label: string) => `$.${label}`

/**
 * Narrows series to those whose `label` is one of `values` (all series when not given; none for an
 * empty list): a tile that shows some label values reads those alone.
 */
const valueIn = (label: string, values?: string[]) =>
  values
    ? sql` and json_extract(s.labels, ${labelPath(label)}) in (${
        values.length
          ? sql.join(
              values.map((v) => sql`${v}`),
              sql`, `,
            )
          : sql`null`
      })`
    : sql``

/**
 * Sum of the values of each metric per value of one label (`component`, `model`, …) over the
 * segments, in one statement: per series one subquery per segment, then summed per label value
 * (series without it count under null). Keys: metric name, then label value. `kind: 'count'` sums
 * the number of values instead (calls, for a latency metric). `only` narrows to those label values.
 */
export async function sumsByLabel(
  db: Db,
  names: string[],
  segs: Segment[],
  label = 'component',
  kind: 'sum' | 'count' = 'sum',
  only?: string[],
) {
  const out = new Map<string, Map<string | null, number>>(names.map((n) => [n, new Map()]))
  if (!segs.length) return out
  // A renamed metric's series under its other name count too, in its unit (names.ts).
  const into = new Map<string, { name: string; scale: number }>() // stored name → metric asked for
  for (const n of names)
    for (const s of storedNames(n)) if (!into.has(s.name)) into.set(s.name, { name: n, scale: s.scale })
  const cols = segs.map(
    (seg, i) =>
      sql`, ${perSeries(seg, (c) => (kind === 'sum' ? sql`sum(${c})` : seg.res === null ? sql`count(${c})` : sql`sum(p.count)`))} as ${col(i)}`,
  )
  const total = sql.join(
    segs.map((_, i) => sql`total(${col(i)})`),
    sql` + `,
  )
  const seen = sql.join(
    segs.map((_, i) => sql`count(${col(i)})`),
    sql` + `,
  )
  const rows = await db.all<{ name: string; comp: string | null; v: number; n: number }>(sql`
    select name, json_extract(labels, ${labelPath(label)}) as comp, ${total} as v, ${seen} as n from (
      select s.name as name, s.labels as labels ${sql.join(cols, sql``)} from series s where ${nameIn([...into.keys()])}${valueIn(label, only)}
    ) group by 1, 2`)
  const cells = new Map<string, { name: string; comp: string | null; v: number; n: number }>()
  const cell = (name: string, comp: string | null) => {
    const key = `${name}\u0000${comp ?? '\u0001'}`
    let c = cells.get(key)
    if (!c) cells.set(key, (c = { name, comp, v: 0, n: 0 }))
    return c
  }
  for (const r of rows) {
    const c = cell(r.name, r.comp === null ? null : String(r.comp))
    c.v += Number(r.v)
    c.n += Number(r.n)
  }
  for (const s of await minutesBySeries(db, [...into.keys()], segs, label, only))
    for (const part of s.parts) {
      const c = cell(s.name, s.comp)
      c.v += kind === 'sum' ? part.sum : part.count
      c.n++
    }
  for (const s of await rawBySeries(db, [...into.keys()], segs, label, only))
    for (const values of s.per) {
      if (!values.length) continue
      const c = cell(s.name, s.comp)
      c.v += kind === 'sum' ? values.reduce((a, b) => a + b, 0) : values.length
      c.n++
    }
  for (const r of cells.values()) {
    if (!(r.n > 0)) continue
    const to = into.get(r.name)!
    const m = out.get(to.name)!
    m.set(r.comp, (m.get(r.comp) ?? 0) + r.v * to.scale)
  }
  return out
}

/**
 * A quantile of a metric per value of one label over the segments: the rollup sketches of each
 * value's series are concatenated in SQL and merged here; raw values are added to the same sketch.
 * `only` narrows to those label values.
 */
export async function quantileByLabel(
  db: Db,
  name: string,
  q: number,
  segs: Segment[],
  label = 'component',
  only?: string[],
) {
  // In the metric's unit, over the series stored under its other name too (a renamed metric, names.ts).
  const merged = new Map<string, Sketch>()
  for (const stored of storedNames(name))
    for (const [comp, s] of await sketchesByLabel(db, stored.name, segs, label, only)) {
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

/** One stored name's sketch per label value over the segments. */
async function sketchesByLabel(db: Db, name: string, segs: Segment[], label: string, only?: string[]) {
  const sketches = new Map<string, Sketch>()
  const get = (comp: string) => {
    let s = sketches.get(comp)
    if (!s) sketches.set(comp, (s = emptySketch()))
    return s
  }
  const labelled = sql`s.name = ${name} and json_extract(s.labels, ${labelPath(label)}) is not null${valueIn(label, only)}`
  const rollupSegs = segs.filter((seg) => seg.res === 3600)
  if (rollupSegs.length) {
    // The sketches: per series, then per label value, back to back in one blob (sketch.ts).
    const concat = sql.raw(concatSketchesSql('v'))
    const cols = rollupSegs.map(
      (seg) => sql`coalesce((select ${sql.raw(concatSketchesSql('p.sketch'))} from rollups p where p.series_id = s.id
        and p.resolution = ${seg.res} and p.bucket >= ${seg.from} and p.bucket < ${seg.to}), x'')`,
    )
    const rows = await db.all<{ comp: string; v: ArrayBuffer | Uint8Array | null }>(sql`
      select comp, ${concat} as v from (
        select json_extract(s.labels, ${labelPath(label)}) as comp, ${sql.join(cols, sql` || `)} as v
        from series s where ${labelled}
      ) group by 1`)
    for (const r of rows) if (r.v !== null) mergeEncoded(get(String(r.comp)), r.v)
  }
  // Minutes are packed an hour a row (ADR 0030): each series' minute sketches come back as one blob.
  const minuteSegs = segs.filter((seg) => seg.res === 60)
  if (minuteSegs.length) {
    const found = (await seriesOf(db, [name], label, only)).filter((f) => f.comp !== null)
    const compOf = new Map(found.map((f) => [f.id, f.comp!]))
    const ids = found.map((f) => f.id)
    for (const seg of minuteSegs)
      for (let i = 0; i < ids.length; i += 500)
        for (const r of await minuteSketches(db, ids.slice(i, i + 500), seg.from, seg.to))
          mergeEncoded(get(compOf.get(r.seriesId)!), r.blob)
  }
  for (const s of await rawBySeries(db, [name], segs, label, only)) {
    if (s.comp === null) continue
    for (const values of s.per) for (const x of values) addValue(get(s.comp), x)
  }
  return sketches
}

export async function watermarks(db: Db) {
  return new Map((await db.select().from(rollupWatermarks)).map((w) => [w.resolution, w.watermark]))
}

export const sumsByComponent = (db: Db, names: string[], segs: Segment[], only?: string[]) =>
  sumsByLabel(db, names, segs, 'component', 'sum', only)
export const quantileByComponent = (db: Db, name: string, q: number, segs: Segment[], only?: string[]) =>
  quantileByLabel(db, name, q, segs, 'component', only)

/**
 * Mean of each metric per bucket, for the series of `names` whose `label` is one of `values`: a
 * sparkline's points. `buckets` equal parts of [from, to); rollups (summed per bucket in SQL) where
 * the watermarks allow, raw points after them. Bounded by the values asked for, not by the fleet:
 * the front page asks only for the components it shows. Keys: metric name, then label value.
 */
export async function bucketMeans(
  db: Db,
  opts: { names: string[]; label: string; values: string[]; from: number; to: number; buckets: number },
) {
  const { names, label, values, from, to, buckets } = opts
  const out = new Map<string, Map<string, (number | null)[]>>(names.map((n) => [n, new Map()]))
  if (!values.length || !names.length) return out
  const list = (xs: (string | number)[]) =>
    sql.join(
      xs.map((x) => sql`${x}`),
      sql`, `,
    )
  const series = await db.all<{ id: number; name: string; v: string }>(sql`
    select id, name, json_extract(labels, ${labelPath(label)}) as v from series
    where name in (${list(names)}) and json_extract(labels, ${labelPath(label)}) in (${list(values)})`)
  if (!series.length) return out
  const ids = series.map((s) => s.id)
  const width = Math.max(1, Math.ceil((to - from) / buckets))
  const segs = plan(from, to, await watermarks(db))
  type Part = { id: number; b: number; s: number; n: number }
  // Raw points summed per series and bucket here (they are chunks, not rows); rollups in SQL.
  const rawPart = async (seg: Segment) => {
    const out: Part[] = []
    for (const run of await readRuns(db, ids, seg.from, seg.to)) {
      const at = new Map<number, Part>()
      for (let i = 0; i < run.ts.length; i++) {
        const b = Math.floor((run.ts[i]! - from) / width)
        let p = at.get(b)
        if (!p) at.set(b, (p = { id: run.seriesId, b, s: 0, n: 0 }))
        p.s += run.values[i]!
        p.n++
      }
      out.push(...at.values())
    }
    return out
  }
  // Minutes summed per series and bucket here too (packed an hour a row: ADR 0030), in bucket order.
  const minutePart = async (seg: Segment) => {
    const at = new Map<string, Part>()
    for (const m of await readMinutes(db, ids, seg.from, seg.to)) {
      const b = Math.floor((m.bucket - from) / width)
      const key = `${m.seriesId}:${b}`
      const p = at.get(key)
      if (p) {
        p.s += m.sum
        p.n += m.count
      } else at.set(key, { id: m.seriesId, b, s: m.sum, n: m.count })
    }
    return [...at.values()]
  }
  const parts = await Promise.all(
    segs.map((seg) =>
      seg.res === null
        ? rawPart(seg)
        : seg.res === 60
          ? minutePart(seg)
          : db.all<Part>(
              sql`select series_id as id, (bucket - ${from}) / ${width} as b, total(sum) as s, total(count) as n
              from rollups where series_id in (${list(ids)}) and resolution = ${seg.res}
              and bucket >= ${seg.from} and bucket < ${seg.to} group by 1, 2`,
            ),
    ),
  )
  const byId = new Map(series.map((s) => [s.id, s]))
  const acc = new Map<string, { s: number[]; n: number[] }>()
  for (const rows of parts)
    for (const r of rows) {
      const s = byId.get(Number(r.id))
      // Bound numbers may arrive as reals, and so may the division: floor it to the bucket's index.
      const b = Math.floor(Number(r.b))
      if (!s || b < 0 || b >= buckets) continue
      const key = `${s.name}\u0000${s.v}`
      let a = acc.get(key)
      if (!a) acc.set(key, (a = { s: new Array(buckets).fill(0), n: new Array(buckets).fill(0) }))
      a.s[b]! += Number(r.s)
      a.n[b]! += Number(r.n)
    }
  for (const [key, a] of acc) {
    const [name, v] = key.split('\u0000') as [string, string]
    out.get(name)!.set(
      v,
      a.s.map((s, i) => (a.n[i] ? s / a.n[i]! : null)),
    )
  }
  return out
}
