import { rollupWatermarks, type Series } from '../../../db/schema/metrics.ts'
import type { Db } from '../../../db/client.ts'
import { readRaw } from './inbox.ts'
import { IDS_PER_READ, readPlan, seriesSketches } from './read-plan.ts'
import {
  addValue,
  emptySketch,
  mergeEncoded,
  scaleSketch,
  type Sketch,
  type SketchScratch,
  sketchEnd,
  sketchScratch,
} from './sketch.ts'

/**
 * What one group holds for one step until its quantile is taken: stored sketches (byte ranges
 * [from, to) of a series' blob, several sketches back to back), raw values, and sketches already
 * scaled to the unit asked for.
 */
type Pending = { blobs: Uint8Array[]; ranges: number[]; values: number[]; sketches: Sketch[] }

const newPending = (): Pending => ({ blobs: [], ranges: [], values: [], sketches: [] })

/** Adds the stored sketches `p` holds to a scratch. */
function addStored(scratch: SketchScratch, p: Pending) {
  for (let i = 0; i < p.blobs.length; i++) scratch.addEncoded(p.blobs[i]!, p.ranges[2 * i], p.ranges[2 * i + 1])
}

/**
 * A quantile (0..1) per group and step, for groups of series (query.ts `groupSeries`): the same
 * values as reading each series' step buckets, merging them per group and asking the merged sketch
 * (`groupValues`), without a sketch per series and step. The rollups are read a row a series
 * (read-plan.ts `seriesSketches`: its binary sketches back to back in one blob, with their steps);
 * each step's byte range of each blob is noted, then, one group
 * step at a time, they are merged into one reusable
 * dense sketch (sketch.ts `sketchScratch`) and its quantile taken. A quantile depends only on the
 * merged bucket counts, which are integers, so the order of merging changes nothing.
 *
 * Series read under another unit (`scales`, names.ts) are read under a key of their own per group
 * and factor, and their step's sketch scaled before it joins the group: scaling maps each bucket on
 * its own, so it gives what scaling each series' step bucket gave.
 */
export async function groupQuantiles(
  db: Db,
  groups: { members: Series[] }[],
  q: { from: number; to: number; step: number; quantile: number },
  scales?: ReadonlyMap<number, number>,
): Promise<[number, number][][]> {
  // Keys: one per group and factor (1 for series stored in the unit asked for).
  const keys: { group: number; factor: number }[] = []
  const keyOf = new Map<string, number>()
  const keyOfSeries = new Map<number, number>()
  groups.forEach((g, group) => {
    for (const m of g.members) {
      const factor = scales?.get(m.id) ?? 1
      const name = `${group}:${factor}`
      let key = keyOf.get(name)
      if (key === undefined) {
        keyOf.set(name, (key = keys.length))
        keys.push({ group, factor })
      }
      keyOfSeries.set(m.id, key)
    }
  })
  const ids = [...keyOfSeries.keys()]
  const pending = keys.map(() => new Map<number, Pending>())
  const at = (key: number, ts: number) => {
    const steps = pending[key]!
    const t = ts - (ts % q.step)
    let p = steps.get(t)
    if (!p) steps.set(t, (p = newPending()))
    return p
  }
  const marks = new Map((await db.select().from(rollupWatermarks)).map((w) => [w.resolution, w.watermark]))
  const plan = readPlan(marks, q)
  for (const { res, start, until } of plan.rollups)
    for (let i = 0; i < ids.length; i += IDS_PER_READ) {
      for (const r of await seriesSketches(db, res, ids.slice(i, i + IDS_PER_READ), { start, until, step: q.step })) {
        const key = keyOfSeries.get(r[0] as number)!
        const blob = r[1] instanceof Uint8Array ? r[1] : new Uint8Array(r[1] as ArrayBuffer)
        // The rows' step numbers, in blob order: each run of one step is one byte range.
        const steps = String(r[2])
        let from = 0
        let pos = 0
        let p: Pending | undefined
        let current = -1
        for (let c = 0; c <= steps.length; c++) {
          const ch = steps.charCodeAt(c)
          if (c < steps.length && ch !== 44) continue
          const n = Number(steps.slice(pos, c))
          pos = c + 1
          if (n !== current) {
            if (p) p.ranges.push(from)
            p = at(key, n * q.step)
            p.blobs.push(blob)
            p.ranges.push(from)
            current = n
          }
          from = sketchEnd(blob, from)
        }
        p?.ranges.push(from)
      }
    }
  if (plan.rawFrom < q.to) {
    for (let i = 0; i < ids.length; i += IDS_PER_READ)
      for (const point of await readRaw(db, ids.slice(i, i + IDS_PER_READ), plan.rawFrom, q.to))
        at(keyOfSeries.get(point.seriesId)!, point.ts).values.push(point.value)
  }
  const scratch = sketchScratch()
  // A scaled key's steps become sketches in its unit, added to the group's key of factor 1.
  const own = new Map<number, number>() // group → its key of factor 1 (made when it has none)
  keys.forEach((k, key) => {
    if (k.factor === 1) own.set(k.group, key)
  })
  keys.forEach((k, key) => {
    if (k.factor === 1) return
    let into = own.get(k.group)
    if (into === undefined) {
      own.set(k.group, (into = keys.length))
      keys.push({ group: k.group, factor: 1 })
      pending.push(new Map())
    }
    for (const [t, p] of pending[key]!) {
      const s = emptySketch()
      for (let i = 0; i < p.blobs.length; i++)
        mergeEncoded(s, p.blobs[i]!.subarray(p.ranges[2 * i], p.ranges[2 * i + 1]))
      // Raw values one by one: each value's bucket, then that bucket scaled, as scaling a step bucket did.
      for (const v of p.values) addValue(s, v)
      let target = pending[into]!.get(t)
      if (!target) pending[into]!.set(t, (target = newPending()))
      target.sketches.push(scaleSketch(s, k.factor), ...p.sketches)
    }
  })
  return groups.map((_, group) => {
    const key = own.get(group)
    const values: [number, number][] = []
    if (key === undefined) return values
    for (const [t, p] of pending[key]!) {
      scratch.reset()
      addStored(scratch, p)
      for (const v of p.values) scratch.addValue(v)
      for (const s of p.sketches) scratch.addSketch(s)
      const v = scratch.quantile(q.quantile)
      if (v !== null) values.push([t, v])
    }
    return values.sort(([a], [b]) => a - b)
  })
}
