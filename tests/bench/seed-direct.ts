/**
 * Seeds the scale group's data set (`BENCH_ONLY=scale`, scale.ts) straight into the tables, in the
 * storage's own format through the metrics module's own functions, not through the write path: the
 * point is the queries over 10 M points, and generating them through `store.write`, the inbox mover and
 * the rollup catch-up took 22 minutes here. The same shape and values as seed.ts (its `valueOf`; the
 * same series, dataset.ts; the same times: SEED_POINTS over SEED_SERIES, spread evenly over the last
 * SEED_SPAN_MINUTES ending 2 minutes ago, each series at its own phase), written as:
 *
 * - `series` rows (ids from 1: the file is new), fingerprints by `canonicalLabels`/`fingerprintOf`;
 * - raw points as `point_chunks` rows cut and encoded by `chunkRows` (Gorilla, chunks.ts) and written
 *   by `replaceChunks`' statements, as the inbox mover writes them (seq 0: older than any inbox batch);
 * - 1-minute, hourly and daily rollups as the rollup job builds them (`addValue` sketches, merged
 *   upwards, `encodeRollup` rows), with the watermarks the job would have reached at `now`:
 *   1m at the last settled minute, 1h and 1d at the last whole hour and day below it.
 *
 * A change of a stored format (chunks, the rollup row, the 1-minute tier) reaches this file through
 * those functions; 1-minute rollups go one row a series-hour, as the job stores them (`putRollup` below).
 *
 *   DATABASE_URL=file:/tmp/x/homeostat.db DATA_DIR=/tmp/x node_modules/.bin/bun tests/bench/seed-direct.ts
 * Prints one JSON line of figures, the same fields as seed.ts.
 */
import { boot } from '../../app/boot.ts'
import type { WriteStatement } from '../../db/client.ts'
import { type ChunkRow, chunkRows } from '../../app/modules/metrics/chunks.ts'
import { replaceChunks, writeAll } from '../../app/modules/metrics/inbox.ts'
import { encodePack, hourOf, type Minute } from '../../app/modules/metrics/minute-pack.ts'
import { encodeRollup } from '../../app/modules/metrics/rollup.ts'
import { encodeSketch } from '../../app/modules/metrics/sketch.ts'
import {
  canonicalLabels,
  fingerprintOf,
  type Resolution,
  RESOLUTIONS,
  SETTLE_MS,
} from '../../app/modules/metrics/store.ts'
import { seriesOf } from './dataset.ts'
import { valueOf } from './seed.ts'
import { type Agg, add, fold, newAgg, storedBytes } from './seed-shared.ts'

const POINTS = Number(process.env.SEED_POINTS ?? 1_000_000)
const SERIES = Number(process.env.SEED_SERIES ?? 10_000)
const SPAN_MS = Number(process.env.SEED_SPAN_MINUTES ?? 7 * 24 * 60 - 60) * 60_000
const ROWS_PER_WRITE = 20_000
const ROLLUP_ROWS_PER_STATEMENT = 64

const floorTo = (ts: number, res: Resolution) => ts - (ts % (res * 1000))

async function main() {
  const { db, client, config } = await boot(process.env, { quiet: true })
  const now = Date.now()
  const perSeries = Math.ceil(POINTS / SERIES)
  const interval = Math.floor(SPAN_MS / perSeries)
  const start = now - SPAN_MS - 2 * 60_000 // the newest points are 2 minutes old: settled, rolled up
  const phase = (i: number) => Math.floor((((i * 2_654_435_761) % 4_294_967_296) / 4_294_967_296) * interval)
  // Where the rollup job would stand at `now` (rollup.ts runRollups): each tier up to its source's mark.
  const marks = new Map<Resolution, number>()
  marks.set(60, floorTo(now - SETTLE_MS, 60))
  marks.set(3600, floorTo(marks.get(60)!, 3600))
  marks.set(86_400, floorTo(marks.get(3600)!, 86_400))
  const t0 = performance.now()

  const seriesRows: WriteStatement[] = []
  for (let i = 0; i < SERIES; i += 500) {
    const args: (string | number)[] = []
    const n = Math.min(500, SERIES - i)
    for (let j = i; j < i + n; j++) {
      const m = seriesOf(j)
      const labels = canonicalLabels(m.labels)
      args.push(j + 1, fingerprintOf(m.name, labels), m.name, JSON.stringify(labels), start, now)
    }
    seriesRows.push({
      sql: `insert into series (id, fingerprint, name, labels, created_at, last_seen_at) values ${new Array(n).fill('(?, ?, ?, ?, ?, ?)').join(', ')}`,
      args,
    })
  }
  await writeAll(db, seriesRows)

  let chunks: ChunkRow[] = []
  let rollupArgs: (number | Uint8Array | null)[][] = []
  let points = 0
  const rollupCounts = { '1m': 0, '1h': 0, '1d': 0 }
  const flush = async () => {
    const statements = replaceChunks([], chunks)
    for (let i = 0; i < rollupArgs.length; i += ROLLUP_ROWS_PER_STATEMENT) {
      const part = rollupArgs.slice(i, i + ROLLUP_ROWS_PER_STATEMENT)
      statements.push({
        sql: `insert into rollups (series_id, resolution, bucket, count, sum, min, max, last, last_offset, sketch) values ${part.map(() => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        args: part.flat(),
      })
    }
    const hours = [...packs.values()]
    for (let i = 0; i < hours.length; i += ROLLUP_ROWS_PER_STATEMENT) {
      const part = hours.slice(i, i + ROLLUP_ROWS_PER_STATEMENT)
      statements.push({
        sql: `insert into rollup_minutes (series_id, hour, n, data) values ${part.map(() => '(?, ?, ?, ?)').join(', ')}`,
        args: part.flatMap((h) => [h.id, h.hour, h.minutes.length, encodePack(h.hour, h.minutes)]),
      })
    }
    await writeAll(db, statements)
    chunks = []
    rollupArgs = []
    packs.clear()
  }
  // The 1-minute tier is one row a series-hour (ADR 0030); a series' minutes arrive in order, so an hour's
  // row is whole once its series is done (flush runs between series).
  const packs = new Map<string, { id: number; hour: number; minutes: Minute[] }>()
  const putRollup = (id: number, res: Resolution, bucket: number, a: Agg) => {
    if (res === 60) {
      const hour = hourOf(bucket)
      let p = packs.get(`${id}:${hour}`)
      if (!p) packs.set(`${id}:${hour}`, (p = { id, hour, minutes: [] }))
      const { sketch, ...summary } = a
      p.minutes.push({ bucket, ...summary, sketch: encodeSketch(sketch) })
      rollupCounts['1m']++
      return
    }
    const r = encodeRollup(id, res, bucket, a)
    rollupArgs.push([id, res, bucket, r.count, r.sum, r.min, r.max, r.last ?? null, r.lastOffset, r.sketch ?? null])
    rollupCounts[res === 3600 ? '1h' : '1d']++
  }
  for (let i = 0; i < SERIES; i++) {
    const id = i + 1
    const name = seriesOf(i).name
    const run = { ts: [] as number[], values: [] as number[] }
    // Open buckets per tier; a bucket is written when a point falls past it, or at the end below its mark.
    const open = new Map<Resolution, { bucket: number; agg: Agg }>()
    const close = (res: Resolution, upTo: number) => {
      const o = open.get(res)
      if (!o || o.bucket + res * 1000 > upTo) return
      if (o.bucket + res * 1000 <= marks.get(res)!) {
        putRollup(id, res, o.bucket, o.agg)
        const parent = res === 60 ? 3600 : res === 3600 ? 86_400 : null
        if (parent) {
          const p = open.get(parent)
          const pb = floorTo(o.bucket, parent)
          if (p && p.bucket !== pb) close(parent, pb)
          let q = open.get(parent)
          if (!q) open.set(parent, (q = { bucket: pb, agg: newAgg() }))
          fold(q.agg, o.agg)
        }
      }
      open.delete(res)
    }
    for (let k = 0; k < perSeries && points < POINTS; k++, points++) {
      const ts = start + k * interval + phase(i)
      const value = valueOf(name)
      run.ts.push(ts)
      run.values.push(value)
      const minute = floorTo(ts, 60)
      close(60, minute)
      let o = open.get(60)
      if (!o) open.set(60, (o = { bucket: minute, agg: newAgg() }))
      add(o.agg, value, ts)
    }
    for (const res of RESOLUTIONS) close(res, Number.POSITIVE_INFINITY)
    chunks.push(...chunkRows(id, 0, run))
    if (rollupArgs.length + chunks.length + packs.size >= ROWS_PER_WRITE) await flush()
  }
  await flush()
  await writeAll(db, [
    {
      sql: 'insert into rollup_watermarks (resolution, watermark) values (60, ?), (3600, ?), (86400, ?) on conflict (resolution) do update set watermark = excluded.watermark',
      args: [marks.get(60)!, marks.get(3600)!, marks.get(86_400)!],
    },
  ])
  const writeSeconds = (performance.now() - t0) / 1000

  const { bytes, tables } = await storedBytes(client, config.DATABASE_URL)
  client.close()
  console.log(
    JSON.stringify({
      points,
      series: SERIES,
      rollups: rollupCounts,
      writeSeconds,
      rollupSeconds: 0, // built with the points above
      rollupSteps: 0,
      bytes,
      tables,
      now,
    }),
  )
}

await main()
