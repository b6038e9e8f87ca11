/**
 * What the seeds that write rollups straight into the tables (seed-direct.ts, seed-fleet.ts, catchup.ts) and the
 * seeds that report their file's size (seed.ts, seed-direct.ts) share, kept here so they build the
 * same aggregates and measure the same bytes.
 */
import { statSync } from 'node:fs'
import type { Client } from '@libsql/client'
import { addValue, emptySketch, mergeInto, type Sketch } from '../../app/modules/metrics/sketch.ts'

/** One bucket's aggregate as the rollup job builds it, before `encodeRollup`/`encodePack`. */
export type Agg = { count: number; sum: number; min: number; max: number; last: number; lastTs: number; sketch: Sketch }

export const newAgg = (): Agg => ({
  count: 0,
  sum: 0,
  min: Infinity,
  max: -Infinity,
  last: 0,
  lastTs: 0,
  sketch: emptySketch(),
})

export function add(a: Agg, value: number, ts: number) {
  a.count++
  a.sum += value
  a.min = Math.min(a.min, value)
  a.max = Math.max(a.max, value)
  a.last = value
  a.lastTs = ts
  addValue(a.sketch, value)
}

/** Merges `a` into the coarser bucket `into`; `last` is the latest point's, whatever the order of the folds. */
export function fold(into: Agg, a: Agg) {
  into.count += a.count
  into.sum += a.sum
  into.min = Math.min(into.min, a.min)
  into.max = Math.max(into.max, a.max)
  if (a.lastTs >= into.lastTs) {
    into.last = a.last
    into.lastTs = a.lastTs
  }
  mergeInto(into.sketch, a.sketch)
}

const fileSize = (path: string) => {
  try {
    return statSync(path).size
  } catch {
    return 0
  }
}

/**
 * Checkpoints the WAL, then the bytes of the database file and its WAL, and where they are (the 8
 * biggest tables and indexes) when this SQLite has the dbstat table (`undefined` when not).
 */
export async function storedBytes(client: Pick<Client, 'execute'>, databaseUrl: string) {
  await client.execute('PRAGMA wal_checkpoint(TRUNCATE)')
  const file = databaseUrl.slice('file:'.length).split('?')[0]!
  const bytes = fileSize(file) + fileSize(`${file}-wal`)
  let tables: Record<string, number> | undefined
  try {
    const rows = (
      await client.execute('select name, sum(pgsize) as bytes from dbstat group by name order by 2 desc limit 8')
    ).rows
    tables = Object.fromEntries(rows.map((r) => [String(r.name), Number(r.bytes)]))
  } catch {
    tables = undefined
  }
  return { bytes, tables }
}

/**
 * The seeds' one random source (mulberry32, a fixed seed: every run writes the same data), and a
 * log-normal latency around `median` ms from it (Box–Muller), whole milliseconds as agents report them.
 */
export function seededRandom(seed = 0x2545f491) {
  let state = seed
  const random = () => {
    state = (state + 0x6d2b79f5) | 0
    let t = Math.imul(state ^ (state >>> 15), 1 | state)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const latency = (median: number) =>
    Math.round(median * Math.exp(0.5 * Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random())))
  return { random, latency }
}
