/** @jsxImportSource hono/jsx */
import type { Child } from 'hono/jsx'
import { alertStatuses, severities, type Alert, type AlertEvent } from '../../../db/schema/alerts.ts'
import { liveTrigger, TabNav, when } from '../../lib/layout.tsx'
import { formatValue } from './rules/templates.ts'

export const alertTabs = [
  { href: '/alerts', label: 'Alerts' },
  { href: '/alerts/silences', label: 'Silences' },
  { href: '/alerts/rules', label: 'Rules' },
  { href: '/alerts/channels', label: 'Channels' },
  { href: '/alerts/policies', label: 'Policies' },
  { href: '/alerts/webhooks', label: 'Webhooks' },
] as const

/** The alerts section's sub-pages, at the top of each of them. */
export const Tabs = ({ active }: { active: string }) => (
  <TabNav label="Alerts sections" tabs={alertTabs} active={active} />
)

export const SeverityPill = ({ severity }: { severity: string }) => (
  <span class={`pill sev-${severity}`}>{severity}</span>
)
export const StatePill = ({ status, silenced }: { status: string; silenced?: boolean }) => (
  <>
    <span class={`pill st-${status}`}>{status}</span>
    {silenced ? <span class="pill st-silenced">silenced</span> : null}
  </>
)

export const Labels = ({ labels }: { labels: Record<string, string> }) => (
  <span class="labels">
    {Object.entries(labels).map(([k, val]) => (
      <code class="lbl">
        {k}={val}
      </code>
    ))}
  </span>
)

export const value = (n: number | null) => (n === null ? '—' : formatValue(n))

export type ListFilter = { status: string; severity: string; source: string; q: string }

export function AlertFilters({ f, sources }: { f: ListFilter; sources: readonly string[] }) {
  const opt = (list: readonly string[], cur: string, all: string) => [
    <option value="">{all}</option>,
    ...list.map((x) => (
      <option value={x} selected={x === cur}>
        {x}
      </option>
    )),
  ]
  return (
    <form
      class="filters"
      method="get"
      action="/alerts"
      hx-get="/alerts/list"
      hx-target="#alert-list"
      hx-swap="outerHTML"
      hx-trigger="change, keyup changed delay:400ms from:input[name=q], submit"
      hx-push-url="false"
    >
      <label>
        Status <select name="status">{opt(['open', ...alertStatuses], f.status, 'any')}</select>
      </label>
      <label>
        Severity <select name="severity">{opt(severities, f.severity, 'any')}</select>
      </label>
      <label>
        Source <select name="source">{opt(sources, f.source, 'any')}</select>
      </label>
      <label>
        Labels <input name="q" type="search" value={f.q} placeholder="env=prod or text" />
      </label>
      <noscript>
        <button type="submit">Filter</button>
      </noscript>
    </form>
  )
}

/** The live list: counts by state and the table, polling itself every 5 s with the same filters. */
export function AlertList({
  items,
  counts,
  f,
  more,
}: {
  items: Alert[]
  counts: Record<string, number>
  f: ListFilter
  more: boolean
}) {
  const qs = new URLSearchParams(Object.entries(f).filter(([, x]) => x !== '')).toString()
  return (
    <section
      id="alert-list"
      hx-get={`/alerts/list${qs ? `?${qs}` : ''}`}
      // Live events refresh it at once; the 10 s poll covers what this process's feed cannot see (another
      // instance on the same database).
      hx-trigger={liveTrigger('alerts', { every: '10s' })}
      hx-swap="outerHTML"
      aria-label="Alerts"
    >
      <div class="tiles counts">
        {[...alertStatuses, 'silenced'].map((s) => (
          <div class={`tile count st-${s}`} data-count={s}>
            <span class="label">{s}</span>
            <strong>{counts[s] ?? 0}</strong>
          </div>
        ))}
      </div>
      {items.length === 0 ? (
        <p class="empty">
          No alerts match. Alerts appear here when a rule fires, or a script, Alertmanager, Grafana or Uptime Kuma
          reports one.
        </p>
      ) : (
        <div class="table-wrap">
          <table class="table alerts" id="alerts">
            <thead>
              <tr>
                <th>Severity</th>
                <th>Alert</th>
                <th>State</th>
                <th class="wide">Value</th>
                <th class="wide">Since</th>
                <th class="wide">Labels</th>
              </tr>
            </thead>
            <tbody>
              {items.map((a) => (
                <tr class={`sev-row sev-${a.severity}`} data-alert={a.id} data-status={a.status} tabindex={0}>
                  <td>
                    <SeverityPill severity={a.severity} />
                  </td>
                  <td>
                    <a href={`/alerts/${a.id}`}>{a.title}</a>
                    <br />
                    <span class="muted">
                      {a.source}
                      {a.repeatCount > 1 ? ` · ×${a.repeatCount}` : ''}
                      <span class="narrow-only"> · {when(a.activeAt ?? a.startsAt)}</span>
                    </span>
                  </td>
                  <td>
                    <StatePill status={a.status} silenced={a.silenced} />
                  </td>
                  <td class="wide">{value(a.value)}</td>
                  <td class="nowrap wide">{when(a.activeAt ?? a.startsAt)}</td>
                  <td class="wide">
                    <Labels labels={a.labels} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {more ? <p class="muted">Showing the newest {items.length}; narrow the filters to see older ones.</p> : null}
    </section>
  )
}

const eventText: Record<string, string> = {
  created: 'Created',
  pending: 'Pending',
  fired: 'Fired',
  repeated: 'Repeated',
  acked: 'Acknowledged',
  unacked: 'Unacknowledged',
  resolved: 'Resolved',
  silenced: 'Silenced',
  unsilenced: 'Silence ended',
  notified: 'Notified',
  escalated: 'Escalated',
}

function detailText(e: AlertEvent): string {
  const d = (e.detail ?? {}) as Record<string, unknown>
  const parts: string[] = []
  if (e.type === 'notified') {
    if (d.channel ?? d.channelName) parts.push(`via ${String(d.channelName ?? d.channel)}`)
    if (d.result ?? d.status) parts.push(String(d.result ?? d.status))
    if (d.code !== undefined) parts.push(`(${String(d.code)})`)
  }
  for (const [k, x] of Object.entries(d)) {
    if (
      e.type === 'notified' &&
      ['channel', 'channelName', 'channelId', 'notificationId', 'result', 'status', 'code'].includes(k)
    )
      continue
    parts.push(`${k}: ${typeof x === 'object' ? JSON.stringify(x) : String(x)}`)
  }
  return parts.join(' · ')
}

export const Timeline = ({ events }: { events: AlertEvent[] }) => (
  <ol class="timeline" id="timeline">
    {[...events].reverse().map((e) => (
      <li class={`ev ev-${e.type}`} data-event={e.type}>
        <span class="nowrap muted">{when(e.ts)}</span> <strong>{eventText[e.type] ?? e.type}</strong>
        {e.actor ? <span class="muted"> by {e.actor}</span> : null}
        {detailText(e) ? <div class="muted small">{detailText(e)}</div> : null}
      </li>
    ))}
  </ol>
)

export const KeyValues = ({ rows }: { rows: Record<string, string> }) =>
  Object.keys(rows).length ? (
    <dl class="kv">
      {Object.entries(rows).map(([k, x]) => [
        <dt>{k}</dt>,
        <dd>
          {/^https?:\/\//.test(x) ? (
            <a href={x} rel="noreferrer noopener">
              {x}
            </a>
          ) : (
            x
          )}
        </dd>,
      ])}
    </dl>
  ) : (
    <p class="muted">None.</p>
  )

export const Section = ({ title, children, id }: { title: string; children: Child; id?: string }) => (
  <section class="card" id={id}>
    <h2>{title}</h2>
    {children}
  </section>
)
