/**
 * Seeds the fleet query bench's data (`BENCH_ONLY=fleet`, fleet.ts) straight into a Homeostat database
 * file before its server starts: rollup rows written as the rollup job would have written them, with
 * their watermarks, so seeding takes seconds rather than the job's minutes.
 *
 * - `agent_latency_ms`: the backfill group's shape, 1,000 series (200 agents × 5 hosts), a point every
 *   15 s for the last 6 hours, as 1-minute rollups (4 values each) and hourly rollups;
 * - `fleet_latency_ms`: 200 series (40 agents × 5 hosts), a point a minute for the last 30 days, as
 *   hourly and daily rollups, and 1-minute rollups for the last 6 hours (what a 6 h query reads).
 *
 * Watermarks: 1m at the last whole minute, 1h at the last whole hour, 1d at the last whole day, so
 * queries read rollups up to the present and raw points (none) after. Values: latencies in ms, a
 * log-normal around a per-series median (deterministic, mulberry32). Sketches through the real
 * `addValue` and the job's own row encoding (`encodeRollup`), so the stored rows are what the job writes.
 *
 *   DATABASE_URL=file:/tmp/x/homeostat.db DATA_DIR=/tmp/x node_modules/.bin/bun tests/bench/seed-fleet.ts
 * Prints one JSON line of figures.
 */
import { boot } from '../../app/boot.ts'
import { encodeRollup } from '../../app/modules/metrics/rollup.ts'
import { encodePack, hourOf, type Minute } from '../../app/modules/metrics/minute-pack.ts'
import { encodeSketch } from '../../app/modules/metrics/sketch.ts'
import { canonicalLabels, fingerprintOf } from '../../app/modules/metrics/store.ts'
import { type Agg, add, fold, newAgg, seededRandom } from './seed-shared.ts'

const MINUTE = 60_000
const HOUR = 3_600_000
const DAY = 86_400_000

const { random, latency } = seededRandom()

async function main() {
  const { client } = await boot(process.env, { quiet: true })
  const now = Date.now()
  const t0 = performance.now()
  const minuteMark = now - (now % MINUTE) - MINUTE
  const hourMark = now - (now % HOUR)
  const dayMark = now - (now % DAY)
  let rows: (number | Uint8Array | null)[][] = []
  let written = 0
  const flush = async () => {
    const stmts = []
    for (let i = 0; i < rows.length; i += 300) {
      const chunk = rows.slice(i, i + 300)
      stmts.push({
        sql: `insert into rollups (series_id, resolution, bucket, count, sum, min, max, last, last_offset, sketch) values ${chunk.map(() => '(?,?,?,?,?,?,?,?,?,?)').join(',')}`,
        args: chunk.flat(),
      })
    }
    // The 1-minute tier packed a series' hour to a row, as the job stores it (ADR 0030).
    const list = [...packs.values()]
    for (let i = 0; i < list.length; i += 300) {
      const chunk = list.slice(i, i + 300)
      stmts.push({
        sql: `insert into rollup_minutes (series_id, hour, n, data) values ${chunk.map(() => '(?,?,?,?)').join(',')}`,
        args: chunk.flatMap((p) => [p.id, p.hour, p.minutes.length, encodePack(p.hour, p.minutes)]),
      })
      written += chunk.reduce((a, p) => a + p.minutes.length, 0)
    }
    await client.batch(stmts, 'write')
    written += rows.length
    rows = []
    packs.clear()
  }
  const packs = new Map<string, { id: number; hour: number; minutes: Minute[] }>()
  const put = (id: number, res: 60 | 3600 | 86_400, bucket: number, a: Agg) => {
    if (res === 60) {
      const hour = hourOf(bucket)
      let p = packs.get(`${id}:${hour}`)
      if (!p) packs.set(`${id}:${hour}`, (p = { id, hour, minutes: [] }))
      const { sketch, ...summary } = a
      return void p.minutes.push({ bucket, ...summary, sketch: encodeSketch(sketch) })
    }
    const r = encodeRollup(id, res, bucket, a)
    rows.push([id, res, bucket, r.count, r.sum, r.min, r.max, r.last ?? null, r.lastOffset, r.sketch ?? null])
  }

  // Series first, in one batch (ids from 1: the file is new), then their rollups.
  const plan = [
    ...Array.from({ length: 1000 }, (_, s) => ({
      name: 'agent_latency_ms',
      labels: { agent: `agent-${s % 200}`, host: `host-${s % 5}-${s}` },
    })),
    ...Array.from({ length: 200 }, (_, s) => ({
      name: 'fleet_latency_ms',
      labels: { agent: `agent-${s % 40}`, host: `host-${s % 5}-${s}` },
    })),
  ]
  await client.batch(
    plan.map((p, i) => {
      const canonical = canonicalLabels(p.labels)
      return {
        sql: 'insert into series (id, fingerprint, name, labels, created_at, last_seen_at) values (?, ?, ?, ?, ?, ?)',
        args: [i + 1, fingerprintOf(p.name, canonical), p.name, JSON.stringify(canonical), now - 31 * DAY, now],
      }
    }),
    'write',
  )

  // agent_latency_ms: 1,000 series × 6 h at 15 s, minute and hourly rollups.
  const sixHours = hourMark - 6 * HOUR
  for (let s = 0; s < 1000; s++) {
    const id = s + 1
    const median = 80 + (s % 37) * 10
    for (let h = sixHours; h < hourMark; h += HOUR) {
      const hour = newAgg()
      for (let m = h; m < h + HOUR; m += MINUTE) {
        const minute = newAgg()
        for (let t = m; t < m + MINUTE; t += 15_000) add(minute, latency(median), t)
        put(id, 60, m, minute)
        fold(hour, minute)
      }
      put(id, 3600, h, hour)
    }
    // The minutes after the last whole hour, up to the minute watermark.
    for (let m = hourMark; m < minuteMark; m += MINUTE) {
      const minute = newAgg()
      for (let t = m; t < m + MINUTE; t += 15_000) add(minute, latency(median), t)
      put(id, 60, m, minute)
    }
    if (rows.length + packs.size * 60 > 20_000) await flush()
  }
  // fleet_latency_ms: 200 series × 30 days at 1 min, hourly and daily rollups; minutes for the last 6 h.
  const thirtyDays = dayMark - 30 * DAY
  for (let s = 0; s < 200; s++) {
    const id = 1001 + s
    const median = 60 + (s % 23) * 15
    let day = newAgg()
    for (let h = thirtyDays; h < hourMark; h += HOUR) {
      const hour = newAgg()
      for (let m = h; m < h + HOUR; m += MINUTE) {
        const v = latency(median)
        add(hour, v, m)
        if (m >= sixHours) {
          const minute = newAgg()
          add(minute, v, m)
          put(id, 60, m, minute)
        }
      }
      put(id, 3600, h, hour)
      if (h < dayMark) fold(day, hour)
      if ((h + HOUR) % DAY === 0 && h < dayMark) {
        put(id, 86_400, h + HOUR - DAY, day)
        day = newAgg()
      }
    }
    for (let m = hourMark; m < minuteMark; m += MINUTE) {
      const minute = newAgg()
      add(minute, latency(median), m)
      put(id, 60, m, minute)
    }
    if (rows.length + packs.size * 60 > 20_000) await flush()
  }
  await flush()
  await client.execute({
    sql: 'insert into rollup_watermarks (resolution, watermark) values (60, ?), (3600, ?), (86400, ?) on conflict (resolution) do update set watermark = excluded.watermark',
    args: [minuteMark, hourMark, dayMark],
  })
  await client.execute('PRAGMA wal_checkpoint(TRUNCATE)')
  console.log(
    JSON.stringify({
      series: plan.length,
      rollups: written,
      seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
    }),
  )
  client.close()
}

await main()
