/** @jsxImportSource hono/jsx */
import type { Child } from 'hono/jsx'
import { type FrontRangeName, type FrontSection, type FrontTile, frontRanges } from '../../lib/tiles.tsx'

export const sectionTitles: Record<FrontSection, string> = {
  attention: 'Needs a person',
  fleet: 'Fleet',
  agents: 'Agents and models',
  upkeep: 'Keeping the lights on',
}

/**
 * One tile in its frame. The frame is also the fragment `/front/tiles/<id>` answers, so htmx
 * swaps it whole when the tile's live topic fires (`live:<topic>` on body, dispatched by the
 * live-updates stream) and the range stays the page's.
 */
export function TileFrame({ tile, range, children }: { tile: FrontTile; range: FrontRangeName; children: Child }) {
  const live = tile.topic
    ? {
        'hx-get': `/front/tiles/${tile.id}?range=${range}`,
        'hx-trigger': `live:${tile.topic} from:body`,
        'hx-swap': 'outerHTML',
      }
    : {}
  return (
    <article
      class="card front-tile"
      id={`tile-${tile.id}`}
      data-tile={tile.id}
      aria-labelledby={`tile-${tile.id}-h`}
      {...live}
    >
      <h3 id={`tile-${tile.id}-h`}>{tile.title}</h3>
      {children}
    </article>
  )
}

/** The range links: the whole page reads the same range. */
export function RangeLinks({ current }: { current: FrontRangeName }) {
  return (
    <nav class="range-links" aria-label="Time range">
      {(Object.keys(frontRanges) as FrontRangeName[]).map((r) => (
        <a href={`/?range=${r}`} aria-current={r === current ? 'true' : undefined}>
          {r}
        </a>
      ))}
    </nav>
  )
}
