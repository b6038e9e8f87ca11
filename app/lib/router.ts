import { MESSAGE_MATCHER_IS_ALREADY_BUILT, UnsupportedPathError, type Result, type Router } from 'hono/router'
import { RegExpRouter } from 'hono/router/reg-exp-router'
import { TrieRouter } from 'hono/router/trie-router'

type Route<T> = [method: string, path: string, handler: T]

export type StaticFirstRouter<T> = Router<T> & {
  /** `METHOD path` of the static routes answered by the side router. */
  sideRoutes: string[]
  /** The route that made the table fall back to TrieRouter, if one did. */
  fallback: string | undefined
}

type BuiltRouter<T> = Pick<StaticFirstRouter<T>, 'name' | 'match' | 'sideRoutes' | 'fallback'>

const isStatic = (path: string) => !/[:*]/.test(path)

/**
 * Hono's RegExpRouter (one regular expression per method: the fastest of Hono's routers), for an
 * app with a few static paths beside a `:param` at the same place, such as
 * `POST /api/v1/alert-rules/test` beside `POST /api/v1/alert-rules/:id/test`, or the page
 * `/alerts/rules` beside `/alerts/:id`. RegExpRouter refuses those, and Hono's default router then
 * sends the whole app through the slower TrieRouter. Here the static routes it refuses are answered
 * from a second RegExpRouter that holds only them and the app-wide middleware: an exact match on a
 * static path wins over a `:param` (so `/alerts/rules` is the rules page, never alert "rules").
 *
 * Middleware (`app.use`) must come before the first route, as in createApp. If that does not hold,
 * or RegExpRouter refuses a route that is not static, the whole table falls back to TrieRouter and
 * `fallback` says why (a test keeps that from happening).
 */
export function staticFirstRouter<T>(): StaticFirstRouter<T> {
  let routes: Route<T>[] | undefined = []
  const router: StaticFirstRouter<T> = {
    name: 'StaticFirstRouter',
    sideRoutes: [],
    fallback: undefined,
    add(method, path, handler) {
      if (!routes) throw new Error(MESSAGE_MATCHER_IS_ALREADY_BUILT)
      routes.push([method, path, handler])
    },
    // Built on the first request, when every route is known; the built `match` then replaces this one.
    match(method, path) {
      if (!routes) throw new Error('router already built')
      const added = routes
      routes = undefined
      Object.assign(router, buildRouter(added))
      return router.match(method, path)
    },
  }
  return router
}

function buildRouter<T>(routes: Route<T>[]): BuiltRouter<T> {
  const main = new RegExpRouter<T>()
  const refused = new Set<string>()
  let failed: string | undefined
  // Middleware and :param routes first, in their order, so that a refusal falls on a static route.
  for (const [method, path, handler] of routes) {
    if (method !== 'ALL' && isStatic(path)) continue
    try {
      main.add(method, path, handler)
    } catch (error) {
      if (!(error instanceof UnsupportedPathError)) throw error
      failed = `${method} ${path}`
      break
    }
  }
  // Static routes are added after the rest, so middleware must all come before the first route.
  const firstRoute = routes.findIndex(([method]) => method !== 'ALL')
  const late = firstRoute < 0 ? undefined : routes.slice(firstRoute).find(([method]) => method === 'ALL')
  if (!failed && late) failed = `ALL ${late[1]} (middleware after the first route)`
  if (!failed) {
    for (const [method, path, handler] of routes) {
      if (method === 'ALL' || !isStatic(path)) continue
      const key = `${method} ${path}`
      if (refused.has(key)) continue
      try {
        main.add(method, path, handler)
      } catch (error) {
        if (!(error instanceof UnsupportedPathError)) throw error
        refused.add(key)
      }
    }
  }
  if (failed) {
    const trie = new TrieRouter<T>()
    for (const [method, path, handler] of routes) trie.add(method, path, handler)
    return { name: 'StaticFirstRouter + TrieRouter', match: trie.match.bind(trie), sideRoutes: [], fallback: failed }
  }
  const name = 'StaticFirstRouter + RegExpRouter'
  if (!refused.size) return { name, match: main.match.bind(main), sideRoutes: [], fallback: undefined }
  const side = new RegExpRouter<T>()
  const sidePaths: Record<string, Set<string>> = Object.create(null)
  for (const [method, path, handler] of routes) {
    if (method === 'ALL' || refused.has(`${method} ${path}`)) side.add(method, path, handler)
    if (method !== 'ALL' && refused.has(`${method} ${path}`)) (sidePaths[method] ??= new Set()).add(path)
  }
  const match = (method: string, path: string): Result<T> =>
    (sidePaths[method]?.has(path) ? side : main).match(method, path)
  return { name, match, sideRoutes: [...refused], fallback: undefined }
}
