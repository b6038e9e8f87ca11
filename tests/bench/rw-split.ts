/**
 * Where remote write's CPU goes per sample, stage by stage, in one process on a temp file database:
 * decode (snappy + protobuf + label checks), series lookup, inbox commit, the mover and the minute
 * rollups. `bun tests/bench/rw-split.ts [requests]`. Prints µs of CPU per sample for each stage.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDb } from '../../db/client.ts'
import { runMigrations } from '../../db/migrate.ts'
import { moveInbox } from '../../app/modules/metrics/inbox.ts'
import { createWriteDecoder } from '../../app/modules/metrics/remote-write.ts'
import { runRollups } from '../../app/modules/metrics/rollup.ts'
import { createMetricStore } from '../../app/modules/metrics/store.ts'
import { remoteWritePayloads } from '../helpers/remote-write.ts'

const REQUESTS = Number(process.argv[2] ?? 300)
const SERIES = 1000
const dir = mkdtempSync(join(tmpdir(), 'rw-split-'))
const cpu = () => {
  const u = process.cpuUsage()
  return u.user + u.system
}
try {
  const { db } = await openDb({ url: `file:${join(dir, 'db.sqlite')}` })
  await runMigrations(db)
  const now = Date.now()
  // As the bench sends them (ingest.ts remoteWritePool): a little ahead of now, so no point is late.
  const t0 = now + 30_000
  const bodies = remoteWritePayloads(REQUESTS, { seriesPerRequest: SERIES, t0, stepMs: 1 })
  const decoder = createWriteDecoder()
  const store = createMetricStore(db)
  // Warm-up request: series created, caches filled.
  const first = decoder.decode(new Uint8Array(bodies[0]!), { maxDecodedBytes: 1 << 26, maxSamples: 1 << 20, now })
  await store.write(first.samples, now)
  const us = { decode: 0, lookup: 0, commit: 0, mover: 0, rollups: 0 }
  for (let i = 1; i < bodies.length; i++) {
    let c = cpu()
    const { samples } = decoder.decode(new Uint8Array(bodies[i]!), {
      maxDecodedBytes: 1 << 26,
      maxSamples: 1 << 20,
      now,
    })
    us.decode += cpu() - c
    c = cpu()
    await store.seriesIds(Array.isArray(samples) ? samples : samples.series, now)
    us.lookup += cpu() - c
    c = cpu()
    await store.write(samples, now) // lookup (cached) + commit
    us.commit += cpu() - c
  }
  us.commit -= us.lookup // write() looks the ids up again
  let c = cpu()
  while ((await moveInbox(db)) > 0);
  us.mover += cpu() - c
  c = cpu()
  await runRollups(db, now + 10 * 60_000)
  us.rollups += cpu() - c
  const n = (bodies.length - 1) * SERIES
  const per = Object.fromEntries(Object.entries(us).map(([k, v]) => [k, +(v / n).toFixed(3)]))
  const total = Object.values(us).reduce((a, b) => a + b, 0) / n
  const pages = (
    await db
      .all<{ name: string; n: number }>(
        // biome-ignore lint: dbstat is a virtual table
        `select name, sum(pgsize) as n from dbstat group by name` as never,
      )
      .catch(() => [])
  ).filter((p) => /point|rollup/.test(p.name))
  console.log(JSON.stringify({ samples: n, cpuUsPerSample: per, total: +total.toFixed(3), pages }, null, 1))
} finally {
  rmSync(dir, { recursive: true, force: true })
}
