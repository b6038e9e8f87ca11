/** @jsxImportSource hono/jsx */
/** The front page's backups tile: per target the last good backup and when the next is due; overdue ones first. */
import { bytes } from '../../lib/format.ts'
import { when } from '../../lib/layout.tsx'
import { type FrontTile, TileEmpty } from '../../lib/tiles.tsx'
import type { BackupsService } from './snapshots/service.ts'

type Status = Awaited<ReturnType<BackupsService['status']>>

function BackupsView({ s }: { s: Status }) {
  const targets = [...s.targets].sort((a, b) => Number(b.missed) - Number(a.missed))
  if (!targets.some((t) => t.lastGood))
    return (
      <TileEmpty doc="backups">
        No good backup yet: <a href="/backups">run one now</a> or give a target a schedule.
      </TileEmpty>
    )
  return (
    <ul class="plain upkeep-list">
      {targets.map((t) => (
        <li class={t.missed ? 'bad-text' : ''} data-target={t.target.name}>
          <strong>{t.target.name}</strong>: last good{' '}
          {t.lastGood ? `${when(t.lastGood.startedAt)} (${bytes(t.lastGood.size)})` : 'never'}
          {t.missed ? ' — overdue' : ''}
          <span class="muted">
            {' '}
            · next due {t.nextDue ? when(t.nextDue) : t.target.enabled ? '—' : 'never (disabled)'}
          </span>
        </li>
      ))}
    </ul>
  )
}

/** The tiles this module puts on the front page (listed by the composition root). */
export function backupTiles({ backups }: { backups: BackupsService }): FrontTile[] {
  return [
    {
      id: 'backups',
      section: 'upkeep',
      order: 10,
      title: 'Backups',
      access: 'viewer',
      topic: 'backups',
      render: async () => <BackupsView s={await backups.status()} />,
    },
  ]
}
