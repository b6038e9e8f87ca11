/** @jsxImportSource hono/jsx */
import { Hono, type Context } from 'hono'
import * as v from 'valibot'
import { comparators, ruleKinds, severities, type AlertRule, type LabelMatcher } from '../../../../db/schema/alerts.ts'
import { type AppEnv, type ModuleDeps, actor } from '../../../context.ts'
import { AppError } from '../../../lib/errors.ts'
import { hxRedirect } from '../../../lib/htmx.ts'
import { Empty, ErrorBox, Layout } from '../../../lib/layout.tsx'
import { validate } from '../../../lib/validate.ts'
import { access, canWrite } from '../../../middleware/access.ts'
import { requirePrincipal } from '../../../middleware/auth.ts'
import { audit } from '../../audit/index.ts'
import { aggregations } from '../../metrics/index.ts'
import { matcherLines } from '../../../lib/matchers.ts'
import { kindParams, parseRuleEdit, parseRuleForm } from '../form.ts'
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

const FormBody = v.record(v.string(), v.pipe(v.string(), v.maxLength(10_000, 'must be at most 10000 characters')))
const PageQuery = v.object({
  template: v.optional(v.pipe(v.string(), v.maxLength(100))),
  edit: v.optional(v.pipe(v.string(), v.maxLength(100))),
})

/** Milliseconds as the shortest exact duration text (300000 → 5m). */
export function dur(ms: number | string | undefined | null): string {
  if (ms === undefined || ms === null) return ''
  if (typeof ms === 'string') return ms
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const)
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  return String(ms)
}

type FormValues = Record<string, string>
function valuesOf(r: Partial<RuleInput>): FormValues {
  const params: Record<string, unknown> = r.params ?? {}
  const p: FormValues = {}
  for (const [k, x] of Object.entries(params)) {
    if (k === 'denominatorMatchers') p.p_denominatorMatchers = matcherLines(x as LabelMatcher[])
    else if (k === 'baseline' || k === 'step') p[`p_${k}`] = dur(x as number)
    else if (x !== undefined && x !== null) p[`p_${k}`] = String(x)
  }
  return {
    name: r.name ?? '',
    kind: r.kind ?? 'threshold',
    metric: r.metric ?? '',
    matchers: matcherLines(r.matchers ?? []),
    by: (r.by ?? []).join(', '),
    agg: r.agg ?? 'avg',
    window: dur(r.window ?? '5m'),
    comparator: r.comparator ?? '>',
    value: r.value === undefined ? '' : String(r.value),
    for: dur(r.for ?? 0),
    keepFiringFor: dur(r.keepFiringFor ?? 0),
    severity: r.severity ?? 'warning',
    ...p,
    labels: Object.entries(r.labels ?? {})
      .map(([k, x]) => `${k}=${x}`)
      .join('\n'),
    summary: r.summary ?? '',
    description: r.description ?? '',
    runbookUrl: r.runbookUrl ?? '',
  }
}

/** Where the server's message for a field lands (filled out-of-band by a 400 answer, see fieldErrors). */
const Err = ({ name }: { name: string }) => <small class="field-error" id={`err-${name}`}></small>
const Select = ({ name, list, cur, label }: { name: string; list: readonly string[]; cur: string; label: string }) => (
  <label>
    {label}{' '}
    <select name={name}>
      {list.map((x) => (
        <option value={x} selected={x === cur}>
          {x}
        </option>
      ))}
    </select>
    <Err name={name} />
  </label>
)
const Field = ({
  name,
  label,
  val,
  hint,
  required,
}: {
  name: string
  label: string
  val: string | undefined
  hint?: string
  required?: boolean
}) => (
  <label>
    {label}
    {hint ? <span class="muted"> ({hint})</span> : null} <input name={name} value={val ?? ''} required={required} />
    <Err name={name} />
  </label>
)

/** Every field of the rule form, by name: its error slot is cleared or filled on each failed submit. */
const formFields = [
  'name',
  'kind',
  'severity',
  'metric',
  'agg',
  'window',
  'comparator',
  'value',
  'for',
  'keepFiringFor',
  'matchers',
  'by',
  'labels',
  'summary',
  'description',
  'runbookUrl',
  ...Object.values(kindParams)
    .flat()
    .map((p) => `p_${p}`),
]
/** The API's field path (`window`, `params.zScore`, `matchers.0.value`) to the form field that holds it. */
const formFieldOf = (path: string) => {
  const [head, next] = path.split('.')
  return head === 'params' && next ? `p_${next}` : (head ?? '')
}

/**
 * A 400 from the shared checks becomes the usual error box in #flash plus, out of band, each
 * message beside its field (and every other field's slot emptied). Other errors pass on.
 */
async function fieldErrors(c: Context<AppEnv>, run: () => Promise<Response>) {
  try {
    return await run()
  } catch (error) {
    if (!(error instanceof AppError) || error.status !== 400 || !Array.isArray(error.details)) throw error
    const details = error.details
    const byField = new Map<string, string[]>()
    for (const d of details)
      byField.set(formFieldOf(d.field), [...(byField.get(formFieldOf(d.field)) ?? []), d.message])
    c.header('HX-Retarget', '#flash')
    c.header('HX-Reswap', 'innerHTML')
    return c.html(
      <>
        <ErrorBox message={error.message} details={details} />
        {formFields.map((f) => (
          <small
            class="field-error"
            id={`err-${f}`}
            hx-swap-oob="true"
            data-error={byField.has(f) ? 'true' : undefined}
          >
            {byField.get(f)?.join('; ') ?? ''}
          </small>
        ))}
      </>,
      400,
    )
  }
}

/** Only the chosen kind's fieldset shows (CSS :has, no script); the server reads only that kind's fields. */
const kindCss =
  ruleKinds
    .map((k) => `.rule-form:has(select[name=kind] option[value=${k}]:checked) fieldset[data-kind=${k}]`)
    .join(',\n') +
  ' { display: block; }\n.rule-form fieldset.kind-params { display: none; }\n.rule-form .field-error { display: block; color: var(--danger); font-size: .85rem; }'

function KindFields({ f }: { f: FormValues }) {
  return (
    <>
      <style>{kindCss}</style>
      <fieldset class="kind-params" data-kind="ratio">
        <legend>Ratio: value = metric ÷ denominator</legend>
        <Field name="p_denominator" label="Denominator metric" val={f.p_denominator} hint="e.g. agent_requests_total" />
        <label>
          Denominator matchers <span class="muted">(one per line; empty: the rule's matchers)</span>
          <textarea name="p_denominatorMatchers" rows={2}>
            {f.p_denominatorMatchers ?? ''}
          </textarea>
          <Err name="p_denominatorMatchers" />
        </label>
      </fieldset>
      <fieldset class="kind-params" data-kind="change">
        <legend>Change: compared with an earlier window</legend>
        <div class="row">
          <Select
            name="p_compareTo"
            label="Compare to"
            list={['previous', 'baseline']}
            cur={f.p_compareTo ?? 'previous'}
          />
          <Field name="p_baseline" label="Baseline span" val={f.p_baseline} hint="with baseline: 1d, 7d" />
          <Select name="p_unit" label="Unit" list={['percent', 'ratio']} cur={f.p_unit ?? 'percent'} />
        </div>
      </fieldset>
      <fieldset class="kind-params" data-kind="absence">
        <legend>Absence: no data for</legend>
        <Field name="p_minutes" label="Minutes" val={f.p_minutes} hint="1–43200" />
      </fieldset>
      <fieldset class="kind-params" data-kind="anomaly">
        <legend>Anomaly: z-score over the window</legend>
        <div class="row">
          <Field name="p_zScore" label="z-score" val={f.p_zScore} hint="default 3" />
          <Field name="p_step" label="Step" val={f.p_step} hint="bucket size, e.g. 1m" />
          <Select name="p_direction" label="Direction" list={['both', 'up', 'down']} cur={f.p_direction ?? 'both'} />
        </div>
      </fieldset>
    </>
  )
}

function RuleForm({ f, editId }: { f: FormValues; editId?: string }) {
  return (
    <form
      class="comp-form rule-form"
      id="rule-form"
      hx-post={editId ? `/alerts/rules/${editId}/edit` : '/alerts/rules'}
      hx-swap="none"
    >
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
      <label>
        Matchers{' '}
        <span class="muted">
          (one per line: <code>env="prod"</code>, <code>!=</code>, <code>=~</code>, <code>!~</code>)
        </span>
        <textarea name="matchers" rows={2}>
          {f.matchers}
        </textarea>
        <Err name="matchers" />
      </label>
      <Field name="by" label="By labels" val={f.by!} hint="comma separated; one alert per label set" />
      <KindFields f={f} />
      <label>
        Labels <span class="muted">(key=value per line, added to its alerts)</span>
        <textarea name="labels" rows={2}>
          {f.labels}
        </textarea>
        <Err name="labels" />
      </label>
      <Field name="summary" label="Summary" val={f.summary!} hint="{{labels.x}}, {{value}}, {{rule.threshold}}" />
      <Field name="description" label="Description" val={f.description!} />
      <Field name="runbookUrl" label="Runbook URL" val={f.runbookUrl!} />
      <div class="alert-actions">
        <button type="submit">{editId ? 'Save rule' : 'Create rule'}</button>
        {editId ? (
          <a class="button secondary" href="/alerts/rules">
            Cancel
          </a>
        ) : null}
        <button
          type="button"
          class="secondary"
          hx-post="/alerts/rules/test"
          hx-include="#rule-form"
          hx-target="#rule-test"
          hx-swap="innerHTML"
        >
          Test now
        </button>
      </div>
      <div id="rule-test" aria-live="polite"></div>
    </form>
  )
}

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
