/**
 * The scale point of issue 23 (`BENCH_ONLY=scale`): the data group's figures (data.ts: a 30-day
 * one-series query, the 24 h overview, PromQL, RSS) on 10 M points over 50,000 series instead of
 * 1 M over 10,000. Generated, not shipped, by seed-direct.ts: the series, raw chunks and rollup rows
 * written straight into the tables in the storage's own format through the metrics module's own
 * functions (`chunkRows`, `encodeRollup`, `addValue`), with the watermarks the rollup job would have
 * reached. Through the write path (seed.ts: the store, the inbox mover, the rollup catch-up from
 * scratch) the same data took 22 minutes at load 14–26; directly, about 2 (load ≈ 24). What is measured
 * here is the queries over the data, not how it got there (the data and backfill groups time the write
 * path and the catch-up).
 *
 * The shape is a dense fleet: each series a point every 15 s for the last 50 minutes (200 points;
 * 500 metric names × 100 series, the overview's five agent metrics among them, see dataset.ts): 2.5 M
 * minute rows; hourly ones only when the 50 minutes cross a whole hour below the watermark. The
 * 30-day query therefore reads little history per series: what it measures is the cost of the
 * database's size (50,000 series, 10 M points, deeper b-trees, page cache misses) on the read paths,
 * and the memory. The tables are written in key order, so their pages are fuller than the write
 * path's (≈ 280 MB against ≈ 430 MB).
 *
 * Knobs: SCALE_POINTS (default 10 000 000), SCALE_SERIES (50 000), SCALE_SPAN_MINUTES (50).
 */
import { dataFigures } from './data.ts'
import { type Env, fmt } from './lib.ts'

export const SCALE_RSS_MAX_MB = 200

export async function scaleFigures(dir: string, base: Env, log: (line: string) => void) {
  const points = Number(process.env.SCALE_POINTS ?? 10_000_000)
  const series = Number(process.env.SCALE_SERIES ?? 50_000)
  const span = process.env.SCALE_SPAN_MINUTES ?? '50'
  const t0 = performance.now()
  const { rows, seeded } = await dataFigures(dir, base, log, {
    name: 'scale',
    label: `scale ${fmt(points / 1e6)} M / ${fmt(series / 1000)} k: `,
    rssMaxMb: SCALE_RSS_MAX_MB,
    seed: {
      SEED_POINTS: String(points),
      SEED_SERIES: String(series),
      SEED_SPAN_MINUTES: span,
    },
    script: 'tests/bench/seed-direct.ts',
    rollupTick: true,
  })
  log(`  scale: generated and measured in ${fmt((performance.now() - t0) / 1000)} s`)
  const failed = rows.filter((r) => r[4] === 'MISS').map((r) => `${r[0]} ${r[1]}`)
  rows.push([
    'scale: generation (series, chunks and rollups written directly)',
    `${fmt(seeded.writeSeconds)} s`,
    `${fmt(seeded.points)} points`,
    '',
    '',
  ])
  return { rows, failed }
}
