/** @jsxImportSource hono/jsx */
/**
 * The public status page as HTML: server-rendered, no script, readable by screen readers (each
 * component's 90 bars are one image with a summary; every state is said in words, not only colour).
 */
import { raw } from 'hono/html'
import type { IncidentStatus } from '../../../db/schema/status-pages.ts'
import { type Bars, bars, fmt } from './bars.ts'
import type { ComponentState, Overall, PublicIncident, PublicMaintenance, PublicView } from './view.ts'

const overallText: Record<Overall, string> = {
  operational: 'All systems operational',
  degraded: 'Some systems are affected',
  outage: 'Some systems are down',
  maintenance: 'Scheduled maintenance in progress',
}
const stateText: Record<ComponentState, string> = { operational: 'Operational', outage: 'Outage', unknown: 'No data' }
const incidentText: Record<IncidentStatus, string> = {
  investigating: 'Investigating',
  identified: 'Identified',
  monitoring: 'Monitoring',
  resolved: 'Resolved',
}

/** A time as UTC text that reads the same for every visitor (no script to localise it). */
export const utc = (iso: string) => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`
function Incident({ i, level }: { i: PublicIncident; level: 'h3' | 'h4' }) {
  const H = level
  return (
    <article class={`incident impact-${i.impact}`} id={`incident-${i.id}`}>
      <H>{i.title}</H>
      <p class="meta">
        <span class={`tag s-${i.status}`}>{incidentText[i.status]}</span> Started {utc(i.startedAt)}
        {i.resolvedAt ? ` · resolved ${utc(i.resolvedAt)}` : ''}
        {i.components.length ? ` · affects ${i.components.join(', ')}` : ''}
      </p>
      <ol class="updates">
        {i.updates.map((u) => (
          <li>
            <strong>{incidentText[u.status]}</strong> <time datetime={u.at}>{utc(u.at)}</time>
            <p>{u.message}</p>
          </li>
        ))}
      </ol>
    </article>
  )
}

function Maintenance({ m }: { m: PublicMaintenance }) {
  return (
    <li class="maintenance">
      <strong>{m.title}</strong>{' '}
      <span class="muted">
        <time datetime={m.startsAt}>{utc(m.startsAt)}</time>
        {m.endsAt ? (
          <>
            {' – '}
            <time datetime={m.endsAt}>{utc(m.endsAt)}</time>
          </>
        ) : null}
        {m.recurring ? ' (recurring)' : ''}
      </span>
    </li>
  )
}

/** A component's bars by its key on the page (`createBarsRenderer` keeps the past days'), or made afresh. */
export type BarsOf = (key: string, days: string[], values: (number | null)[], uptime: number | null) => Bars
const freshBars: BarsOf = (_key, days, values, uptime) => bars(days, values, uptime)

export function StatusDocument({ v, barsOf = freshBars }: { v: PublicView; barsOf?: BarsOf }) {
  const base = `/status/${v.page.slug}`
  const past = v.incidents.past
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="color-scheme" content="light dark" />
        <title>{`${v.page.title} status`}</title>
        <link rel="stylesheet" href="/static/status.css" />
        <link
          rel="alternate"
          type="application/atom+xml"
          title={`${v.page.title} incidents`}
          href={`${base}/feed.atom`}
        />
        <link rel="alternate" type="application/json" href={`${base}.json`} />
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="head">
          {v.page.logoText ? (
            <span class="logo" aria-hidden="true">
              {v.page.logoText}
            </span>
          ) : null}
          <h1>{v.page.title}</h1>
        </header>
        <main id="main">
          <section class={`overall o-${v.status}`} aria-labelledby="overall">
            <h2 id="overall">{overallText[v.status]}</h2>
            <p>
              As of <time datetime={v.generatedAt}>{utc(v.generatedAt)}</time>
            </p>
          </section>

          {v.incidents.active.length ? (
            <section aria-labelledby="active">
              <h2 id="active">Active incidents</h2>
              {v.incidents.active.map((i) => (
                <Incident i={i} level="h3" />
              ))}
            </section>
          ) : null}

          {v.maintenance.active.length || v.maintenance.upcoming.length ? (
            <section aria-labelledby="maint">
              <h2 id="maint">Scheduled maintenance</h2>
              {v.maintenance.active.length ? (
                <>
                  <h3>In progress</h3>
                  <ul class="plain">
                    {v.maintenance.active.map((m) => (
                      <Maintenance m={m} />
                    ))}
                  </ul>
                </>
              ) : null}
              {v.maintenance.upcoming.length ? (
                <>
                  <h3>Upcoming</h3>
                  <ul class="plain">
                    {v.maintenance.upcoming.map((m) => (
                      <Maintenance m={m} />
                    ))}
                  </ul>
                </>
              ) : null}
            </section>
          ) : null}

          {v.groups.map((g, gi) => (
            <section class="group" aria-labelledby={`g${gi}`}>
              <h2 id={`g${gi}`}>{g.name}</h2>
              <ul class="components">
                {g.components.map((c, ci) => {
                  const b = barsOf(`${gi}.${ci}`, v.days, c.days, c.uptime)
                  return (
                    <li class="component">
                      <div class="row">
                        <h3>{c.name}</h3>
                        <span class={`state st-${c.status}`}>{stateText[c.status]}</span>
                      </div>
                      <div class="bars" role="img" aria-label={b.label}>
                        {raw(b.html)}
                      </div>
                      {/* "90 days ago" and "Today" come from status.css: some 40 bytes a component less to send. */}
                      <p class="legend" aria-hidden="true">
                        <span>{c.uptime === null ? 'no data' : `${fmt(c.uptime)} uptime`}</span>
                      </p>
                    </li>
                  )
                })}
              </ul>
            </section>
          ))}

          <section aria-labelledby="history">
            <h2 id="history">Past incidents</h2>
            {past.length ? (
              past.map((i) => <Incident i={i} level="h3" />)
            ) : (
              <p class="muted">No incidents in the last {v.days.length} days.</p>
            )}
            {v.maintenance.past.length ? (
              <>
                <h3>Past maintenance</h3>
                <ul class="plain">
                  {v.maintenance.past.map((m) => (
                    <Maintenance m={m} />
                  ))}
                </ul>
              </>
            ) : null}
          </section>
        </main>
        <footer class="foot">
          {v.page.footer ? <p>{v.page.footer}</p> : null}
          <p>
            <a href={`${base}/feed.atom`}>Incident feed (Atom)</a> · <a href={`${base}.json`}>JSON</a> · Powered by
            Homeostat
          </p>
        </footer>
      </body>
    </html>
  )
}

export const renderStatusHtml = (v: PublicView, barsOf?: BarsOf) =>
  `<!doctype html>${(<StatusDocument v={v} barsOf={barsOf} />).toString()}`
