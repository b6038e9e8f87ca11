/**
 * Rollup storage on the fleet shape of issue 23 (ADR 0022): the fleet query bench's seeded data
 * (seed-fleet.ts: `agent_latency_ms`, 1,000 series, a point every 15 s, as 1-minute and hourly rows),
 * copied into a fresh migrated database in the order the rollup job writes (minute packs hour by hour,
 * slices of 100 series; hours after), then bytes of pages per point and per row from dbstat (a minute's
 * share of its pack: sketch, coded numbers, page overhead, of which the unique index and overflow pages;
 * ADR 0030), and the 90-day projection at the default retention (raw chunks taken at RAW_BYTES_PER_POINT,
 * 8.8 B: ADR 0019). Also takes seed.ts's database (its 1,000 series' mix: packs of full-precision values).
 *
 *   DATABASE_URL=file:/x/seed.db DATA_DIR=/x bun tests/bench/seed-fleet.ts
 *   bun tests/bench/rollup-storage.ts /x/seed.db /x/copy.db
 */
import { rmSync } from 'node:fs'
import Database from 'libsql'
import { openDb } from '../../db/client.ts'
import { runMigrations } from '../../db/migrate.ts'
import { indexPack } from '../../app/modules/metrics/minute-pack.ts'

const [src, out] = process.argv.slice(2)
if (!src || !out) throw new Error('usage: bun tests/bench/rollup-storage.ts <seeded db> <copy db>')
const RAW = Number(process.env.RAW_BYTES_PER_POINT ?? 8.8)
for (const f of [out, `${out}-wal`, `${out}-shm`]) rmSync(f, { force: true })
const opened = await openDb({ url: `file:${out}` })
await runMigrations(opened.db)
opened.client.close()

type Row = Record<string, number>
const d = new Database(out)
const one = (sql: string) => d.prepare(sql).get() as Row
d.exec(`attach '${src.replace(/'/g, "''")}' as src`)
d.exec('insert into series select * from src.series where id <= 1000')
const cols = (d.prepare("select group_concat(name) as c from pragma_table_info('rollups')").get() as { c: string }).c
d.exec('begin')
// Minutes: packs an hour a row (ADR 0030), inserted hour by hour across the fleet as the job writes them.
d.exec(`insert into rollup_minutes (series_id, hour, n, data) select series_id, hour, n, data from src.rollup_minutes
  where series_id <= 1000 order by hour, series_id / 100, series_id`)
d.exec(`insert into rollups (${cols}) select ${cols} from src.rollups where series_id <= 1000 and resolution = 3600
  order by bucket / 86400000, series_id, bucket`)
d.exec('commit')
d.exec('detach src')
const pagesOf = (like: string) => one(`select coalesce(sum(pgsize), 0) as b from dbstat where name like '${like}'`).b!
const minuteBytes = pagesOf('rollup_minutes%')
// Of those: the unique index's pages, and overflow pages (a row too big for its b-tree page; ADR 0030).
const minuteIndexBytes = pagesOf('rollup_minutes_%')
const overflow = one(`select count(*) as pages, coalesce(sum(pgsize), 0) as b, coalesce(sum(unused), 0) as unused
  from dbstat where name = 'rollup_minutes' and pagetype = 'overflow'`)
const hourBytes = pagesOf('rollups%')
const seriesBytes = pagesOf('series%')
const m = one('select sum(n) as n, count(*) as packs, sum(length(data)) as d from rollup_minutes')
const h = one('select count(*) as n, sum(length(sketch)) as s from rollups where resolution = 3600')
// What a pack's bytes are: the minutes' sketches, the rest the coded numbers and the head.
let sketchBytes = 0
for (const r of d.prepare('select hour, data from rollup_minutes').iterate() as Iterable<{
  hour: number
  data: Buffer
}>) {
  const { sketchAt, n } = indexPack(r.hour, new Uint8Array(r.data))
  sketchBytes += sketchAt[n]! - sketchAt[0]!
}
const points = m.n! * 4
const rollupBytes = minuteBytes + hourBytes
const minuteRow = minuteBytes / m.n!
const hourRow = hourBytes / h.n!
const gb = (b: number) => (b / 1e9).toFixed(2)
const tiers = {
  raw: RAW * 5.76e6 * 7,
  '1m': minuteRow * 1.44e6 * 30,
  '1h': hourRow * 24_000 * 90,
  '1d': 2 * hourRow * 1000 * 90,
}
// The lead decides RETENTION_1M_DAYS; the total at 14 days of minutes, for that decision.
const at14 = tiers.raw + minuteRow * 1.44e6 * 14 + tiers['1h'] + tiers['1d']
console.log(
  JSON.stringify({
    points,
    rollupBytesPerPoint: +(rollupBytes / points).toFixed(1),
    allInBytesPerPoint: +(RAW + (rollupBytes + seriesBytes) / points).toFixed(1),
    minuteRowBytes: +minuteRow.toFixed(1),
    minuteSketchBytes: +(sketchBytes / m.n!).toFixed(1),
    minuteNumberBytes: +((m.d! - sketchBytes) / m.n!).toFixed(1),
    minutePageOverheadBytes: +((minuteBytes - m.d!) / m.n!).toFixed(1),
    minuteIndexBytes: +(minuteIndexBytes / m.n!).toFixed(1),
    minuteOverflowBytes: +(overflow.b! / m.n!).toFixed(1),
    overflowPages: overflow.pages,
    overflowUnusedBytes: overflow.unused,
    packs: m.packs,
    packBytesAvg: +(m.d! / m.packs!).toFixed(0),
    hourRowBytes: +hourRow.toFixed(0),
    hourSketchBytes: +(h.s! / h.n!).toFixed(0),
    ninetyDaysGB: Object.fromEntries([
      ...Object.entries(tiers).map(([k, v]) => [k, gb(v)]),
      ['total', gb(Object.values(tiers).reduce((a, b) => a + b, 0))],
      ['totalAt14DaysOfMinutes', gb(at14)],
    ]),
  }),
)
d.close()
