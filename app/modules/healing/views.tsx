/** @jsxImportSource hono/jsx */
import type { Child } from 'hono/jsx'
import type { HealingAction, HealingEvent } from '../../../db/schema/healing.ts'
import { TabNav, when } from '../../lib/layout.tsx'

export const healingTabs = [
  { href: '/healing', label: 'Overview' },
  { href: '/healing/actions', label: 'Actions' },
  { href: '/healing/rules', label: 'Rules' },
  { href: '/healing/routes', label: 'Model routes' },
  { href: '/healing/breakers', label: 'Breakers' },
  { href: '/healing/stats', label: 'Statistics' },
] as const

/** The healing section's sub-pages; n8n instances only for admins. */
export const Tabs = ({ active, admin }: { active: string; admin?: boolean }) => (
  <TabNav
    label="Healing sections"
    tabs={admin ? [...healingTabs, { href: '/healing/n8n', label: 'n8n instances' }] : healingTabs}
    active={active}
  />
)

// The stylesheet's existing colours: green for done, red for failed, amber for waiting.
const statusClass: Record<string, string> = {
  SUCCESS: 'st-ok',
  FAILED: 'sev-error',
  ROLLED_BACK: 'sev-warning',
  PENDING_APPROVAL: 'st-pending',
  PENDING: 'sev-info',
  RUNNING: 'sev-info',
  VERIFYING: 'sev-info',
  REJECTED: 'st-resolved',
  EXPIRED: 'st-resolved',
  SKIPPED: 'st-resolved',
}
export const ActionStatus = ({ status }: { status: string }) => (
  <span class={`pill ${statusClass[status] ?? ''}`} data-status={status}>
    {status.replace('_', ' ')}
  </span>
)

const breakerClass: Record<string, string> = { CLOSED: 'st-ok', OPEN: 'sev-critical', HALF_OPEN: 'sev-warning' }
export const BreakerState = ({ state }: { state: string | null }) =>
  state ? (
    <span class={`pill ${breakerClass[state] ?? ''}`} data-breaker-state={state}>
      {state.replace('_', ' ')}
    </span>
  ) : (
    <span class="muted">no reports</span>
  )

export const pct = (x: number | null) => (x === null ? '—' : `${Math.round(x * 1000) / 10}%`)

/** Milliseconds as a short human duration (850 ms, 12.5 s, 3 min, 2.1 h). */
export function ms(x: number | null | undefined): string {
  if (x === null || x === undefined) return '—'
  if (x < 1000) return `${x} ms`
  if (x < 60_000) return `${Math.round(x / 100) / 10} s`
  if (x < 3_600_000) return `${Math.round(x / 6000) / 10} min`
  if (x < 86_400_000) return `${Math.round(x / 360_000) / 10} h`
  return `${Math.round(x / 8_640_000) / 10} d`
}

export const Section = ({ title, children, id }: { title: string; children: Child; id?: string }) => (
  <section class="card" id={id}>
    <h2>{title}</h2>
    {children}
  </section>
)

export const Json = ({ value }: { value: unknown }) => <pre class="small json">{JSON.stringify(value, null, 2)}</pre>

/** What started an action, in words. */
export const triggerText = (a: Pick<HealingAction, 'trigger'>) => `${a.trigger.type}: ${a.trigger.summary}`

/** Approve/Reject buttons of an action waiting for approval (operators only; the caller decides). */
export const Decide = ({ a }: { a: Pick<HealingAction, 'id' | 'actionType' | 'target'> }) => (
  <span class="nowrap decide" data-decide={a.id}>
    <button
      class="small"
      hx-post={`/healing/actions/${a.id}/approve`}
      hx-confirm={`Run ${a.actionType} on ${a.target} now?`}
      hx-swap="none"
    >
      Approve
    </button>{' '}
    <button class="small danger" hx-post={`/healing/actions/${a.id}/reject`} hx-swap="none">
      Reject
    </button>
  </span>
)

/** A table of actions, newest first. */
export function ActionTable({ items, write, id }: { items: HealingAction[]; write: boolean; id?: string }) {
  return (
    <div class="table-wrap">
      <table class="table" id={id}>
        <thead>
          <tr>
            <th>Status</th>
            <th>Action</th>
            <th>Target</th>
            <th class="wide">Trigger</th>
            <th>Created</th>
            {write ? <th></th> : null}
          </tr>
        </thead>
        <tbody>
          {items.map((a) => (
            <tr data-action={a.id} data-status={a.status}>
              <td>
                <ActionStatus status={a.status} />
                {a.dryRun ? <span class="muted"> dry run</span> : null}
              </td>
              <td>
                <a href={`/healing/actions/${a.id}`}>{a.actionType}</a>
                <br />
                <span class="muted small">
                  {a.requestedBy}
                  {a.reason ? ` · ${a.reason}` : ''}
                </span>
              </td>
              <td>
                <code>{a.target}</code>
              </td>
              <td class="wide small">{triggerText(a)}</td>
              <td class="nowrap">{when(a.createdAt)}</td>
              {write ? <td>{a.status === 'PENDING_APPROVAL' ? <Decide a={a} /> : null}</td> : null}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}

/** The action's timeline, oldest first, as it happened. */
export const Timeline = ({ events }: { events: HealingEvent[] }) => (
  <ol class="timeline" id="timeline">
    {events.map((e) => (
      <li class={`ev ev-${e.status}`} data-event={e.status}>
        <span class="nowrap muted">{when(e.ts)}</span> <ActionStatus status={e.status} />{' '}
        <span class="muted">by {e.actor}</span>
        {e.message ? <div>{e.message}</div> : null}
        {Object.keys(e.detail ?? {}).length ? (
          <div class="muted small">
            {Object.entries(e.detail)
              .map(([k, x]) => `${k}: ${typeof x === 'object' ? JSON.stringify(x) : String(x)}`)
              .join(' · ')}
          </div>
        ) : null}
      </li>
    ))}
  </ol>
)
