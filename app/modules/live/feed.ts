/**
 * The in-process change feed: modules announce that something changed (a topic and the ids that
 * changed, never the data), and every open event stream (routes.ts) hears it. Built once by the
 * composition root and handed to the modules that publish and to the route that listens; its
 * state (listeners, what waits to be flushed) lives in the object it returns.
 *
 * Announcements are coalesced per topic for `flushMs`: an intake burst of a thousand alerts is one
 * event per stream, not a thousand. Publishers announce a change once it is committed, so a page
 * that asks for the new state on the event reads it.
 */
export const topics = ['alerts', 'healing', 'runs', 'components', 'metrics', 'backups', 'n8n'] as const
export type Topic = (typeof topics)[number]

/** What a stream sends: the topic and up to `maxIds` ids; `more` when more changed than that. */
export type LiveEvent = { topic: Topic; ids: string[]; more: boolean }
export type Listener = (events: readonly LiveEvent[]) => void

export type FeedOptions = {
  /** How long announcements wait and merge before listeners hear them. */
  flushMs?: number
  /** Ids kept per topic and flush; past it the event says `more` and the page reloads its list. */
  maxIds?: number
}

export function createChangeFeed(options: FeedOptions = {}) {
  const flushMs = options.flushMs ?? 100
  const maxIds = options.maxIds ?? 50
  const listeners = new Set<Listener>()
  const pending = new Map<Topic, { ids: Set<string>; more: boolean }>()
  let timer: ReturnType<typeof setTimeout> | undefined

  function flush() {
    timer = undefined
    if (!pending.size) return
    const events = [...pending].map(([topic, p]) => ({ topic, ids: [...p.ids], more: p.more }))
    pending.clear()
    for (const listen of listeners) {
      try {
        listen(events)
      } catch {
        // A listener that throws (its stream just closed) must not keep the others from hearing.
      }
    }
  }

  return {
    /** Announces that `ids` of `topic` changed. Free when no stream is open (the usual server). */
    publish(topic: Topic, ids: readonly string[] = []) {
      if (!listeners.size) return
      let p = pending.get(topic)
      if (!p) pending.set(topic, (p = { ids: new Set(), more: false }))
      for (const id of ids) {
        if (p.ids.size >= maxIds) {
          p.more = true
          break
        }
        p.ids.add(id)
      }
      if (!timer) {
        timer = setTimeout(flush, flushMs)
        timer.unref?.()
      }
    },
    /** Hears every flush until the returned function is called. */
    subscribe(listen: Listener) {
      listeners.add(listen)
      return () => {
        listeners.delete(listen)
      }
    },
    /** Open listeners (streams), for the cap on streams and for /metrics. */
    get listeners() {
      return listeners.size
    },
  }
}

export type ChangeFeed = ReturnType<typeof createChangeFeed>
/** What a publishing module is given: only the publish side. */
export type Publish = ChangeFeed['publish']
