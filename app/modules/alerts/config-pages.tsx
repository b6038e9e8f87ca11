/** @jsxImportSource hono/jsx */
import { Hono } from 'hono'
import * as v from 'valibot'
import { channelTypes, type Channel } from '../../../db/schema/notify.ts'
import type { Alert } from '../../../db/schema/alerts.ts'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { badRequest, type ErrorDetail } from '../../lib/errors.ts'
import { hxRedirect } from '../../lib/htmx.ts'
import { Empty, Layout } from '../../lib/layout.tsx'
import { issuesToDetails, validate } from '../../lib/validate.ts'
import { access, canWrite } from '../../middleware/access.ts'
import { requirePrincipal } from '../../middleware/auth.ts'
import { audit } from '../audit/service.ts'
import { channelJson, createChannel, deleteChannel, getChannel, listChannels } from '../notify/channels.ts'
import { createPolicy, deletePolicy, getPolicy, invalidateRouting, listPolicies } from '../notify/policies.ts'
import { ChannelBody, IdParam, PolicyBody } from '../notify/schema.ts'
import { alertSnapshot, SendError, sendToChannel } from '../notify/senders.ts'
import { matcherLines, parseMatchers } from './form.ts'
import { dur } from './rule-pages.tsx'
import { Tabs } from './views.tsx'

const FormBody = v.record(v.string(), v.pipe(v.string(), v.maxLength(10_000, 'must be at most 10000 characters')))
const t = (s: string | undefined) => (s ?? '').trim() || undefined
const list = (s: string | undefined) => (s ?? '').split(/[\n,]/).map((x) => x.trim()).filter(Boolean)
const numOr = (s: string | undefined) => {
  const x = t(s)
  return x === undefined ? undefined : /^\d+$/.test(x) ? Number(x) : x
}
const drop = (o: Record<string, unknown>) => Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined))

/** The per-type fields of the channel form. */
const typeFields: Record<(typeof channelTypes)[number], { name: string; label: string; type?: string }[]> = {
  slack: [{ name: 'webhookUrl', label: 'Incoming webhook URL' }],
  webhook: [{ name: 'url', label: 'URL' }, { name: 'headers', label: 'Custom headers (Name: value per line)' }],
  n8n: [{ name: 'url', label: 'Workflow webhook URL' }],
  pagerduty: [{ name: 'routingKey', label: 'Routing key' }, { name: 'baseUrl', label: 'Events API base URL (optional)' }],
  email: [{ name: 'host', label: 'SMTP host' }, { name: 'port', label: 'Port' }, { name: 'secure', label: 'TLS (true/false)' }, { name: 'user', label: 'User' }, { name: 'password', label: 'Password', type: 'password' }, { name: 'from', label: 'From' }, { name: 'to', label: 'To (comma separated)' }],
}

function channelInput(form: Record<string, string>) {
  const type = form.type ?? ''
  const s: Record<string, unknown> = {}
  for (const f of typeFields[type as keyof typeof typeFields] ?? []) {
    const raw = t(form[f.name])
    if (raw === undefined) continue
    if (f.name === 'headers') s.headers = Object.fromEntries(list(raw.replaceAll(',', '\n')).map((l) => [l.slice(0, l.indexOf(':')).trim(), l.slice(l.indexOf(':') + 1).trim()]))
    else if (f.name === 'port') s.port = numOr(raw)
    else if (f.name === 'secure') s.secure = raw === 'true' ? true : raw === 'false' ? false : raw
    else if (f.name === 'to') s.to = list(raw)
    else s[f.name] = raw
  }
  const r = v.safeParse(ChannelBody, { name: form.name ?? '', type, settings: s })
  if (!r.success) throw badRequest('Invalid channel', issuesToDetails(r.issues))
  return r.output
}

function policyInput(form: Record<string, string>, channelIds: string[]) {
  const errors: ErrorDetail[] = []
  const matchers = parseMatchers(form.matchers, 'matchers', errors)
  const chosen = channelIds.filter((id) => form[`ch_${id}`] === 'on')
  const escalate = channelIds.filter((id) => form[`esc_${id}`] === 'on')
  const raw = drop({
    name: form.name ?? '', matchers, channelIds: chosen, groupBy: list(form.groupBy), groupWait: numOr(form.groupWait), groupInterval: numOr(form.groupInterval), repeatInterval: numOr(form.repeatInterval),
    continue: form.continue === 'on', sendResolved: form.sendResolved === 'on',
    escalations: escalate.length ? [{ after: numOr(form.escalateAfter) ?? '15m', channelIds: escalate }] : undefined,
  })
  const r = v.safeParse(PolicyBody, raw)
  if (!r.success) errors.push(...issuesToDetails(r.issues))
  if (errors.length || !r.success) throw badRequest('Invalid policy', errors)
  return r.output
}

const testAlert = (now: number): Alert => ({ id: 'test', fingerprint: 'homeostat-test', ruleId: null, source: 'test', title: 'Test notification from Homeostat', status: 'firing', silenced: false, severity: 'info', labels: { alertname: 'HomeostatTest' }, annotations: { summary: 'If you can read this, the channel works.' }, value: null, startsAt: now, activeAt: now, endsAt: null, lastSeenAt: now, repeatCount: 1, ackBy: null, ackAt: null, resolvedBy: null, resolvedAt: null, createdAt: now, updatedAt: now })

export function configPages(deps: ModuleDeps) {
  const { db, sealer, config } = deps
  const now = () => deps.now?.() ?? Date.now()
  const app = new Hono<AppEnv>()

  app.get('/alerts/channels', access('viewer'), async (c) => {
    const write = canWrite(c)
    const items = (await listChannels(db)).map((ch) => channelJson(sealer, ch))
    return c.html(
      <Layout title="Channels" active="/alerts" principal={requirePrincipal(c)}>
        <Tabs active="/alerts/channels" />
        <div class="page-head"><h1>Channels</h1></div>
        <p class="muted">Where notifications go. Secrets are encrypted at rest and shown masked.</p>
        {items.length === 0 ? <Empty>No channels yet.</Empty> : (
          <table class="table" id="channels">
            <thead><tr><th>Name</th><th>Type</th><th>Settings</th><th>Enabled</th><th></th></tr></thead>
            <tbody>
              {items.map((ch) => (
                <tr data-channel={ch.name}>
                  <td>{ch.name}</td><td>{ch.type}</td>
                  <td class="small">{Object.entries(ch.settings).map(([k, x]) => <div><span class="muted">{k}:</span> <code>{typeof x === 'object' ? JSON.stringify(x) : String(x)}</code></div>)}</td>
                  <td>{ch.enabled ? 'yes' : 'no'}</td>
                  <td>{write ? <><button class="small secondary" hx-post={`/alerts/channels/${ch.id}/test`} hx-target={`#test-${ch.id}`} hx-swap="innerHTML">Send test</button>{' '}<button class="small danger" hx-post={`/alerts/channels/${ch.id}/delete`} hx-confirm={`Delete the channel ${ch.name}? Its queued notifications go with it.`} hx-swap="none">Delete</button><div id={`test-${ch.id}`} class="small"></div></> : null}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {write ? (
          <section class="card" id="new-channel">
            <h2>New channel</h2>
            <div id="channel-created" aria-live="polite"></div>
            {channelTypes.map((type) => (
              <details>
                <summary>{type}</summary>
                <form class="comp-form" hx-post="/alerts/channels" hx-target="#channel-created" hx-swap="innerHTML">
                  <input type="hidden" name="type" value={type} />
                  <label>Name <input name="name" required /></label>
                  {typeFields[type].map((f) => (f.name === 'headers' ? <label>{f.label}<textarea name={f.name} rows={2}></textarea></label> : <label>{f.label} <input name={f.name} type={f.type ?? 'text'} /></label>))}
                  <button type="submit">Create {type} channel</button>
                </form>
              </details>
            ))}
          </section>
        ) : null}
      </Layout>,
    )
  })

  app.post('/alerts/channels', access('operator'), validate('form', FormBody), async (c) => {
    const { row, signingSecret } = await createChannel({ db, sealer }, channelInput(c.req.valid('form')), now())
    invalidateRouting(db)
    await audit(db, c, { action: 'channel.created', target: row.name, summary: row.type })
    if (!signingSecret) return hxRedirect(c, '/alerts/channels')
    // Signed channels: the secret is shown this once (the receiver checks X-Homeostat-Signature with it).
    return c.html(
      <div class="notice newkey" data-created={row.name}>
        <p>Channel <strong>{row.name}</strong> created. Its signing secret, shown only now:</p>
        <code class="secret" id="signing-secret">{signingSecret}</code>
        <p><a href="/alerts/channels">Show it in the list</a></p>
      </div>,
    )
  })

  app.post('/alerts/channels/:id/test', access('operator'), validate('param', IdParam), async (c) => {
    const ch: Channel = await getChannel(db, c.req.valid('param').id)
    const at = now()
    let ok = false
    let text = ''
    try {
      const r = await sendToChannel(sealer, ch, { id: `test-${at}`, event: 'test', alerts: [alertSnapshot(testAlert(at), config.PUBLIC_URL)], publicUrl: config.PUBLIC_URL, at })
      ok = true
      text = r.response.startsWith(String(r.code)) ? r.response.slice(0, 200) : `${String(r.code)} ${r.response.slice(0, 200)}`
    } catch (error) {
      text = error instanceof SendError ? error.message : 'send failed'
    }
    await audit(db, c, { action: 'channel.tested', target: ch.name, summary: ok ? 'sent' : text })
    return c.html(<span class={ok ? 'ok' : 'error'} data-test-result={ok ? 'ok' : 'failed'}>{ok ? 'Sent: ' : 'Failed: '}{text}</span>)
  })

  app.get('/alerts/policies', access('viewer'), async (c) => {
    const write = canWrite(c)
    const [items, chans] = await Promise.all([listPolicies(db), listChannels(db)])
    const name = new Map(chans.map((ch) => [ch.id, ch.name]))
    const names = (ids: string[]) => (ids.length ? ids.map((id) => name.get(id) ?? id).join(', ') : 'all enabled channels')
    return c.html(
      <Layout title="Policies" active="/alerts" principal={requirePrincipal(c)}>
        <Tabs active="/alerts/policies" />
        <div class="page-head"><h1>Notification policies</h1></div>
        <p class="muted">Checked in order: the first policy whose matchers select an alert routes it (unless it says continue). Without any policy, every enabled channel is notified.</p>
        {items.length === 0 ? <Empty>No policies: the default sends to all enabled channels.</Empty> : (
          <table class="table" id="policies">
            <thead><tr><th>#</th><th>Name</th><th>Matchers</th><th>Channels</th><th>Grouping</th><th>Escalation</th>{write ? <th></th> : null}</tr></thead>
            <tbody>
              {items.map((p) => (
                <tr data-policy={p.name}>
                  <td>{p.position}</td>
                  <td>{p.name}{p.enabled ? '' : ' (disabled)'}{p.continue ? <span class="badge">continue</span> : null}</td>
                  <td><code>{matcherLines(p.matchers).replaceAll('\n', ', ') || 'every alert'}</code></td>
                  <td>{names(p.channelIds)}</td>
                  <td class="small">by {p.groupBy.join(', ') || '—'}; wait {dur(p.groupWaitMs)}, interval {dur(p.groupIntervalMs)}, repeat {dur(p.repeatIntervalMs)}{p.sendResolved ? '; resolved too' : ''}</td>
                  <td class="small">{p.escalations.map((e) => `after ${dur(e.afterMs)} → ${names(e.channelIds)}`).join('; ') || '—'}</td>
                  {write ? <td><button class="small danger" hx-post={`/alerts/policies/${p.id}/delete`} hx-confirm={`Delete the policy ${p.name}?`} hx-swap="none">Delete</button></td> : null}
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {write ? (
          <section class="card" id="new-policy">
            <h2>New policy</h2>
            <form class="comp-form" hx-post="/alerts/policies" hx-swap="none">
              <label>Name <input name="name" required /></label>
              <label>Matchers <span class="muted">(one per line, e.g. <code>severity="critical"</code>; empty: every alert)</span><textarea name="matchers" rows={2}></textarea></label>
              <fieldset><legend>Channels</legend>{chans.length ? chans.map((ch) => <label class="check"><input type="checkbox" name={`ch_${ch.id}`} /> {ch.name}</label>) : <span class="muted">Create a channel first.</span>}</fieldset>
              <div class="row">
                <label>Group by <input name="groupBy" placeholder="alertname, component" /></label>
                <label>Group wait <input name="groupWait" value="30s" /></label>
                <label>Group interval <input name="groupInterval" value="5m" /></label>
                <label>Repeat interval <input name="repeatInterval" value="4h" /></label>
              </div>
              <label class="check"><input type="checkbox" name="continue" /> Continue to later policies</label>
              <label class="check"><input type="checkbox" name="sendResolved" checked /> Send resolved notifications</label>
              <fieldset><legend>Escalate unacknowledged critical alerts</legend>
                <label>after <input name="escalateAfter" value="15m" /></label>
                {chans.map((ch) => <label class="check"><input type="checkbox" name={`esc_${ch.id}`} /> {ch.name}</label>)}
              </fieldset>
              <button type="submit">Create policy</button>
            </form>
          </section>
        ) : null}
      </Layout>,
    )
  })

  app.post('/alerts/policies', access('operator'), validate('form', FormBody), async (c) => {
    const chans = await listChannels(db)
    const row = await createPolicy(db, policyInput(c.req.valid('form'), chans.map((ch) => ch.id)), now())
    invalidateRouting(db)
    await audit(db, c, { action: 'policy.created', target: row.name, summary: `${row.channelIds.length} channels` })
    return hxRedirect(c, '/alerts/policies')
  })

  app.post('/alerts/channels/:id/delete', access('operator'), validate('param', IdParam), async (c) => {
    const ch = await getChannel(db, c.req.valid('param').id)
    await deleteChannel(db, ch.id)
    invalidateRouting(db)
    await audit(db, c, { action: 'channel.deleted', target: ch.name })
    return hxRedirect(c, '/alerts/channels')
  })

  app.post('/alerts/policies/:id/delete', access('operator'), validate('param', IdParam), async (c) => {
    const p = await getPolicy(db, c.req.valid('param').id)
    await deletePolicy(db, p.id)
    invalidateRouting(db)
    await audit(db, c, { action: 'policy.deleted', target: p.name })
    return hxRedirect(c, '/alerts/policies')
  })

  return app
}
