import { describe, expect, it } from 'vitest'
import {
  decodePack,
  encodePack,
  HOUR,
  indexPack,
  type Minute,
  mergeMinutes,
  packBuckets,
  skipSketches,
} from '../../app/modules/metrics/minute-pack.ts'
import { addValue, emptySketch, encodeSketch } from '../../app/modules/metrics/sketch.ts'

const T0 = Date.parse('2026-11-20T10:00:00Z')
const MIN = 60_000

let state = 7
const random = () => {
  state = (state * 1_103_515_245 + 12_345) % 2 ** 31
  return state / 2 ** 31
}

/** A minute of `values` at these offsets, summarised as the rollup job does (sum in time order). */
function minuteOf(k: number, values: number[], offsets: number[]): Minute {
  const sketch = emptySketch()
  for (const v of values) addValue(sketch, v)
  return {
    bucket: T0 + k * MIN,
    count: values.length,
    sum: values.reduce((a, b) => a + b, 0),
    min: Math.min(...values),
    max: Math.max(...values),
    last: values.at(-1)!,
    lastTs: T0 + k * MIN + offsets.at(-1)!,
    sketch: encodeSketch(sketch),
  }
}

describe('minute packs', () => {
  it('round-trip every minute bit for bit: gaps, full-precision floats, negatives, -0, big counts', () => {
    const minutes: Minute[] = []
    for (let k = 0; k < 60; k++) {
      if (k % 7 === 3) continue // a gap
      const n = 1 + Math.floor(random() * 6)
      const values = Array.from({ length: n }, (_, i) =>
        k % 5 === 0
          ? Math.round(random() * 500)
          : k % 5 === 1
            ? -random() * 1e6
            : k === 2 && i === 0
              ? -0
              : random() * 3,
      )
      const offsets = Array.from({ length: n }, (_, i) => i * 10_000 + Math.floor(random() * 9_000))
      minutes.push(minuteOf(k, values, offsets))
    }
    minutes[4] = { ...minutes[4]!, count: 2 ** 40 + 3 } // a count past 32 bits
    const pack = encodePack(T0, minutes)
    const back = decodePack(T0, pack)
    expect(back).toEqual(minutes)
    expect(Object.is(back[2]!.min, minutes[2]!.min)).toBe(true)
    // The index alone: buckets and each sketch's byte range, nothing else decoded.
    const { buckets, sketchAt, n } = indexPack(T0, pack)
    expect(n).toBe(minutes.length)
    expect(buckets).toEqual(minutes.map((m) => m.bucket))
    for (let i = 0; i < n; i++) expect(pack.subarray(sketchAt[i], sketchAt[i + 1])).toEqual(minutes[i]!.sketch)
    expect(sketchAt[n]).toBe(pack.length)
    // Without the boundaries: where the sketches start, and any range found by skipping to it.
    const bare = packBuckets(T0, pack)
    expect(bare.buckets).toEqual(buckets)
    expect(bare.sketches).toBe(sketchAt[0])
    for (let i = 0; i <= n; i++)
      for (let j = i; j <= n; j += 3) {
        const start = skipSketches(pack, bare.sketches, i)
        expect(start).toBe(sketchAt[i])
        expect(skipSketches(pack, start, j - i)).toBe(sketchAt[j])
      }
    expect(() => skipSketches(pack, bare.sketches, n + 1)).toThrow(/truncated/)
  })

  it('codes a regular minute of integers in a few bytes beside its sketch', () => {
    const minutes = Array.from({ length: 60 }, (_, k) =>
      minuteOf(
        k,
        [0, 1, 2, 3].map(() => 50 + Math.round(random() * 200)),
        [0, 15_000, 30_000, 45_000],
      ),
    )
    const pack = encodePack(T0, minutes)
    const sketches = minutes.reduce((a, m) => a + m.sketch.length, 0)
    expect((pack.length - sketches) / 60).toBeLessThan(9)
    expect(decodePack(T0, pack)).toEqual(minutes)
  })

  it('merges fresh minutes over stored ones by bucket, and an empty pack is empty', () => {
    const a = [minuteOf(0, [1], [0]), minuteOf(2, [2], [0])]
    const b = [minuteOf(1, [3], [5]), minuteOf(2, [4, 5], [0, 9])]
    expect(mergeMinutes(a, b)).toEqual([a[0], b[0], b[1]])
    expect(decodePack(T0, encodePack(T0, []))).toEqual([])
  })

  it('refuses minutes outside the hour, out of order, or with a last point outside its minute', () => {
    expect(() => encodePack(T0, [minuteOf(60, [1], [0])])).toThrow(/not in hour/)
    expect(() => encodePack(T0, [{ ...minuteOf(0, [1], [0]), bucket: T0 - MIN }])).toThrow(/not in hour/)
    expect(() => encodePack(T0, [minuteOf(2, [1], [0]), minuteOf(1, [1], [0])])).toThrow(/not in hour/)
    expect(() => encodePack(T0, [{ ...minuteOf(0, [1], [0]), lastTs: T0 + MIN }])).toThrow(/outside its minute/)
    expect(() => encodePack(T0 + 1, [minuteOf(0, [1], [0])])).toThrow(/not in hour/)
    expect(HOUR).toBe(60 * MIN)
  })

  it('refuses a truncated pack', () => {
    const pack = encodePack(T0, [minuteOf(0, [1, 2, 3], [0, 1, 2]), minuteOf(1, [4], [0])])
    expect(() => decodePack(T0, pack.subarray(0, pack.length - 2))).toThrow(/truncated/)
    expect(() => decodePack(T0, pack.subarray(0, 1))).toThrow(/truncated|ends early/)
  })
})
