/** @jsxImportSource hono/jsx */
/**
 * The escalation queue: runs waiting for a person, with the task that failed and its class, and the
 * three choices (retry, abort, take over). A choice posts through htmx (the page's CSRF header) and
 * the row is replaced by the choice made; the orchestrator reads it from GET …/decision.
 */
import { desc, isNotNull } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import { type HumanChoice, type Run, runs } from '../../../../db/schema/runs.ts'
import type { Principal } from '../../../context.ts'
import { Empty, Layout, LiveRegion, when } from '../../../lib/layout.tsx'
import { labelText, RunsCss, RunsTabs, StatusPill, usd } from './format.tsx'

const choiceText: Record<HumanChoice, string> = { retry: 'Retry', abort: 'Abort', take_over: 'Take over' }

/** Runs a person decided lately (the choices shown after the queue), newest first from runs_decided_idx. */
export const recentlyDecided = (db: Db) =>
  db.select().from(runs).where(isNotNull(runs.decision)).orderBy(desc(runs.updatedAt)).limit(20)

export function QueueRow({ run, write }: { run: Run; write: boolean }) {
  const e = run.escalation
  const id = encodeURIComponent(run.id)
  return (
    <tr id={`queue-${run.id.replace(/[^\w-]/g, '_')}`} data-run={run.id}>
      <td>
        <a href={`/runs/${id}`}>{run.id}</a>
        {run.goal ? <div class="small muted">{run.goal.slice(0, 120)}</div> : null}
      </td>
      <td>
        {e?.taskId ? <a href={`/runs/${id}?task=${encodeURIComponent(e.taskId)}#task-detail`}>{e.taskId}</a> : '—'}
      </td>
      <td>{e?.class ? <span class="pill rs-bad">{e.class}</span> : '—'}</td>
      <td class="small">{e?.reason ?? ''}</td>
      <td>{when(e?.at)}</td>
      <td>{usd(run.costUsd)}</td>
      <td class="small">{labelText(run.labels)}</td>
      <td class="queue-actions">
        {run.decision ? (
          <span class="decided" data-choice={run.decision.action}>
            <StatusPill status={run.status} /> <strong>{choiceText[run.decision.action]}</strong> by {run.decision.by}{' '}
            <span class="muted small">{when(run.decision.at)}</span>
          </span>
        ) : write ? (
          (['retry', 'abort', 'take_over'] as const).map((a) => (
            <button
              type="button"
              class={`small ${a === 'abort' ? 'danger' : a === 'retry' ? '' : 'secondary'}`}
              hx-post={`/runs/queue/${id}/decide`}
              hx-vals={JSON.stringify({ action: a })}
              hx-target="closest tr"
              hx-swap="outerHTML"
              hx-confirm={a === 'abort' ? `Abort run ${run.id}?` : undefined}
            >
              {choiceText[a]}
            </button>
          ))
        ) : (
          <span class="muted small">an operator decides</span>
        )}
      </td>
    </tr>
  )
}

const Head = () => (
  <thead>
    <tr>
      <th>Run</th>
      <th>Failing task</th>
      <th>Class</th>
      <th>Reason</th>
      <th>Escalated</th>
      <th>Cost</th>
      <th>Labels</th>
      <th></th>
    </tr>
  </thead>
)

export function QueuePage(p: { principal: Principal; waiting: Run[]; decided: Run[]; write: boolean }) {
  return (
    <Layout title="Escalation queue" active="/runs" principal={p.principal}>
      <RunsCss />
      <RunsTabs active="/runs/queue" />
      <h1>Escalation queue</h1>
      <p class="muted lead">
        Runs the policy handed to a person. Retry lets the orchestrator go on, abort ends the run, take over leaves it
        with you. The orchestrator reads the choice from <code>GET /api/v1/runs/:id/decision</code>.
      </p>
      <LiveRegion id="queue-live" src="/runs/queue" topic="runs" throttle="2s" every="60s">
        {p.waiting.length ? (
          <table class="table" id="queue-table">
            <Head />
            <tbody>
              {p.waiting.map((r) => (
                <QueueRow run={r} write={p.write} />
              ))}
            </tbody>
          </table>
        ) : (
          <Empty>No run is waiting for a person.</Empty>
        )}
        <h2>Decided lately</h2>
        {p.decided.length ? (
          <table class="table" id="decided-table">
            <Head />
            <tbody>
              {p.decided.map((r) => (
                <QueueRow run={r} write={false} />
              ))}
            </tbody>
          </table>
        ) : (
          <Empty>No choices made yet.</Empty>
        )}
      </LiveRegion>
    </Layout>
  )
}
