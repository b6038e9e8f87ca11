/**
 * Diagnostic, not part of `npm run bench`: how fast bare libSQL stores remote-write-shaped points
 * (requests of 1 000 series at one timestamp) in different table layouts, with Homeostat's pragmas
 * (WAL, synchronous=NORMAL) and a commit per request, or per GROUP requests (group commit).
 * BENCHMARKS.md quotes it for the ingest figures.
 *
 *   node_modules/.bin/bun tests/bench/layouts.ts            # all layouts, 1 000 000 points each
 *   LAYOUTS=series GROUP=20 CACHE_MB=64 node_modules/.bin/bun tests/bench/layouts.ts
 *
 * series: PRIMARY KEY (series_id, ts) WITHOUT ROWID, Homeostat's `points` (one page per series
 *         touched by every commit); time: PRIMARY KEY (ts, series_id) WITHOUT ROWID (appends);
 *         log: a rowid table in arrival order (appends, no key).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from '@libsql/client'

const DDL = {
  series:
    'create table points (series_id integer not null, ts integer not null, value real not null, primary key (series_id, ts)) without rowid',
  time: 'create table points (series_id integer not null, ts integer not null, value real not null, primary key (ts, series_id)) without rowid',
  log: 'create table points (series_id integer not null, ts integer not null, value real not null)',
} as const
type Layout = keyof typeof DDL

const POINTS = Number(process.env.POINTS ?? 1_000_000)
const SERIES = 1000
const GROUP = Number(process.env.GROUP ?? 1)
const layouts = (process.env.LAYOUTS?.split(',') ?? Object.keys(DDL)) as Layout[]

async function run(layout: Layout) {
  const dir = mkdtempSync(join(tmpdir(), 'homeostat-layouts-'))
  const client = createClient({ url: `file:${join(dir, 'points.db')}`, intMode: 'number' })
  try {
    await client.execute('PRAGMA journal_mode=WAL')
    await client.execute('PRAGMA synchronous=NORMAL')
    if (process.env.CACHE_MB) await client.execute(`PRAGMA cache_size=-${Number(process.env.CACHE_MB) * 1024}`)
    await client.execute(DDL[layout])
    const upsert = layout === 'log' ? '' : ' on conflict do update set value = excluded.value'
    const insert = `insert into points (series_id, ts, value) values ${'(?,?,?),'.repeat(500).slice(0, -1)}${upsert}`
    let ts = Date.now()
    const start = performance.now()
    for (let done = 0; done < POINTS; ) {
      const statements: { sql: string; args: number[] }[] = []
      for (let g = 0; g < GROUP && done < POINTS; g++, done += SERIES, ts++) {
        for (let first = 0; first < SERIES; first += 500) {
          const args: number[] = []
          for (let s = first; s < first + 500; s++) args.push(s, ts, s / 10)
          statements.push({ sql: insert, args })
        }
      }
      await client.batch(statements, 'write')
    }
    const seconds = (performance.now() - start) / 1000
    console.log(
      `${layout.padEnd(6)} commit per ${GROUP} request(s): ${(POINTS / seconds).toFixed(0).padStart(8)} points/s (${seconds.toFixed(1)} s)`,
    )
  } finally {
    client.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

for (const layout of layouts) await run(layout)
