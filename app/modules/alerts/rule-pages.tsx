/** @jsxImportSource hono/jsx */
import { Hono } from 'hono'
import * as v from 'valibot'
import { comparators, ruleKinds, severities, type AlertRule } from '../../../db/schema/alerts.ts'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { hxRedirect } from '../../lib/htmx.ts'
import { Empty, Layout } from '../../lib/layout.tsx'
import { validate } from '../../lib/validate.ts'
import { access, canWrite } from '../../middleware/access.ts'
import { requirePrincipal } from '../../middleware/auth.ts'
import { audit } from '../audit/service.ts'
import { aggregations } from '../metrics/query.ts'
import { matcherLines, parseRuleForm } from './form.ts'
import { ruleTemplates } from './rule-templates.ts'
import { createRule, deleteRule, draftRule, getRule, listRules, previewRule, ruleJson, ruleWarnings, setEnabled } from './rules.ts'
import { evaluatorFor, resolveRuleAlerts } from './runner.ts'
import { actor } from '../../context.ts'
import { IdParam, type RuleInput } from './schema.ts'
import { Labels, Tabs, value } from './views.tsx'

const FormBody = v.record(v.string(), v.pipe(v.string(), v.maxLength(10_000, 'must be at most 10000 characters')))
const PageQuery = v.object({ template: v.optional(v.pipe(v.string(), v.maxLength(100))) })

/** Milliseconds as the shortest exact duration text (300000 → 5m). */
export function dur(ms: number | string | undefined | null): string {
  if (ms === undefined || ms === null) return ''
  if (typeof ms === 'string') return ms
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  return String(ms)
}

type FormValues = Record<string, string>
function valuesOf(r: Partial<RuleInput>): FormValues {
  const { params = {} } = r
  const p = Object.fromEntries(Object.entries(params).map(([k, x]) => [k, k === 'baseline' || k === 'step' ? dur(x as number) : x]))
  return {
    name: r.name ?? '', kind: r.kind ?? 'threshold', metric: r.metric ?? '', matchers: matcherLines(r.matchers ?? []), by: (r.by ?? []).join(', '),
    agg: r.agg ?? 'avg', window: dur(r.window ?? '5m'), comparator: r.comparator ?? '>', value: r.value === undefined ? '' : String(r.value),
    for: dur(r.for ?? 0), keepFiringFor: dur(r.keepFiringFor ?? 0), severity: r.severity ?? 'warning', params: Object.keys(p).length ? JSON.stringify(p) : '',
    labels: Object.entries(r.labels ?? {}).map(([k, x]) => `${k}=${x}`).join('\n'), summary: r.summary ?? '', description: r.description ?? '', runbookUrl: r.runbookUrl ?? '',
  }
}

const Select = ({ name, list, cur, label }: { name: string; list: readonly string[]; cur: string; label: string }) => (
  <label>{label} <select name={name}>{list.map((x) => <option value={x} selected={x === cur}>{x}</option>)}</select></label>
)
const Field = ({ name, label, val, hint, required }: { name: string; label: string; val: string; hint?: string; required?: boolean }) => (
  <label>{label}{hint ? <span class="muted"> ({hint})</span> : null} <input name={name} value={val} required={required} /></label>
)

function RuleForm({ f }: { f: FormValues }) {
  return (
    <form class="comp-form" id="rule-form" hx-post="/alerts/rules" hx-swap="none">
      <div class="row">
        <Field name="name" label="Name" val={f.name!} required />
        <Select name="kind" label="Kind" list={ruleKinds} cur={f.kind!} />
        <Select name="severity" label="Severity" list={severities} cur={f.severity!} />
      </div>
      <div class="row">
        <Field name="metric" label="Metric" val={f.metric!} required />
        <Select name="agg" label="Aggregation" list={aggregations} cur={f.agg!} />
        <Field name="window" label="Window" val={f.window!} hint="30s, 5m, 1h" />
      </div>
      <div class="row">
        <Select name="comparator" label="Comparator" list={comparators} cur={f.comparator!} />
        <Field name="value" label="Value" val={f.value!} hint="threshold, ratio, change" />
        <Field name="for" label="For" val={f.for!} hint="pending until" />
        <Field name="keepFiringFor" label="Keep firing for" val={f.keepFiringFor!} />
      </div>
      <label>Matchers <span class="muted">(one per line: <code>env="prod"</code>, <code>!=</code>, <code>=~</code>, <code>!~</code>)</span><textarea name="matchers" rows={2}>{f.matchers}</textarea></label>
      <Field name="by" label="By labels" val={f.by!} hint="comma separated; one alert per label set" />
      <Field name="params" label="Params" val={f.params!} hint={'JSON: ratio {"denominator"}, change {"compareTo","baseline","unit"}, absence {"minutes"}, anomaly {"zScore","step","direction"}'} />
      <label>Labels <span class="muted">(key=value per line, added to its alerts)</span><textarea name="labels" rows={2}>{f.labels}</textarea></label>
      <Field name="summary" label="Summary" val={f.summary!} hint="{{labels.x}}, {{value}}, {{rule.threshold}}" />
      <Field name="description" label="Description" val={f.description!} />
      <Field name="runbookUrl" label="Runbook URL" val={f.runbookUrl!} />
      <div class="alert-actions">
        <button type="submit">Create rule</button>
        <button type="button" class="secondary" hx-post="/alerts/rules/test" hx-include="#rule-form" hx-target="#rule-test" hx-swap="innerHTML">Test now</button>
      </div>
      <div id="rule-test" aria-live="polite"></div>
    </form>
  )
}

type Preview = Awaited<ReturnType<typeof previewRule>>
const TestResults = ({ results, warnings }: { results: Preview; warnings: string[] }) => (
  <div class="test-results" data-results={String(results.length)}>
    {warnings.map((w) => <p class="badge warn">{w}</p>)}
    {results.length === 0 ? (
      <p class="muted">Nothing matches: no series found for this rule's metric and matchers.</p>
    ) : (
      <table class="table">
        <thead><tr><th>Would be</th><th>Value</th><th>Title</th><th>Labels</th></tr></thead>
        <tbody>{results.map((r) => <tr data-state={r.state}><td><span class={`pill st-${r.state}`}>{r.state}</span></td><td>{value(r.value)}</td><td>{r.title}</td><td><Labels labels={r.labels} /></td></tr>)}</tbody>
      </table>
    )}
  </div>
)

const condition = (r: AlertRule) => {
  const j = ruleJson(r)
  const base = `${r.agg}(${r.metric}) over ${dur(r.windowMs)}`
  const cmp = r.comparator && r.value !== null ? ` ${r.comparator} ${r.value}` : ''
  if (r.kind === 'ratio') return `${r.agg}(${r.metric}) ÷ ${r.agg}(${String(j.params.denominator)}) over ${dur(r.windowMs)}${cmp}`
  if (r.kind === 'absence') return `no ${r.metric} for ${String(j.params.minutes)} min`
  if (r.kind === 'anomaly') return `|z| of ${base} ≥ ${String(j.params.zScore ?? 3)}`
  if (r.kind === 'change') return `change of ${base} vs ${String(j.params.compareTo ?? 'previous')}${cmp}${j.params.unit === 'ratio' ? '' : '%'}`
  return `${base}${cmp}`
}

export function rulePages(deps: ModuleDeps) {
  const { db } = deps
  const now = () => deps.now?.() ?? Date.now()
  const evaluator = evaluatorFor(db, deps.log)
  const app = new Hono<AppEnv>()

  app.get('/alerts/rules', access('viewer'), validate('query', PageQuery), async (c) => {
    const write = canWrite(c)
    const { items } = await listRules(db, { limit: 500 })
    const tpl = ruleTemplates.find((t) => t.id === c.req.valid('query').template)
    return c.html(
      <Layout title="Alert rules" active="/alerts" principal={requirePrincipal(c)}>
        <Tabs active="/alerts/rules" />
        <div class="page-head"><h1>Rules</h1></div>
        {items.length === 0 ? (
          <Empty>No rules yet.{write ? ' Start from a template below.' : ''}</Empty>
        ) : (
          <table class="table" id="rules">
            <thead><tr><th>Name</th><th>Condition</th><th>For</th><th>Severity</th><th>Enabled</th><th></th></tr></thead>
            <tbody>
              {items.map((r) => (
                <>
                  <tr id={`rule-${r.id}`} data-rule={r.name}>
                    <td><a href={`/alerts?q=alertname%3D${encodeURIComponent(r.name)}`}>{r.name}</a><br /><span class="muted">{r.kind}</span></td>
                    <td><code>{condition(r)}</code>{r.matchers.length ? <><br /><span class="muted">{matcherLines(r.matchers).replaceAll('\n', ', ')}</span></> : null}{r.by.length ? <span class="muted"> by {r.by.join(', ')}</span> : null}</td>
                    <td>{dur(r.forMs) || '0'}</td>
                    <td><span class={`pill sev-${r.severity}`}>{r.severity}</span></td>
                    <td>{r.enabled ? 'yes' : <span class="muted">no</span>}</td>
                    <td class="nowrap">
                      <button class="small secondary" hx-post={`/alerts/rules/${r.id}/test`} hx-target={`#test-${r.id}`} hx-swap="innerHTML">Test now</button>{' '}
                      {write ? <button class="small secondary" hx-post={`/alerts/rules/${r.id}/${r.enabled ? 'disable' : 'enable'}`} hx-swap="none">{r.enabled ? 'Disable' : 'Enable'}</button> : null}{' '}
                      {write ? <button class="small danger" hx-post={`/alerts/rules/${r.id}/delete`} hx-confirm={`Delete the rule ${r.name}? Its open alerts are resolved; its alerts are kept.`} hx-swap="none">Delete</button> : null}
                    </td>
                  </tr>
                  <tr class="test-row"><td colspan={6} id={`test-${r.id}`}></td></tr>
                </>
              ))}
            </tbody>
          </table>
        )}
        {write ? (
          <section class="card" id="new-rule">
            <h2>New rule</h2>
            <p>
              Start from a template:{' '}
              {ruleTemplates.map((t) => <><a href={`/alerts/rules?template=${t.id}#new-rule`} title={t.description} aria-current={t.id === tpl?.id ? 'true' : undefined}>{t.title}</a>{' · '}</>)}
              <a href="/alerts/rules#new-rule">Blank</a>
            </p>
            {tpl ? <p class="muted">{tpl.description}</p> : null}
            <RuleForm f={valuesOf(tpl?.rule ?? {})} />
          </section>
        ) : null}
      </Layout>,
    )
  })

  app.post('/alerts/rules/test', access('viewer'), validate('form', FormBody), async (c) => {
    const at = now()
    const rule = draftRule(parseRuleForm(c.req.valid('form')), at)
    return c.html(<TestResults results={await previewRule(db, rule, at)} warnings={await ruleWarnings(db, rule)} />)
  })

  app.post('/alerts/rules', access('operator'), validate('form', FormBody), async (c) => {
    const row = await createRule(db, parseRuleForm(c.req.valid('form')), now())
    evaluator.invalidate()
    await audit(db, c, { action: 'alert_rule.created', target: row.name, summary: `${row.kind} on ${row.metric}, ${row.severity}` })
    return hxRedirect(c, `/alerts/rules#rule-${row.id}`)
  })

  app.post('/alerts/rules/:id/test', access('viewer'), validate('param', IdParam), async (c) => {
    const rule = await getRule(db, c.req.valid('param').id)
    const at = now()
    return c.html(<TestResults results={await previewRule(db, rule, at)} warnings={await ruleWarnings(db, rule)} />)
  })

  for (const [verb, enabled] of [['enable', true], ['disable', false]] as const) {
    app.post(`/alerts/rules/:id/${verb}`, access('operator'), validate('param', IdParam), async (c) => {
      await getRule(db, c.req.valid('param').id)
      const row = await setEnabled(db, c.req.valid('param').id, enabled, now())
      const resolved = enabled ? 0 : await resolveRuleAlerts(evaluator.lifecycle, row.id, actor(c), 'rule disabled', now())
      evaluator.invalidate()
      await audit(db, c, { action: `alert_rule.${verb}d`, target: row.name, summary: enabled ? undefined : `${resolved} open alerts resolved` })
      return hxRedirect(c, `/alerts/rules#rule-${row.id}`)
    })
  }

  app.post('/alerts/rules/:id/delete', access('operator'), validate('param', IdParam), async (c) => {
    const rule = await getRule(db, c.req.valid('param').id)
    const resolved = await resolveRuleAlerts(evaluator.lifecycle, rule.id, actor(c), 'rule deleted', now())
    await deleteRule(db, rule.id)
    evaluator.invalidate()
    await audit(db, c, { action: 'alert_rule.deleted', target: rule.name, summary: `${resolved} open alerts resolved` })
    return hxRedirect(c, '/alerts/rules')
  })

  return app
}
