/** @jsxImportSource hono/jsx */
/** The front page's runs tile: escalated runs that wait for a person's decision (docs/runs.md#status). */
import { and, asc, count, eq, isNull } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { runs } from '../../../db/schema/runs.ts'
import { when } from '../../lib/layout.tsx'
import { type FrontTile, TileEmpty } from '../../lib/tiles.tsx'

const LISTED = 6

export async function escalatedRuns(db: Db) {
  const waiting = and(eq(runs.status, 'escalated'), isNull(runs.decision))
  const [[total], top] = await Promise.all([
    db.select({ n: count() }).from(runs).where(waiting),
    db
      .select({ id: runs.id, goal: runs.goal, escalation: runs.escalation, updatedAt: runs.updatedAt })
      .from(runs)
      .where(waiting)
      .orderBy(asc(runs.updatedAt))
      .limit(LISTED),
  ])
  return { total: total?.n ?? 0, top }
}

function EscalatedView({ data }: { data: Awaited<ReturnType<typeof escalatedRuns>> }) {
  if (!data.total)
    return (
      <TileEmpty doc="runs">
        No escalated run waits for a decision; runs recorded through the API or OpenTelemetry escalate here.
      </TileEmpty>
    )
  return (
    <>
      <p data-count="escalated">
        <strong>{data.total}</strong> escalated
      </p>
      <ul class="plain attention-list">
        {data.top.map((r) => (
          <li>
            <a href={`/runs/${encodeURIComponent(r.id)}`}>{r.goal || r.id}</a>{' '}
            <span class="muted">
              {r.escalation?.reason ?? 'escalated'}, {when(r.escalation?.at ?? r.updatedAt)}
            </span>
          </li>
        ))}
      </ul>
      <p class="muted">
        <a href="/runs/queue">Decide in the escalation queue</a>
      </p>
    </>
  )
}

/** The tiles this module puts on the front page (listed by the composition root). */
export function runsTiles({ db }: { db: Db }): FrontTile[] {
  return [
    {
      id: 'escalated-runs',
      section: 'attention',
      order: 30,
      title: 'Escalated runs',
      access: 'viewer',
      topic: 'runs',
      render: async () => <EscalatedView data={await escalatedRuns(db)} />,
    },
  ]
}
