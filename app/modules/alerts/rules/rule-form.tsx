/** @jsxImportSource hono/jsx */
/** The alert rule form: fields per kind, prefilled from a rule or a template, and errors shown by field. */
import type { Context } from 'hono'
import * as v from 'valibot'
import { comparators, ruleKinds, severities, type LabelMatcher } from '../../../../db/schema/alerts.ts'
import { type AppEnv } from '../../../context.ts'
import { AppError } from '../../../lib/errors.ts'
import { dur } from '../../../lib/format.ts'
import { ErrorBox } from '../../../lib/layout.tsx'
import { aggregations } from '../../metrics/index.ts'
import { matcherLines } from '../../../lib/matchers.ts'
import { kindParams } from '../form.ts'
import { type RuleInput } from '../schema.ts'

export const FormBody = v.record(
  v.string(),
  v.pipe(v.string(), v.maxLength(10_000, 'must be at most 10000 characters')),
)
export const PageQuery = v.object({
  template: v.optional(v.pipe(v.string(), v.maxLength(100))),
  edit: v.optional(v.pipe(v.string(), v.maxLength(100))),
})

export type FormValues = Record<string, string>
export function valuesOf(r: Partial<RuleInput>): FormValues {
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
export async function fieldErrors(c: Context<AppEnv>, run: () => Promise<Response>) {
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

export function RuleForm({ f, editId }: { f: FormValues; editId?: string }) {
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
