/** @jsxImportSource hono/jsx */
/**
 * The run page: totals, the task graph, the timeline and one task's detail. Two queries whatever
 * the run's size (the run with its tasks, and its failure history), so a run of 1,000 tasks draws
 * without a query per task.
 */
import { and, asc, eq, sql } from 'drizzle-orm'
import { raw } from 'hono/html'
import type { Db } from '../../../../db/client.ts'
import { type Run, type RunFailure, runFailures, type RunTask, runTasks } from '../../../../db/schema/runs.ts'
import type { Principal } from '../../../context.ts'
import { Layout, LiveRegion, when } from '../../../lib/layout.tsx'
import { durationOf } from '../read.ts'
import { dur, labelText, RunsCss, RunsTabs, StatusPill, tokens, tone, usd } from './format.tsx'
import { esc, graphSvg, type PageTask, timelineSvg } from './svg.ts'

/**
 * A run's tasks as the page draws them, in start order (not started last): one query, without the
 * artifacts and errors (up to 32 KiB a task), which load with a task's detail.
 */
export const pageTasks = (db: Db, runId: string): Promise<PageTask[]> =>
  db
    .select({
      id: runTasks.id,
      role: runTasks.role,
      title: runTasks.title,
      parentId: runTasks.parentId,
      dependsOn: runTasks.dependsOn,
      branchOf: runTasks.branchOf,
      depth: runTasks.depth,
      attempt: runTasks.attempt,
      status: runTasks.status,
      startedAt: runTasks.startedAt,
      endedAt: runTasks.endedAt,
      model: runTasks.model,
      costUsd: runTasks.costUsd,
      failureClass: runTasks.failureClass,
    })
    .from(runTasks)
    .where(eq(runTasks.runId, runId))
    .orderBy(sql`${runTasks.startedAt} IS NULL`, asc(runTasks.startedAt), asc(runTasks.id))

/** Rows of the task list before "List all": the graph and timeline already show every task. */
const TABLE_ROWS = 200

/** The task list as HTML text (1,000 rows render several times faster than as JSX). */
function taskRows(base: string, tasks: readonly PageTask[], now: number): string {
  return tasks
    .map((t) => {
      const href = `${base}?task=${esc(encodeURIComponent(t.id))}#task-detail`
      return (
        `<tr data-task="${esc(t.id)}"><td><a href="${href}">${esc(t.title ?? t.id)}</a></td>` +
        `<td>${esc(t.role ?? '—')}</td><td><span class="pill rs-${tone(t.status)}">${t.status}</span></td>` +
        `<td>${t.attempt}</td><td>${t.failureClass ?? ''}</td><td>${esc(dur(durationOf(t, now)))}</td>` +
        `<td>${esc(usd(t.costUsd))}</td></tr>`
      )
    })
    .join('')
}

/** Failed attempts of a run (or of one task), oldest first: the retries the graph counts. */
export const failuresOf = (db: Db, runId: string, taskId?: string) =>
  db
    .select()
    .from(runFailures)
    .where(taskId ? and(eq(runFailures.runId, runId), eq(runFailures.taskId, taskId)) : eq(runFailures.runId, runId))
    .orderBy(asc(runFailures.at))

/** Only web addresses become links: a `javascript:` or `data:` URL a client sent stays text. */
const safeHref = (url: string) => (/^https?:\/\//i.test(url) ? url : undefined)

const pretty = (value: unknown) => JSON.stringify(value, null, 2)

export function TaskDetail({
  task,
  failures,
  now,
}: {
  task: RunTask | undefined
  failures: RunFailure[]
  now: number
}) {
  if (!task)
    return (
      <section id="task-detail" class="card task-detail">
        <p class="muted">Choose a task in the graph, the timeline or the list to see its detail.</p>
      </section>
    )
  return (
    <section id="task-detail" class="card task-detail" data-task={task.id} aria-label={`Task ${task.id}`}>
      <h2>
        {task.title ?? task.id} <StatusPill status={task.status} />
      </h2>
      <dl class="facts">
        <dt>Task</dt>
        <dd>
          <code>{task.id}</code>
        </dd>
        <dt>Role</dt>
        <dd>{task.role ?? '—'}</dd>
        <dt>Model</dt>
        <dd>{task.model ?? '—'}</dd>
        <dt>Attempt</dt>
        <dd>{task.attempt}</dd>
        <dt>Depth</dt>
        <dd>{task.depth}</dd>
        <dt>Depends on</dt>
        <dd>{task.dependsOn.length ? task.dependsOn.join(', ') : '—'}</dd>
        <dt>Parent</dt>
        <dd>{task.parentId ?? '—'}</dd>
        <dt>Branch of</dt>
        <dd>{task.branchOf ?? '—'}</dd>
        <dt>Started</dt>
        <dd>{when(task.startedAt)}</dd>
        <dt>Duration</dt>
        <dd>{dur(durationOf(task, now))}</dd>
        <dt>Tokens</dt>
        <dd>
          {tokens(task.inputTokens)} in · {tokens(task.outputTokens)} out
        </dd>
        <dt>Cost</dt>
        <dd>{usd(task.costUsd)}</dd>
        {task.failureClass ? (
          <>
            <dt>Failure class</dt>
            <dd>
              <span class="pill rs-bad">{task.failureClass}</span>
            </dd>
          </>
        ) : null}
      </dl>
      {task.error ? (
        <>
          <h3>Error</h3>
          <pre class="task-error">{task.error}</pre>
        </>
      ) : null}
      {failures.length ? (
        <>
          <h3>Failed attempts</h3>
          <table class="table">
            <thead>
              <tr>
                <th>Attempt</th>
                <th>When</th>
                <th>Class</th>
                <th>Decision</th>
                <th>Error</th>
              </tr>
            </thead>
            <tbody>
              {failures.map((f) => (
                <tr>
                  <td>{f.attempt}</td>
                  <td>{when(f.at)}</td>
                  <td>{f.class}</td>
                  <td>{String(f.decision.action ?? '—')}</td>
                  <td class="small">{f.error.slice(0, 300)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      ) : null}
      {task.input !== null && task.input !== undefined ? (
        <>
          <h3>Input</h3>
          <pre class="artifact">{pretty(task.input)}</pre>
        </>
      ) : null}
      {task.output !== null && task.output !== undefined ? (
        <>
          <h3>Output</h3>
          <pre class="artifact">{pretty(task.output)}</pre>
        </>
      ) : null}
      {task.links.length ? (
        <>
          <h3>Artifacts</h3>
          <ul class="plain">
            {task.links.map((l) => {
              const href = safeHref(l.url)
              return (
                <li>
                  {href ? (
                    <a href={href} rel="noopener noreferrer" target="_blank">
                      {l.name}
                    </a>
                  ) : (
                    <span>
                      {l.name} <code>{l.url}</code>
                    </span>
                  )}{' '}
                  <span class="muted small">
                    {[l.type, l.size != null ? `${l.size} B` : ''].filter(Boolean).join(' · ')}
                  </span>
                </li>
              )
            })}
          </ul>
        </>
      ) : null}
    </section>
  )
}

export function RunPage(props: {
  principal: Principal
  run: Run
  tasks: PageTask[]
  /** The task whose detail is open (?task=), with its failed attempts. */
  selected: { task: RunTask | undefined; failures: RunFailure[] }
  /** List every task (?all=1), not the first TABLE_ROWS. */
  allTasks: boolean
  now: number
}) {
  const { run, tasks, now } = props
  const base = `/runs/${encodeURIComponent(run.id)}`
  const timeline = timelineSvg(tasks, now)
  return (
    <Layout title={`Run ${run.id}`} active="/runs" principal={props.principal}>
      <RunsCss />
      <script src="/static/runs-run.js" defer></script>
      <div id="run-page" data-base={base} hidden></div>
      <RunsTabs active="" />
      {/* Two live parts around the task detail, so a task opened by a click stays open while the run moves. */}
      <LiveRegion id="run-head" src={base} topic="runs" liveId={run.id} throttle="2s" every="60s">
        <h1>
          Run <code>{run.id}</code> <StatusPill status={run.status} />
        </h1>
        {run.goal ? <p class="lead">{run.goal}</p> : null}
        <div class="tiles" id="run-totals">
          <div class="tile">
            <span class="label">Duration</span>
            <strong>{dur(durationOf(run, now))}</strong>
            <span class="muted">started {when(run.startedAt)}</span>
          </div>
          <div class="tile">
            <span class="label">Tokens</span>
            <strong>{tokens(run.inputTokens + run.outputTokens)}</strong>
            <span class="muted">
              {tokens(run.inputTokens)} in · {tokens(run.outputTokens)} out
            </span>
          </div>
          <div class="tile">
            <span class="label">Cost</span>
            <strong>{usd(run.costUsd)}</strong>
          </div>
          <div class={`tile ${run.failedCount ? 'bad' : ''}`}>
            <span class="label">Tasks</span>
            <strong>{run.taskCount}</strong>
            <span class="muted">{run.failedCount} failed</span>
          </div>
          <div class="tile">
            <span class="label">Requester</span>
            <strong>{run.requester ?? '—'}</strong>
            <span class="muted">{labelText(run.labels)}</span>
          </div>
        </div>
        {run.escalation ? (
          <p class="notice">
            Escalated {when(run.escalation.at)}: {run.escalation.reason}
            {run.escalation.taskId ? ` (task ${run.escalation.taskId}, ${run.escalation.class ?? 'unknown'})` : ''}.{' '}
            {run.decision ? (
              <strong>
                Decided: {run.decision.action} by {run.decision.by}
              </strong>
            ) : (
              <a href="/runs/queue">Waiting in the escalation queue</a>
            )}
          </p>
        ) : null}
        <section class="card">
          <h2>Task graph</h2>
          {tasks.length ? (
            <div class="run-graph-box">
              {raw(graphSvg(run.id, tasks))}
              <p class="small muted legend">
                <span class="key edge-depends">depends on</span> <span class="key edge-parent">sub-task of</span>{' '}
                <span class="key edge-branch">branch after a failure</span> · ×N: attempts
              </p>
            </div>
          ) : (
            <p class="empty">No tasks recorded for this run yet.</p>
          )}
        </section>
      </LiveRegion>
      <TaskDetail task={props.selected.task} failures={props.selected.failures} now={now} />
      <LiveRegion
        id="run-tail"
        src={props.allTasks ? `${base}?all=1` : base}
        topic="runs"
        liveId={run.id}
        throttle="2s"
        every="60s"
      >
        <section class="card">
          <h2>Timeline</h2>
          {timeline.started ? (
            <div class="run-timeline-box">
              {raw(timeline.svg)}
              {timeline.started < tasks.length ? (
                <p class="small muted">{tasks.length - timeline.started} tasks not started yet.</p>
              ) : null}
            </div>
          ) : (
            <p class="empty">No task has started yet.</p>
          )}
        </section>
        <section class="card">
          <h2>Tasks</h2>
          <table class="table" id="run-tasks">
            <thead>
              <tr>
                <th>Task</th>
                <th>Role</th>
                <th>Status</th>
                <th>Attempt</th>
                <th>Class</th>
                <th>Duration</th>
                <th>Cost</th>
              </tr>
            </thead>
            <tbody>{raw(taskRows(base, props.allTasks ? tasks : tasks.slice(0, TABLE_ROWS), now))}</tbody>
          </table>
          {!props.allTasks && tasks.length > TABLE_ROWS ? (
            <p class="small muted">
              The first {TABLE_ROWS} of {tasks.length} tasks (the graph and the timeline show all).{' '}
              <a href={`${base}?all=1#run-tasks`}>List all</a>
            </p>
          ) : null}
        </section>
      </LiveRegion>
    </Layout>
  )
}
