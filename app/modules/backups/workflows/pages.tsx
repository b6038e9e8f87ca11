/** @jsxImportSource hono/jsx */
/**
 * The workflow history pages under Backups: known workflows with version counts (and "Pull now"),
 * and per workflow a timeline of versions, the structured diff between any two, the two versions'
 * JSON side by side, and rollback with confirmation. They call the same service as the API.
 */
import { Hono } from 'hono'
import * as v from 'valibot'
import { actor, type AppEnv, type ModuleDeps } from '../../../context.ts'
import { hxRedirect } from '../../../lib/htmx.ts'
import { Empty, Layout, when } from '../../../lib/layout.tsx'
import { clockOf } from '../../../lib/time.ts'
import { validate } from '../../../lib/validate.ts'
import { access, canWrite } from '../../../middleware/access.ts'
import { requirePrincipal } from '../../../middleware/auth.ts'
import { audit } from '../../audit/index.ts'
import { listN8nInstances } from '../../healing/index.ts'
import { DiffView } from './diff-view.tsx'
import { rollbackSummary, type WorkflowHistory } from './service.ts'
import { listVersions, listWorkflows, openContent } from './store.ts'

const Id = v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(100))
const Seq = v.optional(v.pipe(v.string(), v.regex(/^[1-9]\d{0,8}$/, 'must be a version number'), v.transform(Number)))
const HistoryQuery = v.object({ instance: Id, id: Id, from: Seq, to: Seq })
const PullForm = v.strictObject({ instance: v.optional(Id) })
const RollbackForm = v.strictObject({
  instance: Id,
  id: Id,
  to: v.pipe(v.string(), v.regex(/^[1-9]\d{0,8}$/, 'must be a version number'), v.transform(Number)),
  recreate: v.optional(v.picklist(['true', 'false'])),
})

const historyUrl = (instance: string, id: string, extra = '') =>
  `/backups/workflows/history?${new URLSearchParams({ instance, id })}${extra}`

export function workflowHistoryPages(deps: ModuleDeps & { workflowHistory: WorkflowHistory }) {
  const { db, sealer } = deps
  const wh = deps.workflowHistory
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()

  async function WorkflowTable() {
    const [rows, instances] = await Promise.all([listWorkflows(db), listN8nInstances(db)])
    const names = new Map(instances.map((i) => [i.id, i.name]))
    if (!rows.length)
      return (
        <Empty>
          No workflow versions yet. Add an n8n instance under Healing → n8n; its workflows are pulled every few minutes.
        </Empty>
      )
    return (
      <div class="table-wrap">
        <table class="table" id="workflows">
          <thead>
            <tr>
              <th>Instance</th>
              <th>Workflow</th>
              <th>Active</th>
              <th>Versions</th>
              <th>Last change</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => (
              <tr data-workflow={r.workflowId}>
                <td>{names.get(r.instanceId) ?? `${r.instanceId} (removed)`}</td>
                <td>
                  <a href={historyUrl(r.instanceId, r.workflowId)}>{r.name}</a>{' '}
                  <span class="muted">{r.workflowId}</span>
                </td>
                <td>{r.active ? 'yes' : 'no'}</td>
                <td>{Number(r.versions)}</td>
                <td class="nowrap">{when(r.lastChangeAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    )
  }

  app.get('/backups/workflows', access('viewer'), async (c) => {
    return c.html(
      <Layout title="Workflow history" active="/backups" principal={requirePrincipal(c)}>
        <div class="page-head">
          <h1>Workflow history</h1>
          {canWrite(c) ? (
            <button hx-post="/backups/workflows/pull" hx-target="#workflow-list" hx-swap="innerHTML">
              Pull now
            </button>
          ) : null}
        </div>
        <p class="muted">
          Every n8n workflow's versions: a version is stored when what the workflow does changes (a move on the canvas
          is not a change).
        </p>
        <div id="workflow-list">{await WorkflowTable()}</div>
      </Layout>,
    )
  })

  app.post('/backups/workflows/pull', access('operator'), validate('form', PullForm), async (c) => {
    const results = await wh.pull(now(), c.req.valid('form').instance)
    await audit(db, c, {
      action: 'workflows.pulled',
      summary: `${results.length} instance(s), ${results.reduce((n, r) => n + r.created, 0)} new version(s)`,
    })
    const failed = results.filter((r) => r.error)
    return c.html(
      <>
        {failed.map((r) => (
          <div class="error">
            {r.instance.name}: {r.error}
          </div>
        ))}
        {await WorkflowTable()}
      </>,
    )
  })

  app.get('/backups/workflows/history', access('viewer'), validate('query', HistoryQuery), async (c) => {
    const q = c.req.valid('query')
    const versions = await listVersions(db, q.instance, q.id, 500)
    const latest = versions[0]
    const principal = requirePrincipal(c)
    if (!latest)
      return c.html(
        <Layout title="Workflow history" active="/backups" principal={principal}>
          <h1>Workflow history</h1>
          <Empty>No versions of workflow {q.id} on this instance.</Empty>
        </Layout>,
        404,
      )
    const to = q.to ?? latest.seq
    const from = q.from ?? Math.max(1, to - 1)
    const write = canWrite(c)
    const [a, b] = await Promise.all([wh.version(q.instance, q.id, from), wh.version(q.instance, q.id, to)])
    const diff = await wh.diff(q.instance, q.id, from, to)
    return c.html(
      <Layout title={`History of ${latest.name}`} active="/backups" principal={principal}>
        <p>
          <a href="/backups/workflows">← Workflow history</a>
        </p>
        <h1>{latest.name}</h1>
        <p class="muted">
          Workflow {q.id} · {versions.length} version(s) · now {latest.active ? 'active' : 'inactive'}
        </p>
        <section class="card">
          <h2>Versions</h2>
          <ol class="timeline" id="versions">
            {versions.map((r) => (
              <li data-version={r.seq}>
                <strong>v{r.seq}</strong> <span class="nowrap">{when(r.createdAt)}</span> · {r.author}
                {r.kind !== 'pull' ? (
                  <span class="badge">
                    {r.kind} of v{r.restoredSeq}
                  </span>
                ) : null}{' '}
                · {r.nodeCount} nodes{' '}
                {r.seq > 1 ? (
                  <a href={historyUrl(q.instance, q.id, `&from=${r.seq - 1}&to=${r.seq}`)}>changes</a>
                ) : null}{' '}
                {write && r.seq !== latest.seq ? (
                  <button
                    class="small danger"
                    hx-post="/backups/workflows/rollback"
                    hx-vals={JSON.stringify({ instance: q.instance, id: q.id, to: String(r.seq) })}
                    hx-confirm={`Put version ${r.seq} of ${latest.name} back into n8n? It replaces the workflow there now (its current state is kept in this history).`}
                    hx-swap="none"
                  >
                    Roll back to v{r.seq}
                  </button>
                ) : null}
              </li>
            ))}
          </ol>
        </section>
        <section class="card">
          <h2>
            Changes from v{from} to v{to}
          </h2>
          <form class="inline" method="get" action="/backups/workflows/history">
            <input type="hidden" name="instance" value={q.instance} />
            <input type="hidden" name="id" value={q.id} />
            <label>
              From <input name="from" type="number" min="1" value={String(from)} />
            </label>
            <label>
              To <input name="to" type="number" min="1" value={String(to)} />
            </label>
            <button type="submit">Compare</button>
          </form>
          <DiffView diff={diff} />
        </section>
        <section class="card">
          <h2>JSON side by side</h2>
          <div class="json-sides">
            <div>
              <h3>v{from}</h3>
              <pre>{JSON.stringify(openContent(sealer, a), null, 2)}</pre>
            </div>
            <div>
              <h3>v{to}</h3>
              <pre>{JSON.stringify(openContent(sealer, b), null, 2)}</pre>
            </div>
          </div>
        </section>
      </Layout>,
    )
  })

  app.post('/backups/workflows/rollback', access('operator'), validate('form', RollbackForm), async (c) => {
    const f = c.req.valid('form')
    const result = await wh.rollback(f.instance, f.id, { to: f.to, recreate: f.recreate === 'true' }, actor(c), now())
    await audit(db, c, {
      action: 'workflow.rolled_back',
      target: `${result.instance}/${f.id}`,
      summary: rollbackSummary(result),
    })
    return hxRedirect(c, historyUrl(f.instance, result.workflowId))
  })

  return app
}
