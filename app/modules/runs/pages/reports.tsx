/** @jsxImportSource hono/jsx */
/**
 * The reports page: the period's headline, success by role, model and label, attempts, duration
 * percentiles, cost, the top failure classes with their trend (drawn by the metrics explorer's chart,
 * public/explorer-chart.js, from JSON in the page), and a comparison of two periods or two labels.
 */
import type { Principal } from '../../../context.ts'
import { Empty, Layout, when } from '../../../lib/layout.tsx'
import { dur, pct, RunsCss, RunsTabs, tokens, usd } from './format.tsx'
import { RANGES } from './input.ts'
import type { Rate, Reports, Summary } from './reports.ts'

export type Side = { title: string; summary: Summary }

function RateTable({ id, title, rows, unit }: { id: string; title: string; rows: Rate[]; unit: 'tasks' | 'runs' }) {
  return (
    <section class="card">
      <h2>{title}</h2>
      {rows.length ? (
        <table class="table" id={id}>
          <thead>
            <tr>
              <th>{unit === 'tasks' ? title.replace('Success by ', '') : 'label'}</th>
              <th>{unit}</th>
              <th>Succeeded</th>
              <th>Failed</th>
              <th>Success rate</th>
              <th>{unit === 'tasks' ? 'Attempts per task' : 'Tasks per run'}</th>
              <th>Cost</th>
              <th>{unit === 'tasks' ? 'Cost per task' : 'Cost per run'}</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr data-key={r.key}>
                <td>{r.key}</td>
                <td>{r.total}</td>
                <td>{r.succeeded}</td>
                <td>{r.failed}</td>
                <td class="rate">{pct(r.succeeded, r.total)}</td>
                <td>{r.total ? (r.attempts / r.total).toFixed(2) : '—'}</td>
                <td>{usd(r.cost)}</td>
                <td>{usd(r.total ? r.cost / r.total : null)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <Empty>Nothing recorded in this period.</Empty>
      )}
    </section>
  )
}

const figures = (s: Summary) => [
  ['Runs', String(s.runs)],
  ['Success rate', pct(s.succeeded, s.runs)],
  ['Failed or aborted', String(s.failed)],
  ['Escalated now', String(s.escalated)],
  ['Cost per run', usd(s.runs ? s.cost / s.runs : null)],
  ['Tokens per run', s.runs ? tokens(Math.round(s.tokens / s.runs)) : '—'],
  ['Tasks per run', s.runs ? (s.tasks / s.runs).toFixed(1) : '—'],
  ['Attempts per task', s.tasks ? (s.attempts / s.tasks).toFixed(2) : '—'],
  ['Duration p50', dur(s.p50)],
  ['Duration p95', dur(s.p95)],
]

function Comparison({ a, b }: { a: Side; b: Side }) {
  const fa = figures(a.summary)
  const fb = figures(b.summary)
  return (
    <table class="table" id="comparison">
      <thead>
        <tr>
          <th></th>
          <th>{a.title}</th>
          <th>{b.title}</th>
        </tr>
      </thead>
      <tbody>
        {fa.map(([name, va], i) => (
          <tr>
            <td>{name}</td>
            <td>{va}</td>
            <td>{fb[i]![1]}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

/**
 * The failure trend as the explorer's query result shape: one series per class, [time, count] pairs,
 * every bucket of the period present (0 when none failed), so a class seen once is still a line.
 */
const trendJson = (r: Reports, from: number, to: number) => {
  const step = r.bucketMs
  const buckets: number[] = []
  for (let b = Math.floor(from / step) * step; b < to; b += step) buckets.push(b)
  const counts = new Map<string, Map<number, number>>()
  for (const p of r.classes.trend) (counts.get(p.class) ?? counts.set(p.class, new Map()).get(p.class)!).set(p.b, p.n)
  return JSON.stringify({
    from: new Date(from).toISOString(),
    to,
    series: [...counts].map(([cls, byBucket]) => ({
      labels: { class: cls },
      values: buckets.map((b) => [new Date(b).toISOString(), byBucket.get(b) ?? 0]),
    })),
  }).replace(/</g, '\\u003c')
}

export function ReportsPage(p: {
  principal: Principal
  form: Record<string, string | undefined>
  from: number
  to: number
  data: Reports
  compare: { a: Side; b: Side }
}) {
  const { data, form } = p
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
        <Comparison a={p.compare.a} b={p.compare.b} />
      </section>
      <RateTable id="by-role" title="Success by role" rows={data.byRole} unit="tasks" />
      <RateTable id="by-model" title="Success by model" rows={data.byModel} unit="tasks" />
      <RateTable id="by-label" title="Success by label" rows={data.byLabel} unit="runs" />
      <section class="card">
        <h2>Task duration by role</h2>
        {data.durations.length ? (
          <table class="table" id="durations">
            <thead>
              <tr>
                <th>Role</th>
                <th>Finished tasks</th>
                <th>p50</th>
                <th>p95</th>
              </tr>
            </thead>
            <tbody>
              {data.durations.map((d) => (
                <tr>
                  <td>{d.role}</td>
                  <td>{d.n}</td>
                  <td>{dur(d.p50)}</td>
                  <td>{dur(d.p95)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <Empty>No finished task in this period.</Empty>
        )}
      </section>
      <section class="card">
        <h2>Failure classes</h2>
        {data.classes.top.length ? (
          <>
            <table class="table" id="top-classes">
              <thead>
                <tr>
                  <th>Class</th>
                  <th>Failures</th>
                </tr>
              </thead>
              <tbody>
                {data.classes.top.map((c) => (
                  <tr data-class={c.class}>
                    <td>
                      <a href={`/runs?class=${c.class}`}>{c.class}</a>
                    </td>
                    <td>{c.n}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <h3>
              Trend (failures per{' '}
              {data.bucketMs === 3_600_000
                ? 'hour'
                : data.bucketMs === 86_400_000
                  ? 'day'
                  : `${data.bucketMs / 86_400_000} days`}
              )
            </h3>
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
          <Empty>No failure in this period.</Empty>
        )}
      </section>
    </Layout>
  )
}
