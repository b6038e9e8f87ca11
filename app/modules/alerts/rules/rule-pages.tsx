/** @jsxImportSource hono/jsx */
import { Hono } from 'hono'
import { type AlertRule } from '../../../../db/schema/alerts.ts'
import { type AppEnv, type ModuleDeps, actor } from '../../../context.ts'
import { hxRedirect } from '../../../lib/htmx.ts'
import { Empty, Layout } from '../../../lib/layout.tsx'
import { validate } from '../../../lib/validate.ts'
import { access, canWrite } from '../../../middleware/access.ts'
import { requirePrincipal } from '../../../middleware/auth.ts'
import { audit } from '../../audit/index.ts'
import { matcherLines } from '../../../lib/matchers.ts'
import { parseRuleEdit, parseRuleForm } from '../form.ts'
import { ruleTemplates } from './rule-templates.ts'
import {
  createRule,
  deleteRule,
  draftRule,
  getRule,
  listRules,
  previewRule,
  ruleJson,
  ruleWarnings,
  setEnabled,
  updateRule,
} from './rules.ts'
import { IdParam, type RuleInput } from '../schema.ts'
import type { AlertsService } from '../service.ts'
import { Labels, Tabs, value } from '../views.tsx'
import { clockOf } from '../../../lib/time.ts'
import { dur } from '../../../lib/format.ts'
import { fieldErrors, FormBody, PageQuery, RuleForm, valuesOf } from './rule-form.tsx'

type Preview = Awaited<ReturnType<typeof previewRule>>
const TestResults = ({ results, warnings }: { results: Preview; warnings: string[] }) => (
  <div class="test-results" data-results={String(results.length)}>
    {warnings.map((w) => (
      <p class="badge warn">{w}</p>
    ))}
    {results.length === 0 ? (
      <p class="muted">Nothing matches: no series found for this rule's metric and matchers.</p>
    ) : (
      <table class="table">
        <thead>
          <tr>
            <th>Would be</th>
            <th>Value</th>
            <th>Title</th>
            <th>Labels</th>
          </tr>
        </thead>
        <tbody>
          {results.map((r) => (
            <tr data-state={r.state}>
              <td>
                <span class={`pill st-${r.state}`}>{r.state}</span>
              </td>
              <td>{value(r.value)}</td>
              <td>{r.title}</td>
              <td>
                <Labels labels={r.labels} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    )}
  </div>
)

const condition = (r: AlertRule) => {
  const j = ruleJson(r)
  const base = `${r.agg}(${r.metric}) over ${dur(r.windowMs)}`
  const cmp = r.comparator && r.value !== null ? ` ${r.comparator} ${r.value}` : ''
  if (r.kind === 'ratio')
    return `${r.agg}(${r.metric}) ÷ ${r.agg}(${String(j.params.denominator)}) over ${dur(r.windowMs)}${cmp}`
  if (r.kind === 'absence') return `no ${r.metric} for ${String(j.params.minutes)} min`
  if (r.kind === 'anomaly') return `|z| of ${base} ≥ ${String(j.params.zScore ?? 3)}`
  if (r.kind === 'change')
    return `change of ${base} vs ${String(j.params.compareTo ?? 'previous')}${cmp}${j.params.unit === 'ratio' ? '' : '%'}`
  return `${base}${cmp}`
}

/** One rule's row; Enable/Disable swap it in place (a same-page #fragment redirect would not reload the list). */
const RuleRow = ({ r, write }: { r: AlertRule; write: boolean }) => (
  <tr id={`rule-${r.id}`} data-rule={r.name} data-enabled={String(r.enabled)}>
    <td>
      <a href={`/alerts?q=alertname%3D${encodeURIComponent(r.name)}`}>{r.name}</a>
      <br />
      <span class="muted">{r.kind}</span>
    </td>
    <td>
      <code>{condition(r)}</code>
      {r.matchers.length ? (
        <>
          <br />
          <span class="muted">{matcherLines(r.matchers).replaceAll('\n', ', ')}</span>
        </>
      ) : null}
      {r.by.length ? <span class="muted"> by {r.by.join(', ')}</span> : null}
    </td>
    <td>{dur(r.forMs) || '0'}</td>
    <td>
      <span class={`pill sev-${r.severity}`}>{r.severity}</span>
    </td>
    <td>{r.enabled ? 'yes' : <span class="muted">no</span>}</td>
    <td class="nowrap">
      {/* Testing runs the rule's patterns over stored data: operators only, as its route. */}
      {write ? (
        <button
          class="small secondary"
          hx-post={`/alerts/rules/${r.id}/test`}
          hx-target={`#test-${r.id}`}
          hx-swap="innerHTML"
        >
          Test now
        </button>
      ) : null}{' '}
      {write ? (
        <a class="button small secondary" href={`/alerts/rules?edit=${r.id}#edit-rule`}>
          Edit
        </a>
      ) : null}{' '}
      {write ? (
        <button
          class="small secondary"
          hx-post={`/alerts/rules/${r.id}/${r.enabled ? 'disable' : 'enable'}`}
          hx-target={`#rule-${r.id}`}
          hx-swap="outerHTML"
        >
          {r.enabled ? 'Disable' : 'Enable'}
        </button>
      ) : null}{' '}
      {write ? (
        <button
          class="small danger"
          hx-post={`/alerts/rules/${r.id}/delete`}
          hx-confirm={`Delete the rule ${r.name}? Its open alerts are resolved; its alerts are kept.`}
          hx-swap="none"
        >
          Delete
        </button>
      ) : null}
    </td>
  </tr>
)

export function rulePages(deps: ModuleDeps & { alerts: AlertsService }) {
  const { db } = deps
  const now = clockOf(deps)
  const service = deps.alerts
  const app = new Hono<AppEnv>()

  app.get('/alerts/rules', access('viewer'), validate('query', PageQuery), async (c) => {
    const write = canWrite(c)
    const { items } = await listRules(db, { limit: 500 })
    const q = c.req.valid('query')
    const tpl = ruleTemplates.find((t) => t.id === q.template)
    const editing = write && q.edit ? await getRule(db, q.edit) : undefined
    return c.html(
      <Layout title="Alert rules" active="/alerts" principal={requirePrincipal(c)}>
        <Tabs active="/alerts/rules" />
        <div class="page-head">
          <h1>Rules</h1>
        </div>
        {items.length === 0 ? (
          <Empty>No rules yet.{write ? ' Start from a template below.' : ''}</Empty>
        ) : (
          <table class="table" id="rules">
            <thead>
              <tr>
                <th>Name</th>
                <th>Condition</th>
                <th>For</th>
                <th>Severity</th>
                <th>Enabled</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {items.map((r) => (
                <>
                  <RuleRow r={r} write={write} />
                  <tr class="test-row">
                    <td colspan={6} id={`test-${r.id}`}></td>
                  </tr>
                </>
              ))}
            </tbody>
          </table>
        )}
        {editing ? (
          <section class="card" id="edit-rule">
            <h2>Edit rule {editing.name}</h2>
            <RuleForm f={valuesOf(ruleJson(editing) as Partial<RuleInput>)} editId={editing.id} />
          </section>
        ) : write ? (
          <section class="card" id="new-rule">
            <h2>New rule</h2>
            <p>
              Start from a template:{' '}
              {ruleTemplates.map((t) => (
                <>
                  <a
                    href={`/alerts/rules?template=${t.id}#new-rule`}
                    title={t.description}
                    aria-current={t.id === tpl?.id ? 'true' : undefined}
                  >
                    {t.title}
                  </a>
                  {' · '}
                </>
              ))}
              <a href="/alerts/rules#new-rule">Blank</a>
            </p>
            {tpl ? <p class="muted">{tpl.description}</p> : null}
            <RuleForm f={valuesOf(tpl?.rule ?? {})} />
          </section>
        ) : null}
      </Layout>,
    )
  })

  app.post('/alerts/rules/test', access('operator'), validate('form', FormBody), (c) =>
    fieldErrors(c, async () => {
      const at = now()
      const rule = draftRule(parseRuleForm(c.req.valid('form')), at)
      return c.html(<TestResults results={await previewRule(db, rule, at)} warnings={await ruleWarnings(db, rule)} />)
    }),
  )

  app.post('/alerts/rules', access('operator'), validate('form', FormBody), (c) =>
    fieldErrors(c, async () => {
      const row = await createRule(db, parseRuleForm(c.req.valid('form')), now())
      service.invalidateRules()
      await audit(db, c, {
        action: 'alert_rule.created',
        target: row.name,
        summary: `${row.kind} on ${row.metric}, ${row.severity}`,
      })
      // A query that differs from the page's: a redirect to `/alerts/rules#rule-…` from `/alerts/rules` would only jump, not reload.
      return hxRedirect(c, `/alerts/rules?created=${row.id}#rule-${row.id}`)
    }),
  )

  app.post('/alerts/rules/:id/edit', access('operator'), validate('param', IdParam), validate('form', FormBody), (c) =>
    fieldErrors(c, async () => {
      const before = await getRule(db, c.req.valid('param').id)
      const row = await updateRule(db, before, parseRuleEdit(c.req.valid('form')), now())
      service.invalidateRules()
      await audit(db, c, { action: 'alert_rule.updated', target: row.name, summary: 'edited in the dashboard' })
      return hxRedirect(c, `/alerts/rules#rule-${row.id}`)
    }),
  )

  app.post('/alerts/rules/:id/test', access('operator'), validate('param', IdParam), async (c) => {
    const rule = await getRule(db, c.req.valid('param').id)
    const at = now()
    return c.html(<TestResults results={await previewRule(db, rule, at)} warnings={await ruleWarnings(db, rule)} />)
  })

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    app.post(`/alerts/rules/:id/${verb}`, access('operator'), validate('param', IdParam), async (c) => {
      await getRule(db, c.req.valid('param').id)
      const row = await setEnabled(db, c.req.valid('param').id, enabled, now())
      const resolved = enabled
        ? 0
        : await service.resolveRuleAlerts(row.id, { actor: actor(c) }, 'rule disabled', now())
      service.invalidateRules()
      await audit(db, c, {
        action: `alert_rule.${verb}d`,
        target: row.name,
        summary: enabled ? undefined : `${resolved} open alerts resolved`,
      })
      return c.html(<RuleRow r={row} write />)
    })
  }

  app.post('/alerts/rules/:id/delete', access('operator'), validate('param', IdParam), async (c) => {
    const rule = await getRule(db, c.req.valid('param').id)
    const resolved = await service.resolveRuleAlerts(rule.id, { actor: actor(c) }, 'rule deleted', now())
    await deleteRule(db, rule.id)
    service.invalidateRules()
    await audit(db, c, { action: 'alert_rule.deleted', target: rule.name, summary: `${resolved} open alerts resolved` })
    return hxRedirect(c, '/alerts/rules')
  })

  return app
}
