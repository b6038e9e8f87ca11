/** @jsxImportSource hono/jsx */
/**
 * The reports page over the core's reports (../reports.ts, the same as GET /api/v1/run-reports):
 * success by role, model and label, attempts per task, duration p50/p95, cost, the top failure
 * classes with their daily trend (drawn by the metrics explorer's chart, public/explorer-chart.js,
 * from JSON in the page), and two labels or two periods side by side.
 */
import type { Principal } from '../../../context.ts'
import { Empty, Layout, when } from '../../../lib/layout.tsx'
import type { compare, report } from '../reports.ts'
import { dur, RunsCss, RunsTabs, usd } from './format.tsx'
import { RANGES } from './input.ts'

type Report = Awaited<ReturnType<typeof report>>
type Comparison = Awaited<ReturnType<typeof compare>>
type TaskRow = Report['byRole'][number]

const DAY = 86_400_000
const rateText = (r: number | null) => (r == null ? '—' : `${(r * 100).toFixed(1)}%`)
const signed = (n: number | null, f: (n: number) => string) =>
  n == null ? '—' : `${n > 0 ? '+' : n < 0 ? '−' : ''}${f(Math.abs(n))}`

function TaskTable({ id, title, what, rows }: { id: string; title: string; what: 'role' | 'model'; rows: TaskRow[] }) {
  return (
    <section class="card">
      <h2>{title}</h2>
      {rows.length ? (
        <table class="table" id={id}>
          <thead>
            <tr>
              <th>{what}</th>
              <th>Tasks</th>
              <th>Succeeded</th>
              <th>Failed</th>
              <th>Success rate</th>
              <th>Attempts per task</th>
              <th>p50</th>
              <th>p95</th>
              <th>Cost</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const key = String(r[what])
              return (
                <tr data-key={key}>
                  <td>{key}</td>
                  <td>{r.tasks}</td>
                  <td>{r.succeeded}</td>
                  <td>{r.failed}</td>
                  <td class="rate">{rateText(r.successRate)}</td>
                  <td>{r.attemptsPerTask.toFixed(2)}</td>
                  <td>{dur(r.durationMs.p50)}</td>
                  <td>{dur(r.durationMs.p95)}</td>
                  <td>{usd(r.costUsd)}</td>
                </tr>
              )
            })}
          </tbody>
        </table>
      ) : (
        <Empty>Nothing recorded in this period.</Empty>
      )}
    </section>
  )
}

function ComparisonTable({ cmp, a, b }: { cmp: Comparison; a: string; b: string }) {
  const ra = cmp.a.runs
  const rb = cmp.b.runs
  const d = cmp.difference
  const rows: [string, string, string, string][] = [
    ['Runs', String(ra.runs), String(rb.runs), ''],
    [
      'Success rate',
      rateText(ra.successRate),
      rateText(rb.successRate),
      signed(d.successRate, (n) => `${(n * 100).toFixed(1)} pts`),
    ],
    ['Failed or aborted', String(ra.failed), String(rb.failed), ''],
    ['Escalated now', String(ra.escalated), String(rb.escalated), ''],
    ['Cost per run', usd(ra.costPerRunUsd), usd(rb.costPerRunUsd), signed(d.costPerRunUsd, usd)],
    ['Duration p50', dur(ra.durationMs.p50), dur(rb.durationMs.p50), signed(d.p50DurationMs, dur)],
    ['Duration p95', dur(ra.durationMs.p95), dur(rb.durationMs.p95), signed(d.p95DurationMs, dur)],
  ]
  return (
    <table class="table" id="comparison">
      <thead>
        <tr>
          <th></th>
          <th>{a}</th>
          <th>{b}</th>
          <th>Difference</th>
        </tr>
      </thead>
      <tbody>
        {rows.map(([name, va, vb, diff]) => (
          <tr>
            <td>{name}</td>
            <td>{va}</td>
            <td>{vb}</td>
            <td>{diff}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

/**
 * The failure trend as the explorer's query result shape: one series per class, [day, count] pairs,
 * every day of the period present (0 when none failed), so a class seen once still draws a line.
 */
const trendJson = (r: Report, from: number, to: number) => {
  const days: number[] = []
  for (let t = Math.floor(from / DAY) * DAY; t < to && days.length < 400; t += DAY) days.push(t)
  const counts = new Map<string, Map<number, number>>()
  for (const p of r.failureClasses.trend) {
    const byDay = counts.get(p.class) ?? counts.set(p.class, new Map()).get(p.class)!
    byDay.set(Date.parse(`${p.day}T00:00:00Z`), p.count)
  }
  return JSON.stringify({
    from: new Date(days[0] ?? from).toISOString(),
    to,
    series: [...counts].map(([cls, byDay]) => ({
      labels: { class: cls },
      values: days.map((t) => [new Date(t).toISOString(), byDay.get(t) ?? 0]),
    })),
  }).replace(/</g, '\\u003c')
}

export function ReportsPage(p: {
  principal: Principal
  form: Record<string, string | undefined>
  from: number
  to: number
  data: Report
  comparison: { cmp: Comparison; a: string; b: string }
}) {
  const { data, form } = p
  const byLabel = data.byLabel
  return (
    <Layout title="Run reports" active="/runs" principal={p.principal}>
      <RunsCss />
      <link rel="stylesheet" href="/static/vendor/uPlot.min.css" />
      <RunsTabs active="/runs/reports" />
      <h1>Run reports</h1>
      <form class="card runs-filters" method="get" action="/runs/reports" id="reports-filters">
        <div class="row">
          <label>
            Period
            <select name="range">
              <option value="">custom (from/to)</option>
              {Object.keys(RANGES).map((r) => (
                <option value={r} selected={r === (form.range ?? (form.from ? '' : '7d'))}>
                  last {r}
                </option>
              ))}
            </select>
          </label>
          <label>
            From
            <input type="datetime-local" name="from" value={form.from ?? ''} />
          </label>
          <label>
            To
            <input type="datetime-local" name="to" value={form.to ?? ''} />
          </label>
          <label>
            Only label
            <input name="label" value={form.label ?? ''} placeholder="team:multi" size={14} />
          </label>
          <label>
            Success by label
            <input name="by" value={form.by ?? ''} placeholder="team" size={10} />
          </label>
          <label>
            Compare label A
            <input name="a" value={form.a ?? ''} placeholder="team:multi" size={14} />
          </label>
          <label>
            with label B
            <input name="b" value={form.b ?? ''} placeholder="team:single" size={14} />
          </label>
          <button type="submit">Show</button>
        </div>
        <p class="small muted">
          {when(p.from)} → {when(p.to)}. Without two labels, the comparison sets this period beside the one before it.
        </p>
      </form>
      <section class="card">
        <h2>Comparison</h2>
        <ComparisonTable {...p.comparison} />
      </section>
      <TaskTable id="by-role" title="Success by role" what="role" rows={data.byRole} />
      <TaskTable id="by-model" title="Success by model" what="model" rows={data.byModel} />
      <section class="card">
        <h2>Success by label {byLabel ? <code>{byLabel.name}</code> : null}</h2>
        {byLabel?.values.length ? (
          <table class="table" id="by-label">
            <thead>
              <tr>
                <th>{byLabel.name}</th>
                <th>Runs</th>
                <th>Succeeded</th>
                <th>Success rate</th>
                <th>Cost per run</th>
              </tr>
            </thead>
            <tbody>
              {byLabel.values.map((v) => (
                <tr data-key={v.value}>
                  <td>{v.value}</td>
                  <td>{v.runs}</td>
                  <td>{v.succeeded}</td>
                  <td class="rate">{rateText(v.successRate)}</td>
                  <td>{usd(v.costPerRunUsd)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <Empty>No run in this period carries the label {byLabel?.name ?? ''}.</Empty>
        )}
      </section>
      <section class="card">
        <h2>Failure classes</h2>
        {data.failureClasses.top.length ? (
          <>
            <table class="table" id="top-classes">
              <thead>
                <tr>
                  <th>Class</th>
                  <th>Failures</th>
                </tr>
              </thead>
              <tbody>
                {data.failureClasses.top.map((c) => (
                  <tr data-class={c.class}>
                    <td>
                      <a href={`/runs?class=${encodeURIComponent(c.class)}`}>{c.class}</a>
                    </td>
                    <td>{c.count}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <h3>Trend (failures per day)</h3>
            <div id="class-trend" class="chart"></div>
            {/* Raw JSON (`<` escaped in trendJson, so it cannot end the element early). */}
            <script
              type="application/json"
              id="class-trend-data"
              dangerouslySetInnerHTML={{ __html: trendJson(data, p.from, p.to) }}
            />
            <script src="/static/vendor/uPlot.iife.min.js" defer></script>
            <script src="/static/explorer-chart.js" defer></script>
            <script src="/static/runs-reports.js" defer></script>
          </>
        ) : (
          <Empty>No failure reported in this period.</Empty>
        )}
      </section>
    </Layout>
  )
}
