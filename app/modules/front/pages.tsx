/** @jsxImportSource hono/jsx */
/**
 * The operator's front page (`/`, docs/front-page.md): the tiles the composition root
 * lists, in their sections' order, for the page's range, each also its own fragment. The page knows
 * no tile: it filters them by the caller's role, sorts and frames them.
 */
import { readFile } from 'node:fs/promises'
import { Hono } from 'hono'
import type { Child } from 'hono/jsx'
import type { AppEnv, Deps, Principal } from '../../context.ts'
import { AppError, forbidden } from '../../lib/errors.ts'
import { Layout } from '../../lib/layout.tsx'
import { clockOf } from '../../lib/time.ts'
import { type FrontTile, frontSections, type TileContext } from '../../lib/tiles.tsx'
import { validate } from '../../lib/validate.ts'
import { access, allows } from '../../middleware/access.ts'
import { requirePrincipal } from '../../middleware/auth.ts'
import { FrontQuery, HelpParam, TileParam } from './input.ts'
import { rangeOf } from './range.ts'
import { readSummaries } from './summaries.ts'
import { RangeLinks, sectionTitles, TileFrame } from './views.tsx'

export function frontPages(deps: Deps, tiles: FrontTile[]) {
  const now = clockOf(deps)
  const log = deps.log.child({ module: 'front' })
  const ids = new Set<string>()
  for (const t of tiles) {
    // Two modules claiming one id would make one of them unreachable as a fragment: refuse at start-up.
    if (ids.has(t.id)) throw new Error(`front page: two tiles have the id ${t.id}`)
    ids.add(t.id)
  }
  const ordered = [...tiles].sort(
    (a, b) => frontSections.indexOf(a.section) - frontSections.indexOf(b.section) || a.order - b.order,
  )
  const byId = new Map(tiles.map((t) => [t.id, t]))
  const visible = (p: Principal) => ordered.filter((t) => allows(p, t.access))

  /** A tile's content; a tile that fails says so in its frame and the page still renders. */
  async function content(tile: FrontTile, ctx: TileContext, requestId: string): Promise<Child> {
    try {
      return await tile.render(ctx)
    } catch (error) {
      log.error('a front page tile failed', { tile: tile.id, requestId, error: String(error) })
      return (
        <p class="error" role="status">
          This tile could not be read (request {requestId}); the server log has the cause.
        </p>
      )
    }
  }

  const app = new Hono<AppEnv>()

  app.get('/', access('viewer'), validate('query', FrontQuery), async (c) => {
    const user = requirePrincipal(c)
    const at = now()
    const name = c.req.valid('query').range ?? '24h'
    const shown = visible(user)
    // The heavy tiles' figures as the front-summaries job last stored them, one statement for all.
    const stored = await readSummaries(deps.db, shown, name, at)
    const range = rangeOf(name, at)
    const parts = await Promise.all(
      shown.map((t) => content(t, { range, user, at, summary: stored.get(t.id) }, c.get('requestId'))),
    )
    const rendered = new Map(shown.map((t, i) => [t.id, parts[i]]))
    return c.html(
      <Layout title="Overview" active="/" principal={user}>
        <div class="page-head">
          <h1>Overview</h1>
          <RangeLinks current={name} />
        </div>
        {frontSections.map((section) => {
          const inSection = shown.filter((t) => t.section === section)
          if (!inSection.length) return null
          return (
            <section
              class="front-section"
              id={`front-${section}`}
              data-section={section}
              aria-labelledby={`front-${section}-h`}
            >
              <h2 id={`front-${section}-h`}>{sectionTitles[section]}</h2>
              <div class={`front-grid ${section}`}>
                {inSection.map((t) => (
                  <TileFrame tile={t} range={name}>
                    {rendered.get(t.id)}
                  </TileFrame>
                ))}
              </div>
            </section>
          )
        })}
      </Layout>,
    )
  })

  app.get(
    '/front/tiles/:id',
    access('viewer'),
    validate('param', TileParam),
    validate('query', FrontQuery),
    async (c) => {
      const tile = byId.get(c.req.valid('param').id)
      if (!tile) throw new AppError(404, 'not_found', 'No such tile', [{ field: 'id', message: 'no tile has this id' }])
      const user = requirePrincipal(c)
      // The same rule as the page: a tile a role may not read is not there for it.
      if (!allows(user, tile.access)) throw forbidden(`This tile needs the ${tile.access} role`)
      const at = now()
      const name = c.req.valid('query').range ?? '24h'
      const summary = (await readSummaries(deps.db, [tile], name, at)).get(tile.id)
      const body = await content(tile, { range: rangeOf(name, at), user, at, summary }, c.get('requestId'))
      return c.html(
        <TileFrame tile={tile} range={name}>
          {body}
        </TileFrame>,
      )
    },
  )

  // The empty states' "how to" links: the documentation page as it is in the repository, as text.
  app.get('/help/:page', access('viewer'), validate('param', HelpParam), async (c) => {
    const page = c.req.valid('param').page
    const text = await readFile(new URL(`../../../docs/${page}.md`, import.meta.url), 'utf8').catch(() => null)
    if (text === null) throw new AppError(404, 'not_found', `docs/${page}.md is not installed with this server`)
    return c.html(
      <Layout title={`Help: ${page}`} active="/" principal={requirePrincipal(c)}>
        <p class="muted">
          docs/{page}.md from this server's installation. <a href="/">Back to the overview</a>
        </p>
        <pre class="doc">{text}</pre>
      </Layout>,
    )
  })

  return app
}
