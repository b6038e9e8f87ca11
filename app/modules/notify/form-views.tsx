/** @jsxImportSource hono/jsx */
/** The channel and policy forms, prefilled for an edit (secrets never shown back). */

import { channelTypes, type Channel, type Policy } from '../../../db/schema/notify.ts'
import { matcherLines } from '../../lib/matchers.ts'
import { secretFields } from './schema.ts'
import { dur } from '../../lib/format.ts'
import { MAX_STEPS, typeFields } from './forms.ts'

export type ChannelType = (typeof channelTypes)[number]
export const settingText = (name: string, x: unknown) =>
  x === undefined || x === null ? '' : name === 'to' && Array.isArray(x) ? x.join(', ') : String(x)

/** The create form of a type, or the edit form of a channel: non-secret fields prefilled, secret ones blank with their masked value. */
export function ChannelForm({
  type,
  edit,
}: {
  type: ChannelType
  edit?: {
    id: string
    name: string
    enabled: boolean
    settings: Record<string, unknown>
    masked: Record<string, unknown>
  }
}) {
  const secret = secretFields[type]
  return (
    <form
      class="comp-form"
      hx-post={edit ? `/alerts/channels/${edit.id}/edit` : '/alerts/channels'}
      hx-target={edit ? undefined : '#channel-created'}
      hx-swap={edit ? 'none' : 'innerHTML'}
    >
      <input type="hidden" name="type" value={type} />
      <label>
        Name <input name="name" required value={edit?.name ?? ''} />
      </label>
      {typeFields[type].map((f) => {
        const isSecret = secret.includes(f.name)
        const val = edit && !isSecret ? settingText(f.name, edit.settings[f.name]) : ''
        const shown = edit?.masked[f.name]
        const placeholder =
          edit && isSecret && shown !== undefined
            ? `${typeof shown === 'object' ? JSON.stringify(shown) : String(shown)} (blank keeps it)`
            : undefined
        return f.name === 'headers' ? (
          <label>
            {f.label}
            <textarea name={f.name} rows={2} placeholder={placeholder}></textarea>
          </label>
        ) : (
          <label>
            {f.label} <input name={f.name} type={f.type ?? 'text'} value={val} placeholder={placeholder} />
          </label>
        )
      })}
      {edit ? (
        <label class="check">
          <input type="checkbox" name="enabled" checked={edit.enabled} /> Enabled
        </label>
      ) : null}
      <button type="submit">{edit ? 'Save channel' : `Create ${type} channel`}</button>
      {edit ? (
        <>
          {' '}
          <a class="button secondary" href="/alerts/channels">
            Cancel
          </a>
        </>
      ) : null}
    </form>
  )
}

/** The policy form (create, or edit of `p`): escalation steps are rows; blank rows are ignored, ticked "remove" drops a step. */
export function PolicyForm({ chans, p }: { chans: Channel[]; p?: Policy }) {
  const steps = p?.escalations ?? []
  const rows = Math.min(MAX_STEPS + 2, steps.length + 2)
  return (
    <form
      class="comp-form"
      id={p ? 'policy-form' : undefined}
      hx-post={p ? `/alerts/policies/${p.id}/edit` : '/alerts/policies'}
      hx-swap="none"
    >
      <label>
        Name <input name="name" required value={p?.name ?? ''} />
      </label>
      <label>
        Matchers{' '}
        <span class="muted">
          (one per line, e.g. <code>severity="critical"</code>; empty: every alert)
        </span>
        <textarea name="matchers" rows={2}>
          {p ? matcherLines(p.matchers) : ''}
        </textarea>
      </label>
      <fieldset>
        <legend>
          Channels <span class="muted">(none ticked: all enabled channels)</span>
        </legend>
        {chans.length ? (
          chans.map((ch) => (
            <label class="check">
              <input type="checkbox" name={`ch_${ch.id}`} checked={!!p?.channelIds.includes(ch.id)} /> {ch.name}
            </label>
          ))
        ) : (
          <span class="muted">Create a channel first.</span>
        )}
      </fieldset>
      <div class="row">
        <label>
          Group by <input name="groupBy" placeholder="alertname, component" value={p?.groupBy.join(', ') ?? ''} />
        </label>
        <label>
          Group wait <input name="groupWait" value={p ? dur(p.groupWaitMs) || '0' : '30s'} />
        </label>
        <label>
          Group interval <input name="groupInterval" value={p ? dur(p.groupIntervalMs) || '0' : '5m'} />
        </label>
        <label>
          Repeat interval <input name="repeatInterval" value={p ? dur(p.repeatIntervalMs) : '4h'} />
        </label>
      </div>
      <label class="check">
        <input type="checkbox" name="continue" checked={!!p?.continue} /> Continue to later policies
      </label>
      <label class="check">
        <input type="checkbox" name="sendResolved" checked={p ? p.sendResolved : true} /> Send resolved notifications
      </label>
      {p ? (
        <>
          <input type="hidden" name="hasEnabled" value="1" />
          <label class="check">
            <input type="checkbox" name="enabled" checked={p.enabled} /> Enabled
          </label>
        </>
      ) : null}
      <fieldset class="escalations">
        <legend>
          Escalate unacknowledged critical alerts{' '}
          <span class="muted">(one step per row; rows with no channel ticked are ignored)</span>
        </legend>
        {Array.from({ length: rows }, (_, i) => {
          const step = steps[i]
          return (
            <div class="row esc-step" data-step={String(i)}>
              <label>
                Step {i + 1}: after{' '}
                <input name={`esc_after_${i}`} value={step ? dur(step.afterMs) || '0' : ''} placeholder="15m" />
              </label>
              {chans.map((ch) => (
                <label class="check">
                  <input type="checkbox" name={`esc_${i}_${ch.id}`} checked={!!step?.channelIds.includes(ch.id)} />{' '}
                  {ch.name}
                </label>
              ))}
              {step ? (
                <label class="check">
                  <input type="checkbox" name={`esc_remove_${i}`} /> remove
                </label>
              ) : null}
            </div>
          )
        })}
      </fieldset>
      <button type="submit">{p ? 'Save policy' : 'Create policy'}</button>
      {p ? (
        <>
          {' '}
          <a class="button secondary" href="/alerts/policies">
            Cancel
          </a>
        </>
      ) : null}
    </form>
  )
}

/** Channels, policies and webhook subscriptions (under /alerts/…), and a notification's retry. */
