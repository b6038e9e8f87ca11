/** @jsxImportSource hono/jsx */
import { desc, eq, sql } from 'drizzle-orm'
import { Hono } from 'hono'
import * as v from 'valibot'
import {
  alertSources,
  alertStatuses,
  alerts,
  severities,
  type AlertStatus,
  type Severity,
} from '../../../db/schema/alerts.ts'
import { channels, notifications } from '../../../db/schema/notify.ts'
import { actor, type AppEnv, type ModuleDeps } from '../../context.ts'
import { AppError } from '../../lib/errors.ts'
import { hxRedirect } from '../../lib/htmx.ts'
import { Layout, LiveRegion, when } from '../../lib/layout.tsx'
import { validate } from '../../lib/validate.ts'
import { access, canWrite, isAdmin } from '../../middleware/access.ts'
import { requirePrincipal } from '../../middleware/auth.ts'
import { audit, auditRow } from '../audit/index.ts'
import { matcherLines } from '../../lib/matchers.ts'
import { rulePages } from './rules/rule-pages.tsx'
import { IdParam } from './schema.ts'
import { silencePages } from './silences/silence-pages.tsx'
import type { AlertsService } from './service.ts'
import {
  AlertFilters,
  AlertList,
  KeyValues,
  Labels,
  Section,
  SeverityPill,
  StatePill,
  Tabs,
  Timeline,
  value,
  type ListFilter,
} from './views.tsx'
import { clockOf } from '../../lib/time.ts'

const Short = v.optional(v.pipe(v.string(), v.maxLength(200, 'must be at most 200 characters')))
const ListQuery = v.object({
  status: v.optional(
    v.picklist(['', 'open', ...alertStatuses], 'must be open, pending, firing, acknowledged or resolved'),
  ),
  severity: v.optional(v.picklist(['', ...severities], 'must be critical, error, warning or info')),
  source: v.optional(v.picklist(['', ...alertSources], `must be one of ${alertSources.join(', ')}`)),
  q: Short,
})
const DetailQuery = v.object({ action: v.optional(v.picklist(['acknowledge'], 'must be acknowledge')) })
const MuteForm = v.object({
  duration: v.picklist(['15m', '1h', '4h', '1d', '7d'], 'must be 15m, 1h, 4h, 1d or 7d'),
  _csrf: v.optional(v.string()),
})
const spans: Record<string, number> = {
  '15m': 900_000,
  '1h': 3_600_000,
  '4h': 14_400_000,
  '1d': 86_400_000,
  '7d': 604_800_000,
}
const LIMIT = 200

/** Label text filter: `k=v` pairs select by label; other words must appear in the title or a label. */
function textFilter(q: string) {
  const match: Record<string, string> = {}
  const words: string[] = []
  for (const part of q.split(/[\s,]+/).filter(Boolean)) {
    const eq = part.indexOf('=')
    if (eq > 0) match[part.slice(0, eq)] = part.slice(eq + 1).replace(/^"(.*)"$/, '$1')
    else words.push(part.toLowerCase())
  }
  return { match, words }
}

export function alertPages(deps: ModuleDeps & { alerts: AlertsService; onPublicSilenceChange?: () => void }) {
  const { db, alerts: service } = deps
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()

  async function listData(f: ListFilter) {
    const { match, words } = textFilter(f.q)
    const status: AlertStatus[] | undefined =
      f.status === 'open' ? ['pending', 'firing', 'acknowledged'] : f.status ? [f.status as AlertStatus] : undefined
    const { items, next } = await service.list({
      limit: LIMIT,
      status,
      severity: f.severity ? [f.severity as Severity] : undefined,
      source: f.source || undefined,
      match,
    })
    const shown = words.length
      ? items.filter((a) =>
          words.every((w) =>
            `${a.title} ${Object.entries(a.labels)
              .map(([k, x]) => `${k}=${x}`)
              .join(' ')}`
              .toLowerCase()
              .includes(w),
          ),
        )
      : items
    const rows = await db
      .select({ status: alerts.status, n: sql<number>`count(*)` })
      .from(alerts)
      .groupBy(alerts.status)
    const [silenced] = await db
      .select({ n: sql<number>`count(*)` })
      .from(alerts)
      .where(sql`${alerts.silenced} = 1 and ${alerts.status} != 'resolved'`)
    const counts: Record<string, number> = Object.fromEntries(rows.map((r) => [r.status, Number(r.n)]))
    counts.silenced = Number(silenced?.n ?? 0)
    return { items: shown, counts, more: next !== null && next !== undefined }
  }
  const filterOf = (q: v.InferOutput<typeof ListQuery>): ListFilter => ({
    status: q.status ?? 'open',
    severity: q.severity ?? '',
    source: q.source ?? '',
    q: q.q ?? '',
  })

  // The configuration pages come first: their paths would otherwise read as alert ids.
  app.route('/', silencePages(deps))
  app.route('/', rulePages(deps))

  app.get('/alerts', access('viewer'), validate('query', ListQuery), async (c) => {
    const f = filterOf(c.req.valid('query'))
    const data = await listData(f)
    return c.html(
      <Layout title="Alerts" active="/alerts" principal={requirePrincipal(c)}>
        <Tabs active="/alerts" />
        <div class="page-head">
          <h1>Alerts</h1>
        </div>
        <AlertFilters f={f} sources={alertSources} />
        <AlertList {...data} f={f} />
      </Layout>,
    )
  })

  app.get('/alerts/list', access('viewer'), validate('query', ListQuery), async (c) => {
    const f = filterOf(c.req.valid('query'))
    return c.html(<AlertList {...(await listData(f))} f={f} />)
  })

  app.get('/alerts/:id', access('viewer'), validate('param', IdParam), validate('query', DetailQuery), async (c) => {
    const { alert: a, events } = await service.get(c.req.valid('param').id)
    const sent = await db
      .select({ n: notifications, channelName: channels.name })
      .from(notifications)
      .leftJoin(channels, eq(channels.id, notifications.channelId))
      .where(eq(notifications.alertId, a.id))
      .orderBy(desc(notifications.id))
      .limit(100)
    const write = canWrite(c)
    const open = a.status !== 'resolved'
    const askAck = c.req.valid('query').action === 'acknowledge'
    const silenceLink = `/alerts/silences?${new URLSearchParams({
      matchers: matcherLines(
        Object.entries(a.labels)
          .filter(([, x]) => x !== '')
          .map(([label, x]) => ({ label, op: '=' as const, value: x })),
      ),
      comment: `Silence for "${a.title}"`,
      from: a.id,
    })}`
    return c.html(
      <Layout title={a.title} active="/alerts" principal={requirePrincipal(c)}>
        <Tabs active="/alerts" />
        <p>
          <a href="/alerts">← Alerts</a>
        </p>
        {askAck ? (
          <section class="notice" id="ack-confirm">
            {a.status === 'firing' && write ? (
              <>
                <p>
                  Acknowledge <strong>{a.title}</strong>? Repeats keep it acknowledged and escalation stops.
                </p>
                <button hx-post={`/alerts/actions/${a.id}/acknowledge`} hx-swap="none">
                  Confirm acknowledge
                </button>
              </>
            ) : a.status === 'firing' ? (
              <p>Only an operator can acknowledge this alert.</p>
            ) : (
              <p>
                This alert is {a.status}
                {a.ackBy ? ` (acknowledged by ${a.ackBy} at ${when(a.ackAt)})` : ''}; there is nothing to acknowledge.
              </p>
            )}
          </section>
        ) : null}
        <LiveRegion id="alert-live" src={`/alerts/${a.id}`} topic="alerts" liveId={a.id} every="60s">
          <div class="page-head">
            <h1>
              <SeverityPill severity={a.severity} /> {a.title} <StatePill status={a.status} silenced={a.silenced} />
            </h1>
          </div>
          {write ? (
            <div class="alert-actions" id="alert-actions">
              {a.status === 'firing' || a.status === 'pending' ? (
                <button
                  hx-post={`/alerts/actions/${a.id}/acknowledge`}
                  hx-swap="none"
                  disabled={a.status === 'pending'}
                >
                  Acknowledge
                </button>
              ) : null}
              {a.status === 'acknowledged' ? (
                <button class="secondary" hx-post={`/alerts/actions/${a.id}/unacknowledge`} hx-swap="none">
                  Unacknowledge
                </button>
              ) : null}
              {open ? (
                <button
                  class="secondary"
                  hx-post={`/alerts/actions/${a.id}/resolve`}
                  hx-confirm="Resolve this alert by hand? If its rule still holds it fires again."
                  hx-swap="none"
                >
                  Resolve
                </button>
              ) : null}
              {open ? (
                <form class="inline" hx-post={`/alerts/actions/${a.id}/mute`} hx-swap="none">
                  <select name="duration" aria-label="Mute for">
                    {Object.keys(spans).map((d) => (
                      <option value={d} selected={d === '1h'}>
                        {d}
                      </option>
                    ))}
                  </select>
                  <button type="submit" class="secondary">
                    Mute
                  </button>
                </form>
              ) : null}
              <a class="button secondary" href={silenceLink}>
                Silence…
              </a>
              {isAdmin(c) ? (
                // Telling the public is an admin's act: a status page incident with its own public title.
                <a class="button secondary" href={`/status-pages?alert=${encodeURIComponent(a.id)}`}>
                  Make public…
                </a>
              ) : null}
            </div>
          ) : null}
          <div class="tiles">
            <div class="tile">
              <span class="label">Value</span>
              <strong data-value>{value(a.value)}</strong>
            </div>
            <div class="tile">
              <span class="label">Since</span>
              <strong class="small">{when(a.activeAt ?? a.startsAt)}</strong>
              <span class="muted">last seen {when(a.lastSeenAt)}</span>
            </div>
            <div class="tile">
              <span class="label">Repeats</span>
              <strong>{a.repeatCount}</strong>
            </div>
            <div class="tile">
              <span class="label">Source</span>
              <strong>{a.source}</strong>
              {a.ruleId ? (
                <a class="muted" href={`/alerts/rules#rule-${a.ruleId}`}>
                  its rule
                </a>
              ) : null}
            </div>
          </div>
          {a.ackBy ? (
            <p class="muted">
              Acknowledged by {a.ackBy} at {when(a.ackAt)}.
            </p>
          ) : null}
          {a.resolvedAt ? (
            <p class="muted">
              Resolved{a.resolvedBy ? ` by ${a.resolvedBy}` : ''} at {when(a.resolvedAt)}.
            </p>
          ) : null}
          <Section title="Labels">
            <Labels labels={a.labels} />
          </Section>
          <Section title="Annotations">
            <KeyValues rows={a.annotations} />
          </Section>
          <Section title="History" id="history">
            <Timeline events={events} />
          </Section>
          <Section title="Notifications" id="notifications">
            {sent.length === 0 ? (
              <p class="muted">None: no channel was routed this alert yet{a.silenced ? ' (it is silenced)' : ''}.</p>
            ) : (
              <table class="table">
                <thead>
                  <tr>
                    <th>Channel</th>
                    <th>Kind</th>
                    <th>Status</th>
                    <th>Attempts</th>
                    <th>Last error / response</th>
                    <th>Sent</th>
                    {write ? <th></th> : null}
                  </tr>
                </thead>
                <tbody>
                  {sent.map(({ n, channelName }) => (
                    <tr data-notification={n.status}>
                      <td>{channelName ?? (n.subscriptionId ? 'webhook subscription' : '—')}</td>
                      <td>{n.kind}</td>
                      <td>
                        <span class={`pill nt-${n.status}`}>{n.status}</span>
                      </td>
                      <td>{n.attempts}</td>
                      <td class="small">{n.lastError ?? n.response ?? ''}</td>
                      <td class="nowrap">{when(n.sentAt)}</td>
                      {write ? (
                        <td>
                          {n.status === 'failed' || n.status === 'dead' ? (
                            <button
                              class="small secondary"
                              hx-post={`/alerts/notifications/${n.id}/retry`}
                              hx-swap="none"
                            >
                              Retry
                            </button>
                          ) : null}
                        </td>
                      ) : null}
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </Section>
        </LiveRegion>
      </Layout>,
    )
  })

  // Each change and its audit row commit together (the service writes the row in the change's transaction).
  const actions = { acknowledge: service.acknowledge, unacknowledge: service.unacknowledge, resolve: service.resolve }
  for (const [verb, run] of Object.entries(actions)) {
    app.post(`/alerts/actions/:id/${verb}`, access('operator'), validate('param', IdParam), async (c) => {
      const row = await run(c.req.valid('param').id, { actor: actor(c), audit: (e) => auditRow(c, e) }, now())
      return hxRedirect(c, `/alerts/${row.id}`)
    })
  }

  app.post(
    '/alerts/actions/:id/mute',
    access('operator'),
    validate('param', IdParam),
    validate('form', MuteForm),
    async (c) => {
      const { alert } = await service.get(c.req.valid('param').id)
      const duration = spans[c.req.valid('form').duration]!
      const matchers = Object.entries(alert.labels)
        .filter(([, x]) => x !== '')
        .map(([label, x]) => ({ label, op: '=' as const, value: x }))
      if (!matchers.length) throw new AppError(409, 'conflict', 'The alert has no labels to mute by')
      const at = now()
      const row = await service.silences.create(
        { matchers, startsAt: at, duration, comment: `Muted from alert "${alert.title}"` },
        actor(c),
        at,
      )
      await audit(db, c, {
        action: 'silence.created',
        target: row.id,
        summary: `mute of alert ${alert.id} for ${duration} ms`,
      })
      await service
        .refreshSilenced(at)
        .catch((error) =>
          deps.log.error('applying silences failed', { error: String((error as Error)?.message ?? error) }),
        )
      return hxRedirect(c, `/alerts/${alert.id}`)
    },
  )

  return app
}
