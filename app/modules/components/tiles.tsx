/** @jsxImportSource hono/jsx */
/**
 * The front page's fleet tile: the components grid for the page's range, each with its latency
 * sparkline and the change of p95, error rate and cost against the previous period of the same
 * length. The figures come from the front-summaries job's stored summary (fleet.ts computes them
 * for every component in the background); only the components' list and status are read per request,
 * so a new component or a change of status shows at once, its figures from the next refresh.
 */
import type { Db } from '../../../db/client.ts'
import { AsOf, Delta, type FrontTile, Spark, type StoredSummary, type TileRange, TileEmpty } from '../../lib/tiles.tsx'
import {
  type Figures,
  type FleetFigures,
  fleetFigures,
  type Listed,
  listComponents,
  needsALook,
  SPARK_BUCKETS,
} from './fleet.ts'
import { ms, pct, rate, StatusPill, usd } from './views.tsx'

/** The grid shows this many components, the ones that need a look first; the rest are counted and linked. */
export const FLEET_SHOWN = 48
const HOUR = 3_600_000
const DAY = 86_400_000

/** Bumped whenever FleetFigures changes shape: stored summaries of another version are computed again. */
const FLEET_SUMMARY_VERSION = 1

/** A component added since the figures were computed: its status now, its figures at the next refresh. */
const noFigures: Figures = {
  uptime: null,
  errorRate: null,
  p95LatencyMs: null,
  latencyMetric: null,
  costUsd: null,
  spark: [],
  change: { p95: null, errorRate: null, cost: null },
}

const topFirst = (rows: { name: string; status: string; errorRate: number | null }[]) =>
  [...rows]
    .sort(needsALook)
    .slice(0, FLEET_SHOWN)
    .map((r) => r.name)

/**
 * The grid: the components as they are now (status, and the ones added since the figures were
 * computed) with the figures beside them, the ones that need a look first.
 */
export function fleet(list: Listed[], figures: FleetFigures) {
  const rows = list.map((c) => ({ ...c, ...(figures.components[c.name] ?? noFigures) }))
  const count = (s: string) => list.filter((c) => c.status === s).length
  return {
    totals: {
      components: list.length,
      up: count('up'),
      down: count('down'),
      unknown: count('unknown'),
      costUsd: figures.costUsd,
    },
    range: figures.range,
    components: [...rows].sort(needsALook).slice(0, FLEET_SHOWN),
  }
}
export type Fleet = ReturnType<typeof fleet>

/** The figures the job stored, or, before its first run, those of the shown components computed now. */
async function fleetOf(db: Db, range: TileRange, summary: StoredSummary | undefined) {
  const list = await listComponents(db)
  // The stored JSON is this version's FleetFigures (readSummaries leaves other versions out).
  const figures = summary ? (summary.data as FleetFigures) : await fleetFigures(db, range, { list, detail: topFirst })
  return fleet(list, figures)
}

const bucketText = (rangeMs: number) => {
  const w = rangeMs / SPARK_BUCKETS
  return w >= HOUR ? `${Math.round(w / HOUR)} h` : `${Math.round(w / 60_000)} min`
}

export function FleetView({ data, rangeMs }: { data: Fleet; rangeMs: number }) {
  const t = data.totals
  if (!t.components)
    return (
      <TileEmpty doc="components">
        No components yet: <a href="/new/component">add one</a> with an HTTP check or a push heartbeat.
      </TileEmpty>
    )
  const more = t.components - data.components.length
  return (
    <>
      <p class="fleet-sum">
        <strong class={t.down ? 'bad-text' : ''}>{t.down} down</strong> · {t.up} up
        {t.unknown ? ` · ${t.unknown} not checked yet` : ''} · {usd(t.costUsd)} in {data.range}
      </p>
      <ul class="fleet">
        {data.components.map((c) => (
          <li class={`comp comp-${c.status}`} data-component={c.name}>
            <a class="comp-head" href={`/components/${c.id}`}>
              <strong class="comp-name">{c.name}</strong> <StatusPill state={c.status} />
            </a>
            <Spark
              values={c.spark}
              label={`${c.name}: mean latency per ${bucketText(rangeMs)}${rangeMs === DAY ? ' over 24 h' : ''}`}
            />
            <dl class="facts">
              <dt>Uptime</dt>
              <dd>{pct(c.uptime)}</dd>
              <dt>p95</dt>
              <dd>
                {ms(c.p95LatencyMs)} <Delta value={c.change.p95} />
              </dd>
              <dt>Errors</dt>
              <dd>
                {rate(c.errorRate)} <Delta value={c.change.errorRate} />
              </dd>
              <dt>Cost</dt>
              <dd>
                {usd(c.costUsd)} <Delta value={c.change.cost} better="none" />
              </dd>
            </dl>
          </li>
        ))}
      </ul>
      {more > 0 ? (
        <p class="muted">
          The {data.components.length} that need a look first are shown; <a href="/components">all {t.components}</a>.
        </p>
      ) : null}
    </>
  )
}

/** The tiles this module puts on the front page (listed by the composition root). */
export function componentTiles({ db }: { db: Db }): FrontTile[] {
  return [
    {
      id: 'fleet',
      section: 'fleet',
      order: 10,
      title: 'Components',
      access: 'viewer',
      topic: 'components',
      render: async ({ range, summary }) => (
        <>
          <FleetView data={await fleetOf(db, range, summary)} rangeMs={range.ms} />
          {summary ? <AsOf summary={summary} /> : null}
        </>
      ),
      // Every component's figures (the grid's order follows their live status), so any may be shown.
      summary: {
        version: FLEET_SUMMARY_VERSION,
        compute: async (range, pause) =>
          fleetFigures(db, range, {
            list: await listComponents(db),
            detail: (rows) => rows.map((r) => r.name),
            pause,
          }),
      },
    },
  ]
}
