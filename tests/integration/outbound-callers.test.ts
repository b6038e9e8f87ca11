/**
 * The callers of URLs users configure go through the outbound policy: healing webhooks, channel
 * tests, component checks and model-route probes. Every non-loopback address here is one the
 * policy refuses before connecting; a spy on `net.Socket.prototype.connect` fails any connection
 * beyond the expected loopback ones before it leaves the process, so even a caller that skipped
 * the policy would send no traffic beyond loopback while these tests run.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { asc, eq } from 'drizzle-orm'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { statusHistory } from '../../db/schema/components.ts'
import { createLogger } from '../../app/lib/logger.ts'
import { getBreaker, targetBreakerKey } from '../../app/modules/healing/breakers/breakers.ts'
import { runProbes } from '../../app/modules/healing/model-routes/probes.ts'
import { componentChecksJob } from '../../jobs/components.ts'
import { testApp } from '../helpers/app.ts'
import { refusedUrl } from '../helpers/http-target.ts'
import { connectsDuring } from '../helpers/connections.ts'

const t = await testApp()
afterAll(() => t.close())
afterEach(() => vi.restoreAllMocks())
const op = await t.key('operator')
const viewer = await t.key('viewer')
type Json = Record<string, any>

/** A local server: `/hop` redirects to `location`, anything else hangs (never answers). */
async function localServer(location = '') {
  const server = createServer((req, res) => {
    if (req.url === '/hop') res.writeHead(302, { location }).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections()
      return new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

describe('healing webhook action', () => {
  it('to the metadata address is refused by the policy without a connection, and its output holds no reply', async () => {
    let action: Json = {}
    const connects = await connectsDuring(async () => {
      const res = await t.json(
        'POST',
        '/api/v1/healing/actions',
        {
          type: 'webhook',
          target: 'metadata',
          maxAttempts: 1,
          params: { url: 'http://169.254.169.254/latest/meta-data/iam/security-credentials/', method: 'GET' },
        },
        op.headers,
      )
      expect(res.status, await res.clone().text()).toBe(201)
      const { id } = (await res.json()) as Json
      await t.services.healing.tick(Date.now())
      await t.services.healing.settle()
      action = (await (
        await t.app.request(`/api/v1/healing/actions/${id}`, { headers: viewer.headers })
      ).json()) as Json
    })
    expect(connects).toBe(0)
    expect(action).toMatchObject({
      status: 'FAILED',
      reason: expect.stringContaining('refused by the outbound policy'),
    })
    // Nothing from a server: no status, no response.
    expect(JSON.stringify(action.output ?? {})).not.toMatch(/"status"|"response"/)
  })
})

describe('channel test', () => {
  it('a channel pointed at 10.0.0.1 answers Test with the policy refusal, without a connection', async () => {
    const created = await t.json(
      'POST',
      '/api/v1/channels',
      { name: 'internal hook', type: 'webhook', settings: { url: 'http://10.0.0.1/hook' } },
      op.headers,
    )
    expect(created.status, await created.clone().text()).toBe(201)
    const ch = (await created.json()) as Json
    let reply: Json = {}
    const connects = await connectsDuring(async () => {
      reply = (await (await t.json('POST', `/api/v1/channels/${ch.id}/test`, {}, op.headers)).json()) as Json
    })
    expect(connects).toBe(0)
    expect(reply).toMatchObject({ ok: false, error: expect.stringContaining('refused by the outbound policy') })
  })
})

describe('component checks', () => {
  const tick = (now: number) =>
    componentChecksJob({
      db: t.db,
      store: t.services.statusStore,
      outbound: t.services.outbound,
      historyDays: 90,
      onOutcome: t.services.reportBreakerOutcome,
    }).handler({ now, tick: now, log: createLogger('silent') })
  const history = (id: string) =>
    t.db.select().from(statusHistory).where(eq(statusHistory.componentId, id)).orderBy(asc(statusHistory.ts))
  const make = async (name: string, url: string) => {
    const res = await t.json('POST', '/api/v1/components', { name, kind: 'service', http: { url } }, op.headers)
    expect(res.status, await res.clone().text()).toBe(201)
    return (await res.json()) as Json
  }

  it('a check to a private address records the policy refusal, without a connection', async () => {
    const c = await make('private-check', 'http://10.0.0.1/health')
    const connects = await connectsDuring(() => tick(Date.now() + 1000))
    expect(connects).toBe(0)
    expect(await history(c.id)).toMatchObject([{ up: false, code: null, message: 'refused by the outbound policy' }])
    await t.app.request(`/api/v1/components/${c.id}`, { method: 'DELETE', headers: op.headers })
  })

  it('a check on an allowed host redirecting to a refused one is refused (only the first hop connects)', async () => {
    const server = await localServer('http://10.0.0.1/admin')
    try {
      const c = await make('redirect-check', `${server.url}/hop`)
      const connects = await connectsDuring(() => tick(Date.now() + 1000), 1)
      expect(connects).toBe(1)
      expect(await history(c.id)).toMatchObject([{ up: false, code: null, message: 'refused by the outbound policy' }])
      await t.app.request(`/api/v1/components/${c.id}`, { method: 'DELETE', headers: op.headers })
    } finally {
      await server.close()
    }
  })
})

describe('model-route probes', () => {
  it('store the same reason for a closed loopback port and a hanging one', async () => {
    const hanging = await localServer()
    const closed = new URL(await refusedUrl()).origin
    try {
      const res = await t.json(
        'POST',
        '/api/v1/model-routes',
        {
          name: 'scan-route',
          targets: [
            { model: 'a', host: closed },
            { model: 'b', host: hanging.url },
          ],
          probePath: '/api/tags',
        },
        op.headers,
      )
      expect(res.status, await res.clone().text()).toBe(201)
      await runProbes({ ...t.services.healing, timeoutMs: 300 }, Date.now())
      const closedError = (await getBreaker(t.db, targetBreakerKey({ model: 'a', host: closed })))?.lastError
      const hangingError = (await getBreaker(t.db, targetBreakerKey({ model: 'b', host: hanging.url })))?.lastError
      expect(closedError).toBeTruthy()
      expect(closedError).toBe(hangingError)
      expect(closedError).toBe('could not reach the destination')
    } finally {
      await hanging.close()
    }
  })
})
