/**
 * Rollup catch-up after a day offline (issue 23: < 60 s), run by the backfill group (backfill.ts) and
 * alone as
 *
 *   DATABASE_URL=file:/x/homeostat.db DATA_DIR=/x node_modules/.bin/bun tests/bench/catchup.ts
 *
 * The fleet shape: 1,000 series (200 agents × 5 hosts, `agent_latency_ms`, whole-ms log-normal latencies)
 * a point every 15 s for the 24 hours ending 2 minutes ago, 5.76 M points, written straight into
 * `point_chunks` as the inbox mover leaves them (`chunkRows`, `replaceChunks`: seq 0), and no rollup at
 * all: the three watermarks stand a day behind, where the job stopped when the server went down. Then
 * `runRollups` (the job's handler) is called until a call takes no step, and the whole of it is timed:
 * every minute, hour and day of the span built. A file that already holds series is not seeded again
 * (CATCHUP_SEED=0 seeds only), so one seeded copy can be timed under two builds.
 *
 * Prints one JSON line: points, seconds seeding, seconds catching up, steps, runs, and the buckets built.
 */
import { boot } from '../../app/boot.ts'
import type { WriteStatement } from '../../db/client.ts'
import { type ChunkRow, chunkRows } from '../../app/modules/metrics/chunks.ts'
import { replaceChunks, writeAll } from '../../app/modules/metrics/inbox.ts'
import { runRollups } from '../../app/modules/metrics/index.ts'
import { canonicalLabels, fingerprintOf } from '../../app/modules/metrics/store.ts'
import { seededRandom } from './seed-shared.ts'

const SERIES = Number(process.env.CATCHUP_SERIES ?? 1000)
const HOURS = Number(process.env.CATCHUP_HOURS ?? 24)
const STEP_MS = 15_000
const MINUTE = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000

const { random, latency } = seededRandom()

async function seed(db: Awaited<ReturnType<typeof boot>>['db'], now: number) {
  const end = now - 2 * MINUTE
  const start = end - HOURS * HOUR
  const series: WriteStatement[] = []
  for (let s = 0; s < SERIES; s++) {
    const labels = canonicalLabels({ agent: `agent-${s % 200}`, host: `host-${s % 5}-${s}` })
    series.push({
      sql: 'insert into series (id, fingerprint, name, labels, created_at, last_seen_at) values (?, ?, ?, ?, ?, ?)',
      args: [s + 1, fingerprintOf('agent_latency_ms', labels), 'agent_latency_ms', JSON.stringify(labels), start, now],
    })
  }
  await writeAll(db, series)
  let chunks: ChunkRow[] = []
  let points = 0
  for (let s = 0; s < SERIES; s++) {
    const median = 80 + (s % 37) * 10
    const run = { ts: [] as number[], values: [] as number[] }
    // Each series at its own phase within the 15 s, as agents started at different times.
    for (let t = start + ((s * 7919) % STEP_MS); t < end; t += STEP_MS) {
      run.ts.push(t)
      run.values.push(latency(median))
    }
    points += run.ts.length
    chunks.push(...chunkRows(s + 1, 0, run))
    if (chunks.length >= 5000) {
      await writeAll(db, replaceChunks([], chunks))
      chunks = []
    }
  }
  await writeAll(db, replaceChunks([], chunks))
  // Where the job stood a day ago: every tier's watermark at the first whole hour of the span.
  const mark = start - (start % HOUR)
  await writeAll(db, [
    {
      sql: 'insert into rollup_watermarks (resolution, watermark) values (60, ?), (3600, ?), (86400, ?) on conflict (resolution) do update set watermark = excluded.watermark',
      args: [mark, mark, mark - (mark % DAY)],
    },
  ])
  return points
}

async function main() {
  const { db, client } = await boot(process.env, { quiet: true })
  const now = Number(process.env.CATCHUP_NOW ?? Date.now())
  const t0 = performance.now()
  const has = Number((await client.execute('select count(*) as n from series')).rows[0]!.n)
  const points = has ? 0 : await seed(db, now)
  const seedSeconds = (performance.now() - t0) / 1000
  if (!has) await client.execute('PRAGMA wal_checkpoint(TRUNCATE)')
  if (process.env.CATCHUP_SEED === '0') {
    console.log(JSON.stringify({ points, seedSeconds, now }))
    return client.close()
  }
  const t1 = performance.now()
  const total = { buckets: 0, rebuilt: 0, steps: 0, runs: 0 }
  for (;;) {
    const c = await runRollups(db, now)
    total.runs++
    total.buckets += c.buckets
    total.rebuilt += c.rebuilt
    total.steps += c.steps
    if (!c.steps && !c.rebuilt) break
  }
  const seconds = (performance.now() - t1) / 1000
  const buckets = (sql: string) => client.execute(sql).then((r) => Number(r.rows[0]!.n))
  const built = {
    '1m': await buckets('select coalesce(sum(n), 0) as n from rollup_minutes'),
    '1h': await buckets('select count(*) as n from rollups where resolution = 3600'),
    '1d': await buckets('select count(*) as n from rollups where resolution = 86400'),
  }
  client.close()
  console.log(JSON.stringify({ points, seedSeconds, seconds, ...total, built, now }))
}

await main()
