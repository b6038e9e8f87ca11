/** @jsxImportSource hono/jsx */
import { Hono } from 'hono'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { Layout } from '../../lib/layout.tsx'
import { validate } from '../../lib/validate.ts'
import { access } from '../../middleware/access.ts'
import { requirePrincipal } from '../../middleware/auth.ts'
import { SearchQuery } from './input.ts'
import { type Hit, type Results, search } from './service.ts'

const groups: [keyof Results, string][] = [
  ['alerts', 'Alerts'],
  ['components', 'Components'],
  ['rules', 'Rules'],
  ['metrics', 'Metrics'],
]

function Found({ results, q }: { results: Results; q: string }) {
  const any = groups.some(([k]) => results[k].length)
  if (!any) return <p class="none">Nothing named or labelled “{q}”.</p>
  return (
    <>
      {groups.map(([k, title]) =>
        results[k].length ? (
          <section data-group={k}>
            <h3>{title}</h3>
            <ul>
              {results[k].map((h: Hit) => (
                <li>
                  <a href={h.url} data-kind={h.kind}>
                    {h.title} <span class="muted small">{h.detail}</span>
                  </a>
                </li>
              ))}
            </ul>
          </section>
        ) : null,
      )}
    </>
  )
}

/** `GET /search?q=`: the drop-down under the search box (htmx), or a page of its own (Enter). */
export function searchPages(deps: Pick<ModuleDeps, 'db'>) {
  const app = new Hono<AppEnv>()
  app.get('/search', access('viewer'), validate('query', SearchQuery), async (c) => {
    const { q } = c.req.valid('query')
    const results = await search(deps.db, q)
    if (c.req.header('hx-request') === 'true') return c.html(<Found results={results} q={q} />)
    return c.html(
      <Layout title={`Search: ${q}`} active="" principal={requirePrincipal(c)}>
        <h1>Search: {q}</h1>
        <div class="card search-page">
          <Found results={results} q={q} />
        </div>
      </Layout>,
    )
  })
  return app
}
