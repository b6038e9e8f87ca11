/** @jsxImportSource hono/jsx */
/**
 * The front page's fleet tile: the components grid for the page's range, each with its latency
 * sparkline and the change of p95, error rate and cost against the previous period of the same
 * length. A few aggregates over every component (overview()), then the sparklines of the shown
 * ones only, so a fleet of thousands costs the same handful of statements.
 */
import type { Db } from '../../../db/client.ts'
import { change, Delta, type FrontTile, Spark, TileEmpty } from '../../lib/tiles.tsx'
import { bucketMeans, plan, quantileByComponent, sumsByComponent, watermarks } from '../metrics/index.ts'
import { overview } from './overview.ts'
import { COST_METRIC } from './prices.ts'
import { ms, pct, rate, StatusPill, usd } from './views.tsx'

/** The grid shows this many components, the ones that need a look first; the rest are counted and linked. */
export const FLEET_SHOWN = 48
const SPARK_BUCKETS = 24
const HOUR = 3_600_000
const DAY = 86_400_000
const statusRank: Record<string, number> = { down: 0, unknown: 1, up: 2 }

/** p95, error rate and cost of these components over the period before [from, to) of the same length. */
async function previousPeriod(db: Db, from: number, to: number, names: string[]) {
  const span = to - from
  const segs = plan(from - span, from, await watermarks(db))
  const [sums, llm, check] = await Promise.all([
    sumsByComponent(db, ['agent_requests_total', 'agent_errors_total', COST_METRIC], segs, names),
    quantileByComponent(db, 'llm_latency_ms', 0.95, segs, names),
    quantileByComponent(db, 'latency_ms', 0.95, segs, names),
  ])
  return (name: string) => {
    const req = sums.get('agent_requests_total')!.get(name)
    const err = sums.get('agent_errors_total')!.get(name) ?? 0
    return {
      p95: llm.get(name) ?? check.get(name) ?? null,
      errorRate: req ? err / req : null,
      cost: sums.get(COST_METRIC)!.get(name) ?? null,
    }
  }
}

type Ranked = { name: string; status: string; errorRate: number | null }
/** Down first, then never checked, then by error rate. */
const needsALook = (a: Ranked, b: Ranked) =>
  (statusRank[a.status] ?? 1) - (statusRank[b.status] ?? 1) ||
  (b.errorRate ?? -1) - (a.errorRate ?? -1) ||
  a.name.localeCompare(b.name)

export async function fleet(db: Db, rangeMs: number, at: number) {
  // Every component's status and error rate choose the grid; the rest is read for the shown ones only.
  const data = await overview(db, rangeMs, at, {
    detail: (rows) =>
      [...rows]
        .sort(needsALook)
        .slice(0, FLEET_SHOWN)
        .map((r) => r.name),
  })
  const from = Date.parse(data.from!)
  const shown = [...data.components].sort(needsALook).slice(0, FLEET_SHOWN)
  // The sparkline covers the range in 24 parts from the same start as the figures beside it.
  const [prev, sparks] = await Promise.all([
    previousPeriod(
      db,
      from,
      at,
      shown.map((c) => c.name),
    ),
    bucketMeans(db, {
      names: ['llm_latency_ms', 'latency_ms'],
      label: 'component',
      values: shown.map((c) => c.name),
      from,
      to: at,
      buckets: SPARK_BUCKETS,
    }),
  ])
  return {
    totals: data.totals,
    range: data.range,
    components: shown.map((c) => {
      const p = prev(c.name)
      const spark =
        (c.latencyMetric === 'llm_latency_ms' ? sparks.get('llm_latency_ms')!.get(c.name) : undefined) ??
        sparks.get('latency_ms')!.get(c.name) ??
        sparks.get('llm_latency_ms')!.get(c.name) ??
        []
      return {
        ...c,
        spark,
        change: {
          p95: change(c.p95LatencyMs, p.p95),
          errorRate: change(c.errorRate, p.errorRate),
          cost: change(c.costUsd, p.cost),
        },
      }
    }),
  }
}
export type Fleet = Awaited<ReturnType<typeof fleet>>

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
      render: async ({ range, at }) => <FleetView data={await fleet(db, range.ms, at)} rangeMs={range.ms} />,
    },
  ]
}
