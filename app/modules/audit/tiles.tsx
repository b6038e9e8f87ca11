/** @jsxImportSource hono/jsx */
/** The front page's recent-changes tile, for admins only: who did what, from the audit log. */
import { desc } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { auditLog } from '../../../db/schema/audit.ts'
import { when } from '../../lib/layout.tsx'
import { type FrontTile, TileEmpty } from '../../lib/tiles.tsx'

const LISTED = 8

/** The tiles this module puts on the front page (listed by the composition root). */
export function auditTiles({ db }: { db: Db }): FrontTile[] {
  return [
    {
      id: 'recent-changes',
      section: 'upkeep',
      order: 90,
      title: 'Recent changes',
      // The audit log says who did what from which address: admins only, as its own page.
      access: 'admin',
      render: async () => {
        const recent = await db.select().from(auditLog).orderBy(desc(auditLog.id)).limit(LISTED)
        if (!recent.length) return <TileEmpty doc="security">No changes recorded yet.</TileEmpty>
        return (
          <ul class="plain">
            {recent.map((e) => (
              <li>
                <span class="muted">{when(e.ts)}</span> {e.actor} <code>{e.action}</code> {e.target ?? ''}
              </li>
            ))}
          </ul>
        )
      },
    },
  ]
}
