import type { ErrorHandler, MiddlewareHandler } from 'hono'
import type { AppEnv, Deps } from '../context.ts'
import { routeFacts, type RouteFacts } from '../lib/route-meta.ts'
import { clockOf } from '../lib/time.ts'
import type { KeyStore } from '../modules/auth/keys.ts'
import { accessGuard } from './access.ts'
import { authenticator } from './auth.ts'
import { limitBody } from './body-limit.ts'
import { csrfGuard } from './csrf.ts'
import { createRateLimiter } from './rate-limit.ts'
import { startRequest } from './request-id.ts'
import { apiHeaders, finishHeaders, pageHeaders } from './secure-headers.ts'

const PROBES = new Set(['/health', '/ready'])

type Series = { count: { inc: () => void }; duration: { observe: (seconds: number) => void } }

/**
 * Everything that runs around every request, in one middleware (each Hono middleware layer costs
 * a dispatch, and these steps are cheap): request id and client ip → body limit → per-IP rate limit
 * → authentication → CSRF → route access (RBAC, per-caller rate limit) → the route → security
 * headers and X-Request-Id → request metrics and the log line. A refusal on the way in becomes the
 * error answer through `onError`, and still gets the headers, the metrics and the log line.
 */
export function pipeline(deps: Deps, keys: KeyStore, onError: ErrorHandler<AppEnv>): MiddlewareHandler<AppEnv> {
  const { config, log, telemetry } = deps
  const perIp = createRateLimiter({ perSecond: config.IP_RATE_LIMIT_PER_SECOND, burst: config.IP_RATE_LIMIT_BURST })
  const authenticate = authenticator(deps, keys)
  const csrf = csrfGuard(config.PUBLIC_URL)
  const enforceAccess = accessGuard(deps)
  const logRequests = log.enabled('info')
  // The platform's clock (a test's fake one): the rate limits' buckets refill by it.
  const clock = clockOf(deps)
  // The metric series of each route, by method and status: no label work per request.
  const seriesOf = new WeakMap<RouteFacts, Map<string, Series>>()

  return async function requestPipeline(c, next) {
    const start = performance.now()
    const now = clock()
    const requestId = startRequest(c, deps)
    const route = routeFacts(c)
    const path = c.req.path
    let refused = false
    try {
      let wait = limitBody(c, route.access === 'ingest' ? config.INGEST_BODY_LIMIT_BYTES : config.BODY_LIMIT_BYTES)
      if (wait) await wait
      if (!PROBES.has(path) && !path.startsWith('/static/')) perIp(c.get('ip'), now)
      // A public route that never reads the caller (status pages) skips it: no session lookup per visit.
      wait = route.anonymous ? undefined : authenticate(c, now)
      if (wait) await wait
      wait = csrf(c)
      if (wait) await wait
      wait = enforceAccess(c, route, now)
      if (wait) await wait
    } catch (error) {
      if (!(error instanceof Error)) throw error
      refused = true // answered here, as Hono's compose would have: onError's answer, c.error set
      c.error = error
      c.res = await onError(error, c)
    }
    if (!refused) await next()

    let res = c.res
    // A kept answer's headers already hold the page security headers (setting 12 headers costs more
    // than the rest of a cached status page answer); any other answer gets them here.
    if (res === c.get('completeAnswer') && !path.startsWith('/api/')) res.headers.set('X-Request-Id', requestId)
    else {
      res = finishHeaders(res, path.startsWith('/api/') ? apiHeaders : pageHeaders, requestId)
      if (res !== c.res) c.res = res
    }
    const seconds = (performance.now() - start) / 1000
    const method = c.req.method
    const status = res.status
    let byKey = seriesOf.get(route)
    if (!byKey) seriesOf.set(route, (byKey = new Map()))
    const key = `${method} ${status}`
    let series = byKey.get(key)
    if (!series) {
      const labels = { method, route: route.path }
      byKey.set(
        key,
        (series = {
          count: telemetry.httpRequests.labels({ ...labels, status: String(status) }),
          duration: telemetry.httpDuration.labels(labels),
        }),
      )
    }
    series.count.inc()
    series.duration.observe(seconds)
    if (logRequests && !PROBES.has(path))
      log.info('request', {
        requestId,
        method,
        // The route pattern, not the path: paths carry secrets (push tokens are path segments).
        route: route.path,
        status,
        ms: Math.round(seconds * 1000),
        actor: c.get('principal')?.name,
      })
  }
}
