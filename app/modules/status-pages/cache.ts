/**
 * The status pages' answers, kept in this process so that a burst of visitors (a link shared during
 * an outage) is served from memory: the first request of a slug builds its view (concurrent ones
 * wait for the same build), and each format is rendered once per view, with its ETag. Dropped at
 * once when what a page shows changes through this process: its incidents, the page itself, a public
 * silence, or one of its components going up or down. Other instances' changes and the uptime bars'
 * drift are picked up by a check every `ttlMs`: the view is built again (cheap: a few indexed reads)
 * and only when what it says changed are the formats rendered and compressed again (ADR 0021).
 */
import { createHash } from 'node:crypto'
import type { Answers } from './encoded.ts'

/** A format's body with its ETag, and its encoded answers (encoded.ts), made once per build. */
export type Rendered = {
  body: string
  etag: string
  answers: Answers
  /** The headers its answers share (type, ETag, caching), set by the route on first use. */
  headers?: [string, string][]
}

type Entry<V> = {
  /** When the entry was last found current: built, or checked again and found the same. */
  at: number
  /** When its view was built: what its answers' "as of" says. */
  builtAt: number
  view: Promise<V | null>
  /** A hash of what the view says (not when it was built), shared by the formats' ETags; '' for no page. */
  key?: string
  pageId?: string
  componentIds?: Set<string>
  rendered: Map<string, Rendered>
  /** Set once the build finished, so an expired entry can be served while its successor builds. */
  ready?: boolean
  /** The successor being built after this entry's life ended. */
  next?: Entry<V>
}

/** Unknown slugs are cached too (a burst of 404s must not reach the database either), so the map is capped. */
const MAX_ENTRIES = 1000

export function createStatusCache<V>(opts: {
  /** How often a kept view is checked against the database: the bound on what this process has not been told. */
  ttlMs: number
  /**
   * How long a view found unchanged keeps its answers (and their "as of" time) before they are made
   * again anyway; default 60 s. The ETag stays, so browsers keep getting 304s.
   */
  refreshMs?: number
  /**
   * What the view says, as text, without when it was built: a rebuild that finds nothing changed
   * keeps the ETags, so browsers and proxies keep getting 304s across rebuilds.
   */
  fingerprint: (view: V) => string
  /** The view of a published page by slug, with what invalidates it; null for an unknown or unpublished slug. */
  load: (slug: string) => Promise<{ view: V; pageId: string; componentIds: string[] } | null>
  now?: () => number
}) {
  const entries = new Map<string, Entry<V>>()
  const clock = opts.now ?? Date.now
  const refreshMs = opts.refreshMs ?? 60_000
  const keyOf = (view: V) => createHash('sha1').update(opts.fingerprint(view)).digest('base64url')

  function build(slug: string, at: number): Entry<V> {
    const entry: Entry<V> = { at, builtAt: at, view: Promise.resolve(null), rendered: new Map() }
    entry.view = opts.load(slug).then((loaded) => {
      entry.ready = true
      if (!loaded) {
        entry.key = ''
        return null
      }
      entry.pageId = loaded.pageId
      entry.componentIds = new Set(loaded.componentIds)
      entry.key = keyOf(loaded.view)
      return loaded.view
    })
    return entry
  }

  /**
   * The successor of an aged entry is built; when it says the same (same key, same components) and
   * the entry's answers are younger than `refreshMs`, the entry lives on with the answers already
   * rendered and compressed, and the successor is dropped: a check costs the reads, not the render.
   */
  function settle(slug: string, hit: Entry<V>, next: Entry<V>) {
    if (entries.get(slug) !== hit) return
    const same =
      next.key === hit.key &&
      next.pageId === hit.pageId &&
      next.componentIds?.size === hit.componentIds?.size &&
      [...(next.componentIds ?? [])].every((id) => hit.componentIds?.has(id))
    if (same && next.at - hit.builtAt < refreshMs) {
      hit.at = next.at
      hit.next = undefined
    } else entries.set(slug, next)
  }

  function entryOf(slug: string): Entry<V> {
    const at = clock()
    const hit = entries.get(slug)
    if (hit && at - hit.at < opts.ttlMs) return hit
    // Only aged, not invalidated (that deletes it): the old answer stays while the next one builds,
    // so visitors never wait for a rebuild that only refreshes the bars.
    if (hit?.ready) {
      if (!hit.next) {
        const next = build(slug, at)
        hit.next = next
        next.view.then(
          () => settle(slug, hit, next),
          () => {
            hit.next = undefined // kept stale; the next visitor tries again
          },
        )
      }
      return hit
    }
    if (hit) return hit // the first build of this slug is still running: wait for it
    if (entries.size >= MAX_ENTRIES) entries.clear()
    const entry = build(slug, at)
    entry.view.catch(() => {
      // A failed first build is not kept: the next visitor tries again.
      if (entries.get(slug) === entry) entries.delete(slug)
    })
    entries.set(slug, entry)
    return entry
  }

  return {
    /** The view of a published page (null when there is none), and its formats rendered once. */
    async get(slug: string) {
      const entry = entryOf(slug)
      const view = await entry.view
      if (!view) return null
      return {
        view,
        /** The body of one format (html, json, atom) with its ETag, rendered on first use. */
        render(format: string, make: (view: V) => string): Rendered {
          let r = entry.rendered.get(format)
          if (!r) {
            entry.key ??= keyOf(view)
            r = { body: make(view), etag: `"${format}-${entry.key}"`, answers: {} }
            entry.rendered.set(format, r)
          }
          return r
        },
      }
    },
    /** A page's incidents or settings changed (its slug may have too, and unknown slugs may now be known). */
    invalidatePage(pageId: string) {
      for (const [slug, e] of entries) if (e.pageId === pageId || e.pageId === undefined) entries.delete(slug)
    },
    /** A component went up or down: the pages showing it (and those still loading) are built again. */
    invalidateComponent(componentId: string) {
      for (const [slug, e] of entries) if (!e.componentIds || e.componentIds.has(componentId)) entries.delete(slug)
    },
    /** Something every page may show changed (a public silence). */
    invalidateAll() {
      entries.clear()
    },
    /** Whether an aged entry of this slug is being checked (its successor building): for tests and metrics. */
    checking(slug: string) {
      return !!entries.get(slug)?.next
    },
    get size() {
      return entries.size
    },
  }
}

export type StatusCache<V> = ReturnType<typeof createStatusCache<V>>
