/** @jsxImportSource hono/jsx */
import { maskHeaders } from '../actions/headers.ts'
import { asc } from 'drizzle-orm'
import { Hono } from 'hono'
import * as v from 'valibot'
import { comparators } from '../../../../db/schema/alerts.ts'
import { healingModes, type HealingRule } from '../../../../db/schema/healing.ts'
import { channels } from '../../../../db/schema/notify.ts'
import type { AppEnv, ModuleDeps } from '../../../context.ts'
import { badRequest, type ErrorDetail } from '../../../lib/errors.ts'
import { hxRedirect } from '../../../lib/htmx.ts'
import { Empty, Layout, when } from '../../../lib/layout.tsx'
import { clockOf, TimeInput } from '../../../lib/time.ts'
import { issuesToDetails, validate } from '../../../lib/validate.ts'
import { access, canWrite, isAdmin } from '../../../middleware/access.ts'
import { requirePrincipal } from '../../../middleware/auth.ts'
import { audit } from '../../audit/index.ts'
import { matcherLines, parseMatchers } from '../../../lib/matchers.ts'
import { listRules as listAlertRules } from '../../alerts/index.ts'
import { aggregations } from '../../metrics/index.ts'
import { actionTypes } from '../actions/index.ts'
import { listN8nInstances } from '../actions/n8n-instances.ts'
import { presetPages, RuleTemplates } from './preset-pages.tsx'
import {
  checkRule,
  createRule,
  deleteRule,
  draftRule,
  getRule,
  listRules,
  setRuleEnabled,
  updateRule,
} from './rules.ts'
import { IdParam, RuleBody, type RuleInput } from '../input.ts'
import { simulate } from './simulate.ts'
import type { HealingCtx } from '../types.ts'
import { dur, Json, Section, Tabs } from '../views.tsx'

const Value = v.union(
  [
    v.pipe(v.string(), v.maxLength(10_000, 'must be at most 10000 characters')),
    v.pipe(v.array(v.pipe(v.string(), v.maxLength(200))), v.maxLength(50, 'at most 50 values')),
  ],
  'must be text',
)
const FormBody = v.record(v.string(), Value)
type Form = v.InferOutput<typeof FormBody>
const DAY = 86_400_000
const ranges = { '1h': 3_600_000, '6h': 21_600_000, '24h': DAY, '7d': 7 * DAY, '30d': 30 * DAY } as const
const MAX_SIMULATE_MS = 30 * DAY

const one = (f: Form, k: string) => {
  const x = f[k]
  return (Array.isArray(x) ? x.at(-1) : x)?.trim() ?? ''
}
const many = (f: Form, k: string) => {
  const x = f[k]
  return (Array.isArray(x) ? x : x === undefined ? [] : [x]).map((s) => s.trim()).filter(Boolean)
}
const opt = (s: string) => (s === '' ? undefined : s)
/** Numbers as numbers; anything else stays text so the schema names the field. */
const num = (s: string) => (s === '' ? undefined : /^-?\d+(\.\d+)?(e-?\d+)?$/i.test(s) ? Number(s) : s)
const drop = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined))

/**
 * The rule form into the API's rule body, checked by the same schema: every problem names the
 * field as the API would (`trigger.keyPattern`, `verification.url`, `params`), and the form's
 * inputs carry those names.
 */
export function parseHealingRuleForm(f: Form, opts: { draft?: boolean } = {}): RuleInput {
  const errors: ErrorDetail[] = []
  const type = one(f, 'trigger.type')
  const matchers = parseMatchers(one(f, 'trigger.matchers'), 'trigger.matchers', errors)
  const trigger =
    type === 'alert'
      ? drop({ type, ruleId: opt(one(f, 'trigger.ruleId')), matchers: matchers.length ? matchers : undefined })
      : type === 'detection'
        ? drop({
            type,
            metric: one(f, 'trigger.metric'),
            matchers: matchers.length ? matchers : undefined,
            agg: one(f, 'trigger.agg'),
            windowMs: opt(one(f, 'trigger.windowMs')),
            comparator: one(f, 'trigger.comparator'),
            value: num(one(f, 'trigger.value')),
            targetLabel: opt(one(f, 'trigger.targetLabel')),
            targetPattern: opt(one(f, 'trigger.targetPattern')),
          })
        : type === 'breaker'
          ? { type, keyPattern: one(f, 'trigger.keyPattern') }
          : { type }
  let params: unknown
  const rawParams = one(f, 'params')
  if (rawParams) {
    try {
      params = JSON.parse(rawParams)
    } catch {
      params = undefined
    }
    if (!params || typeof params !== 'object' || Array.isArray(params))
      errors.push({ field: 'params', message: 'must be a JSON object, e.g. {"url": "https://api.internal/restart"}' })
  }
  const vType = one(f, 'verification.type') || 'none'
  const after = { afterMs: one(f, 'verification.afterMs') || '0', timeoutMs: opt(one(f, 'verification.timeoutMs')) }
  const vMatchers =
    vType === 'metric' ? parseMatchers(one(f, 'verification.matchers'), 'verification.matchers', errors) : []
  const verification =
    vType === 'metric'
      ? drop({
          type: vType,
          metric: one(f, 'verification.metric'),
          matchers: vMatchers.length ? vMatchers : undefined,
          agg: one(f, 'verification.agg'),
          windowMs: opt(one(f, 'verification.windowMs')),
          comparator: one(f, 'verification.comparator'),
          value: num(one(f, 'verification.value')),
          ...after,
        })
      : vType === 'breaker_closed'
        ? drop({ type: vType, key: one(f, 'verification.key'), ...after })
        : vType === 'alert_resolved'
          ? drop({ type: vType, ...after })
          : vType === 'http'
            ? drop({
                type: vType,
                url: one(f, 'verification.url'),
                expectStatus: num(one(f, 'verification.expectStatus')),
                ...after,
              })
            : { type: vType }
  const raw = drop({
    name: one(f, 'name') || (opts.draft ? '(draft)' : ''),
    description: one(f, 'description'),
    enabled: opts.draft ? true : one(f, 'enabled') === 'on' || one(f, 'enabled') === 'true',
    trigger,
    actionType: one(f, 'actionType'),
    target: one(f, 'target'),
    params: errors.some((e) => e.field === 'params') ? undefined : params,
    mode: opt(one(f, 'mode')),
    cooldownMs: opt(one(f, 'cooldownMs')),
    maxPerHour: num(one(f, 'maxPerHour')),
    priority: num(one(f, 'priority')),
    maxAttempts: num(one(f, 'maxAttempts')),
    approvalTtlMs: opt(one(f, 'approvalTtlMs')),
    verification,
    rollbackOnFailure: one(f, 'rollbackOnFailure') === 'on' || one(f, 'rollbackOnFailure') === 'true',
    notify: { channelIds: many(f, 'notify.channelIds'), on: many(f, 'notify.on') },
  })
  const result = v.safeParse(RuleBody, raw)
  if (!result.success) errors.push(...issuesToDetails(result.issues))
  if (errors.length || !result.success) throw badRequest('Invalid rule', errors)
  return result.output
}

type Values = Record<string, string>
function valuesOf(r?: HealingRule): Values {
  if (!r)
    return {
      'trigger.type': 'breaker',
      'trigger.keyPattern': '^model:',
      actionType: 'model_failover',
      mode: 'automated',
      cooldownMs: '5m',
      maxPerHour: '6',
      priority: '0',
      maxAttempts: '3',
      approvalTtlMs: '1h',
      'verification.type': 'none',
      'verification.afterMs': '10s',
      rollbackOnFailure: 'on',
      enabled: 'on',
      'trigger.agg': 'avg',
      'trigger.windowMs': '5m',
      'trigger.comparator': '>',
    }
  const t = r.trigger as Record<string, unknown>
  const ver = r.verification as Record<string, unknown>
  const s = (x: unknown) => (x === undefined || x === null ? '' : String(x))
  const m = (x: unknown) => (Array.isArray(x) ? matcherLines(x) : '')
  return {
    name: r.name,
    description: r.description,
    enabled: r.enabled ? 'on' : '',
    actionType: r.actionType,
    target: r.target,
    params: Object.keys(r.params).length ? JSON.stringify(maskHeaders(r.params)) : '',
    mode: r.mode,
    cooldownMs: dur(r.cooldownMs) || '0',
    maxPerHour: String(r.maxPerHour),
    priority: String(r.priority),
    maxAttempts: String(r.maxAttempts),
    approvalTtlMs: dur(r.approvalTtlMs),
    rollbackOnFailure: r.rollbackOnFailure ? 'on' : '',
    'trigger.type': r.trigger.type,
    'trigger.ruleId': s(t.ruleId),
    'trigger.matchers': m(t.matchers),
    'trigger.metric': s(t.metric),
    'trigger.agg': s(t.agg) || 'avg',
    'trigger.windowMs': dur(t.windowMs as number) || '5m',
    'trigger.comparator': s(t.comparator) || '>',
    'trigger.value': s(t.value),
    'trigger.targetLabel': s(t.targetLabel),
    'trigger.targetPattern': s(t.targetPattern),
    'trigger.keyPattern': s(t.keyPattern),
    'verification.type': r.verification.type,
    'verification.metric': s(ver.metric),
    'verification.matchers': m(ver.matchers),
    'verification.agg': s(ver.agg) || 'avg',
    'verification.windowMs': dur(ver.windowMs as number) || '1m',
    'verification.comparator': s(ver.comparator) || '<',
    'verification.value': s(ver.value),
    'verification.key': s(ver.key),
    'verification.url': s(ver.url),
    'verification.expectStatus': s(ver.expectStatus),
    'verification.afterMs': dur(ver.afterMs as number) || '0',
    'verification.timeoutMs': dur(ver.timeoutMs as number),
    'notify.channelIds': r.notify.channelIds.join(','),
    'notify.on': r.notify.on.join(','),
  }
}

const Field = ({
  name,
  label,
  f,
  hint,
  required,
  placeholder,
}: {
  name: string
  label: string
  f: Values
  hint?: string
  required?: boolean
  placeholder?: string
}) => (
  <label>
    {label}
    {hint ? <span class="muted"> ({hint})</span> : null}{' '}
    <input name={name} value={f[name] ?? ''} required={required} placeholder={placeholder} />
  </label>
)
const Select = ({
  name,
  label,
  list,
  f,
}: {
  name: string
  label: string
  list: readonly (string | [string, string])[]
  f: Values
}) => (
  <label>
    {label}{' '}
    <select name={name}>
      {list.map((x) => {
        const [val, text] = Array.isArray(x) ? x : [x, x]
        return (
          <option value={val} selected={val === f[name]}>
            {text}
          </option>
        )
      })}
    </select>
  </label>
)
const Check = ({ name, label, f }: { name: string; label: string; f: Values }) => (
  <label class="check">
    <input type="checkbox" name={name} checked={f[name] === 'on'} /> {label}
  </label>
)

type Choices = { alertRules: { id: string; name: string }[]; channels: { id: string; name: string; type: string }[] }

function RuleForm({
  f,
  action,
  submit,
  choices,
  write,
}: {
  f: Values
  action: string
  submit: string
  choices: Choices
  write: boolean
}) {
  const types = [...actionTypes.values()]
  return (
    <form class="comp-form" id="rule-form" hx-post={action} hx-swap="none">
      <div class="row">
        <Field name="name" label="Name" f={f} required />
        <Field name="description" label="Description" f={f} />
        <Check name="enabled" label="Enabled" f={f} />
      </div>
      <fieldset>
        <legend>Trigger</legend>
        <Select
          name="trigger.type"
          label="When"
          f={f}
          list={[
            ['breaker', 'a circuit breaker opens'],
            ['alert', 'an alert fires'],
            ['detection', 'a metric condition holds (own detection)'],
          ]}
        />
        <div class="row">
          <Field
            name="trigger.keyPattern"
            label="Breaker key pattern"
            f={f}
            hint="breaker: regular expression, e.g. ^model:"
          />
          <label>
            Alert rule <span class="muted">(alert)</span>{' '}
            <select name="trigger.ruleId">
              <option value="">any alert matching the matchers</option>
              {choices.alertRules.map((r) => (
                <option value={r.id} selected={r.id === f['trigger.ruleId']}>
                  {r.name}
                </option>
              ))}
            </select>
          </label>
        </div>
        <label>
          Label matchers{' '}
          <span class="muted">
            (alert or detection; one per line: <code>env="prod"</code>, <code>!=</code>, <code>=~</code>,{' '}
            <code>!~</code>)
          </span>
          <textarea name="trigger.matchers" rows={2}>
            {f['trigger.matchers']}
          </textarea>
        </label>
        <div class="row">
          <Field name="trigger.metric" label="Metric" f={f} hint="detection" />
          <Select name="trigger.agg" label="Aggregation" list={aggregations} f={f} />
          <Field name="trigger.windowMs" label="Window" f={f} hint="30s, 5m" />
          <Select name="trigger.comparator" label="Comparator" list={comparators} f={f} />
          <Field name="trigger.value" label="Value" f={f} />
        </div>
        <div class="row">
          <Field
            name="trigger.targetLabel"
            label="Target label"
            f={f}
            hint="detection: label whose value is {{target}}"
          />
          <Field name="trigger.targetPattern" label="Target pattern" f={f} hint="regex the label value must match" />
        </div>
      </fieldset>
      <fieldset>
        <legend>Remediation</legend>
        <div class="row">
          <label>
            Action type{' '}
            <select name="actionType">
              {types.map((d) => (
                <option value={d.type} selected={d.type === f.actionType} title={d.describe}>
                  {d.type}
                </option>
              ))}
            </select>
          </label>
          <Field
            name="target"
            label="Target"
            f={f}
            required
            hint="route name, component, workflow, command; {{label}} placeholders"
          />
          <Select
            name="mode"
            label="Mode"
            list={healingModes.map(
              (m) => [m, m === 'automated' ? 'automated' : 'requires approval'] as [string, string],
            )}
            f={f}
          />
        </div>
        <ul class="muted small">
          {types.map((d) => (
            <li>
              <code>{d.type}</code>: {d.describe}. Target: {d.targetIs}.
            </li>
          ))}
        </ul>
        <label>
          Parameters{' '}
          <span class="muted">
            (JSON object for the action type, e.g. webhook{' '}
            <code>{'{"url": "https://svc/restart", "expectStatus": 204}'}</code>)
          </span>
          <textarea name="params" rows={2}>
            {f.params}
          </textarea>
        </label>
        <div class="row">
          <Field name="cooldownMs" label="Cooldown" f={f} hint="per target, e.g. 5m" />
          <Field name="maxPerHour" label="Max per hour" f={f} hint="per target" />
          <Field name="priority" label="Priority" f={f} hint="-1000…1000, higher first" />
          <Field name="maxAttempts" label="Max attempts" f={f} />
          <Field name="approvalTtlMs" label="Approval expires after" f={f} hint="1h" />
        </div>
      </fieldset>
      <fieldset>
        <legend>Verification and rollback</legend>
        <div class="row">
          <Select
            name="verification.type"
            label="Must hold after"
            f={f}
            list={[
              ['none', 'nothing (success when it ran)'],
              ['breaker_closed', 'a breaker is closed'],
              ['alert_resolved', 'the triggering alert is resolved'],
              ['http', 'an HTTP check answers'],
              ['metric', 'a metric condition holds'],
            ]}
          />
          <Field name="verification.afterMs" label="Check after" f={f} hint="e.g. 30s" />
          <Field name="verification.timeoutMs" label="Give up after" f={f} hint="default 30s" />
          <Check name="rollbackOnFailure" label="Roll back when verification fails" f={f} />
        </div>
        <div class="row">
          <Field name="verification.key" label="Breaker key" f={f} hint="breaker_closed; {{key}} works" />
          <Field name="verification.url" label="URL" f={f} hint="http" />
          <Field name="verification.expectStatus" label="Expected status" f={f} hint="http, default 200" />
        </div>
        <div class="row">
          <Field name="verification.metric" label="Metric" f={f} hint="metric" />
          <Select name="verification.agg" label="Aggregation" list={aggregations} f={f} />
          <Field name="verification.windowMs" label="Window" f={f} />
          <Select name="verification.comparator" label="Comparator" list={comparators} f={f} />
          <Field name="verification.value" label="Value" f={f} />
        </div>
        <label>
          Metric matchers <span class="muted">(metric verification)</span>
          <textarea name="verification.matchers" rows={1}>
            {f['verification.matchers']}
          </textarea>
        </label>
      </fieldset>
      <fieldset>
        <legend>Notify</legend>
        {choices.channels.length ? (
          <p>
            {choices.channels.map((ch) => (
              <label class="check">
                <input
                  type="checkbox"
                  name="notify.channelIds"
                  value={ch.id}
                  checked={(f['notify.channelIds'] ?? '').split(',').includes(ch.id)}
                />{' '}
                {ch.name} <span class="muted">({ch.type})</span>
              </label>
            ))}
          </p>
        ) : (
          <p class="muted">
            No alert channels yet: add them under <a href="/alerts/channels">Alerts → Channels</a>.
          </p>
        )}
        <p>
          On:{' '}
          {(['start', 'success', 'failure', 'approval'] as const).map((e) => (
            <label class="check">
              <input
                type="checkbox"
                name="notify.on"
                value={e}
                checked={(f['notify.on'] ?? '').split(',').includes(e)}
              />{' '}
              {e}
            </label>
          ))}
        </p>
      </fieldset>
      {write ? (
        <div class="alert-actions">
          <button type="submit">{submit}</button>
        </div>
      ) : null}
      <fieldset id="simulate">
        <legend>Simulate</legend>
        <p class="muted">
          What this form's rule would have done over a past range: the triggers it would have seen and each action, with
          cooldown and caps applied. Nothing is written.
        </p>
        <div class="row">
          <label>
            Over the last{' '}
            <select name="range">
              {Object.keys(ranges).map((r) => (
                <option value={r} selected={r === '24h'}>
                  {r}
                </option>
              ))}
            </select>
          </label>
          <label>
            or from (UTC) <input type="datetime-local" name="from" />
          </label>
          <label>
            to (UTC) <input type="datetime-local" name="to" />
          </label>
          <button
            type="button"
            class="secondary"
            hx-post="/healing/simulate"
            hx-include="#rule-form"
            hx-target="#simulation"
            hx-swap="innerHTML"
          >
            Simulate
          </button>
        </div>
        <div id="simulation" aria-live="polite"></div>
      </fieldset>
    </form>
  )
}

type Simulation = Awaited<ReturnType<typeof simulate>>
const SimulationView = ({ s }: { s: Simulation }) => (
  <div class="test-results" data-triggers={String(s.summary.triggers)}>
    <p>
      From {s.from} to {s.to}: <strong data-sim-triggers>{s.summary.triggers}</strong> triggers → {s.summary.wouldRun}{' '}
      would run, {s.summary.wouldAwaitApproval} would wait for approval, {s.summary.skippedCooldown} skipped by
      cooldown, {s.summary.skippedCap} by the hourly cap, {s.summary.wouldFail} would fail.
    </p>
    {s.results.length ? (
      <div class="table-wrap">
        <table class="table" id="simulation-results">
          <thead>
            <tr>
              <th>At</th>
              <th>Trigger</th>
              <th>Outcome</th>
              <th>Action</th>
            </tr>
          </thead>
          <tbody>
            {(
              s.results as {
                at: string
                trigger: { summary: string }
                outcome: string
                action: { type: string; target: string; params: unknown }
              }[]
            ).map((r) => (
              <tr data-outcome={r.outcome}>
                <td class="nowrap">{when(Date.parse(r.at))}</td>
                <td class="small">{r.trigger.summary}</td>
                <td>{r.outcome}</td>
                <td>
                  <code>{r.action.type}</code> on <code>{r.action.target}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    ) : (
      <p class="muted">Nothing would have triggered in this range.</p>
    )}
    {s.truncated ? <p class="muted">Only the first {s.results.length} are listed.</p> : null}
  </div>
)

const triggerText = (r: HealingRule) => {
  const t = r.trigger
  if (t.type === 'breaker') return `breaker key ~ /${t.keyPattern}/ opens`
  if (t.type === 'alert')
    return `alert fires${t.ruleId ? ` (rule ${t.ruleId})` : ''}${t.matchers?.length ? ` matching ${matcherLines(t.matchers).replaceAll('\n', ', ')}` : ''}`
  return `${t.agg}(${t.metric}) over ${dur(t.windowMs)} ${t.comparator} ${t.value}${t.targetLabel ? ` per ${t.targetLabel}` : ''}`
}

/** Healing rules: list with enable/disable and delete, create and edit forms, and simulate. */
export function rulePages(deps: ModuleDeps, hd: HealingCtx) {
  const { db } = deps
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  const choices = async (): Promise<Choices> => ({
    alertRules: (await listAlertRules(db, { limit: 500 })).items.map((r) => ({ id: r.id, name: r.name })),
    channels: await db
      .select({ id: channels.id, name: channels.name, type: channels.type })
      .from(channels)
      .orderBy(asc(channels.name))
      .limit(200),
  })

  app.route('/', presetPages(deps, hd))

  app.get('/healing/rules', access('viewer'), async (c) => {
    const write = canWrite(c)
    const { items } = await listRules(db, { limit: 500 })
    return c.html(
      <Layout title="Healing rules" active="/healing" principal={requirePrincipal(c)}>
        <Tabs active="/healing/rules" admin={isAdmin(c)} />
        <div class="page-head">
          <h1>Healing rules</h1>
        </div>
        {items.length === 0 ? (
          <Empty>No healing rules yet.{write ? ' Create one below.' : ''}</Empty>
        ) : (
          <div class="table-wrap">
            <table class="table" id="rules">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Trigger</th>
                  <th>Action</th>
                  <th>Mode</th>
                  <th class="wide">Limits</th>
                  <th>Enabled</th>
                  {write ? <th></th> : null}
                </tr>
              </thead>
              <tbody>
                {items.map((r) => (
                  <tr id={`rule-${r.id}`} data-rule={r.name} data-enabled={String(r.enabled)}>
                    <td>
                      <a href={`/healing/rules/${r.id}`}>{r.name}</a>
                      {r.description ? (
                        <>
                          <br />
                          <span class="muted small">{r.description}</span>
                        </>
                      ) : null}
                    </td>
                    <td class="small">{triggerText(r)}</td>
                    <td>
                      <code>{r.actionType}</code> on <code>{r.target}</code>
                    </td>
                    <td>
                      {r.mode === 'requires_approval' ? <span class="pill st-pending">approval</span> : 'automated'}
                    </td>
                    <td class="wide small">
                      cooldown {dur(r.cooldownMs) || '0'} · ≤ {r.maxPerHour}/h · priority {r.priority}
                      {r.verification.type !== 'none' ? ` · verify ${r.verification.type}` : ''}
                    </td>
                    <td>{r.enabled ? 'yes' : <span class="muted">no</span>}</td>
                    {write ? (
                      <td class="nowrap">
                        <button
                          class="small secondary"
                          hx-post={`/healing/rules/${r.id}/${r.enabled ? 'disable' : 'enable'}`}
                          hx-swap="none"
                        >
                          {r.enabled ? 'Disable' : 'Enable'}
                        </button>{' '}
                        <button
                          class="small danger"
                          hx-post={`/healing/rules/${r.id}/delete`}
                          hx-confirm={`Delete the healing rule ${r.name}? Its actions are kept.`}
                          hx-swap="none"
                        >
                          Delete
                        </button>
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {write ? (
          <Section title="From a template" id="templates">
            <RuleTemplates instances={(await listN8nInstances(db)).map((i) => i.name)} />
          </Section>
        ) : null}
        <Section title={write ? 'New rule' : 'Simulate a rule'} id="new-rule">
          <RuleForm
            f={valuesOf()}
            action="/healing/rules"
            submit="Create rule"
            choices={await choices()}
            write={write}
          />
        </Section>
      </Layout>,
    )
  })

  app.post('/healing/rules', access('operator'), validate('form', FormBody), async (c) => {
    const row = await createRule(hd, parseHealingRuleForm(c.req.valid('form')), now())
    await audit(db, c, {
      action: 'healing_rule.created',
      target: row.name,
      summary: `${row.trigger.type} → ${row.actionType} on ${row.target}`,
    })
    return hxRedirect(c, `/healing/rules/${row.id}`)
  })

  app.get('/healing/rules/:id', access('viewer'), validate('param', IdParam), async (c) => {
    const r = await getRule(db, c.req.valid('param').id)
    return c.html(
      <Layout title={`Rule ${r.name}`} active="/healing" principal={requirePrincipal(c)}>
        <Tabs active="/healing/rules" admin={isAdmin(c)} />
        <p>
          <a href="/healing/rules">← Healing rules</a> · <a href={`/healing/actions?rule=${r.id}`}>its actions</a>
        </p>
        <div class="page-head">
          <h1>
            Rule {r.name} {r.enabled ? null : <span class="pill">disabled</span>}
          </h1>
        </div>
        <p class="muted">
          Created {when(r.createdAt)}, changed {when(r.updatedAt)}.
        </p>
        <RuleForm
          f={valuesOf(r)}
          action={`/healing/rules/${r.id}`}
          submit="Save rule"
          choices={await choices()}
          write={canWrite(c)}
        />
        <details>
          <summary>As JSON</summary>
          <Json
            value={{
              trigger: r.trigger,
              params: maskHeaders(r.params),
              verification: r.verification,
              notify: r.notify,
            }}
          />
        </details>
      </Layout>,
    )
  })

  app.post(
    '/healing/rules/:id',
    access('operator'),
    validate('param', IdParam),
    validate('form', FormBody),
    async (c) => {
      const before = await getRule(db, c.req.valid('param').id)
      const row = await updateRule(hd, before, parseHealingRuleForm(c.req.valid('form')), now())
      await audit(db, c, { action: 'healing_rule.updated', target: row.name, summary: 'changed from the dashboard' })
      return hxRedirect(c, `/healing/rules/${row.id}`)
    },
  )

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    app.post(`/healing/rules/:id/${verb}`, access('operator'), validate('param', IdParam), async (c) => {
      await getRule(db, c.req.valid('param').id)
      const row = await setRuleEnabled(db, c.req.valid('param').id, enabled, now())
      await audit(db, c, { action: `healing_rule.${verb}d`, target: row.name })
      // No #fragment: from /healing/rules a fragment-only change would not reload the list.
      return hxRedirect(c, '/healing/rules')
    })
  }

  app.post('/healing/rules/:id/delete', access('operator'), validate('param', IdParam), async (c) => {
    const rule = await getRule(db, c.req.valid('param').id)
    await deleteRule(db, rule.id)
    await audit(db, c, { action: 'healing_rule.deleted', target: rule.name })
    return hxRedirect(c, '/healing/rules')
  })

  // A fragment: the form's (unsaved) rule over a past range. Reads only.
  app.post('/healing/simulate', access('operator'), validate('form', FormBody), async (c) => {
    const f = c.req.valid('form')
    const at = now()
    const range = one(f, 'range') || '24h'
    const errors: ErrorDetail[] = []
    const time = (field: string) => {
      const raw = one(f, field)
      if (!raw) return undefined
      const r = v.safeParse(TimeInput, raw)
      if (!r.success || !Number.isFinite(r.output)) errors.push({ field, message: 'must be a date and time (UTC)' })
      return r.success ? r.output : undefined
    }
    if (!(range in ranges)) errors.push({ field: 'range', message: `must be one of ${Object.keys(ranges).join(', ')}` })
    const to = time('to') ?? at
    const from = time('from') ?? to - (ranges[range as keyof typeof ranges] ?? DAY)
    if (!errors.length && to <= from) errors.push({ field: 'to', message: 'must be after from' })
    if (!errors.length && to - from > MAX_SIMULATE_MS)
      errors.push({ field: 'from', message: 'the range is at most 30 days' })
    if (errors.length) throw badRequest('Invalid range', errors)
    const rule = draftRule(parseHealingRuleForm(f, { draft: true }), at, 'draft')
    await checkRule(hd, rule)
    return c.html(<SimulationView s={await simulate(hd, rule, from, to)} />)
  })

  return app
}
