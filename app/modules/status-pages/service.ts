/**
 * The status pages' long-lived part, built once in the composition root: the cache of public
 * answers and what invalidates it. Everything else is plain functions over the database.
 */
import type { Db } from '../../../db/client.ts'
import { createDailyUptimes } from '../components/index.ts'
import { createBarsRenderer } from './bars.ts'
import { createStatusCache } from './cache.ts'
import { pageBySlug } from './store.ts'
import { buildView, type PublicView, type ViewDeps } from './view.ts'

export type StatusPagesDeps = Omit<ViewDeps, 'dailyUptimes'> & {
  db: Db
  now?: () => number
  /** How long a built page is served from memory before it is built again (short: the bars and states move). */
  ttlMs: number
}

export function createStatusPages(deps: StatusPagesDeps) {
  const clock = deps.now ?? Date.now
  // Past days' bars are read once a day (and again when a late result moves one), today's each build.
  const view: ViewDeps = { ...deps, dailyUptimes: createDailyUptimes() }
  const cache = createStatusCache<PublicView>({
    ttlMs: deps.ttlMs,
    now: clock,
    fingerprint: (view) => JSON.stringify({ ...view, generatedAt: null }),
    load: async (slug) => {
      const p = await pageBySlug(deps.db, slug)
      // An unpublished page is answered like an unknown one: its existence is not public either.
      if (!p?.published) return null
      return {
        view: await buildView(view, p, clock()),
        pageId: p.id,
        componentIds: p.groups.flatMap((g) => g.components.map((c) => c.componentId)),
      }
    },
  })
  // Each component's past bars rendered once a day (or when a late result moves one), today's per render.
  return { cache, bars: createBarsRenderer() }
}

export type StatusPages = ReturnType<typeof createStatusPages>
