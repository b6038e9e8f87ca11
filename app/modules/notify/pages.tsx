/** @jsxImportSource hono/jsx */
import { Hono } from 'hono'
import * as v from 'valibot'
import { eq } from 'drizzle-orm'
import { webhookEvents, channelTypes, notifications, type Channel, type Policy } from '../../../db/schema/notify.ts'
import { severities } from '../../../db/schema/alerts.ts'
import { actor, type AppEnv, type ModuleDeps } from '../../context.ts'
import { badRequest, conflict, notFound, type ErrorDetail } from '../../lib/errors.ts'
import { hxRedirect } from '../../lib/htmx.ts'
import { Empty, Layout } from '../../lib/layout.tsx'
import { matcherLines, parseMatchers } from '../../lib/matchers.ts'
import { clockOf } from '../../lib/time.ts'
import { issuesToDetails, validate } from '../../lib/validate.ts'
import { access, canWrite } from '../../middleware/access.ts'
import { requirePrincipal } from '../../middleware/auth.ts'
import { audit } from '../audit/index.ts'
import {
  channelJson,
  createChannel,
  deleteChannel,
  getChannel,
  listChannels,
  openChannel,
  updateChannel,
} from './channels.ts'
import { createPolicy, deletePolicy, getPolicy, listPolicies, updatePolicy } from './policies.ts'
import {
  ChannelBody,
  ChannelPatch,
  IdParam,
  PolicyBody,
  secretFields,
  SubscriptionBody,
  NumericIdParam,
} from './schema.ts'
import {
  createSubscription,
  deleteSubscription,
  getSubscription,
  listSubscriptions,
  subscriptionJson,
} from './subscriptions.ts'
import type { OutboundPolicy } from '../../lib/outbound.ts'
import { alertSnapshot, SendError, sendToChannel, testAlert } from './senders.ts'
import { retryNotification } from './delivery.ts'
import type { Notifier } from './notifier.ts'
import { dur, Tabs } from '../alerts/index.ts'

const EditQuery = v.object({ edit: v.optional(v.pipe(v.string(), v.maxLength(100))) })
const FormBody = v.record(v.string(), v.pipe(v.string(), v.maxLength(10_000, 'must be at most 10000 characters')))
const t = (s: string | undefined) => (s ?? '').trim() || undefined
const list = (s: string | undefined) =>
  (s ?? '')
    .split(/[\n,]/)
    .map((x) => x.trim())
    .filter(Boolean)
const numOr = (s: string | undefined) => {
  const x = t(s)
  return x === undefined ? undefined : /^\d+$/.test(x) ? Number(x) : x
}
const drop = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined))

/** The per-type fields of the channel form. */
const typeFields: Record<(typeof channelTypes)[number], { name: string; label: string; type?: string }[]> = {
  slack: [{ name: 'webhookUrl', label: 'Incoming webhook URL' }],
  webhook: [
    { name: 'url', label: 'URL' },
    { name: 'headers', label: 'Custom headers (Name: value per line)' },
  ],
  n8n: [{ name: 'url', label: 'Workflow webhook URL' }],
  pagerduty: [
    { name: 'routingKey', label: 'Routing key' },
    { name: 'baseUrl', label: 'Events API base URL (optional)' },
  ],
  email: [
    { name: 'host', label: 'SMTP host' },
    { name: 'port', label: 'Port' },
    { name: 'secure', label: 'TLS (true/false)' },
    { name: 'user', label: 'User' },
    { name: 'password', label: 'Password', type: 'password' },
    { name: 'from', label: 'From' },
    { name: 'to', label: 'To (comma separated)' },
  ],
}

/**
 * The per-type fields into settings. On an edit a secret field left blank is left out (the
 * service keeps its value); other fields left blank are cleared (or named, when required).
 */
function settingsOf(type: string, form: Record<string, string>, edit: boolean) {
  const s: Record<string, unknown> = {}
  const secret = secretFields[type as keyof typeof secretFields] ?? []
  for (const f of typeFields[type as keyof typeof typeFields] ?? []) {
    const raw = t(form[f.name])
    if (raw === undefined) {
      if (edit && !secret.includes(f.name)) s[f.name] = undefined
      continue
    }
    if (f.name === 'headers')
      s.headers = Object.fromEntries(
        list(raw.replaceAll(',', '\n')).map((l) => [
          l.slice(0, l.indexOf(':')).trim(),
          l.slice(l.indexOf(':') + 1).trim(),
        ]),
      )
    else if (f.name === 'port') s.port = numOr(raw)
    else if (f.name === 'secure') s.secure = raw === 'true' ? true : raw === 'false' ? false : raw
    else if (f.name === 'to') s.to = list(raw)
    else s[f.name] = raw
  }
  return s
}

function channelInput(form: Record<string, string>) {
  const type = form.type ?? ''
  const r = v.safeParse(ChannelBody, { name: form.name ?? '', type, settings: settingsOf(type, form, false) })
  if (!r.success) throw badRequest('Invalid channel', issuesToDetails(r.issues))
  return r.output
}

function channelPatch(type: Channel['type'], form: Record<string, string>) {
  const r = v.safeParse(ChannelPatch, {
    name: form.name ?? '',
    enabled: form.enabled === 'on',
    settings: settingsOf(type, form, true),
  })
  if (!r.success) throw badRequest('Invalid channel', issuesToDetails(r.issues))
  return r.output
}

/** Escalation rows `esc_after_<i>` + `esc_<i>_<channel id>` (+ `esc_remove_<i>`); a row with no channel ticked is a blank row. */
const MAX_STEPS = 10
function escalationsOf(form: Record<string, string>, channelIds: string[]) {
  const steps: { after: unknown; channelIds: string[] }[] = []
  for (let i = 0; i < MAX_STEPS + 2; i++) {
    if (form[`esc_remove_${i}`] === 'on') continue
    const ids = channelIds.filter((id) => form[`esc_${i}_${id}`] === 'on')
    if (ids.length) steps.push({ after: numOr(form[`esc_after_${i}`]) ?? '15m', channelIds: ids })
  }
  return steps
}

function policyInput(form: Record<string, string>, channelIds: string[]) {
  const errors: ErrorDetail[] = []
  const matchers = parseMatchers(form.matchers, 'matchers', errors)
  const chosen = channelIds.filter((id) => form[`ch_${id}`] === 'on')
  const escalations = escalationsOf(form, channelIds)
  const raw = drop({
    name: form.name ?? '',
    matchers,
    channelIds: chosen,
    groupBy: list(form.groupBy),
    groupWait: numOr(form.groupWait),
    groupInterval: numOr(form.groupInterval),
    repeatInterval: numOr(form.repeatInterval),
    continue: form.continue === 'on',
    sendResolved: form.sendResolved === 'on',
    escalations,
    enabled: form.hasEnabled ? form.enabled === 'on' : undefined,
  })
  const r = v.safeParse(PolicyBody, raw)
  if (!r.success) errors.push(...issuesToDetails(r.issues))
  if (errors.length || !r.success) throw badRequest('Invalid policy', errors)
  return r.output
}

type ChannelType = (typeof channelTypes)[number]
const settingText = (name: string, x: unknown) =>
  x === undefined || x === null ? '' : name === 'to' && Array.isArray(x) ? x.join(', ') : String(x)

/** The create form of a type, or the edit form of a channel: non-secret fields prefilled, secret ones blank with their masked value. */
function ChannelForm({
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
function PolicyForm({ chans, p }: { chans: Channel[]; p?: Policy }) {
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
export function notifyPages(
  deps: ModuleDeps & { notifier: Pick<Notifier, 'invalidateRouting'>; outbound: OutboundPolicy },
) {
  const { db, sealer, config, notifier, outbound } = deps
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()

  app.get('/alerts/channels', access('viewer'), validate('query', EditQuery), async (c) => {
    const write = canWrite(c)
    const items = (await listChannels(db)).map((ch) => channelJson(sealer, ch))
    const editId = c.req.valid('query').edit
    const editing = write && editId ? await getChannel(db, editId) : undefined
    return c.html(
      <Layout title="Channels" active="/alerts" principal={requirePrincipal(c)}>
        <Tabs active="/alerts/channels" />
        <div class="page-head">
          <h1>Channels</h1>
        </div>
        <p class="muted">Where notifications go. Secrets are encrypted at rest and shown masked.</p>
        {items.length === 0 ? (
          <Empty>No channels yet.</Empty>
        ) : (
          <table class="table" id="channels">
            <thead>
              <tr>
                <th>Name</th>
                <th>Type</th>
                <th>Settings</th>
                <th>Enabled</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {items.map((ch) => (
                <tr data-channel={ch.name}>
                  <td>{ch.name}</td>
                  <td>{ch.type}</td>
                  <td class="small">
                    {Object.entries(ch.settings).map(([k, x]) => (
                      <div>
                        <span class="muted">{k}:</span>{' '}
                        <code>{typeof x === 'object' ? JSON.stringify(x) : String(x)}</code>
                      </div>
                    ))}
                  </td>
                  <td>{ch.enabled ? 'yes' : 'no'}</td>
                  <td>
                    {write ? (
                      <>
                        <a class="button small secondary" href={`/alerts/channels?edit=${ch.id}#edit-channel`}>
                          Edit
                        </a>{' '}
                        <button
                          class="small secondary"
                          hx-post={`/alerts/channels/${ch.id}/test`}
                          hx-target={`#test-${ch.id}`}
                          hx-swap="innerHTML"
                        >
                          Send test
                        </button>{' '}
                        <button
                          class="small danger"
                          hx-post={`/alerts/channels/${ch.id}/delete`}
                          hx-confirm={`Delete the channel ${ch.name}? Its queued notifications go with it.`}
                          hx-swap="none"
                        >
                          Delete
                        </button>
                        <div id={`test-${ch.id}`} class="small"></div>
                      </>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {editing ? (
          <section class="card" id="edit-channel">
            <h2>
              Edit {editing.type} channel {editing.name}
            </h2>
            <p class="muted">Secret fields show their masked value; leave them blank to keep it.</p>
            <ChannelForm
              type={editing.type}
              edit={{
                id: editing.id,
                name: editing.name,
                enabled: editing.enabled,
                settings: openChannel(sealer, editing).settings,
                masked: channelJson(sealer, editing).settings,
              }}
            />
          </section>
        ) : write ? (
          <section class="card" id="new-channel">
            <h2>New channel</h2>
            <div id="channel-created" aria-live="polite"></div>
            {channelTypes.map((type) => (
              <details>
                <summary>{type}</summary>
                <ChannelForm type={type} />
              </details>
            ))}
          </section>
        ) : null}
      </Layout>,
    )
  })

  app.post('/alerts/channels', access('operator'), validate('form', FormBody), async (c) => {
    const { row, signingSecret } = await createChannel({ db, sealer }, channelInput(c.req.valid('form')), now())
    notifier.invalidateRouting()
    await audit(db, c, { action: 'channel.created', target: row.name, summary: row.type })
    if (!signingSecret) return hxRedirect(c, '/alerts/channels')
    // Signed channels: the secret is shown this once (the receiver checks X-Homeostat-Signature with it).
    return c.html(
      <div class="notice newkey" data-created={row.name}>
        <p>
          Channel <strong>{row.name}</strong> created. Its signing secret, shown only now:
        </p>
        <code class="secret" id="signing-secret">
          {signingSecret}
        </code>
        <p>
          <a href="/alerts/channels">Show it in the list</a>
        </p>
      </div>,
    )
  })

  app.post('/alerts/channels/:id/test', access('operator'), validate('param', IdParam), async (c) => {
    const ch: Channel = await getChannel(db, c.req.valid('param').id)
    const at = now()
    let ok = false
    let text = ''
    try {
      const r = await sendToChannel({ sealer, outbound }, ch, {
        id: `test-${at}`,
        event: 'test',
        alerts: [alertSnapshot(testAlert(at), config.PUBLIC_URL)],
        publicUrl: config.PUBLIC_URL,
        at,
      })
      ok = true
      text = r.response.startsWith(String(r.code))
        ? r.response.slice(0, 200)
        : `${String(r.code)} ${r.response.slice(0, 200)}`
    } catch (error) {
      text = error instanceof SendError ? error.message : 'send failed'
    }
    await audit(db, c, { action: 'channel.tested', target: ch.name, summary: ok ? 'sent' : text })
    return c.html(
      <span class={ok ? 'ok' : 'error'} data-test-result={ok ? 'ok' : 'failed'}>
        {ok ? 'Sent: ' : 'Failed: '}
        {text}
      </span>,
    )
  })

  app.get('/alerts/policies', access('viewer'), validate('query', EditQuery), async (c) => {
    const write = canWrite(c)
    const [items, chans] = await Promise.all([listPolicies(db), listChannels(db)])
    const editId = c.req.valid('query').edit
    const editing = write && editId ? await getPolicy(db, editId) : undefined
    const name = new Map(chans.map((ch) => [ch.id, ch.name]))
    const names = (ids: string[]) =>
      ids.length ? ids.map((id) => name.get(id) ?? id).join(', ') : 'all enabled channels'
    return c.html(
      <Layout title="Policies" active="/alerts" principal={requirePrincipal(c)}>
        <Tabs active="/alerts/policies" />
        <div class="page-head">
          <h1>Notification policies</h1>
        </div>
        <p class="muted">
          Checked in order: the first policy whose matchers select an alert routes it (unless it says continue). Without
          any policy, every enabled channel is notified.
        </p>
        {items.length === 0 ? (
          <Empty>No policies: the default sends to all enabled channels.</Empty>
        ) : (
          <table class="table" id="policies">
            <thead>
              <tr>
                <th>#</th>
                <th>Name</th>
                <th>Matchers</th>
                <th>Channels</th>
                <th>Grouping</th>
                <th>Escalation</th>
                {write ? <th></th> : null}
              </tr>
            </thead>
            <tbody>
              {items.map((p) => (
                <tr data-policy={p.name}>
                  <td>{p.position}</td>
                  <td>
                    {p.name}
                    {p.enabled ? '' : ' (disabled)'}
                    {p.continue ? <span class="badge">continue</span> : null}
                  </td>
                  <td>
                    <code>{matcherLines(p.matchers).replaceAll('\n', ', ') || 'every alert'}</code>
                  </td>
                  <td>{names(p.channelIds)}</td>
                  <td class="small">
                    by {p.groupBy.join(', ') || '—'}; wait {dur(p.groupWaitMs)}, interval {dur(p.groupIntervalMs)},
                    repeat {dur(p.repeatIntervalMs)}
                    {p.sendResolved ? '; resolved too' : ''}
                  </td>
                  <td class="small">
                    {p.escalations.map((e) => `after ${dur(e.afterMs)} → ${names(e.channelIds)}`).join('; ') || '—'}
                  </td>
                  {write ? (
                    <td class="nowrap">
                      <a class="button small secondary" href={`/alerts/policies?edit=${p.id}#edit-policy`}>
                        Edit
                      </a>{' '}
                      <button
                        class="small danger"
                        hx-post={`/alerts/policies/${p.id}/delete`}
                        hx-confirm={`Delete the policy ${p.name}?`}
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
        )}
        {write ? (
          <section class="card" id={editing ? 'edit-policy' : 'new-policy'}>
            <h2>{editing ? `Edit policy ${editing.name}` : 'New policy'}</h2>
            <PolicyForm chans={chans} p={editing} />
          </section>
        ) : null}
      </Layout>,
    )
  })

  app.post('/alerts/policies', access('operator'), validate('form', FormBody), async (c) => {
    const chans = await listChannels(db)
    const row = await createPolicy(
      db,
      policyInput(
        c.req.valid('form'),
        chans.map((ch) => ch.id),
      ),
      now(),
    )
    notifier.invalidateRouting()
    await audit(db, c, { action: 'policy.created', target: row.name, summary: `${row.channelIds.length} channels` })
    return hxRedirect(c, '/alerts/policies')
  })

  app.post(
    '/alerts/policies/:id/edit',
    access('operator'),
    validate('param', IdParam),
    validate('form', FormBody),
    async (c) => {
      const before = await getPolicy(db, c.req.valid('param').id)
      const chans = await listChannels(db)
      const row = await updatePolicy(
        db,
        before,
        policyInput(
          c.req.valid('form'),
          chans.map((ch) => ch.id),
        ),
        now(),
      )
      notifier.invalidateRouting()
      await audit(db, c, {
        action: 'policy.updated',
        target: row.name,
        summary: `edited in the dashboard: ${row.channelIds.length} channels, ${row.escalations.length} escalation steps`,
      })
      return hxRedirect(c, '/alerts/policies')
    },
  )

  app.post(
    '/alerts/channels/:id/edit',
    access('operator'),
    validate('param', IdParam),
    validate('form', FormBody),
    async (c) => {
      const before = await getChannel(db, c.req.valid('param').id)
      const row = await updateChannel({ db, sealer }, before, channelPatch(before.type, c.req.valid('form')), now())
      notifier.invalidateRouting()
      await audit(db, c, { action: 'channel.updated', target: row.name, summary: 'edited in the dashboard' })
      return hxRedirect(c, '/alerts/channels')
    },
  )

  app.get('/alerts/webhooks', access('viewer'), async (c) => {
    const write = canWrite(c)
    const items = (await listSubscriptions(db)).map(subscriptionJson)
    return c.html(
      <Layout title="Webhook subscriptions" active="/alerts" principal={requirePrincipal(c)}>
        <Tabs active="/alerts/webhooks" />
        <div class="page-head">
          <h1>Webhook subscriptions</h1>
        </div>
        <p class="muted">
          URLs subscribed to alert events through <code>/api/v1/webhooks</code> (the n8n Trigger node makes and removes
          its own). Deliveries are signed with the subscription's secret (<code>X-Homeostat-Signature</code>).
        </p>
        {items.length === 0 ? (
          <Empty>No webhook subscriptions.</Empty>
        ) : (
          <table class="table" id="webhooks">
            <thead>
              <tr>
                <th>URL</th>
                <th>Events</th>
                <th>Min severity</th>
                <th>Created</th>
                {write ? <th></th> : null}
              </tr>
            </thead>
            <tbody>
              {items.map((w) => (
                <tr data-webhook={w.id}>
                  <td>
                    <code>{w.url}</code>
                  </td>
                  <td>{w.events.join(', ')}</td>
                  <td>{w.minSeverity ?? 'any'}</td>
                  <td class="small">
                    {w.createdAt}
                    <br />
                    <span class="muted">by {w.createdBy}</span>
                  </td>
                  {write ? (
                    <td>
                      <button
                        class="small danger"
                        hx-post={`/alerts/webhooks/${w.id}/delete`}
                        hx-confirm="Delete this subscription? Its receiver gets no more events."
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
        )}
        {write ? (
          <section class="card" id="new-webhook">
            <h2>New subscription</h2>
            <div id="webhook-created" aria-live="polite"></div>
            <form class="comp-form" hx-post="/alerts/webhooks" hx-target="#webhook-created" hx-swap="innerHTML">
              <label>
                URL <input name="url" type="url" required placeholder="https://n8n.example.com/webhook/…" />
              </label>
              <fieldset>
                <legend>Events</legend>
                {webhookEvents.map((e) => (
                  <label class="check">
                    <input type="checkbox" name={`ev_${e}`} checked={e === 'fired'} /> {e}
                  </label>
                ))}
              </fieldset>
              <label>
                Minimum severity{' '}
                <select name="minSeverity">
                  <option value="">any</option>
                  {[...severities].reverse().map((x) => (
                    <option value={x}>{x}</option>
                  ))}
                </select>
              </label>
              <button type="submit">Create subscription</button>
            </form>
          </section>
        ) : null}
      </Layout>,
    )
  })

  app.post('/alerts/webhooks', access('operator'), validate('form', FormBody), async (c) => {
    const form = c.req.valid('form')
    const r = v.safeParse(
      SubscriptionBody,
      drop({
        url: t(form.url) ?? '',
        events: webhookEvents.filter((e) => form[`ev_${e}`] === 'on'),
        minSeverity: t(form.minSeverity),
      }),
    )
    if (!r.success) throw badRequest('Invalid subscription', issuesToDetails(r.issues))
    const { row, secret } = await createSubscription({ db, sealer }, r.output, actor(c), now())
    notifier.invalidateRouting()
    await audit(db, c, { action: 'webhook.subscribed', target: row.id, summary: row.events.join(', ') })
    return c.html(
      <div class="notice newkey" data-created={row.id}>
        <p>
          Subscribed {subscriptionJson(row).url} to {row.events.join(', ')}. Its signing secret, shown only now:
        </p>
        <code class="secret" id="webhook-secret">
          {secret}
        </code>
        <p>
          <a href="/alerts/webhooks">Show it in the list</a>
        </p>
      </div>,
    )
  })

  // Deleting a subscription, a channel or a policy: the same steps; routing is read again after each.
  const deletePage = <T extends { id: string }>(
    path: string,
    get: (d: typeof db, id: string) => Promise<T>,
    remove: (d: typeof db, id: string) => Promise<unknown>,
    action: string,
    target: (row: T) => string,
  ) =>
    app.post(`${path}/:id/delete`, access('operator'), validate('param', IdParam), async (c) => {
      const row = await get(db, c.req.valid('param').id)
      await remove(db, row.id)
      notifier.invalidateRouting()
      await audit(db, c, { action, target: target(row) })
      return hxRedirect(c, path)
    })
  deletePage('/alerts/webhooks', getSubscription, deleteSubscription, 'webhook.unsubscribed', (s) => s.id)
  deletePage('/alerts/channels', getChannel, deleteChannel, 'channel.deleted', (ch) => ch.name)
  deletePage('/alerts/policies', getPolicy, deletePolicy, 'policy.deleted', (p) => p.name)

  app.post('/alerts/notifications/:id/retry', access('operator'), validate('param', NumericIdParam), async (c) => {
    const id = Number(c.req.valid('param').id)
    const [row] = await db.select().from(notifications).where(eq(notifications.id, id))
    if (!row) throw notFound('Notification')
    const updated = row.status === 'sending' ? null : await retryNotification(db, id, now())
    if (!updated) throw conflict('The notification is being sent right now')
    await audit(db, c, {
      action: 'notification.retried',
      target: String(id),
      summary: `${row.kind}, was ${row.status}`,
    })
    return hxRedirect(c, row.alertId ? `/alerts/${row.alertId}` : '/alerts')
  })

  return app
}
