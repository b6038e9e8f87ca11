/** @jsxImportSource hono/jsx */
/**
 * The front page's one contract with the modules (docs/front-page.md): a module that
 * has something for the operator's first screen exports tiles of this shape from its index.ts, and
 * the composition root (app/app.ts) lists them. The page only sorts and frames them, so a new
 * module's tile never means editing the page. Also the few views every tile shares (sparkline,
 * change against the previous period, the empty state with its doc link).
 */
import type { Child } from 'hono/jsx'
import type { Principal } from '../context.ts'
import type { Access } from './route-meta.ts'

/** The page's sections, in the order the first screen shows them. */
export const frontSections = ['attention', 'fleet', 'agents', 'upkeep'] as const
export type FrontSection = (typeof frontSections)[number]

/** The live-update topics a tile refreshes on (`live:<topic>` DOM events on body). */
export type LiveTopic = 'alerts' | 'healing' | 'runs' | 'components' | 'metrics' | 'backups' | 'n8n'

export const frontRanges = { '1h': 3_600_000, '24h': 86_400_000, '7d': 7 * 86_400_000 } as const
export type FrontRangeName = keyof typeof frontRanges

export type TileRange = { name: FrontRangeName; ms: number; from: number; to: number }

/**
 * A tile's stored figures for the page's range, as the `front-summaries` job last computed them
 * (docs/front-page.md#performance). `stale`: older than the job's schedule allows (the job has
 * stopped or fails); the tile still shows them, and says so.
 */
export type StoredSummary = { data: unknown; asOf: number; stale: boolean }

/**
 * What a tile is rendered for: the page's range (ending at `at`), the caller, and the time; and, for
 * a tile with a `summary`, the stored one for this range (absent until the job first computed it).
 */
export type TileContext = {
  range: TileRange
  user: Principal
  at: number
  summary?: StoredSummary
}

/**
 * Figures too heavy to compute per request (the fleet, agents and models), which the
 * `front-summaries` job computes for every range in the background, like a recording rule, and
 * stores for every instance. `compute` must give the same figures to every role that may read the
 * tile (the summary is stored once, not per caller) and call `pause` between its statements, so the
 * requests it runs beside are not held up by more than one statement at a time.
 */
export type TileSummary = {
  /** The shape of `compute`'s JSON: change it when the shape changes, so an older build's rows are not read. */
  version: number
  compute: (range: TileRange, pause: () => Promise<void>) => Promise<unknown>
}

export type FrontTile = {
  /** Unique; also the fragment's path, `/front/tiles/<id>`. */
  id: string
  section: FrontSection
  /** Position within its section, ascending. */
  order: number
  title: string
  /** Who may read it, as a route declares access: the page leaves it out for others, the fragment answers 403. */
  access: Access
  /** The live-update event it refreshes on; none for a tile that only changes when the page loads. */
  topic?: LiveTopic
  render: (ctx: TileContext) => Promise<Child>
  /** When set, the job computes the tile's figures per range and `render` gets them as `ctx.summary`. */
  summary?: TileSummary
}

const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16)

/** When a summarised tile's figures were computed; a stale one says the job has not refreshed them. */
export const AsOf = ({ summary }: { summary: StoredSummary }) => (
  <p class={`as-of muted${summary.stale ? ' stale' : ''}`} data-as-of={summary.asOf}>
    as of <time datetime={new Date(summary.asOf).toISOString()}>{hhmm(summary.asOf)} UTC</time>
    {summary.stale ? (
      <>
        {' '}
        — not refreshed since: see the <code>front-summaries</code> job on{' '}
        <a href="/settings/system">Settings → System</a>
      </>
    ) : null}
  </p>
)

/** An empty tile says how to get data in: one line, and the doc page that explains it. */
export const TileEmpty = ({ doc, children }: { doc: string; children: Child }) => (
  <p class="empty">
    {children} <a href={`/help/${doc}`}>How to</a>
  </p>
)

/**
 * A sparkline drawn on the server: `values` oldest first, null where nothing was recorded (a gap).
 * Fixed size, no axes: the numbers beside it carry the scale.
 */
export function Spark({
  values,
  label,
  width = 96,
  height = 24,
}: {
  values: (number | null)[]
  label: string
  width?: number
  height?: number
}) {
  const known = values.filter((x): x is number => x !== null)
  if (known.length < 2) return <span class="spark-none muted">—</span>
  const min = Math.min(...known)
  const max = Math.max(...known)
  const step = values.length > 1 ? (width - 2) / (values.length - 1) : 0
  const y = (v: number) => (height - 2 - (max === min ? 0.5 : (v - min) / (max - min)) * (height - 4)).toFixed(1)
  // Each run of known values is its own line, so a gap shows as a gap rather than a slope.
  const runs: string[] = []
  let cur: string[] = []
  values.forEach((v, i) => {
    if (v === null) {
      if (cur.length) runs.push(cur.join(' '))
      cur = []
    } else cur.push(`${(1 + i * step).toFixed(1)},${y(v)}`)
  })
  if (cur.length) runs.push(cur.join(' '))
  return (
    <svg
      class="sparkline"
      viewBox={`0 0 ${width} ${height}`}
      width={width}
      height={height}
      role="img"
      aria-label={label}
    >
      {runs.map((pts) =>
        pts.includes(' ') ? (
          <polyline points={pts} fill="none" />
        ) : (
          <circle cx={pts.split(',')[0]} cy={pts.split(',')[1]} r="1.2" />
        ),
      )}
    </svg>
  )
}

/** Relative change from `prev` to `cur`; null when either is unknown or the base is zero. */
export const change = (cur: number | null | undefined, prev: number | null | undefined) =>
  cur === null || cur === undefined || prev === null || prev === undefined || prev === 0 ? null : (cur - prev) / prev

/**
 * The change against the previous period of the same length. `better` says which way is good
 * (latency and errors down, uptime up), so the colour means the same on every tile.
 */
export function Delta({ value, better = 'down' }: { value: number | null; better?: 'up' | 'down' | 'none' }) {
  if (value === null || !Number.isFinite(value))
    return (
      <span class="delta muted" title="no previous period to compare">
        ·
      </span>
    )
  const pct = Math.round(value * 100)
  if (pct === 0) return <span class="delta muted">±0%</span>
  const good = better === 'none' ? null : pct < 0 === (better === 'down')
  return (
    <span class={`delta ${good === null ? '' : good ? 'good' : 'worse'}`} title="against the previous period">
      {pct > 0 ? '▲' : '▼'}
      {Math.abs(pct) > 999 ? '>999' : Math.abs(pct)}%
    </span>
  )
}
