import { rollupWatermarks, type Series } from '../../../db/schema/metrics.ts'
import type { Db } from '../../../db/client.ts'
import { readRaw } from './inbox.ts'
import { IDS_PER_READ, readPlan, rollupSketches } from './read-plan.ts'
import { addValue, emptySketch, mergeEncoded, scaleSketch, type Sketch, sketchScratch } from './sketch.ts'

/** What one group holds for one step until its quantile is taken: stored sketches, raw values, scaled sketches. */
type Pending = { texts: string[]; values: number[]; sketches: Sketch[] }

/**
 * A quantile (0..1) per group and step, for groups of series (query.ts `groupSeries`): the same
 * values as reading each series' step buckets, merging them per group and asking the merged sketch
 * (`groupValues`), without building a sketch per series and step. Each step's stored sketches are
 * only collected while the rows are read; then, one group step at a time, they are merged into one
 * reusable dense sketch (sketch.ts `sketchScratch`) and its quantile taken. A quantile depends only
 * on the merged bucket counts, which are integers, so the order of merging changes nothing.
 *
 * A series read under another unit (`scales`, names.ts) has its sketches scaled first, row by row:
 * scaling maps each bucket on its own, so it gives what scaling the series' step bucket gave.
 */
export async function groupQuantiles(
  db: Db,
  groups: { members: Series[] }[],
  q: { from: number; to: number; step: number; quantile: number },
  scales?: ReadonlyMap<number, number>,
): Promise<[number, number][][]> {
  const groupOf = new Map<number, number>()
  groups.forEach((g, i) => {
    for (const m of g.members) groupOf.set(m.id, i)
  })
  const pending = groups.map(() => new Map<number, Pending>())
  const at = (sid: number, ts: number) => {
    const steps = pending[groupOf.get(sid)!]!
    const t = ts - (ts % q.step)
    let p = steps.get(t)
    if (!p) steps.set(t, (p = { texts: [], values: [], sketches: [] }))
    return p
  }
  const ids = [...groupOf.keys()]
  const marks = new Map((await db.select().from(rollupWatermarks)).map((w) => [w.resolution, w.watermark]))
  const plan = readPlan(marks, q)
  for (const { res, start, until } of plan.rollups)
    for (let i = 0; i < ids.length; i += IDS_PER_READ)
      for (const r of await rollupSketches(db, res, ids.slice(i, i + IDS_PER_READ), { start, until, step: q.step })) {
        const sid = r[0] as number
        const p = at(sid, r[1] as number)
        const factor = scales?.get(sid)
        if (factor === undefined) p.texts.push(r[2] as string)
        else {
          const s = emptySketch()
          mergeEncoded(s, r[2] as string)
          p.sketches.push(scaleSketch(s, factor))
        }
      }
  if (plan.rawFrom < q.to)
    for (let i = 0; i < ids.length; i += IDS_PER_READ)
      for (const point of await readRaw(db, ids.slice(i, i + IDS_PER_READ), plan.rawFrom, q.to)) {
        const p = at(point.seriesId, point.ts)
        const factor = scales?.get(point.seriesId)
        if (factor === undefined) p.values.push(point.value)
        else {
          // The value's bucket, then that bucket scaled: what scaling the series' step bucket did.
          const one = emptySketch()
          addValue(one, point.value)
          p.sketches.push(scaleSketch(one, factor))
        }
      }
  const scratch = sketchScratch()
  return pending.map((steps) => {
    const values: [number, number][] = []
    for (const [t, p] of steps) {
      scratch.reset()
      for (const text of p.texts) scratch.addEncoded(text)
      for (const v of p.values) scratch.addValue(v)
      for (const s of p.sketches) scratch.addSketch(s)
      const v = scratch.quantile(q.quantile)
      if (v !== null) values.push([t, v])
    }
    return values.sort(([a], [b]) => a - b)
  })
}
