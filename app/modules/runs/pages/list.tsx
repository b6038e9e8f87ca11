/** @jsxImportSource hono/jsx */
/**
 * The runs list: newest first, filtered by status, label, role, failure class and time, paged by
 * cursor (the same query as GET /api/v1/runs, so the indexes it walks serve both).
 */
import { runFailureClasses, runStatuses, type Run } from '../../../../db/schema/runs.ts'
import type { Principal } from '../../../context.ts'
import { Empty, Layout, LiveRegion, when } from '../../../lib/layout.tsx'
import { durationOf } from '../read.ts'
import { dur, labelText, pct, RunsCss, RunsTabs, StatusPill, tokens, usd } from './format.tsx'
import { RANGES } from './input.ts'

/** What the form shows: the raw values the user typed (empty when unset). */
export type ListForm = Partial<Record<'status' | 'label' | 'role' | 'class' | 'range' | 'from' | 'to', string>>

const Select = (p: { name: string; label: string; value: string | undefined; options: readonly string[] }) => (
  <label>
    {p.label}
    <select name={p.name}>
      <option value="">any</option>
      {p.options.map((o) => (
        <option value={o} selected={o === p.value}>
          {o}
        </option>
      ))}
    </select>
  </label>
)

function Filters({ form }: { form: ListForm }) {
  return (
    <form class="card runs-filters" method="get" action="/runs" id="runs-filters">
      <div class="row">
        <Select name="status" label="Status" value={form.status} options={runStatuses} />
        <label>
          Label
          <input name="label" value={form.label ?? ''} placeholder="team:multi" size={14} spellcheck={false} />
        </label>
        <label>
          Role
          <input name="role" value={form.role ?? ''} placeholder="coder" size={10} spellcheck={false} />
        </label>
        <Select name="class" label="Failure class" value={form.class} options={runFailureClasses} />
        <Select name="range" label="Started in the last" value={form.range} options={Object.keys(RANGES)} />
        <label>
          From
          <input type="datetime-local" name="from" value={form.from ?? ''} />
        </label>
        <label>
          To
          <input type="datetime-local" name="to" value={form.to ?? ''} />
        </label>
        <button type="submit">Filter</button>
        <a href="/runs" class="button secondary">
          Clear
        </a>
      </div>
    </form>
  )
}

export function RunsList(props: {
  principal: Principal
  form: ListForm
  items: Run[]
  next: string | null
  nextHref: string | null
  now: number
  /** This page's own URL (path and query): the live region reloads from it. */
  src: string
}) {
  const { items, now } = props
  return (
    <Layout title="Runs" active="/runs" principal={props.principal}>
      <RunsCss />
      <RunsTabs active="/runs" />
      <h1>Runs</h1>
      <p class="muted lead">
        Multi-agent runs as task graphs: what each role did, what failed and why, what was retried or branched, and what
        it cost.
      </p>
      <Filters form={props.form} />
      <LiveRegion id="runs-live" src={props.src} topic="runs" throttle="2s" every="60s">
        {items.length ? (
          <table class="table" id="runs-table">
            <thead>
              <tr>
                <th>Run</th>
                <th>Status</th>
                <th>Started</th>
                <th>Duration</th>
                <th>Tasks</th>
                <th>Tokens</th>
                <th>Cost</th>
                <th>Labels</th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <tr data-run={r.id}>
                  <td>
                    <a href={`/runs/${encodeURIComponent(r.id)}`}>{r.id}</a>
                    {r.goal ? <div class="small muted">{r.goal.slice(0, 120)}</div> : null}
                  </td>
                  <td>
                    <StatusPill status={r.status} />
                  </td>
                  <td>{when(r.startedAt)}</td>
                  <td>{dur(durationOf(r, now))}</td>
                  <td>
                    {r.taskCount}
                    {r.failedCount ? (
                      <span class="small muted">
                        {' '}
                        ({r.failedCount} failed, {pct(r.failedCount, r.taskCount)})
                      </span>
                    ) : null}
                  </td>
                  <td>{tokens(r.inputTokens + r.outputTokens)}</td>
                  <td>{usd(r.costUsd)}</td>
                  <td class="small">{labelText(r.labels)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <Empty>
            No runs match. Agents and orchestrators record runs with <code>PUT /api/v1/runs/:id</code>, OTLP traces or
            the n8n Metrics Record node (see <a href="/docs">API docs</a>).
          </Empty>
        )}
        {props.nextHref ? (
          <p>
            <a class="button secondary" href={props.nextHref} id="runs-next">
              Older runs →
            </a>
          </p>
        ) : null}
      </LiveRegion>
    </Layout>
  )
}
