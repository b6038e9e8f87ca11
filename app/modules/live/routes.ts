/**
 * `GET /events`: one server-sent event stream per browser tab. It carries a topic and the ids that
 * changed (never the changed data: the page asks for that through its own routes, under their own
 * checks), only for the topics the caller's role may read (access.ts). The dashboard's client
 * (public/live.js) turns each event into a `live:<topic>` DOM event that widgets refresh on.
 */
import { Hono } from 'hono'
import { type SSEStreamingApi, streamSSE } from 'hono/streaming'
import type { AppEnv } from '../../context.ts'
import { AppError } from '../../lib/errors.ts'
import { describe } from '../../lib/route-meta.ts'
import { validate } from '../../lib/validate.ts'
import { access } from '../../middleware/access.ts'
import { requirePrincipal } from '../../middleware/auth.ts'
import { topicsFor } from './access.ts'
import type { ChangeFeed, LiveEvent, Topic } from './feed.ts'
import { EventsQuery } from './input.ts'

export type LiveDeps = { live: ChangeFeed }

/**
 * A comment line this often keeps proxies and Bun's idle timeout (10 s by default) from closing a
 * quiet stream, and lets the server notice a tab that went away.
 */
export const HEARTBEAT_MS = 5_000
/** A stream ends after this; the browser reconnects at once, so sign-out and role changes take effect. */
export const MAX_STREAM_MS = 10 * 60_000
/** How long the browser waits before reconnecting (the SSE `retry` field). */
export const RETRY_MS = 2_000
/** Open streams per process: past it a new one is a 503 and the page keeps polling. */
export const MAX_STREAMS = 2_000

export function liveRoutes(deps: LiveDeps, opts: { heartbeatMs?: number; maxStreamMs?: number } = {}) {
  const heartbeatMs = opts.heartbeatMs ?? HEARTBEAT_MS
  const maxStreamMs = opts.maxStreamMs ?? MAX_STREAM_MS
  const app = new Hono<AppEnv>()
  app.get(
    '/events',
    access('viewer'),
    describe('Server-sent events: a topic and the changed ids, for the topics your role may read', ['live']),
    validate('query', EventsQuery),
    (c) => {
      // A page load or a link is not a stream client: it gets a plain answer rather than a stream it never reads.
      const accept = c.req.header('accept') ?? '*/*'
      if (!/text\/event-stream|\*\/\*/.test(accept))
        throw new AppError(406, 'not_acceptable', 'This is an event stream: ask with Accept: text/event-stream', [
          { field: 'Accept', message: 'must accept text/event-stream' },
        ])
      const asked = c.req.valid('query').topics?.split(',')
      const topics = new Set(topicsFor(requirePrincipal(c)).filter((t) => !asked || asked.includes(t)))
      if (deps.live.listeners >= MAX_STREAMS)
        throw new AppError(503, 'too_many_streams', 'Too many open event streams; the page keeps polling')
      c.header('X-Accel-Buffering', 'no') // nginx: pass events on as they come
      return streamSSE(c, (stream) => pump(deps.live, stream, topics, heartbeatMs, maxStreamMs))
    },
  )
  return app
}

/** Writes the feed's events for `topics` to one stream until the client leaves or the stream's time is up. */
async function pump(feed: ChangeFeed, stream: SSEStreamingApi, topics: Set<Topic>, heartbeatMs: number, maxMs: number) {
  // Events wait here, merged per topic, while a write is on its way: a slow reader gets the latest
  // topics once, never an ever-growing backlog.
  const queue = new Map<Topic, LiveEvent>()
  let wake: (() => void) | undefined
  const unsubscribe = feed.subscribe((events) => {
    for (const e of events) if (topics.has(e.topic)) merge(queue, e)
    if (queue.size) wake?.()
  })
  stream.onAbort(() => wake?.())
  const until = Date.now() + maxMs
  try {
    await stream.writeSSE({ event: 'ready', data: JSON.stringify({ topics: [...topics] }), retry: RETRY_MS })
    while (!stream.aborted && !stream.closed && Date.now() < until) {
      if (!queue.size) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(heartbeatMs, Math.max(0, until - Date.now())))
          timer.unref?.()
          wake = () => {
            clearTimeout(timer)
            resolve()
          }
        })
        wake = undefined
        if (!queue.size) {
          if (!stream.aborted) await stream.write(': ping\n\n')
          continue
        }
      }
      const events = [...queue.values()]
      queue.clear()
      for (const e of events)
        await stream.writeSSE({ event: e.topic, data: JSON.stringify({ ids: e.ids, more: e.more }) })
    }
  } finally {
    unsubscribe()
  }
}

function merge(queue: Map<Topic, LiveEvent>, e: LiveEvent) {
  const had = queue.get(e.topic)
  if (!had) return void queue.set(e.topic, { ...e, ids: [...e.ids] })
  const ids = new Set([...had.ids, ...e.ids])
  queue.set(e.topic, { topic: e.topic, ids: [...ids].slice(0, 50), more: had.more || e.more || ids.size > 50 })
}
