import { rollupWatermarks, type Series } from '../../../db/schema/metrics.ts'
import type { Db } from '../../../db/client.ts'
import { readRaw } from './inbox.ts'
import { IDS_PER_READ, readPlan, type SketchRuns, seriesSketchRuns } from './read-plan.ts'
import { addValue, emptySketch, mergeEncoded, scaleSketch, type Sketch, sketchEnd, sketchScratch } from './sketch.ts'

/** A series' sketches in one rollup range, being read step by step: `run` is the next run, `at` its first byte. */
type Stream = SketchRuns & { run: number; at: number }

/** What one key (group and unit) holds besides its streams: raw values and already-scaled sketches per step. */
type Extra = { values: Map<number, number[]>; sketches: Map<number, Sketch[]> }

const pushTo = <T>(m: Map<number, T[]>, t: number, item: T) => {
  const list = m.get(t)
  if (list) list.push(item)
  else m.set(t, [item])
}

/**
 * A quantile (0..1) per group and step, for groups of series (query.ts `groupSeries`): the same
 * values as reading each series' step buckets, merging them per group and asking the merged sketch
 * (`groupValues`), without a sketch per series and step. The rollups are read a row a series
 * (read-plan.ts `seriesSketchRuns`: its binary sketches back to back in one blob, cut into runs of one
 * step); then, one group at a time and its steps in order, each member's next run is merged into one
 * reusable dense sketch (sketch.ts `sketchScratch().addRun`, which reads the bytes once, in order) and
 * the quantile taken. A quantile depends only on the merged bucket counts, which are integers, so the
 * order of merging changes nothing.
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
  const streams = keys.map((): Stream[] => [])
  const extras = keys.map((): Extra => ({ values: new Map(), sketches: new Map() }))
  const marks = new Map((await db.select().from(rollupWatermarks)).map((w) => [w.resolution, w.watermark]))
  const plan = readPlan(marks, q)
  for (const { res, start, until } of plan.rollups)
    for (let i = 0; i < ids.length; i += IDS_PER_READ)
      for (const r of await seriesSketchRuns(db, res, ids.slice(i, i + IDS_PER_READ), { start, until, step: q.step }))
        streams[keyOfSeries.get(r.id)!]!.push({ ...r, run: 0, at: 0 })
  if (plan.rawFrom < q.to)
    for (let i = 0; i < ids.length; i += IDS_PER_READ)
      for (const point of await readRaw(db, ids.slice(i, i + IDS_PER_READ), plan.rawFrom, q.to))
        pushTo(extras[keyOfSeries.get(point.seriesId)!]!.values, point.ts - (point.ts % q.step), point.value)

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
      streams.push([])
      extras.push({ values: new Map(), sketches: new Map() })
    }
    const perStep = new Map<number, Sketch>()
    const sketchAt = (t: number) => {
      let s = perStep.get(t)
      if (!s) perStep.set(t, (s = emptySketch()))
      return s
    }
    for (const st of streams[key]!) {
      let at = 0
      st.steps.forEach((t, j) => {
        let end = at
        for (let n = 0; n < st.sizes[j]!; n++) end = sketchEnd(st.blob, end)
        mergeEncoded(sketchAt(t), st.blob.subarray(at, end))
        at = end
      })
    }
    // Raw values one by one: each value's bucket, then that bucket scaled, as scaling a step bucket did.
    for (const [t, values] of extras[key]!.values) for (const v of values) addValue(sketchAt(t), v)
    for (const [t, s] of perStep) pushTo(extras[into]!.sketches, t, scaleSketch(s, k.factor))
  })

  const scratch = sketchScratch()
  return groups.map((_, group) => {
    const key = own.get(group)
    const values: [number, number][] = []
    if (key === undefined) return values
    // Steps on the grid from the first to the last any member has (runs, raw values and scaled
    // sketches are all keyed by `ts - ts % step`); a member's runs come in step order, so its `run`
    // and `at` move forward and a step takes the member's next run only when it is that step's.
    const members = streams[key]!
    const { values: raw, sketches } = extras[key]!
    let first = Infinity
    let last = -Infinity
    for (const st of members)
      if (st.steps.length) {
        first = Math.min(first, st.steps[0]!)
        last = Math.max(last, st.steps.at(-1)!)
      }
    for (const t of [...raw.keys(), ...sketches.keys()]) {
      first = Math.min(first, t)
      last = Math.max(last, t)
    }
    for (let t = first; t <= last; t += q.step) {
      scratch.reset()
      for (const st of members) if (st.steps[st.run] === t) st.at = scratch.addRun(st.blob, st.at, st.sizes[st.run++]!)
      for (const v of raw.get(t) ?? []) scratch.addValue(v)
      for (const s of sketches.get(t) ?? []) scratch.addSketch(s)
      const v = scratch.quantile(q.quantile)
      if (v !== null) values.push([t, v])
    }
    return values
  })
}
