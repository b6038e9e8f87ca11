/**
 * The public status pages: `/status/<slug>` (HTML), `/status/<slug>.json` and
 * `/status/<slug>/feed.atom`, with no sign-in. Served from the in-process cache with an ETag
 * (304 on If-None-Match) and a short Cache-Control, so a burst of visitors costs one build; the
 * bytes of each encoding and their headers are made once per build too (encoded.ts). The routes are
 * `anonymous()`: they never read the caller, so no session is looked up for them.
 */
import { type Context, Hono } from 'hono'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { notFound } from '../../lib/errors.ts'
import { anonymous, describe } from '../../lib/route-meta.ts'
import { validate } from '../../lib/validate.ts'
import { access } from '../../middleware/access.ts'
import { renderAtom } from './atom.ts'
import { encodedAnswer, encodingPicker, notModifiedHeaders } from './encoded.ts'
import { PublicParam } from './input.ts'
import { renderJson } from './json.ts'
import { renderStatusHtml } from './public-page.tsx'
import type { Rendered } from './cache.ts'
import type { StatusPages } from './service.ts'
import type { PublicView } from './view.ts'

/** Browsers and proxies may keep an answer this long; the ETag makes the check after it cheap. */
export const PUBLIC_MAX_AGE_SECONDS = 10
const CACHE_CONTROL = `public, max-age=${PUBLIC_MAX_AGE_SECONDS}`

/** The headers every encoding of a rendered body shares, worked out on its first answer. */
function setHeaders(r: Rendered, type: string) {
  r.headers = [
    ['Content-Type', type],
    ['ETag', r.etag],
    ['Cache-Control', CACHE_CONTROL],
    ['Vary', 'Accept-Encoding'],
  ]
  return r.headers
}

/** Whether If-None-Match names this ETag (a list, `*`, or weak forms of it). */
const matches = (header: string | undefined, etag: string) =>
  !!header && (header.trim() === '*' || header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag))

export function statusPublicRoutes(deps: ModuleDeps & { statusPages: StatusPages }) {
  const { statusPages } = deps
  const app = new Hono<AppEnv>()
  const tags = ['status pages']

  const pickEncoding = encodingPicker()
  const formats = {
    // The bars renderer keeps each component's past days' bars between renders (bars.ts).
    html: {
      type: 'text/html; charset=utf-8',
      make: (v: PublicView) => renderStatusHtml(v, statusPages.bars(v.page.slug)),
    },
    json: { type: 'application/json; charset=utf-8', make: renderJson },
  } as const

  /**
   * A kept answer: its body (a Blob, never copied) and its complete headers (security headers
   * included, so the pipeline only adds the request id) were made once per build; per request this
   * is a cache lookup, an ETag comparison and a Response.
   */
  async function answer(c: Context<AppEnv>, slug: string, type: string, make: (v: PublicView) => string, key: string) {
    const hit = await statusPages.cache.get(slug)
    if (!hit) throw notFound('Status page')
    const r = hit.render(key, make)
    const own = r.headers ?? setHeaders(r, type)
    let res: Response
    if (matches(c.req.header('if-none-match'), r.etag))
      res = new Response(null, { status: 304, headers: notModifiedHeaders(r.answers, own) })
    else {
      const a = encodedAnswer(r.answers, r.body, pickEncoding(c.req.header('accept-encoding')), own)
      res = new Response(a.body, { status: 200, headers: a.headers })
    }
    c.set('completeAnswer', res)
    return res
  }

  app.get(
    '/status/:slug',
    access('public'),
    anonymous(),
    describe('A published status page, no sign-in: HTML, or JSON when the slug ends in .json', tags),
    validate('param', PublicParam),
    (c) => {
      const raw = c.req.valid('param').slug
      const json = raw.endsWith('.json')
      const f = json ? formats.json : formats.html
      return answer(c, json ? raw.slice(0, -5) : raw, f.type, f.make, json ? 'json' : 'html')
    },
  )

  app.get(
    '/status/:slug/feed.atom',
    access('public'),
    anonymous(),
    describe("A published status page's incidents as an Atom feed, no sign-in", tags),
    validate('param', PublicParam),
    (c) =>
      answer(
        c,
        c.req.valid('param').slug,
        'application/atom+xml; charset=utf-8',
        (v) => renderAtom(v, deps.config.PUBLIC_URL),
        'atom',
      ),
  )

  return app
}
