import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { listenLocal } from './http.ts'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

/**
 * A real HTTP server on 127.0.0.1 standing in for a checked component: `/ok` (200 "all good"),
 * `/fail` (500), `/text` (200 with other text), `/slow-body` (headers now, body never), `/hang`
 * (never answers); more paths via `routes`. It counts requests per path, the most requests in
 * flight at once, and how many arrived before the first one ended.
 */
export async function httpTarget(routes: Record<string, Handler> = {}) {
  const hits = new Map<string, number>()
  let inFlight = 0
  let maxInFlight = 0
  let closed = 0
  let arrivedBeforeClose = 0
  const all: Record<string, Handler> = {
    '/ok': (_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"all good"}'),
    '/fail': (_req, res) => res.writeHead(500).end('boom'),
    '/text': (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('something else entirely'),
    '/slow-body': (_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).write('partial '),
    '/hang': () => {},
    ...routes,
  }
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    hits.set(path, (hits.get(path) ?? 0) + 1)
    inFlight++
    maxInFlight = Math.max(maxInFlight, inFlight)
    if (closed === 0) arrivedBeforeClose++
    res.once('close', () => {
      inFlight--
      closed++
    })
    ;(all[path] ?? ((_q: IncomingMessage, r: ServerResponse) => r.writeHead(404).end('no such path')))(req, res)
  })
  const base = await listenLocal(server)
  return {
    url: (path: string) => `${base}${path}`,
    hits: (path: string) => hits.get(path) ?? 0,
    maxInFlight: () => maxInFlight,
    /** Requests that arrived before any request ended: the first wave of concurrent requests. */
    firstWave: () => arrivedBeforeClose,
    resetMax: () => {
      maxInFlight = inFlight
      closed = 0
      arrivedBeforeClose = 0
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** A URL on 127.0.0.1 where nothing listens: a server is started, its port noted, and it is closed. */
export async function refusedUrl(path = '/') {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `http://127.0.0.1:${port}${path}`
}
