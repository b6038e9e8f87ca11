/** @jsxImportSource hono/jsx */
/** The healing rule form: its fields, prefilled from `valuesOf`, and the Simulate button. */
import { comparators } from '../../../../db/schema/alerts.ts'
import { healingModes } from '../../../../db/schema/healing.ts'
import { aggregations } from '../../metrics/index.ts'
import { actionTypes } from '../actions/index.ts'
import { ranges, type Values } from './form.ts'

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

export type Choices = {
  alertRules: { id: string; name: string }[]
  channels: { id: string; name: string; type: string }[]
}

export function RuleForm({
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
