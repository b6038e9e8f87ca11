/**
 * Seeds the data set of the bench's query figures straight into a Homeostat database file, before
 * the server that will read it starts: SEED_POINTS raw points (default 1 000 000) over SEED_SERIES
 * series (default 10 000, see dataset.ts), each series' points spread evenly over the last
 * SEED_SPAN_MINUTES (default 7 days less an hour: all of it within the default raw retention of 7
 * days, so the server's retention job keeps every point). With the defaults that is one point per
 * series every 100 minutes, like agents and workflows that push a few metrics per run. The points
 * go through the real store (`createMetricStore(db).write`, batches of 10 000), then the real
 * `runRollups` builds the 1m, 1h and 1d rollups from scratch, timed: the catch-up figure.
 *
 * Run with Bun and the server's environment (DATABASE_URL, DATA_DIR):
 *   DATABASE_URL=file:/tmp/x/homeostat.db DATA_DIR=/tmp/x node_modules/.bin/bun tests/bench/seed.ts
 * Prints one JSON line of figures. SEED_ROLLUPS=0 skips the rollups.
 *
 * Each batch is written with `now` just after its oldest point, as if its points had arrived on
 * time, so none is "late" (late points also mark their minutes for a rebuild, which a live feed
 * never does).
 */
import { sql } from 'drizzle-orm'
import { boot } from '../../app/boot.ts'
import { moveInbox } from '../../app/modules/metrics/inbox.ts'
import { runRollups } from '../../app/modules/metrics/rollup.ts'
import { createMetricStore, type Sample } from '../../app/modules/metrics/store.ts'
import { seriesOf } from './dataset.ts'
import { storedBytes } from './seed-shared.ts'

const POINTS = Number(process.env.SEED_POINTS ?? 1_000_000)
const SERIES = Number(process.env.SEED_SERIES ?? 10_000)
const SPAN_MS = Number(process.env.SEED_SPAN_MINUTES ?? 7 * 24 * 60 - 60) * 60_000
const BATCH = 10_000
const MOVE_EVERY = Number(process.env.SEED_MOVE_POINTS ?? 10 * BATCH)

// Deterministic values (mulberry32), shaped like the metric: counts, costs, latencies, gauges.
let state = 0x9e3779b9
const random = () => {
  state = (state + 0x6d2b79f5) | 0
  let t = Math.imul(state ^ (state >>> 15), 1 | state)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
export function valueOf(name: string) {
  if (name === 'agent_requests_total') return Math.floor(random() * 200)
  if (name === 'agent_errors_total') return Math.floor(random() * 5)
  if (name === 'llm_tokens_total') return Math.floor(random() * 50_000)
  if (name === 'llm_cost_usd') return Math.round(random() * 1e4) / 1e4
  if (name === 'llm_latency_ms') return Math.round(200 + 3000 * -Math.log(1 - random() * 0.999)) / 1
  return Math.round(random() * 1e6) / 100
}

async function main() {
  const { db, client, config } = await boot(process.env, { quiet: true })
  const store = createMetricStore(db)
  const now = Date.now()
  const perSeries = Math.ceil(POINTS / SERIES)
  const span = SPAN_MS
  const interval = Math.floor(span / perSeries)
  const start = now - span - 2 * 60_000 // the newest points are 2 minutes old: settled, rolled up
  const meta = Array.from({ length: SERIES }, (_, i) => seriesOf(i))
  // Point k of series i is at start + k·interval + phase(i); in time order: k, then phase.
  const phase = (i: number) => Math.floor((((i * 2_654_435_761) % 4_294_967_296) / 4_294_967_296) * interval)
  const order = Array.from({ length: SERIES }, (_, i) => i).sort((a, b) => phase(a) - phase(b))

  const t0 = performance.now()
  let written = 0
  let batch: Sample[] = []
  const flush = async () => {
    if (!batch.length) return
    // "Arrived" just after its oldest point would have: nothing in the batch counts as late.
    await store.write(batch, batch[0]!.ts + 59_000)
    written += batch.length
    batch = []
    // What the server's inbox mover does every second (about 100 000 points here). SEED_MOVE_POINTS
    // moves more at a time: with 50,000 series a move of 100 000 points rewrites every series' open
    // chunk for two points each, and the scale group's seed would take most of an hour.
    if (written % MOVE_EVERY === 0) await moveInbox(db, { maxRows: MOVE_EVERY })
  }
  for (let k = 0; k < perSeries && written + batch.length < POINTS; k++) {
    for (const i of order) {
      if (written + batch.length >= POINTS) break
      const m = meta[i]!
      batch.push({ name: m.name, labels: m.labels, value: valueOf(m.name), ts: start + k * interval + phase(i) })
      if (batch.length >= BATCH) await flush()
    }
  }
  await flush()
  while ((await moveInbox(db, { maxRows: MOVE_EVERY })) > 0);
  // The series were last seen now, as a live fleet's are.
  await db.run(sql`update series set last_seen_at = ${now}`)
  const writeSeconds = (performance.now() - t0) / 1000
  if (process.env.SEED_VERBOSE) console.error(`seed: wrote ${written} points in ${writeSeconds.toFixed(1)}s`)

  // Catch-up from scratch: every run does at most 200 steps, so run until a run does nothing.
  const t1 = performance.now()
  let runs = 0
  const totals = { buckets: 0, rebuilt: 0, steps: 0 }
  for (;;) {
    if (process.env.SEED_ROLLUPS === '0') break
    const r = await runRollups(db, now)
    runs++
    totals.buckets += r.buckets
    totals.rebuilt += r.rebuilt
    totals.steps += r.steps
    if (r.steps === 0 && r.rebuilt === 0) break
  }
  const rollupSeconds = (performance.now() - t1) / 1000

  const { bytes, tables } = await storedBytes(client, config.DATABASE_URL)
  const counts = (
    await client.execute(
      'select (select coalesce(sum(n), 0) from point_chunks) + (select coalesce(sum(n), 0) from point_batches) as points, (select count(*) from series) as series, (select coalesce(sum(n), 0) from rollup_minutes) as r1m, (select count(*) from rollups where resolution = 3600) as r1h, (select count(*) from rollups where resolution = 86400) as r1d',
    )
  ).rows[0]!
  client.close()
  console.log(
    JSON.stringify({
      points: Number(counts.points),
      series: Number(counts.series),
      rollups: { '1m': Number(counts.r1m), '1h': Number(counts.r1h), '1d': Number(counts.r1d) },
      writeSeconds,
      rollupSeconds,
      rollupRuns: runs,
      rollupSteps: totals.steps,
      buckets: totals.buckets,
      bytes,
      tables,
      now,
    }),
  )
}

if (import.meta.main) await main()
