/**
 * The scale point of issue 23 (`BENCH_ONLY=scale`): the data group's figures (data.ts: a 30-day
 * one-series query, the 24 h overview, PromQL, RSS) on 10 M points over 50,000 series instead of
 * 1 M over 10,000. Generated, not shipped: seed.ts writes the points through the product's own write
 * path (`createMetricStore().write`, the inbox mover, then `runRollups` from scratch), so the chunks
 * and rollup rows are whatever the product makes today, with no second encoder to keep in step. The
 * seed moves the inbox every 2 M points (40 a series), not every 100 000: each move re-encodes every
 * series' open chunk, and 100 moves over 50,000 series made the seed take most of an hour here.
 *
 * The shape is a dense fleet: each series a point every 15 s for the last 50 minutes (200 points;
 * 500 metric names × 100 series, the overview's five agent metrics among them, see dataset.ts). The
 * sparse shape of the data group (each point its own minute and hour) at 10 M points would be
 * ≈ 20 M rollup rows and ≈ 2.3 GB. The dense one makes 2.5 M minute rows (427 MB in all); generating
 * it took 22 minutes at load 14–26 on 2 cores (write and move 450 s, rollups from scratch 843 s), not
 * the few minutes issue 23 asks for: most of it is the product's own rollup catch-up. The 30-day query
 * therefore reads little history per series: what it measures is the cost of the database's size
 * (50,000 series, 10 M points, deeper b-trees, page cache misses) on the read paths, and the memory.
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
      SEED_MOVE_POINTS: '2000000',
    },
  })
  log(`  scale: generated and measured in ${fmt((performance.now() - t0) / 1000)} s`)
  const failed = rows.filter((r) => r[4] === 'MISS').map((r) => `${r[0]} ${r[1]}`)
  rows.push([
    'scale: generation (write + move + rollups)',
    `${fmt(seeded.writeSeconds + seeded.rollupSeconds)} s`,
    `${fmt(seeded.points)} points`,
    '',
    '',
  ])
  return { rows, failed }
}
