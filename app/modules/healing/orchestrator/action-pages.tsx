/** @jsxImportSource hono/jsx */
import { maskHeaders } from '../actions/headers.ts'
import { Hono } from 'hono'
import * as v from 'valibot'
import { finalHealingStatuses, type HealingAction } from '../../../../db/schema/healing.ts'
import { actor, type AppEnv, type ModuleDeps } from '../../../context.ts'
import { hxRedirect } from '../../../lib/htmx.ts'
import { Empty, Layout, liveTrigger, when } from '../../../lib/layout.tsx'
import { validate } from '../../../lib/validate.ts'
import { access, canWrite, isAdmin } from '../../../middleware/access.ts'
import { requirePrincipal } from '../../../middleware/auth.ts'
import { audit } from '../../audit/index.ts'
import { actionTypes } from '../actions/index.ts'
import { checkAction, createAction, invalid } from './enqueue.ts'
import { approveAction, rejectAction } from './decisions.ts'
import { ActionListQuery, IdParam } from '../input.ts'
import { getAction, listActions, outputFor, timeline } from './store.ts'
import type { HealingCtx } from '../types.ts'
import { ActionStatus, ActionTable, Json, ms, Section, Tabs, Timeline, triggerText } from '../views.tsx'
import { clockOf } from '../../../lib/time.ts'

const DetailQuery = v.object({ action: v.optional(v.picklist(['approve', 'reject'], 'must be approve or reject')) })
const RejectForm = v.object({
  comment: v.optional(v.pipe(v.string('must be text'), v.maxLength(1000, 'must be at most 1000 characters'))),
})
const RunForm = v.object({
  type: v.pipe(
    v.string('must be text'),
    v.minLength(1, 'must not be empty'),
    v.maxLength(50, 'must be at most 50 characters'),
  ),
  target: v.pipe(
    v.string('must be text'),
    v.trim(),
    v.minLength(1, 'must not be empty'),
    v.maxLength(300, 'must be at most 300 characters'),
  ),
  params: v.optional(v.pipe(v.string('must be text'), v.maxLength(10_000, 'must be at most 10000 characters'))),
  reason: v.optional(v.pipe(v.string('must be text'), v.maxLength(500, 'must be at most 500 characters'))),
  dryRun: v.optional(v.picklist(['on', 'true', ''], 'must be on or empty')),
  requiresApproval: v.optional(v.picklist(['on', 'true', ''], 'must be on or empty')),
})
const isFinal = (a: HealingAction) => (finalHealingStatuses as readonly string[]).includes(a.status)

/** The healing actions' pages: the list (and running one by hand), an action's detail and live part, approve and reject. */
export function actionPages(deps: ModuleDeps, hd: HealingCtx) {
  const { db } = deps
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()

  app.get('/healing/actions', access('viewer'), validate('query', ActionListQuery), async (c) => {
    const q = c.req.valid('query')
    const { items, next } = await listActions(db, {
      status: q.status,
      ruleId: q.rule,
      target: q.target,
      actionType: q.type,
      limit: q.limit ?? 100,
      cursor: q.cursor,
    })
    const keep = new URLSearchParams(
      Object.entries({ status: q.status?.join(','), rule: q.rule, target: q.target, type: q.type }).filter(
        (e): e is [string, string] => !!e[1],
      ),
    )
    return c.html(
      <Layout title="Healing actions" active="/healing" principal={requirePrincipal(c)}>
        <Tabs active="/healing/actions" admin={isAdmin(c)} />
        <div class="page-head">
          <h1>Actions</h1>
        </div>
        <form class="filters" method="get" action="/healing/actions">
          <label>
            Status <input name="status" value={q.status?.join(',') ?? ''} placeholder="FAILED,ROLLED_BACK" />
          </label>
          <label>
            Type <input name="type" value={q.type ?? ''} placeholder="model_failover" />
          </label>
          <label>
            Target <input name="target" value={q.target ?? ''} />
          </label>
          <button type="submit">Filter</button>
        </form>
        {items.length ? (
          <ActionTable items={items} write={canWrite(c)} id="actions" />
        ) : (
          <Empty>No actions match.</Empty>
        )}
        {next ? (
          <p>
            <a href={`/healing/actions?${new URLSearchParams([...keep, ['cursor', next]])}`}>Older →</a>
          </p>
        ) : null}
        {canWrite(c) ? (
          <Section title="Run an action by hand" id="run-action">
            <form class="comp-form" id="run-form" hx-post="/healing/actions" hx-swap="none">
              <div class="row">
                <label>
                  Action type{' '}
                  <select name="type">
                    {[...actionTypes.values()].map((d) => (
                      <option value={d.type} title={d.describe}>
                        {d.type}
                      </option>
                    ))}
                  </select>
                </label>
                <label>
                  Target <input name="target" required placeholder="route name, component, workflow, command" />
                </label>
                <label>
                  Reason <input name="reason" maxlength={500} />
                </label>
              </div>
              <label>
                Parameters <span class="muted">(JSON object for the action type)</span>
                <textarea name="params" rows={2}></textarea>
              </label>
              <label class="check">
                <input type="checkbox" name="dryRun" /> Dry run (checks and records, changes nothing)
              </label>
              <label class="check">
                <input type="checkbox" name="requiresApproval" /> Needs another operator's approval first
              </label>
              <button type="submit">Run</button>
            </form>
          </Section>
        ) : null}
      </Layout>,
    )
  })

  app.post('/healing/actions', access('operator'), validate('form', RunForm), async (c) => {
    const f = c.req.valid('form')
    let params: unknown = {}
    if (f.params?.trim()) {
      try {
        params = JSON.parse(f.params)
      } catch {
        params = null
      }
      if (!params || typeof params !== 'object' || Array.isArray(params))
        throw invalid([{ field: 'params', message: 'must be a JSON object, e.g. {"url": "https://svc/restart"}' }])
    }
    const checked = await checkAction(hd, f.type, f.target, params)
    if ('issues' in checked)
      throw invalid(checked.issues.map((i) => (i.field === 'actionType' ? { ...i, field: 'type' } : i)))
    const at = now()
    const by = actor(c)
    const { action } = await createAction(
      hd,
      {
        actionType: f.type,
        target: f.target,
        params: checked.params,
        trigger: { type: 'manual', summary: f.reason?.trim() || `run by ${by}`, at },
        requestedBy: by,
        dryRun: !!f.dryRun,
        approval: f.requiresApproval ? { ttlMs: 3_600_000 } : undefined,
      },
      at,
    )
    await audit(db, c, {
      action: 'healing_action.requested',
      target: action.id,
      summary: `${action.actionType} on ${action.target}${action.dryRun ? ' (dry run)' : ''}`,
    })
    hd.kick()
    return hxRedirect(c, `/healing/actions/${action.id}`)
  })

  async function actionLive(a: HealingAction, operator: boolean) {
    const events = await timeline(db, a.id)
    const final = isFinal(a)
    return (
      <div
        id="action-live"
        {...(final
          ? {}
          : {
              'hx-get': `/healing/actions/${a.id}/live`,
              // The status moves by the live feed; a running action's timeline also grows between
              // moves (verification attempts), which a slower poll follows.
              'hx-trigger': liveTrigger('healing', { id: true, every: '5s' }),
              'hx-swap': 'outerHTML',
              'data-live-id': a.id,
            })}
        data-status={a.status}
      >
        <div class="tiles">
          <div class="tile">
            <span class="label">Status</span>
            <strong>
              <ActionStatus status={a.status} />
            </strong>
            {a.reason ? <span class="muted">{a.reason}</span> : null}
          </div>
          <div class="tile">
            <span class="label">Attempt</span>
            <strong>
              {a.attempt} / {a.maxAttempts}
            </strong>
          </div>
          <div class="tile">
            <span class="label">Created</span>
            <strong class="small">{when(a.createdAt)}</strong>
            <span class="muted">started {when(a.startedAt)}</span>
          </div>
          <div class="tile">
            <span class="label">Took</span>
            <strong>{a.finishedAt && a.startedAt ? ms(a.finishedAt - a.startedAt) : '—'}</strong>
            <span class="muted">finished {when(a.finishedAt)}</span>
          </div>
        </div>
        {a.error ? (
          <div class="error" id="action-error">
            <strong>Error:</strong> {a.error}
          </div>
        ) : null}
        <Section title="Timeline" id="action-timeline">
          <Timeline events={events} />
        </Section>
        <Section title="Output" id="action-output">
          {Object.keys(a.output).filter((k) => k !== 'plan').length ? (
            <Json
              value={outputFor(Object.fromEntries(Object.entries(a.output).filter(([k]) => k !== 'plan')), operator)}
            />
          ) : (
            <p class="muted">None yet.</p>
          )}
        </Section>
      </div>
    )
  }

  app.get(
    '/healing/actions/:id',
    access('viewer'),
    validate('param', IdParam),
    validate('query', DetailQuery),
    async (c) => {
      const a = await getAction(db, c.req.valid('param').id)
      const write = canWrite(c)
      const ask = c.req.valid('query').action
      const waiting = a.status === 'PENDING_APPROVAL' && (a.approvalExpiresAt ?? 0) > now()
      const plan = (a.output.plan ?? {}) as Record<string, unknown>
      return c.html(
        <Layout title={`${a.actionType} on ${a.target}`} active="/healing" principal={requirePrincipal(c)}>
          <Tabs active="/healing/actions" admin={isAdmin(c)} />
          <p>
            <a href="/healing">← Healing</a>
          </p>
          {ask ? (
            <section class="notice" id="decide-confirm">
              {waiting && write ? (
                <p>
                  {ask === 'approve' ? 'Approve' : 'Reject'} <strong>{a.actionType}</strong> on <code>{a.target}</code>?
                  Use the buttons below.
                </p>
              ) : waiting ? (
                <p>Only an operator can approve or reject this action.</p>
              ) : (
                <p>
                  This action is {a.status}
                  {a.decidedBy ? ` (decided by ${a.decidedBy} at ${when(a.decidedAt)})` : ''}; there is nothing to
                  decide.
                </p>
              )}
            </section>
          ) : null}
          <div class="page-head">
            <h1>
              {a.actionType} on <code>{a.target}</code> {a.dryRun ? <span class="pill">dry run</span> : null}
            </h1>
          </div>
          {waiting && write ? (
            <div class="alert-actions" id="decide">
              <span>Waiting for approval until {when(a.approvalExpiresAt)}.</span>
              <button hx-post={`/healing/actions/${a.id}/approve`} hx-swap="none">
                Approve
              </button>
              <form class="inline" hx-post={`/healing/actions/${a.id}/reject`} hx-swap="none">
                <input name="comment" placeholder="Why (optional)" aria-label="Reason for rejecting" maxlength={1000} />
                <button type="submit" class="danger">
                  Reject
                </button>
              </form>
            </div>
          ) : waiting ? (
            <p class="muted">Waiting for an operator's approval until {when(a.approvalExpiresAt)}.</p>
          ) : null}
          {await actionLive(a, write)}
          <Section title="Request" id="action-request">
            <dl class="kv">
              <dt>Trigger</dt>
              <dd>
                {triggerText(a)} <span class="muted">at {when(a.trigger.at)}</span>
              </dd>
              <dt>Rule</dt>
              <dd>
                {a.ruleId ? (
                  <a href={`/healing/rules/${a.ruleId}`}>its rule</a>
                ) : (
                  'none (run by hand or through the API)'
                )}
              </dd>
              <dt>Requested by</dt>
              <dd>{a.requestedBy}</dd>
              {a.decidedBy ? (
                <>
                  <dt>Decided by</dt>
                  <dd>
                    {a.decidedBy} at {when(a.decidedAt)}
                  </dd>
                </>
              ) : null}
              <dt>Priority</dt>
              <dd>{a.priority}</dd>
            </dl>
            <h3>Parameters</h3>
            <Json value={maskHeaders(a.params)} />
            {a.trigger.labels && Object.keys(a.trigger.labels).length ? (
              <>
                <h3>Trigger labels</h3>
                <Json value={a.trigger.labels} />
              </>
            ) : null}
            <h3>Plan</h3>
            <Json value={plan} />
          </Section>
        </Layout>,
      )
    },
  )

  app.get('/healing/actions/:id/live', access('viewer'), validate('param', IdParam), async (c) =>
    c.html(await actionLive(await getAction(db, c.req.valid('param').id), canWrite(c))),
  )

  app.post('/healing/actions/:id/approve', access('operator'), validate('param', IdParam), async (c) => {
    const row = await approveAction(hd, c.req.valid('param').id, actor(c), now())
    await audit(db, c, {
      action: 'healing_action.approved',
      target: row.id,
      summary: `${row.actionType} on ${row.target}`,
    })
    hd.kick()
    return hxRedirect(c, `/healing/actions/${row.id}`)
  })

  app.post(
    '/healing/actions/:id/reject',
    access('operator'),
    validate('param', IdParam),
    validate('form', RejectForm),
    async (c) => {
      const comment = c.req.valid('form').comment?.trim() || undefined
      const row = await rejectAction(hd, c.req.valid('param').id, actor(c), now(), comment)
      await audit(db, c, { action: 'healing_action.rejected', target: row.id, summary: comment })
      return hxRedirect(c, `/healing/actions/${row.id}`)
    },
  )

  return app
}
