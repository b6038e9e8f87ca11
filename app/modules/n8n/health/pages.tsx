/** @jsxImportSource hono/jsx */
/**
 * The n8n pages: instances (reachable, version), the workflows table (state, success rate with a
 * 7-day sparkline, last run, next expected run, failures by class), and a workflow page with its
 * executions (each linked to n8n's own UI) and its expected schedule against its actual runs on a
 * 24-hour timeline. They read the same views as the API; "Poll now" calls the same service.
 */
import { Hono } from 'hono'
import * as v from 'valibot'
import type { AppEnv, ModuleDeps } from '../../../context.ts'
import { Empty, Layout, liveTrigger, when } from '../../../lib/layout.tsx'
import { clockOf } from '../../../lib/time.ts'
import { validate } from '../../../lib/validate.ts'
import { access, canWrite } from '../../../middleware/access.ts'
import { requirePrincipal } from '../../../middleware/auth.ts'
import { audit } from '../../audit/index.ts'
import { getN8nInstance } from '../../healing/index.ts'
import type { WorkflowHealth } from './service.ts'
import { retryJson, workflowRetries } from '../retry/store.ts'
import { runsSince } from './store.ts'
import {
  DAY_MS,
  dailyRates,
  durations,
  executionJson,
  executionsOf,
  getWorkflow,
  instancesHealth,
  timeline,
  workflowJson,
  workflowList,
} from './views.ts'

const Id = v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(100))
const WorkflowQuery = v.object({ instance: Id, id: Id })
const PollForm = v.strictObject({ instance: v.optional(Id) })

const pct = (r: number | null) => (r === null ? '—' : `${Math.round(r * 1000) / 10} %`)
const ms = (n: number | null) => (n === null ? '—' : n < 1000 ? `${n} ms` : `${Math.round(n / 100) / 10} s`)
const iso = (s: string | null) => (s ? when(Date.parse(s)) : '—')

/** Daily success rates as an inline SVG polyline (no script); a gap where a day had no run. */
function Sparkline({ values }: { values: (number | null)[] }) {
  const w = 84
  const h = 20
  const step = w / Math.max(1, values.length - 1)
  const pts = values
    .map((r, i) => (r === null ? null : `${(i * step).toFixed(1)},${(h - 2 - r * (h - 4)).toFixed(1)}`))
    .filter(Boolean)
  return (
    <svg class="spark-mini" width={w} height={h} viewBox={`0 0 ${w} ${h}`} role="img" aria-label="success rate, 7 days">
      {pts.length > 1 ? <polyline points={pts.join(' ')} fill="none" stroke="currentColor" stroke-width="1.5" /> : null}
      {pts.length === 1 ? <circle cx={pts[0]!.split(',')[0]} cy={pts[0]!.split(',')[1]} r="2" /> : null}
    </svg>
  )
}

/** Expected fires (ticks above the line) and actual runs (dots below, red when failed) over the window. */
/** The healing rule's retries of this workflow's failed executions: each retry, its outcome, and its action. */
function RetryHistory({ rows }: { rows: ReturnType<typeof retryJson>[] }) {
  if (!rows.length)
    return (
      <Empty>No automatic retries (a healing rule from the "retry transient n8n failures" template makes them).</Empty>
    )
  return (
    <div class="table-wrap">
      <table class="table" id="retries">
        <thead>
          <tr>
            <th>When</th>
            <th>Execution</th>
            <th>Retry</th>
            <th>Outcome</th>
            <th>New execution</th>
            <th>Class</th>
            <th>Message</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr data-retry={r.executionId} data-outcome={r.outcome}>
              <td class="nowrap">{iso(r.at)}</td>
              <td>{r.executionId}</td>
              <td>{r.attempt || '—'}</td>
              <td>{r.actionId ? <a href={`/healing/actions/${r.actionId}`}>{r.outcome}</a> : r.outcome}</td>
              <td>{r.retryExecutionId ?? ''}</td>
              <td>{r.class ?? ''}</td>
              <td>{r.message ?? ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

function Timeline({ t }: { t: Awaited<ReturnType<typeof timeline>> }) {
  const from = Date.parse(t.from!)
  const to = Date.parse(t.to!)
  const w = 800
  const x = (s: string | null) => (((Date.parse(s ?? '') - from) / Math.max(1, to - from)) * w).toFixed(1)
  return (
    <svg
      class="timeline-svg"
      viewBox={`0 0 ${w} 60`}
      width="100%"
      height="60"
      role="img"
      aria-label="expected vs actual runs"
    >
      <line x1="0" y1="30" x2={w} y2="30" stroke="currentColor" stroke-opacity="0.3" />
      {t.expected.map((e) => (
        <line class="expected" x1={x(e)} x2={x(e)} y1="12" y2="28" stroke="currentColor" stroke-opacity="0.6" />
      ))}
      {t.runs.map((r) => (
        <circle
          class={`run ${r.status}`}
          cx={x(r.at)}
          cy="42"
          r="3"
          fill={
            r.status === 'success' ? 'seagreen' : r.status === 'error' || r.status === 'crashed' ? 'crimson' : 'gray'
          }
        />
      ))}
    </svg>
  )
}

export function workflowHealthPages(deps: ModuleDeps & { workflowHealth: WorkflowHealth }) {
  const { db } = deps
  const health = deps.workflowHealth
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()

  async function Overview() {
    const t = now()
    const [instances, list, sparks] = await Promise.all([
      instancesHealth(db),
      workflowList(db, { limit: 500, offset: 0 }, t, health.graceMs),
      dailyRates(db, t),
    ])
    if (!instances.length)
      return <Empty>No n8n instance yet. Add one under Healing → n8n; its executions are read every minute.</Empty>
    const names = new Map(instances.map((i) => [i.id, i.name]))
    return (
      <>
        <div class="table-wrap">
          <table class="table" id="instances">
            <thead>
              <tr>
                <th>Instance</th>
                <th>Reachable</th>
                <th>Version</th>
                <th>Last poll</th>
                <th>Workflows</th>
              </tr>
            </thead>
            <tbody>
              {instances.map((i) => (
                <tr data-instance={i.id}>
                  <td>{i.name}</td>
                  <td>
                    {i.reachable === null ? '—' : i.reachable ? 'yes' : <span class="pill down">no</span>}
                    {i.error ? <div class="muted">{i.error}</div> : null}
                  </td>
                  <td>{i.version ?? '—'}</td>
                  <td class="nowrap">{iso(i.lastPollAt)}</td>
                  <td>
                    {Object.entries(i.workflows)
                      .map(([s, n]) => `${n} ${s}`)
                      .join(', ') || '—'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {list.items.length ? (
          <div class="table-wrap">
            <table class="table" id="n8n-workflows">
              <thead>
                <tr>
                  <th>Workflow</th>
                  <th>State</th>
                  <th>Success 24 h</th>
                  <th>7 days</th>
                  <th>Last run</th>
                  <th>Next expected</th>
                  <th>Failures by class</th>
                </tr>
              </thead>
              <tbody>
                {list.items.map((w) => (
                  <tr data-workflow={w.workflowId} data-state={w.state}>
                    <td>
                      <a href={`/n8n/workflow?${new URLSearchParams({ instance: w.instanceId, id: w.workflowId })}`}>
                        {w.name}
                      </a>{' '}
                      <span class="muted">{names.get(w.instanceId)}</span>
                    </td>
                    <td>
                      <span class={`pill ${w.state}`} title={w.stateReason ?? ''}>
                        {w.state}
                      </span>
                    </td>
                    <td>{pct(w.successRate24h)}</td>
                    <td>
                      <Sparkline values={sparks.get(`${w.instanceId}/${w.workflowId}`) ?? []} />
                    </td>
                    <td class="nowrap">{iso(w.lastRunAt)}</td>
                    <td class="nowrap">{iso(w.nextExpectedAt)}</td>
                    <td>
                      {Object.entries(w.failuresByClass)
                        .map(([k, n]) => `${k} ${n}`)
                        .join(', ') || '—'}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <Empty>No workflows read yet.</Empty>
        )}
      </>
    )
  }

  app.get('/n8n', access('viewer'), async (c) =>
    c.html(
      <Layout title="n8n" active="/n8n" principal={requirePrincipal(c)}>
        <div class="page-head">
          <h1>n8n workflows</h1>
          {canWrite(c) ? (
            <button hx-post="/n8n/poll" hx-target="#n8n-overview" hx-swap="innerHTML">
              Poll now
            </button>
          ) : null}
        </div>
        <p class="muted">
          Health of every workflow of every n8n instance, from its executions: failures by class, schedules that did not
          run, workflows switched off.
        </p>
        <div
          id="n8n-overview"
          hx-get="/n8n/overview"
          hx-trigger={liveTrigger('n8n', { every: '60s' })}
          hx-swap="innerHTML"
        >
          {await Overview()}
        </div>
      </Layout>,
    ),
  )

  app.get('/n8n/overview', access('viewer'), async (c) => c.html(<>{await Overview()}</>))

  app.post('/n8n/poll', access('operator'), validate('form', PollForm), async (c) => {
    const results = await health.poll(now(), c.req.valid('form').instance)
    await audit(db, c, { action: 'n8n.polled', summary: `${results.length} instance(s)` })
    return c.html(
      <>
        {results
          .filter((r) => r.error)
          .map((r) => (
            <div class="error">
              {r.instance.name}: {r.error}
            </div>
          ))}
        {await Overview()}
      </>,
    )
  })

  app.get('/n8n/workflow', access('viewer'), validate('query', WorkflowQuery), async (c) => {
    const q = c.req.valid('query')
    const instance = await getN8nInstance(db, q.instance)
    const w = await getWorkflow(db, instance.id, q.id)
    const t = now()
    const [day, week] = [await runsSince(db, instance.id, t - DAY_MS), await runsSince(db, instance.id, t - 7 * DAY_MS)]
    const j = workflowJson(w, {
      now: t,
      graceMs: health.graceMs,
      day: day.get(w.workflowId),
      week: week.get(w.workflowId),
    })
    const d = await durations(db, instance.id, w.workflowId, t - 7 * DAY_MS)
    const execs = await executionsOf(db, instance.id, w.workflowId, { limit: 100 })
    const tl = await timeline(db, w, t - DAY_MS, t)
    const retries = (await workflowRetries(db, instance.id, w.workflowId)).map(retryJson)
    return c.html(
      <Layout title={`n8n · ${w.name}`} active="/n8n" principal={requirePrincipal(c)}>
        <p>
          <a href="/n8n">← n8n workflows</a>
        </p>
        <h1>{w.name}</h1>
        <p class="muted">
          {instance.name} · workflow {w.workflowId} · <span class={`pill ${j.state}`}>{j.state}</span>
          {j.stateReason ? ` (${j.stateReason})` : ''}
        </p>
        <section class="card">
          <h2>Health</h2>
          <dl class="facts">
            <dt>Trigger</dt>
            <dd>
              {j.trigger.kind}
              {j.trigger.rules.length ? `: ${j.trigger.rules.join('; ')} (${j.trigger.timezone})` : ''}
            </dd>
            <dt>Success rate</dt>
            <dd>
              {pct(j.successRate24h)} in 24 h · {pct(j.successRate7d)} in 7 days
            </dd>
            <dt>Duration (7 days)</dt>
            <dd>
              p50 {ms(d.p50)} · p95 {ms(d.p95)} · p99 {ms(d.p99)}
            </dd>
            <dt>Last success / failure</dt>
            <dd>
              {iso(j.lastSuccessAt)} / {iso(j.lastFailureAt)}
            </dd>
            <dt>Next expected run</dt>
            <dd>{iso(j.nextExpectedAt)}</dd>
            {j.expectEveryMs ? (
              <>
                <dt>Expected</dt>
                <dd>at least one execution every {j.expectEveryMs / 1000} s</dd>
              </>
            ) : null}
          </dl>
        </section>
        <section class="card">
          <h2>Expected schedule vs actual runs (24 h)</h2>
          <Timeline t={tl} />
          <p class="muted">
            {tl.expected.length} expected · {tl.runs.length} ran (ticks: expected, dots: runs)
          </p>
        </section>
        <section class="card">
          <h2>Automatic retries</h2>
          <RetryHistory rows={retries} />
        </section>
        <section class="card">
          <h2>Executions</h2>
          {execs.items.length ? (
            <div class="table-wrap">
              <table class="table" id="executions">
                <thead>
                  <tr>
                    <th>Execution</th>
                    <th>Status</th>
                    <th>Started</th>
                    <th>Duration</th>
                    <th>Class</th>
                    <th>Node</th>
                    <th>Message</th>
                  </tr>
                </thead>
                <tbody>
                  {execs.items.map((raw) => {
                    const e = executionJson(raw, instance.baseUrl)
                    return (
                      <tr data-execution={e.id}>
                        <td>
                          <a href={e.url} rel="noopener noreferrer" target="_blank">
                            {e.id}
                          </a>
                        </td>
                        <td>{e.status}</td>
                        <td class="nowrap">{iso(e.startedAt)}</td>
                        <td>{ms(e.durationMs)}</td>
                        <td>{e.class ?? ''}</td>
                        <td>{e.node ?? ''}</td>
                        <td>{e.message ?? ''}</td>
                      </tr>
                    )
                  })}
                </tbody>
              </table>
            </div>
          ) : (
            <Empty>No executions read yet.</Empty>
          )}
        </section>
      </Layout>,
    )
  })

  return app
}
