/** @jsxImportSource hono/jsx */
import { Hono } from 'hono'
import * as v from 'valibot'
import type { AppEnv, ModuleDeps } from '../../../context.ts'
import type { ErrorDetail } from '../../../lib/errors.ts'
import { Layout } from '../../../lib/layout.tsx'
import { clockOf } from '../../../lib/time.ts'
import { issuesToDetails, validate } from '../../../lib/validate.ts'
import { access } from '../../../middleware/access.ts'
import { requirePrincipal } from '../../../middleware/auth.ts'
import { type Comparison, compareVersions } from './compare.ts'
import { CompareInput, DEFAULT_RANGE, ModelId } from './input.ts'

const RANGES = ['1h', '6h', '24h', '7d'] as const

const LABELS: Record<string, string> = {
  requests: 'Requests',
  latencyP50: 'Latency p50',
  latencyP95: 'Latency p95',
  tokensPerSecond: 'Tokens per second',
  positiveFeedbackRate: 'Positive feedback',
  errorRate: 'Error rate',
  costPer1kTokens: 'Cost per 1k tokens',
}

function fmt(value: number | null, unit: string) {
  if (value === null || !Number.isFinite(value)) return '—'
  if (unit === 'ratio') return `${(value * 100).toFixed(2)} %`
  if (unit === 'USD') return `$${value.toPrecision(3)}`
  if (unit === 'ms') return `${Math.round(value).toLocaleString('en-US')} ms`
  return Number.isInteger(value) ? value.toLocaleString('en-US') : value.toFixed(1)
}
const signed = (value: number | null, unit: string) =>
  value === null ? '—' : `${value > 0 ? '+' : value < 0 ? '−' : '±'}${fmt(Math.abs(value), unit)}`

type Point = { t: string; value: number | null }

/** Both versions' values of one figure over time, overlaid in one inline SVG drawn on the server. */
function OverlaidChart(props: { title: string; a: Point[]; b: Point[]; unit: string; names: [string, string] }) {
  const width = 600
  const height = 120
  const pad = 6
  const pts = [...props.a, ...props.b].filter((p) => p.value !== null)
  if (pts.length < 2)
    return (
      <figure class="cmp-chart">
        <figcaption>{props.title}</figcaption>
        <p class="muted">Not enough points in this range for a chart.</p>
      </figure>
    )
  const times = pts.map((p) => Date.parse(p.t))
  const values = pts.map((p) => p.value!)
  const t0 = Math.min(...times)
  const span = Math.max(1, Math.max(...times) - t0)
  const max = Math.max(...values, 0)
  const min = Math.min(...values, 0)
  const x = (t: string) => pad + ((Date.parse(t) - t0) / span) * (width - 2 * pad)
  const y = (value: number) => height - pad - (max === min ? 0.5 : (value - min) / (max - min)) * (height - 2 * pad)
  const line = (series: Point[]) =>
    series
      .filter((p) => p.value !== null)
      .map((p) => `${x(p.t).toFixed(1)},${y(p.value!).toFixed(1)}`)
      .join(' ')
  return (
    <figure class="cmp-chart">
      <figcaption>
        {props.title} <span class="key a">{props.names[0]}</span> <span class="key b">{props.names[1]}</span>{' '}
        <span class="muted">max {fmt(max, props.unit)}</span>
      </figcaption>
      <svg
        viewBox={`0 0 ${width} ${height}`}
        preserveAspectRatio="none"
        role="img"
        aria-label={`${props.title} over time: version ${props.names[0]} and version ${props.names[1]}`}
      >
        <polyline points={line(props.a)} class="a" fill="none" data-version={props.names[0]} />
        <polyline points={line(props.b)} class="b" fill="none" data-version={props.names[1]} />
      </svg>
    </figure>
  )
}

/** The comparison table and the overlaid charts (the fragment htmx swaps in). */
export function ComparisonView({ c, a, b }: { c: Comparison; a: string; b: string }) {
  const names: [string, string] = [a, b]
  const over = (pick: (p: Comparison['series']['a'][number]) => number | null, s: Comparison['series']['a']) =>
    s.map((p) => ({ t: p.t, value: pick(p) }))
  return (
    <div id="compare-result">
      <table class="table" id="compare-table">
        <thead>
          <tr>
            <th>Figure</th>
            <th>{a}</th>
            <th>{b}</th>
            <th>Difference (b − a)</th>
            <th>Larger than the noise?</th>
          </tr>
        </thead>
        <tbody>
          {c.comparison.map((r) => (
            <tr data-metric={r.metric} data-significant={r.test ? String(r.test.significant) : ''}>
              <td>{LABELS[r.metric] ?? r.metric}</td>
              <td>{fmt(r.a, r.unit)}</td>
              <td>{fmt(r.b, r.unit)}</td>
              <td>
                {signed(r.difference, r.unit)}
                {r.relative !== null ? <span class="muted"> ({(r.relative * 100).toFixed(1)} %)</span> : null}
              </td>
              <td>
                {r.test ? (
                  <span title={`${r.test.method}: z = ${r.test.z.toFixed(2)}`}>
                    {r.test.significant ? <strong>yes</strong> : 'no, noise'}{' '}
                    <span class="muted">
                      {r.test.p < 0.0001 ? 'p < 0.0001' : `p = ${r.test.p.toFixed(4)}`} ({r.test.method})
                    </span>
                  </span>
                ) : (
                  <span class="muted">{r.metric === 'requests' ? '—' : 'not tested'}</span>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted small">
        {c.from} → {c.to}, {Math.round(c.stepMs / 60_000)} min steps. Rates: two-proportion z-test; latency:
        Mann–Whitney U; significant when p &lt; 0.05.
      </p>
      <div class="cmp-charts">
        <OverlaidChart
          title="Requests"
          unit=""
          names={names}
          a={over((p) => p.requests, c.series.a)}
          b={over((p) => p.requests, c.series.b)}
        />
        <OverlaidChart
          title="Latency p95"
          unit="ms"
          names={names}
          a={over((p) => p.latencyP95Ms, c.series.a)}
          b={over((p) => p.latencyP95Ms, c.series.b)}
        />
        <OverlaidChart
          title="Error rate"
          unit="ratio"
          names={names}
          a={over((p) => p.errorRate, c.series.a)}
          b={over((p) => p.errorRate, c.series.b)}
        />
      </div>
    </div>
  )
}

function Errors({ errors }: { errors: ErrorDetail[] }) {
  return (
    <div id="compare-result" role="alert">
      <ul class="errors">
        {errors.map((e) => (
          <li data-field={e.field}>
            <code>{e.field}</code> {e.message}
          </li>
        ))}
      </ul>
    </div>
  )
}

/** `/models/:id/compare`: the comparison view (a form for a, b and the range; htmx swaps the result). */
export function comparePages(deps: Pick<ModuleDeps, 'db' | 'now'>) {
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  app.get('/models/:id/compare', access('viewer'), validate('param', ModelId), async (c) => {
    const { id } = c.req.valid('param')
    const raw = { a: c.req.query('a'), b: c.req.query('b'), range: c.req.query('range') || undefined }
    const asked = raw.a !== undefined || raw.b !== undefined
    const parsed = v.safeParse(CompareInput, raw)
    // Always the #compare-result element: the form's htmx swap replaces it.
    let result = (
      <div id="compare-result">
        <p class="muted">Choose two versions to compare.</p>
      </div>
    )
    let status: 200 | 400 = 200
    if (asked && !parsed.success) {
      result = <Errors errors={issuesToDetails(parsed.issues)} />
      status = 400
    } else if (parsed.success) {
      const to = now()
      const q = parsed.output
      const cmp = await compareVersions(deps.db, { model: id, a: q.a, b: q.b, from: to - q.range, to })
      result = <ComparisonView c={cmp} a={q.a} b={q.b} />
    }
    if (c.req.header('hx-request')) return c.html(result, status)
    const range = raw.range ?? DEFAULT_RANGE
    return c.html(
      <Layout title={`Compare ${id}`} active="/models" principal={requirePrincipal(c)}>
        <h1>
          Compare versions of <code>{id}</code>
        </h1>
        <section class="card">
          <form
            class="inline"
            method="get"
            action={`/models/${encodeURIComponent(id)}/compare`}
            hx-get={`/models/${encodeURIComponent(id)}/compare`}
            hx-target="#compare-result"
            hx-swap="outerHTML"
            hx-push-url="true"
          >
            <label>
              Version a <input name="a" value={raw.a ?? ''} required maxlength={200} placeholder="1.4.0" />
            </label>{' '}
            <label>
              Version b <input name="b" value={raw.b ?? ''} required maxlength={200} placeholder="1.5.0" />
            </label>{' '}
            <label>
              Range{' '}
              <select name="range">
                {RANGES.map((r) => (
                  <option value={r} selected={r === range}>
                    {r}
                  </option>
                ))}
              </select>
            </label>{' '}
            <button type="submit">Compare</button>
          </form>
        </section>
        <section class="card">{result}</section>
      </Layout>,
      status,
    )
  })
  return app
}
