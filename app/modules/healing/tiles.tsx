/** @jsxImportSource hono/jsx */
/** The front page's healing tile: actions that wait for a person to approve or reject them. */
import { asc, count, eq } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { healingActions } from '../../../db/schema/healing.ts'
import { when } from '../../lib/layout.tsx'
import { type FrontTile, TileEmpty } from '../../lib/tiles.tsx'

const LISTED = 6

export async function awaitingApproval(db: Db) {
  const waiting = eq(healingActions.status, 'PENDING_APPROVAL')
  const [[total], top] = await Promise.all([
    db.select({ n: count() }).from(healingActions).where(waiting),
    db
      .select({
        id: healingActions.id,
        actionType: healingActions.actionType,
        target: healingActions.target,
        createdAt: healingActions.createdAt,
        expiresAt: healingActions.approvalExpiresAt,
      })
      .from(healingActions)
      .where(waiting)
      .orderBy(asc(healingActions.createdAt))
      .limit(LISTED),
  ])
  return { total: total?.n ?? 0, top }
}

function ApprovalsView({ data }: { data: Awaited<ReturnType<typeof awaitingApproval>> }) {
  if (!data.total)
    return (
      <TileEmpty doc="healing">
        No healing action waits for approval; rules in <code>requires_approval</code> mode put theirs here.
      </TileEmpty>
    )
  return (
    <>
      <p data-count="approvals">
        <strong>{data.total}</strong> awaiting approval
      </p>
      <ul class="plain attention-list">
        {data.top.map((a) => (
          <li>
            <a href={`/healing/actions/${a.id}`}>
              {a.actionType} on {a.target}
            </a>{' '}
            <span class="muted">
              asked {when(a.createdAt)}
              {a.expiresAt ? `, expires ${when(a.expiresAt)}` : ''}
            </span>
          </li>
        ))}
      </ul>
      <p class="muted">
        <a href="/healing#approvals">Approve or reject on Healing</a>
      </p>
    </>
  )
}

/** The tiles this module puts on the front page (listed by the composition root). */
export function healingTiles({ db }: { db: Db }): FrontTile[] {
  return [
    {
      id: 'approvals',
      section: 'attention',
      order: 20,
      title: 'Healing awaiting approval',
      access: 'viewer',
      topic: 'healing',
      render: async () => <ApprovalsView data={await awaitingApproval(db)} />,
    },
  ]
}
