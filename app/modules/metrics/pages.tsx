/** @jsxImportSource hono/jsx */
import { Hono } from 'hono'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { access } from '../../middleware/access.ts'
import { requirePrincipal } from '../../middleware/auth.ts'
import { Layout } from '../../lib/layout.tsx'
import { aggregations } from './query.ts'

export const RANGE_PRESETS = ['15m', '1h', '6h', '24h', '7d', '30d', '90d'] as const
export const DEFAULT_RANGE = '1h'

/**
 * The controls as the URL gives them, for the first paint. The page script reads the same URL,
 * validates it and keeps it in step with the view; the API validates whatever is sent to it.
 */
function fromUrl(url: URL) {
  const q = url.searchParams
  const matchers: string[] = []
  for (const [k, value] of q) {
    const m = /^match\[(.+)\]$/.exec(k)
    if (m) matchers.push(`${m[1]}=${/[",]/.test(value) ? JSON.stringify(value) : value}`)
  }
  const agg = q.get('agg') ?? 'avg'
  const range = q.get('range') ?? (q.get('from') ? '' : DEFAULT_RANGE)
  return {
    name: q.get('name') ?? '',
    match: q.get('match') ?? matchers.join(','),
    agg: (aggregations as readonly string[]).includes(agg) ? agg : 'avg',
    by: q.get('by') ?? '',
    range,
    step: q.get('step') ?? '',
  }
}

const aggHelp: Record<string, string> = {
  avg: 'average',
  min: 'minimum',
  max: 'maximum',
  sum: 'sum',
  count: 'number of points',
  last: 'last value',
  p50: 'median',
  p95: '95th percentile',
  p99: '99th percentile',
  rate: 'per second',
}

/** The metrics explorer: the page shell; public/explorer.js draws the chart with the vendored uPlot. */
export function metricsPages(_deps: ModuleDeps) {
  const app = new Hono<AppEnv>()

  app.get('/explore', access('viewer'), (c) => {
    const s = fromUrl(new URL(c.req.url))
    return c.html(
      <Layout title="Metrics" active="/explore" principal={requirePrincipal(c)}>
        <link rel="stylesheet" href="/static/vendor/uPlot.min.css" />
        <link rel="stylesheet" href="/static/explorer.css" />
        <h1>Metrics</h1>
        <p class="muted lead">
          Chart any recorded metric: filter by labels, aggregate and group, zoom by dragging across the chart, share the
          address.
        </p>
        <form id="explorer" class="card explorer-controls" method="get" action="/explore">
          <div class="row">
            <label class="grow">
              Metric
              <input
                name="name"
                list="metric-names"
                value={s.name}
                placeholder="agent_requests_total"
                autocomplete="off"
                spellcheck={false}
                required
              />
            </label>
            <label class="grow">
              Labels
              <input
                name="match"
                list="label-pairs"
                value={s.match}
                placeholder="agent=planner,model=llama3"
                autocomplete="off"
                spellcheck={false}
              />
            </label>
            <label>
              Aggregation
              <select name="agg">
                {aggregations.map((a) => (
                  <option value={a} selected={a === s.agg}>{`${a} — ${aggHelp[a]}`}</option>
                ))}
              </select>
            </label>
            <label>
              Group by
              <input
                name="by"
                list="label-keys"
                value={s.by}
                placeholder="agent,model"
                autocomplete="off"
                spellcheck={false}
                size={12}
              />
            </label>
            <label>
              Step
              <input
                name="step"
                value={s.step}
                placeholder="auto"
                size={6}
                autocomplete="off"
                spellcheck={false}
                title="A duration like 30s, 5m, 1h or 1d; empty picks about 300 points"
              />
            </label>
          </div>
          <div class="row">
            <div class="presets" role="group" aria-label="Range">
              {RANGE_PRESETS.map((r) => (
                <button type="button" value={r} class="preset" aria-pressed={r === s.range ? 'true' : 'false'}>
                  {r}
                </button>
              ))}
            </div>
            <label class="when">
              From <input name="from" type="datetime-local" step={1} />
            </label>
            <label class="when">
              To <input name="to" type="datetime-local" step={1} />
            </label>
            <button type="submit" class="apply">
              Show
            </button>
          </div>
          <p id="controls-error" class="error" role="alert" hidden></p>
        </form>
        <section class="card chart-card" aria-label="Chart">
          <div class="chart-bar">
            <div class="chart-nav" role="group" aria-label="Move the view">
              <button
                type="button"
                class="small secondary"
                data-act="earlier"
                title="Earlier (pan left)"
                aria-label="Earlier"
              >
                ←
              </button>
              <button
                type="button"
                class="small secondary"
                data-act="later"
                title="Later (pan right)"
                aria-label="Later"
              >
                →
              </button>
              <button type="button" class="small secondary" data-act="zoom-in" title="Zoom in" aria-label="Zoom in">
                +
              </button>
              <button type="button" class="small secondary" data-act="zoom-out" title="Zoom out" aria-label="Zoom out">
                −
              </button>
              <button type="button" class="small secondary" data-act="reset" title="Back to the range before zooming">
                Reset zoom
              </button>
            </div>
            <span id="chart-status" class="muted" aria-live="polite"></span>
            <div class="chart-export">
              <span class="muted">Export</span>
              <a id="export-csv" class="small-link" href="#" aria-disabled="true">
                CSV
              </a>
              <a id="export-json" class="small-link" href="#" aria-disabled="true">
                JSON
              </a>
              <a
                id="export-raw"
                class="small-link"
                href="#"
                aria-disabled="true"
                title="Every raw point in the window, without aggregation"
              >
                raw CSV
              </a>
            </div>
          </div>
          <div id="chart" class="chart" data-state="idle"></div>
          <div id="chart-message">
            <p class="empty">
              Choose a metric above to draw its chart. Names come from what agents, workflows and exporters have pushed
              to <code>POST /api/v1/metrics</code>.
            </p>
          </div>
          <noscript>
            <p class="empty">The chart needs JavaScript; the export links of the API work without it.</p>
          </noscript>
        </section>
        <datalist id="metric-names"></datalist>
        <datalist id="label-keys"></datalist>
        <datalist id="label-pairs"></datalist>
        <script src="/static/vendor/uPlot.iife.min.js" defer></script>
        <script src="/static/explorer-view.js" defer></script>
        <script src="/static/explorer-chart.js" defer></script>
        <script src="/static/explorer.js" defer></script>
      </Layout>,
    )
  })

  return app
}
