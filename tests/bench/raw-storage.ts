/**
 * Raw storage on the fleet shape of issue 23: 1,000 series every 15 s for 6 h (1.44 M points),
 * written through the metric store in requests of 1,000 (one scrape of the fleet each), the inbox
 * moved, then bytes of database pages per stored point for the raw tables (dbstat), and the CPU
 * of the write and the move per point. Values: a third counters (integer increments), a third
 * gauges with two decimals (a random walk), a third full-precision floats (latencies); scrape
 * times jittered by up to 5 ms, as Prometheus' are. `bun tests/bench/raw-storage.ts`.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb } from '../../db/client.ts'
import { runMigrations } from '../../db/migrate.ts'
import { moveInbox } from '../../app/modules/metrics/inbox.ts'
import { createMetricStore, type Sample } from '../../app/modules/metrics/store.ts'

const SERIES = 1000
const STEP = 15_000
const HOURS = Number(process.env.RAW_HOURS ?? 6)
const dir = mkdtempSync(join(tmpdir(), 'raw-storage-'))
let seed = 1
const rnd = () => {
  seed = (seed * 1664525 + 1013904223) >>> 0
  return seed / 2 ** 32
}
const cpu = () => {
  const u = process.cpuUsage()
  return u.user + u.system
}
try {
  const { db, client } = await openDb({ url: `file:${join(dir, 'db.sqlite')}` })
  await runMigrations(db)
  const store = createMetricStore(db)
  const now = Date.now()
  const t0 = now - HOURS * 3_600_000
  const state: number[] = Array.from({ length: SERIES }, (_, i) => (i % 3 === 0 ? 0 : 50))
  const labels = Array.from({ length: SERIES }, (_, i) => ({ instance: `host-${i % 100}:9100`, series: String(i) }))
  let points = 0
  let writeUs = 0
  let moveUs = 0
  for (let ts = t0; ts < now; ts += STEP) {
    const samples: Sample[] = labels.map((l, i) => {
      const kind = i % 3
      if (kind === 0) state[i]! += Math.floor(rnd() * 20)
      else if (kind === 1) state[i] = Math.round((state[i]! + (rnd() - 0.5) * 2) * 100) / 100
      else state[i] = 0.05 + rnd() * 0.3
      return { name: `fleet_metric_${kind}`, labels: l, value: state[i]!, ts: ts + Math.floor(rnd() * 5) }
    })
    let c = cpu()
    await store.write(samples, now)
    writeUs += cpu() - c
    points += samples.length
    if (points % 100_000 === 0) {
      c = cpu()
      await moveInbox(db)
      moveUs += cpu() - c
    }
  }
  const c = cpu()
  while ((await moveInbox(db)) > 0);
  moveUs += cpu() - c
  await client.execute('pragma wal_checkpoint(truncate)')
  const rows = (
    await client.execute("select name, sum(pgsize) as n from dbstat where name like 'point%' group by name")
  ).rows
  const bytes = rows.reduce((n, r) => n + Number(r.n), 0)
  console.log(
    JSON.stringify({
      points,
      tables: Object.fromEntries(rows.map((r) => [r.name, Number(r.n)])),
      bytesPerPoint: +(bytes / points).toFixed(2),
      writeUsPerPoint: +(writeUs / points).toFixed(3),
      moveUsPerPoint: +(moveUs / points).toFixed(3),
    }),
  )
  client.close()
} finally {
  rmSync(dir, { recursive: true, force: true })
}
