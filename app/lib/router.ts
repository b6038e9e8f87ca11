import { MESSAGE_MATCHER_IS_ALREADY_BUILT, UnsupportedPathError, type Result, type Router } from 'hono/router'
import { RegExpRouter } from 'hono/router/reg-exp-router'
import { TrieRouter } from 'hono/router/trie-router'

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
export class StaticFirstRouter<T> implements Router<T> {
  name = 'StaticFirstRouter'
  /** `METHOD path` of the static routes answered by the side router. */
  sideRoutes: string[] = []
  /** The route that made the table fall back to TrieRouter, if one did. */
  fallback: string | undefined
  #routes: [string, string, T][] | undefined = []

  add(method: string, path: string, handler: T) {
    if (!this.#routes) throw new Error(MESSAGE_MATCHER_IS_ALREADY_BUILT)
    this.#routes.push([method, path, handler])
  }

  match(method: string, path: string): Result<T> {
    this.#build()
    return this.match(method, path)
  }

  #build() {
    const routes = this.#routes
    if (!routes) throw new Error('router already built')
    this.#routes = undefined
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
      this.fallback = failed
      this.name = 'StaticFirstRouter + TrieRouter'
      this.match = trie.match.bind(trie)
      return
    }
    this.name = 'StaticFirstRouter + RegExpRouter'
    if (!refused.size) {
      this.match = main.match.bind(main)
      return
    }
    const side = new RegExpRouter<T>()
    const sidePaths: Record<string, Set<string>> = Object.create(null)
    for (const [method, path, handler] of routes) {
      if (method === 'ALL' || refused.has(`${method} ${path}`)) side.add(method, path, handler)
      if (method !== 'ALL' && refused.has(`${method} ${path}`)) (sidePaths[method] ??= new Set()).add(path)
    }
    this.sideRoutes = [...refused]
    this.match = (method, path) => (sidePaths[method]?.has(path) ? side : main).match(method, path)
  }
}
