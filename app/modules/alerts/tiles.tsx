/** @jsxImportSource hono/jsx */
/** The front page's alerts tile: what fires and nobody has acknowledged yet, by severity, most severe first. */
import { and, count, desc, eq, sql } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { alerts, severities } from '../../../db/schema/alerts.ts'
import { when } from '../../lib/layout.tsx'
import { type FrontTile, TileEmpty } from '../../lib/tiles.tsx'

const LISTED = 8
const severityOrder = sql`case ${alerts.severity} ${sql.join(
  severities.map((s, i) => sql`when ${s} then ${i}`),
  sql` `,
)} end`

/** Counts of open alerts by status, severity and silenced flag (the status index), and the first few unacknowledged ones. */
export async function unacknowledged(db: Db) {
  const [counts, top] = await Promise.all([
    db
      .select({ status: alerts.status, severity: alerts.severity, silenced: alerts.silenced, n: count() })
      .from(alerts)
      .where(sql`${alerts.status} in ('firing', 'acknowledged')`)
      .groupBy(alerts.status, alerts.severity, alerts.silenced),
    db
      .select({ id: alerts.id, title: alerts.title, severity: alerts.severity, startsAt: alerts.startsAt })
      .from(alerts)
      .where(and(eq(alerts.status, 'firing'), eq(alerts.silenced, false)))
      .orderBy(severityOrder, desc(alerts.startsAt))
      .limit(LISTED),
  ])
  const bySeverity = Object.fromEntries(severities.map((s) => [s, 0])) as Record<(typeof severities)[number], number>
  let acknowledged = 0
  let silenced = 0
  for (const r of counts) {
    if (r.status === 'acknowledged') acknowledged += r.n
    else if (r.silenced) silenced += r.n
    else bySeverity[r.severity] += r.n
  }
  const firing = Object.values(bySeverity).reduce((a, b) => a + b, 0)
  return { firing, bySeverity, acknowledged, silenced, top }
}

function AlertsView({ data }: { data: Awaited<ReturnType<typeof unacknowledged>> }) {
  const aside =
    data.acknowledged || data.silenced ? (
      <p class="muted">
        Also open: {data.acknowledged} acknowledged, {data.silenced} silenced. <a href="/alerts">All alerts</a>
      </p>
    ) : null
  if (!data.firing)
    return (
      <>
        <p class="calm" data-count="firing">
          Nothing firing that waits for a person.
        </p>
        {aside ?? (
          <TileEmpty doc="alerts">
            Alerts come from rules over metrics, or from Alertmanager, Grafana and scripts.
          </TileEmpty>
        )}
      </>
    )
  return (
    <>
      <p class="severities" data-count="firing">
        {severities
          .filter((s) => data.bySeverity[s])
          .map((s) => (
            <a class={`sev sev-${s}`} href={`/alerts?status=firing&severity=${s}`}>
              <strong>{data.bySeverity[s]}</strong> {s}
            </a>
          ))}
      </p>
      <ul class="plain attention-list">
        {data.top.map((a) => (
          <li>
            <span class={`sev-dot sev-${a.severity}`} aria-hidden="true"></span>
            <a href={`/alerts/${a.id}`}>{a.title}</a> <span class="muted">since {when(a.startsAt)}</span>
          </li>
        ))}
      </ul>
      {data.firing > data.top.length ? (
        <p class="muted">
          <a href="/alerts?status=firing">All {data.firing} firing</a>
        </p>
      ) : null}
      {aside}
    </>
  )
}

/** The tiles this module puts on the front page (listed by the composition root). */
export function alertTiles({ db }: { db: Db }): FrontTile[] {
  return [
    {
      id: 'alerts',
      section: 'attention',
      order: 10,
      title: 'Firing, not acknowledged',
      access: 'viewer',
      topic: 'alerts',
      render: async () => <AlertsView data={await unacknowledged(db)} />,
    },
  ]
}
