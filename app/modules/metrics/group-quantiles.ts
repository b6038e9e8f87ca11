import { rollupWatermarks, type Series } from '../../../db/schema/metrics.ts'
import type { Db } from '../../../db/client.ts'
import { readRaw } from './inbox.ts'
import { IDS_PER_READ, type Keyed, keyedSketches, readPlan } from './read-plan.ts'
import {
  addValue,
  emptySketch,
  impliedValues,
  mergeEncoded,
  scaleSketch,
  type Sketch,
  type SketchScratch,
  sketchScratch,
} from './sketch.ts'

/**
 * What one group holds for one step until its quantile is taken: stored sketches (blobs, each
 * several back to back), rows with implied sketches (count, min, max, rows: four numbers each), raw
 * values, and sketches already scaled to the unit asked for.
 */
type Pending = { blobs: Uint8Array[]; implied: number[]; values: number[]; sketches: Sketch[] }

const newPending = (): Pending => ({ blobs: [], implied: [], values: [], sketches: [] })

/** Adds what `p` holds to a scratch (the blobs and implied rows only: values and sketches are the caller's). */
function addStored(scratch: SketchScratch, p: Pending) {
  for (const b of p.blobs) scratch.addEncoded(b)
  for (let i = 0; i < p.implied.length; i += 4)
    for (const [v, n] of impliedValues(p.implied[i]!, p.implied[i + 1]!, p.implied[i + 2]!))
      scratch.addValue(v, n * p.implied[i + 3]!)
}

/**
 * A quantile (0..1) per group and step, for groups of series (query.ts `groupSeries`): the same
 * values as reading each series' step buckets, merging them per group and asking the merged sketch
 * (`groupValues`), without a sketch per series and step. The rollups are read merged per group and
 * step in SQL (read-plan.ts `keyedSketches`: one blob of binary sketches a group step, and the few
 * rows whose sketch is implied); then, one group step at a time, they are merged into one reusable
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
  const members: Keyed[] = []
  groups.forEach((g, group) => {
    for (const m of g.members) {
      const factor = scales?.get(m.id) ?? 1
      const name = `${group}:${factor}`
      let key = keyOf.get(name)
      if (key === undefined) {
        keyOf.set(name, (key = keys.length))
        keys.push({ group, factor })
      }
      members.push({ id: m.id, key })
    }
  })
  const keyOfSeries = new Map(members.map((m) => [m.id, m.key]))
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
    for (let i = 0; i < members.length; i += IDS_PER_READ) {
      const read = await keyedSketches(db, res, members.slice(i, i + IDS_PER_READ), { start, until, step: q.step })
      for (const r of read.stored) at(r[0] as number, r[1] as number).blobs.push(r[2] as Uint8Array)
      for (const r of read.implied)
        at(r[0] as number, r[1] as number).implied.push(r[2] as number, r[3] as number, r[4] as number, r[5] as number)
    }
  if (plan.rawFrom < q.to) {
    const ids = members.map((m) => m.id)
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
      for (const b of p.blobs) mergeEncoded(s, b)
      for (let i = 0; i < p.implied.length; i += 4)
        for (const [v, n] of impliedValues(p.implied[i]!, p.implied[i + 1]!, p.implied[i + 2]!))
          addValue(s, v, n * p.implied[i + 3]!)
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
