/** @jsxImportSource hono/jsx */
import type { Context, ErrorHandler, Hono, NotFoundHandler } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { AppEnv, Deps } from '../context.ts'
import { diskFullError, isDiskFull } from '../lib/disk-full.ts'
import { AppError } from '../lib/errors.ts'
import { Bare, ErrorBox } from '../lib/layout.tsx'

const wantsHtml = (c: Context) =>
  !c.req.path.startsWith('/api/') &&
  (c.req.header('hx-request') === 'true' || (c.req.header('accept') ?? '').includes('text/html'))

function toAppError(err: Error, deps: Pick<Deps, 'disk'>): AppError {
  if (err instanceof AppError) return err
  // A full disk is its own answer (507, and /ready says so): the caller must wait for a person, not a moment.
  if (isDiskFull(err)) {
    deps.disk?.noteFull()
    return diskFullError()
  }
  if (err instanceof HTTPException) {
    if (err.status === 400 && /json/i.test(err.message))
      return new AppError(400, 'invalid_json', 'The body is not valid JSON', [
        { field: '(body)', message: err.message },
      ])
    if (err.status === 413) return new AppError(413, 'payload_too_large', err.message || 'Request body too large')
    return new AppError(err.status, err.status >= 500 ? 'internal' : 'http_error', err.message || 'Request refused')
  }
  // The database is read-only, locked past the busy timeout, or gone: the caller may retry later.
  // Drizzle wraps the driver's error ("Failed query: …"), so look along the cause chain.
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code
    if (
      (typeof code === 'string' && /SQLITE_(BUSY|LOCKED|READONLY|CANTOPEN|IOERR)/.test(code)) ||
      /SQLITE_(BUSY|LOCKED|READONLY)|database is locked|readonly database/i.test(e.message)
    ) {
      return new AppError(
        503,
        'database_unavailable',
        'The database cannot take writes right now; retry shortly',
        undefined,
        { 'Retry-After': '5' },
      )
    }
  }
  return new AppError(500, 'internal', 'Something went wrong on our side; the request id identifies it in the logs')
}

/**
 * What the log gets: the error and its causes, without query parameters — Drizzle's
 * "Failed query: … params: …" message can carry emails and hashes.
 */
function describeError(err: Error): string {
  const parts: string[] = []
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    parts.push(`${e.name}: ${e.message.replace(/\nparams:[\s\S]*$/, '')}`)
  }
  const frame = err.stack?.split('\n').find((line) => line.includes('/app/'))
  return parts.join(' <- ') + (frame ? ` at ${frame.trim()}` : '')
}

/** Every error becomes `{"error":{code,message,details,requestId}}`, or an htmx fragment, or a page. */
export const onError =
  (deps: Pick<Deps, 'log' | 'disk'>): ErrorHandler<AppEnv> =>
  (err, c) => {
    const e = toAppError(err, deps)
    const requestId = c.get('requestId')
    if (e.status >= 500) deps.log.error('request failed', { requestId, path: c.req.path, error: describeError(err) })
    for (const [k, v] of Object.entries(e.headers ?? {})) c.header(k, v)
    if (wantsHtml(c)) {
      const isHtmx = c.req.header('hx-request') === 'true'
      if (e.status === 401) {
        const back = (u: URL) => u.pathname + u.search // the view the user was on, query and all
        const current = c.req.header('hx-current-url')
        const next = encodeURIComponent(isHtmx ? (current ? back(new URL(current)) : '/') : back(new URL(c.req.url)))
        const to = `/login?next=${next}${e.code === 'session_expired' ? '&expired=1' : ''}`
        if (isHtmx) return c.body(null, 200, { 'HX-Redirect': to })
        return c.redirect(to, 302)
      }
      if (e.code === 'two_factor_required' && !isHtmx) return c.redirect('/settings/security', 302)
      const details = Array.isArray(e.details) ? e.details : undefined
      if (isHtmx) {
        c.header('HX-Retarget', '#flash')
        c.header('HX-Reswap', 'innerHTML')
        return c.html(<ErrorBox message={e.message} details={details} />, e.status as 400)
      }
      return c.html(
        <Bare title={`Error ${e.status}`}>
          <ErrorBox message={e.message} details={details} />
          <p>
            <a href="/">Back to the dashboard</a>
          </p>
        </Bare>,
        e.status as 400,
      )
    }
    return c.json(
      { error: { code: e.code, message: e.message, details: e.details ?? null, requestId } },
      e.status as 400,
    )
  }

/** Unknown paths are 404; a known path with another method is 405 with Allow. */
export const notFound =
  (app: Hono<AppEnv>, handle: ErrorHandler<AppEnv>): NotFoundHandler<AppEnv> =>
  (c) => {
    const allowed = new Set<string>()
    for (const r of app.routes) {
      if (r.method !== 'ALL' && pathMatches(r.path, c.req.path)) allowed.add(r.method)
    }
    if (allowed.size) {
      if (allowed.has('GET')) allowed.add('HEAD')
      return handle(
        new AppError(405, 'method_not_allowed', `${c.req.method} is not allowed here`, undefined, {
          Allow: [...allowed].join(', '),
        }),
        c,
      )
    }
    return handle(new AppError(404, 'not_found', `No route for ${c.req.method} ${c.req.path}`), c)
  }

/**
 * Whether a route pattern covers a path (one trailing slash allowed): `:param` is one non-empty
 * segment, a `*` segment any run of characters, slashes included (one per pattern), other segments
 * are literal. Compared segment by segment, in time linear in the path: no regex is built from the
 * patterns nor run over the caller's path.
 */
export const pathMatches = (pattern: string, path: string) =>
  exactly(pattern.split('/'), path) || (path.endsWith('/') && exactly(pattern.split('/'), path.slice(0, -1)))

function exactly(want: string[], path: string) {
  const got = path.split('/')
  const same = (w: string, g: string) => (w.startsWith(':') ? g !== '' : w === g)
  const star = want.indexOf('*')
  if (star < 0) return got.length === want.length && want.every((w, i) => same(w, got[i]!))
  // The star covers at least one segment (maybe empty): the parts before it match the first
  // segments, the parts after it the last ones.
  if (got.length < want.length) return false
  for (let i = 0; i < star; i++) if (!same(want[i]!, got[i]!)) return false
  for (let k = 1; k < want.length - star; k++) if (!same(want[want.length - k]!, got[got.length - k]!)) return false
  return true
}
