/** @jsxImportSource hono/jsx */
import { Hono } from 'hono'
import * as v from 'valibot'
import { eq } from 'drizzle-orm'
import { webhookEvents, channelTypes, notifications, type Channel } from '../../../db/schema/notify.ts'
import { severities } from '../../../db/schema/alerts.ts'
import { actor, type AppEnv, type ModuleDeps } from '../../context.ts'
import { badRequest, conflict, notFound } from '../../lib/errors.ts'
import { hxRedirect } from '../../lib/htmx.ts'
import { Empty, Layout } from '../../lib/layout.tsx'
import { matcherLines } from '../../lib/matchers.ts'
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
import { IdParam, SubscriptionBody, NumericIdParam } from './schema.ts'
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
import { dur } from '../../lib/format.ts'
import { Tabs } from '../alerts/index.ts'
import { channelInput, channelPatch, drop, EditQuery, FormBody, policyInput, trimmed } from './forms.ts'
import { ChannelForm, PolicyForm } from './form-views.tsx'

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
        url: trimmed(form.url) ?? '',
        events: webhookEvents.filter((e) => form[`ev_${e}`] === 'on'),
        minSeverity: trimmed(form.minSeverity),
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
