import { createServer, type IncomingHttpHeaders } from 'node:http'
import { hmacSha256 } from '../../app/lib/crypto.ts'
import { listenLocal, readBody } from './http.ts'

export type Received = { method: string; path: string; headers: IncomingHttpHeaders; body: string; json: unknown }

/**
 * A real local HTTP server on 127.0.0.1 standing in for Slack, webhooks, PagerDuty and n8n: it
 * records every request, and answers `failures` of them (the next N) with 500 before answering 200.
 */
export async function startReceiver() {
  const requests: Received[] = []
  let failures = 0
  let status = 200
  const server = createServer(async (req, res) => {
    const { text: body, json = null } = await readBody(req)
    requests.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json })
    if (failures > 0) {
      failures--
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end('receiver down')
      return
    }
    res.writeHead(status, { 'Content-Type': 'application/json' }).end('{"status":"success"}')
  })
  const url = await listenLocal(server)
  return {
    url,
    requests,
    /** The next n requests get a 500. */
    fail: (n: number) => void (failures = n),
    setStatus: (s: number) => void (status = s),
    on: (path: string) => requests.filter((r) => r.path === path),
    clear: () => void requests.splice(0),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}
export type Receiver = Awaited<ReturnType<typeof startReceiver>>

/** Checks `X-Homeostat-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">` as a receiver would. */
export function verify(header: string | string[] | undefined, body: string, secret: string) {
  const parts = Object.fromEntries(
    String(header ?? '')
      .split(',')
      .map((p) => p.split('=') as [string, string]),
  )
  return !!parts.t && parts.v1 === hmacSha256(secret, `${parts.t}.${body}`)
}
