/**
 * Faults, slow and hanging destinations: a Slack stand-in that accepts the connection and never
 * answers, and an n8n webhook stand-in that answers after 30 s. While notifications to both are in
 * flight, ingest and the dashboard are not held up (each request answers within a wide, load-proof
 * bound, beside the same requests measured before the hang), every send is cut off by the outbound
 * timeout (the stand-ins see the client close the connection), retried, and the attempts with
 * their error are visible in the alert's delivery history.
 */
import { createServer, type ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, signIn, startFaultServer } from '../helpers/faults.ts'
import { listenLocal } from '../helpers/http.ts'
import { cliKey, killAll, until } from '../helpers/server.ts'

/** A destination that holds each request (`answerAfterMs` null: forever), counting arrivals and client hang-ups. */
function slowDestination(answerAfterMs: number | null) {
  const seen = { arrived: 0, closedByClient: 0 }
  const open: ServerResponse[] = []
  const server = createServer((req, res) => {
    seen.arrived++
    open.push(res)
    req.resume()
    res.on('close', () => {
      if (!res.writableEnded) seen.closedByClient++
    })
    if (answerAfterMs !== null) setTimeout(() => !res.destroyed && res.writeHead(200).end('ok'), answerAfterMs).unref()
  })
  return {
    seen,
    server,
    close: async () => {
      for (const r of open) r.destroy()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

const slack = slowDestination(null)
const n8n = slowDestination(30_000)
let slackUrl = ''
let n8nUrl = ''
beforeAll(async () => {
  slackUrl = await listenLocal(slack.server)
  n8nUrl = await listenLocal(n8n.server)
})
afterAll(async () => {
  await killAll()
  await slack.close()
  await n8n.close()
})

const ADMIN = { email: 'slow@example.com', password: 'slow-destinations-password-1' }
/** No single request may take this long (the outbound timeout is 10 s; a request blocked behind a send would). */
const BOUND_MS = 5_000

describe('slow and hanging destinations', () => {
  it('do not slow ingest or the dashboard; sends time out, retry and show in the history', async () => {
    const server = await startFaultServer({ env: { ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password } })
    const operator = api(server, await cliKey(server, 'slow-op', 'operator'))
    const ingest = api(server, await cliKey(server, 'slow-ingest', 'operator', ['ingest']))
    const { cookie } = await signIn(server, ADMIN)
    expect(cookie).toBeTruthy()
    const timed = async (what: () => Promise<{ status: number }>) => {
      const t0 = performance.now()
      const r = await what()
      return { status: r.status, ms: performance.now() - t0 }
    }
    let seq = 0
    const probe = async () => [
      await timed(() =>
        ingest('POST', '/api/v1/metrics', {
          points: [{ name: 'slow_probe', value: seq, ts: 1_700_000_000_000 + seq++ }],
        }),
      ),
      await timed(() => server.fetch('/alerts', { headers: { cookie: `hs_session=${cookie}`, accept: 'text/html' } })),
    ]
    const before = []
    for (let i = 0; i < 5; i++) before.push(...(await probe()))

    for (const [name, type, settings] of [
      ['slack-down', 'slack', { webhookUrl: slackUrl }],
      ['n8n-slow', 'n8n', { url: n8nUrl }],
    ] as const) {
      const r = await operator('POST', '/api/v1/channels', { name, type, settings })
      expect(r.status, r.text).toBe(201)
    }
    const fired = await ingest('POST', '/api/v2/alerts', [
      { labels: { alertname: 'SlowDestinations', severity: 'critical', item: '1' } },
      { labels: { alertname: 'SlowDestinations', severity: 'critical', item: '2' } },
    ])
    expect(fired.status, fired.text).toBe(200)
    await until(
      'both destinations hold a send',
      () => (slack.seen.arrived && n8n.seen.arrived ? true : undefined),
      20_000,
    )

    const during = []
    for (let i = 0; i < 10; i++) during.push(...(await probe()))
    for (const r of [...before, ...during]) expect(r.status).toBe(200)
    const slowest = Math.max(...during.map((r) => r.ms))
    expect(
      slowest,
      `before: ${before.map((r) => Math.round(r.ms))} during: ${during.map((r) => Math.round(r.ms))}`,
    ).toBeLessThan(BOUND_MS)

    // Each hanging send is cut off by the outbound timeout (the client closes it), then retried.
    await until(
      'sends cut off and retried',
      () =>
        slack.seen.closedByClient >= 2 && slack.seen.arrived >= 3 && n8n.seen.closedByClient >= 2 ? true : undefined,
      60_000,
      500,
    )
    const alerts = await operator('GET', '/api/v1/alerts?search=SlowDestinations')
    const id = alerts.json.items[0].id as string
    const history = await operator('GET', `/api/v1/alerts/${id}/notifications`)
    expect(history.status).toBe(200)
    const rows = (history.json.items ?? history.json) as {
      status: string
      attempts: number
      lastError: string | null
    }[]
    expect(rows.length).toBe(2)
    for (const row of rows) {
      expect(row.attempts).toBeGreaterThanOrEqual(1)
      expect(['failed', 'sending', 'pending']).toContain(row.status)
    }
    expect(rows.some((r) => /time|abort/i.test(r.lastError ?? ''))).toBe(true)
  }, 110_000)
})
