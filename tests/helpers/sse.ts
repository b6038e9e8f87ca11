/** Server-sent event streams in tests: the app served on loopback, and a reader of its events over fetch. */
import type { AddressInfo } from 'node:net'
import { serve } from '@hono/node-server'
import type { TestApp } from './app.ts'

/**
 * The test app over real HTTP on a free port of 127.0.0.1. `close` cuts open streams first (an event
 * stream never ends by itself).
 */
export async function serveLoopback(t: Pick<TestApp, 'app'>) {
  const server = serve({ fetch: t.app.fetch, port: 0, hostname: '127.0.0.1' }) as import('node:http').Server
  await new Promise<void>((resolve) => (server.listening ? resolve() : server.once('listening', () => resolve())))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

export type SseEvent = { event: string; data: string; id?: string; retry?: number }

/**
 * An open stream read with fetch: `next(name)` waits for the next event of that name (or any),
 * `seen` holds every event read so far, `close` cancels the body. Comment lines (`: ping`) are counted.
 */
export async function openEvents(url: string, headers: Record<string, string> = {}) {
  const controller = new AbortController()
  const res = await fetch(url, { headers: { Accept: 'text/event-stream', ...headers }, signal: controller.signal })
  const seen: SseEvent[] = []
  let comments = 0
  const reader = res.body?.getReader()
  const decoder = new TextDecoder()
  let buffer = ''

  async function readOne(): Promise<SseEvent | 'comment' | null> {
    for (;;) {
      const end = buffer.indexOf('\n\n')
      if (end >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const e: SseEvent = { event: 'message', data: '' }
        const data: string[] = []
        let any = false
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) comments++
          else if (line.startsWith('event: ')) (e.event = line.slice(7)), (any = true)
          else if (line.startsWith('data: ')) data.push(line.slice(6)), (any = true)
          else if (line.startsWith('id: ')) e.id = line.slice(4)
          else if (line.startsWith('retry: ')) e.retry = Number(line.slice(7))
        }
        if (!any) return 'comment'
        e.data = data.join('\n')
        seen.push(e)
        return e
      }
      const chunk = await reader!.read()
      if (chunk.done) return null
      buffer += decoder.decode(chunk.value, { stream: true })
    }
  }

  return {
    res,
    seen,
    get comments() {
      return comments
    },
    /** The next event named `name` (any when omitted); null when the stream ended first. */
    async next(name?: string): Promise<SseEvent | null> {
      for (;;) {
        const e = await readOne()
        if (e === 'comment') continue
        if (!e || !name || e.event === name) return e
      }
    },
    /** Reads until a comment line (a heartbeat) arrives. */
    async heartbeat() {
      for (;;) {
        const e = await readOne()
        if (e === 'comment') return true
        if (e === null) return false
      }
    },
    close: () => controller.abort(),
  }
}
