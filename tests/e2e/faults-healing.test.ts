/**
 * Faults, healing: a remediation (a webhook action against a local stand-in) is killed with SIGKILL
 * (1) after its side effect reached the stand-in but before the server recorded the outcome — the
 * window between act and verify — and (2) while it is being verified. After a restart on the same
 * database: (1) is never run again (its effect may or may not have happened) and is FAILED with the
 * reason "interrupted by restart"; a retried request with the same idempotency key is answered with
 * that action, not a new one; (2) resumes verifying and ends SUCCESS, still acted on once.
 */
import type { ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, hardKill, restart, startFaultServer } from '../helpers/faults.ts'
import { httpTarget } from '../helpers/http-target.ts'
import { cliKey, delay, killAll, until } from '../helpers/server.ts'

let healthy = false
const held: ServerResponse[] = []
let target: Awaited<ReturnType<typeof httpTarget>>
beforeAll(async () => {
  target = await httpTarget({
    // The act reaches the service, which restarts and answers only after the server is gone.
    '/restart-hang': (_req, res) => void held.push(res),
    '/restart': (_req, res) => res.writeHead(200).end('restarting'),
    '/health': (_req, res) => res.writeHead(healthy ? 200 : 503).end(healthy ? 'up' : 'starting'),
  })
})
afterAll(async () => {
  await killAll()
  for (const res of held) res.destroy()
  await target?.close()
})

describe('healing across a hard kill', () => {
  it('an action killed between act and verify is not run again and is FAILED with a reason', async () => {
    const first = await startFaultServer()
    const operator = await cliKey(first, 'healer', 'operator')
    const call = api(first, operator)
    const body = {
      type: 'webhook',
      target: 'svc-a',
      params: { url: target.url('/restart-hang'), timeoutMs: 60_000 },
      maxAttempts: 3,
      idempotencyKey: 'restart-svc-a-1',
    }
    const made = await call('POST', '/api/v1/healing/actions', body)
    expect(made.status, made.text).toBe(201)
    const id = made.json.id as string
    await until('the act reached the service', () => (target.hits('/restart-hang') === 1 ? true : undefined), 20_000)
    await hardKill(first)

    const second = await restart(first)
    const again = api(second, operator)
    // The instance that ran it is gone: once its lock goes stale (30 s) the action is failed, not re-run.
    const failed = await until(
      'the action marked FAILED',
      async () => {
        const r = await again('GET', `/api/v1/healing/actions/${id}`)
        return r.json?.status === 'FAILED' ? r.json : undefined
      },
      50_000,
      500,
    )
    expect(failed.reason).toMatch(/interrupted by restart/)
    expect(failed.error).toMatch(/not run again/)
    // A client retrying its request (same idempotency key) gets the same action back, not a new run.
    const retried = await again('POST', '/api/v1/healing/actions', body)
    expect(retried.status, retried.text).toBe(200)
    expect(retried.json.id).toBe(id)
    await delay(2500) // a few healing ticks (every second)
    expect(target.hits('/restart-hang')).toBe(1)
    const list = await again('GET', '/api/v1/healing/actions?target=svc-a')
    expect(list.json.items.map((a: { id: string }) => a.id)).toEqual([id])
  }, 110_000)

  it('an action killed while verifying resumes its verification after the restart and acts once', async () => {
    const first = await startFaultServer()
    const operator = await cliKey(first, 'healer', 'operator')
    const call = api(first, operator)
    const made = await call('POST', '/api/v1/healing/actions', {
      type: 'webhook',
      target: 'svc-b',
      params: { url: target.url('/restart') },
      verification: { type: 'http', url: target.url('/health'), expectStatus: 200, afterMs: 0, timeoutMs: 60_000 },
    })
    expect(made.status, made.text).toBe(201)
    const id = made.json.id as string
    await until(
      'verifying, with a check made',
      async () =>
        (await call('GET', `/api/v1/healing/actions/${id}`)).json?.status === 'VERIFYING' && target.hits('/health') > 0
          ? true
          : undefined,
      20_000,
    )
    await hardKill(first)
    const checksBefore = target.hits('/health')

    const second = await restart(first)
    healthy = true
    const done = await until(
      'the action verified',
      async () => {
        const r = await api(second, operator)('GET', `/api/v1/healing/actions/${id}`)
        return r.json?.status === 'SUCCESS' ? r.json : undefined
      },
      // The killed process's verify lease (60 s) runs out first; then a tick and a check. Generous: a
      // loaded CI run took 85 s.
      120_000,
      250,
    )
    expect(done.status).toBe('SUCCESS')
    expect(target.hits('/health')).toBeGreaterThan(checksBefore) // checked again by the new process
    expect(target.hits('/restart')).toBe(1) // and never acted twice
  }, 160_000)
})
