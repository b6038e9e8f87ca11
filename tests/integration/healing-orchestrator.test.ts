import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { eq, sql } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { STALE_MS } from '../../app/modules/healing/orchestrator/orchestrator.ts'
import { createMetricStore } from '../../app/modules/metrics/store.ts'
import { healingActions, healingEvents, healingLocks } from '../../db/schema/healing.ts'
import { testApp } from '../helpers/app.ts'
import { startReceiver } from '../helpers/receiver.ts'

const t = await testApp()
const rx = await startReceiver()
// A real local server that accepts requests and never answers (a verification that hangs).
const hang = createServer(() => undefined)
await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve))
const hangUrl = `http://127.0.0.1:${(hang.address() as AddressInfo).port}/health`
afterAll(async () => {
  await t.services.healing.settle()
  hang.closeAllConnections()
  hang.close()
  await rx.close()
  t.close()
})
const op = await t.key('operator')
const viewer = await t.key('viewer')
const store = createMetricStore(t.db)

type Action = {
  id: string
  status: string
  reason: string | null
  error: string | null
  attempt: number
  ruleId: string | null
  target: string
  output: Record<string, any>
  approveUrl?: string
  timeline?: { status: string; message: string; actor: string }[]
}
type ErrorOut = { error: { code: string; message: string; details?: { field: string; message: string }[] } }

const tick = async (at = Date.now()) => {
  const counts = await t.services.healing.tick(at)
  await t.services.healing.settle()
  return counts
}
const get = async (id: string) =>
  (await (await t.app.request(`/api/v1/healing/actions/${id}`, { headers: viewer.headers })).json()) as Action
const actionsOf = async (ruleId: string) =>
  (
    (await (
      await t.app.request(`/api/v1/healing/actions?rule=${ruleId}&limit=500`, { headers: viewer.headers })
    ).json()) as { items: Action[] }
  ).items
const createRule = async (body: Record<string, unknown>) => {
  const res = await t.json('POST', '/api/v1/healing/rules', body, op.headers)
  expect(res.status, await res.clone().text()).toBe(201)
  return (await res.json()) as { id: string; name: string }
}
const fire = async (title: string, labels: Record<string, string>, status: 'firing' | 'resolved' = 'firing') => {
  const res = await t.json('POST', '/api/v1/alerts', { title, severity: 'error', status, labels }, op.headers)
  expect(res.status, await res.clone().text()).toBeLessThan(300)
  return ((await res.json()) as { alert: { id: string } }).alert
}
const manual = async (body: Record<string, unknown>) => {
  const res = await t.json('POST', '/api/v1/healing/actions', body, op.headers)
  expect(res.status, await res.clone().text()).toBe(201)
  return (await res.json()) as Action
}
const hook = (path: string) => ({ url: `${rx.url}${path}` })

const channel = (await (
  await t.json(
    'POST',
    '/api/v1/channels',
    { name: 'heal notices', type: 'webhook', settings: { url: `${rx.url}/notices` } },
    op.headers,
  )
).json()) as { id: string }

describe('approvals', () => {
  it('a rule that requires approval waits, notifies with approve/reject links, runs once approved; approving twice is a 409', async () => {
    const rule = await createRule({
      name: 'approve me',
      trigger: { type: 'alert', matchers: [{ label: 'case', op: '=', value: 'approval' }] },
      actionType: 'webhook',
      target: 'api',
      params: hook('/approved'),
      requiresApproval: true,
      notify: { channelIds: [channel.id], on: ['approval', 'success'] },
    })
    await tick() // the watermark starts here
    await fire('api down', { case: 'approval' })
    await tick()
    const [pending] = await actionsOf(rule.id)
    expect(pending).toMatchObject({
      status: 'PENDING_APPROVAL',
      approveUrl: `${t.config.PUBLIC_URL}/api/v1/healing/actions/${pending!.id}/approve`,
    })
    await t.services.notifier.run(Date.now())
    const notice = rx
      .on('/notices')
      .map((r) => r.json as { event: string; alert: { annotations: Record<string, string> } })
      .find((b) => b.event === 'healing.approval')
    expect(notice!.alert.annotations).toMatchObject({
      approveUrl: `${t.config.PUBLIC_URL}/healing/actions/${pending!.id}?action=approve`,
      rejectUrl: `${t.config.PUBLIC_URL}/healing/actions/${pending!.id}?action=reject`,
    })
    await tick()
    expect(rx.on('/approved')).toHaveLength(0) // nothing runs before approval
    expect((await t.json('POST', `/api/v1/healing/actions/${pending!.id}/approve`, {}, viewer.headers)).status).toBe(
      403,
    )
    const ok = await t.json('POST', `/api/v1/healing/actions/${pending!.id}/approve`, {}, op.headers)
    expect(ok.status).toBe(200)
    expect(await ok.json()).toMatchObject({ status: 'PENDING' })
    const twice = await t.json('POST', `/api/v1/healing/actions/${pending!.id}/approve`, {}, op.headers)
    expect(twice.status).toBe(409)
    expect(((await twice.json()) as ErrorOut).error.message).toMatch(/already approved by key:/)
    await tick()
    const done = await get(pending!.id)
    expect(done.status).toBe('SUCCESS')
    expect(done.timeline!.map((e) => e.status)).toEqual(['PENDING_APPROVAL', 'PENDING', 'RUNNING', 'SUCCESS'])
    expect(rx.on('/approved')).toHaveLength(1)
  })

  it('an unanswered request expires; approving it then is a 410 with a clear message; rejecting works and is final', async () => {
    const now = Date.now()
    const a = await manual({
      type: 'webhook',
      target: 'expiring',
      params: hook('/expiring'),
      requiresApproval: true,
      approvalTtlMs: 1000,
    })
    expect(a.status).toBe('PENDING_APPROVAL')
    await tick(now + 5000)
    expect(await get(a.id)).toMatchObject({ status: 'EXPIRED', reason: 'approval expired' })
    const late = await t.json('POST', `/api/v1/healing/actions/${a.id}/approve`, {}, op.headers)
    expect(late.status).toBe(410)
    expect(((await late.json()) as ErrorOut).error).toMatchObject({
      code: 'approval_expired',
      message: expect.stringMatching(/^The approval request expired at .*; it can no longer be approved$/),
    })
    const r = await manual({ type: 'webhook', target: 'rejected', params: hook('/rejected'), requiresApproval: true })
    const rejected = await t.app.request(`/api/v1/healing/actions/${r.id}/reject?comment=not%20now`, {
      method: 'POST',
      headers: op.headers,
    })
    expect(await rejected.json()).toMatchObject({ status: 'REJECTED', reason: 'rejected: not now' })
    expect((await t.json('POST', `/api/v1/healing/actions/${r.id}/approve`, {}, op.headers)).status).toBe(409)
    await tick()
    expect(rx.on('/expiring')).toHaveLength(0)
    expect(rx.on('/rejected')).toHaveLength(0)
    expect((await t.json('POST', '/api/v1/healing/actions/no-such/approve', {}, op.headers)).status).toBe(404)
  })
})

describe('cooldown, caps and loops', () => {
  it('a run within the cooldown is SKIPPED: cooldown (repeats counted on one row); after it, the rule runs again', async () => {
    const rule = await createRule({
      name: 'cooldown',
      trigger: { type: 'alert', matchers: [{ label: 'case', op: '=', value: 'cooldown' }] },
      actionType: 'webhook',
      target: 'svc-{{svc}}',
      params: hook('/cool/{{svc}}'),
      cooldownMs: '10m',
    })
    await tick()
    const t0 = Date.now()
    await fire('svc down', { case: 'cooldown', svc: 'a', n: '1' })
    await tick(t0)
    await fire('svc down', { case: 'cooldown', svc: 'a', n: '2' })
    await fire('svc down', { case: 'cooldown', svc: 'a', n: '3' })
    await tick(t0 + 1000)
    let rows = await actionsOf(rule.id)
    expect(rows.map((r) => [r.status, r.reason, r.target])).toEqual([
      ['SKIPPED', 'cooldown', 'svc-a'],
      ['SUCCESS', null, 'svc-a'],
    ])
    expect(rows[0]!.output.suppressed).toBe(2)
    expect(rx.on('/cool/a')).toHaveLength(1) // the template filled the path from the labels
    // Another target has its own cooldown.
    await fire('svc down', { case: 'cooldown', svc: 'b' })
    await tick(t0 + 2000)
    expect(rx.on('/cool/b')).toHaveLength(1)
    // After the cooldown it runs again.
    await fire('svc down', { case: 'cooldown', svc: 'a', n: '4' })
    await tick(t0 + 11 * 60_000)
    rows = await actionsOf(rule.id)
    expect(rows.filter((r) => r.target === 'svc-a' && r.status === 'SUCCESS')).toHaveLength(2)
  })

  it('no loop: a remediation that does not clear its own condition is stopped by the hourly cap', async () => {
    // The detection holds as long as the error rate stays high; the "restart" webhook succeeds but changes nothing.
    const t0 = Date.now()
    const points = Array.from({ length: 180 }, (_, i) => ({
      name: 'loop_errors',
      labels: { component: 'looper' },
      value: 50,
      ts: t0 - 60_000 + i * 1000,
    }))
    await store.write(points, t0)
    const rule = await createRule({
      name: 'no loop',
      trigger: {
        type: 'detection',
        metric: 'loop_errors',
        agg: 'avg',
        windowMs: '30s',
        comparator: '>',
        value: 10,
        targetLabel: 'component',
      },
      actionType: 'webhook',
      target: '{{component}}',
      params: hook('/loop'),
      cooldownMs: 0,
      maxPerHour: 3,
    })
    for (let i = 0; i < 10; i++) await tick(t0 + i * 11_000)
    const rows = await actionsOf(rule.id)
    expect(rows.filter((r) => r.status === 'SUCCESS')).toHaveLength(3)
    expect(rx.on('/loop')).toHaveLength(3)
    const skipped = rows.filter((r) => r.status === 'SKIPPED')
    expect(skipped).toHaveLength(1) // one row counting the suppressed runs, not one per tick
    expect(skipped[0]).toMatchObject({ reason: 'hourly cap', target: 'looper' })
    expect(skipped[0]!.output.suppressed).toBeGreaterThanOrEqual(3)
  })
})

describe('restart safety', () => {
  it('a RUNNING action left by a dead instance is FAILED "interrupted by restart", never run again; one of a live instance is left alone', async () => {
    const now = Date.now()
    const row = (id: string, target: string) => ({
      id,
      ruleId: null,
      trigger: { type: 'manual' as const, summary: 'test', at: now - 120_000 },
      actionType: 'webhook',
      target,
      params: hook(`/crash/${id}`),
      status: 'RUNNING' as const,
      attempt: 1,
      maxAttempts: 3,
      runAfter: now - 120_000,
      requestedBy: 'test',
      createdAt: now - 120_000,
      startedAt: now - 110_000,
      updatedAt: now - 110_000,
      output: {},
    })
    await t.db
      .insert(healingActions)
      .values([row('DEAD0000000000000000000001', 'crash-dead'), row('LIVE0000000000000000000001', 'crash-live')])
    await t.db.insert(healingLocks).values([
      { target: 'crash-dead', actionId: 'DEAD0000000000000000000001', acquiredAt: now - STALE_MS - 5000 },
      { target: 'crash-live', actionId: 'LIVE0000000000000000000001', acquiredAt: now - 1000 },
    ])
    // A second action queued behind the dead one's lock on the same target.
    const queued = await manual({ type: 'webhook', target: 'crash-dead', params: hook('/crash/after') })
    const counts = await tick(now)
    expect(counts.interrupted).toBe(1)
    const dead = await get('DEAD0000000000000000000001')
    expect(dead).toMatchObject({ status: 'FAILED', reason: 'interrupted by restart' })
    expect(dead.timeline!.at(-1)!.message).toMatch(/^interrupted by restart/)
    expect((await get('LIVE0000000000000000000001')).status).toBe('RUNNING')
    expect(rx.on('/crash/DEAD0000000000000000000001')).toHaveLength(0)
    // The lock is released: the queued action runs now (next tick), and the dead one never again.
    await tick(now + 1000)
    expect((await get(queued.id)).status).toBe('SUCCESS')
    await tick(now + 2000)
    expect(rx.on('/crash/DEAD0000000000000000000001')).toHaveLength(0)
    expect((await t.db.select().from(healingLocks).where(eq(healingLocks.target, 'crash-dead'))).length).toBe(0)
  })

  it('ticks racing each other (two instances, a kick and a cron tick) run every action exactly once', async () => {
    const ids: string[] = []
    for (let i = 0; i < 6; i++)
      ids.push((await manual({ type: 'webhook', target: `race-${i % 3}`, params: hook(`/race/${i}`) })).id)
    const now = Date.now()
    for (let round = 0; round < 3; round++) {
      await Promise.all(Array.from({ length: 8 }, () => t.services.healing.tick(now + round * 1000)))
      await t.services.healing.settle()
    }
    for (let i = 0; i < 6; i++) expect(rx.on(`/race/${i}`)).toHaveLength(1)
    for (const id of ids) expect((await get(id)).timeline!.filter((e) => e.status === 'RUNNING')).toHaveLength(1)
    // A trigger seen by racing ticks makes one action: the watermark moves by compare-and-set.
    const rule = await createRule({
      name: 'race trigger',
      trigger: { type: 'alert', matchers: [{ label: 'case', op: '=', value: 'race' }] },
      actionType: 'webhook',
      target: 'race-trigger',
      params: hook('/race/trigger'),
      cooldownMs: 0,
      maxPerHour: 100,
    })
    await tick()
    await fire('race', { case: 'race' })
    await Promise.all(Array.from({ length: 8 }, () => t.services.healing.tick(Date.now())))
    await t.services.healing.settle()
    expect(await actionsOf(rule.id)).toHaveLength(1)
  })

  it('a VERIFYING action resumes its verification after a restart', async () => {
    const now = Date.now()
    await t.db.insert(healingActions).values({
      id: 'VRFY0000000000000000000001',
      ruleId: null,
      trigger: { type: 'manual', summary: 'test', at: now - 10_000 },
      actionType: 'webhook',
      target: 'resume',
      params: hook('/resume'),
      status: 'VERIFYING',
      attempt: 1,
      maxAttempts: 3,
      runAfter: now - 10_000,
      requestedBy: 'test',
      createdAt: now - 10_000,
      startedAt: now - 9000,
      verifyAt: now - 1000,
      updatedAt: now - 9000,
      output: {
        plan: {
          verification: { type: 'http', url: `${rx.url}/up`, afterMs: 0, timeoutMs: 60_000 },
          rollbackOnFailure: true,
          notify: { channelIds: [], on: [] },
        },
        result: { status: 200 },
        verification: { deadline: now + 60_000, checks: 0 },
      },
    })
    await t.db
      .insert(healingLocks)
      .values({ target: 'resume', actionId: 'VRFY0000000000000000000001', acquiredAt: now - 9000 })
    await tick(now)
    expect(await get('VRFY0000000000000000000001')).toMatchObject({
      status: 'SUCCESS',
      output: { verification: { checks: 1, passed: { status: 200 } } },
    })
    expect(rx.on('/resume')).toHaveLength(0) // verification only reads; the action was not run again
    expect(rx.on('/up')).toHaveLength(1)
  })
})

describe('queue', () => {
  it('runs the highest priority first, one action per target at a time; a stale lock of a vanished action is cleared', async () => {
    const low = await manual({ type: 'webhook', target: 'queue', priority: 1, params: hook('/queue/low') })
    const high = await manual({ type: 'webhook', target: 'queue', priority: 9, params: hook('/queue/high') })
    const other = await manual({ type: 'webhook', target: 'queue-other', params: hook('/queue/other') })
    const now = Date.now()
    await tick(now)
    expect([(await get(high.id)).status, (await get(low.id)).status, (await get(other.id)).status]).toEqual([
      'SUCCESS',
      'PENDING',
      'SUCCESS',
    ])
    await tick(now + 1000)
    expect((await get(low.id)).status).toBe('SUCCESS')
    expect(rx.requests.filter((r) => r.path.startsWith('/queue/')).map((r) => r.path)).toEqual([
      '/queue/high',
      '/queue/other',
      '/queue/low',
    ])
    // A lock left by an action that no longer exists stops blocking once stale.
    await t.db
      .insert(healingLocks)
      .values({ target: 'queue-orphan', actionId: 'GONE0000000000000000000001', acquiredAt: now - STALE_MS - 1 })
    const next = await manual({ type: 'webhook', target: 'queue-orphan', params: hook('/queue/orphan') })
    await tick(Date.now())
    await tick(Date.now() + 1000)
    expect((await get(next.id)).status).toBe('SUCCESS')
  })
})

describe('verification and rollback', () => {
  it('alert_resolved: the action is a recovery once the alert that triggered it resolves', async () => {
    const rule = await createRule({
      name: 'until resolved',
      trigger: { type: 'alert', matchers: [{ label: 'case', op: '=', value: 'resolve' }] },
      actionType: 'webhook',
      target: 'resolver',
      params: hook('/resolver'),
      verification: { type: 'alert_resolved', afterMs: 0, timeoutMs: '1m' },
    })
    await tick()
    await fire('queue stuck', { case: 'resolve' })
    const now = Date.now()
    await tick(now)
    const [a] = await actionsOf(rule.id)
    expect(a!.status).toBe('VERIFYING')
    await tick(now + 2000)
    expect((await get(a!.id)).status).toBe('VERIFYING') // still firing: it keeps checking
    await fire('queue stuck', { case: 'resolve' }, 'resolved')
    await tick(now + 4000)
    expect(await get(a!.id)).toMatchObject({
      status: 'SUCCESS',
      output: { verification: { passed: { status: 'resolved' } } },
    })
  })

  const route = async (name: string) => {
    const res = await t.json(
      'POST',
      '/api/v1/model-routes',
      {
        name,
        targets: [
          { model: 'llama3', host: 'http://primary:11434' },
          { model: 'llama3', host: 'http://fallback:11434' },
        ],
      },
      op.headers,
    )
    expect(res.status, await res.clone().text()).toBe(201)
  }
  const activeIndex = async (name: string) =>
    (
      (await (await t.app.request(`/api/v1/model-routes/${name}`, { headers: viewer.headers })).json()) as {
        activeIndex: number
      }
    ).activeIndex

  it('a failed verification rolls the failover back (ROLLED_BACK) and raises an alert', async () => {
    await route('chat-rollback')
    rx.setStatus(500)
    try {
      const a = await manual({
        type: 'model_failover',
        target: 'chat-rollback',
        verification: { type: 'http', url: `${rx.url}/verify-rollback`, afterMs: 0, timeoutMs: 2000 },
      })
      const now = Date.now()
      await tick(now)
      expect(await get(a.id)).toMatchObject({ status: 'VERIFYING', output: { result: { from: 0, to: 1 } } })
      expect(await activeIndex('chat-rollback')).toBe(1)
      await tick(now + 1000) // not yet past the deadline: it keeps checking
      expect((await get(a.id)).status).toBe('VERIFYING')
      await tick(now + 5000)
      const done = await get(a.id)
      expect(done).toMatchObject({
        status: 'ROLLED_BACK',
        reason: expect.stringMatching(/^verification failed \(http\)/),
        output: { rollback: { from: 1, to: 0 } },
      })
      expect(done.timeline!.map((e) => e.status)).toEqual(['PENDING', 'RUNNING', 'VERIFYING', 'RUNNING', 'ROLLED_BACK'])
      expect(await activeIndex('chat-rollback')).toBe(0)
      const alerts = (await (
        await t.app.request('/api/v1/alerts?source=healing', { headers: viewer.headers })
      ).json()) as { items: { title: string }[] }
      expect(alerts.items.map((x) => x.title)).toContain('Healing rolled back: model_failover on chat-rollback')
    } finally {
      rx.setStatus(200)
    }
  })

  it('a verification that hangs times out: FAILED with the reason (no rollback when the rule says so)', async () => {
    await route('chat-hang')
    const a = await manual({
      type: 'model_failover',
      target: 'chat-hang',
      rollbackOnFailure: false,
      verification: { type: 'http', url: hangUrl, afterMs: 0, timeoutMs: 300 },
    })
    const now = Date.now()
    await tick(now)
    await tick(now + 1000)
    const done = await get(a.id)
    expect(done).toMatchObject({ status: 'FAILED', reason: expect.stringContaining('timed out') })
    expect(await activeIndex('chat-hang')).toBe(1) // not rolled back
  })

  it('a breaker opening fails over every route whose active target it is (target *); the status summary shows it', async () => {
    await route('chat-breaker')
    await createRule({
      name: 'failover on breaker',
      trigger: { type: 'breaker', keyPattern: '^model:' },
      actionType: 'model_failover',
      target: '*',
      cooldownMs: 0,
    })
    await tick()
    const now = Date.now()
    const key = 'model:http://primary:11434/llama3'
    for (let i = 0; i < 10; i++) await t.services.healing.breakers.report(key, { ok: false, error: 'down' }, now + i)
    await tick(now + 100)
    expect(await activeIndex('chat-breaker')).toBe(1)
    const status = (await (await t.app.request('/api/v1/healing/status', { headers: viewer.headers })).json()) as {
      routes: { name: string; failedOver: boolean; activeTarget: { host: string } }[]
      breakers: { open: number }
    }
    expect(status.routes.find((r) => r.name === 'chat-breaker')).toMatchObject({
      failedOver: true,
      activeTarget: { host: 'http://fallback:11434' },
    })
    expect(status.breakers.open).toBeGreaterThanOrEqual(1)
  })

  it('breaker_closed with {{key}} from the trigger: verified once the breaker closes again; metric: verified while the condition holds', async () => {
    await route('chat-verify')
    // Only this test's rule acts on this breaker: the earlier breaker rules are switched off.
    const { items } = (await (await t.app.request('/api/v1/healing/rules', { headers: viewer.headers })).json()) as {
      items: { id: string; trigger: { type: string } }[]
    }
    for (const r of items.filter((x) => x.trigger.type === 'breaker'))
      await t.json('POST', `/api/v1/healing/rules/${r.id}/disable`, {}, op.headers)
    await t.json(
      'PATCH',
      '/api/v1/model-routes/chat-verify',
      {
        targets: [
          { model: 'mistral', host: 'http://verify-primary:11434' },
          { model: 'mistral', host: 'http://verify-fallback:11434' },
        ],
      },
      op.headers,
    )
    const rule = await createRule({
      name: 'verify breaker',
      trigger: { type: 'breaker', keyPattern: '^model:http://verify-primary' },
      actionType: 'model_failover',
      target: '*',
      cooldownMs: 0,
      rollbackOnFailure: false,
      verification: { type: 'breaker_closed', key: '{{key}}', afterMs: 0, timeoutMs: '10m' },
    })
    await tick()
    const key = 'model:http://verify-primary:11434/mistral'
    const now = Date.now()
    for (let i = 0; i < 10; i++) await t.services.healing.breakers.report(key, { ok: false, error: 'down' }, now + i)
    await tick(now + 100)
    const [a] = await actionsOf(rule.id)
    expect(a).toMatchObject({ status: 'VERIFYING', target: 'chat-verify' })
    await tick(now + 2000)
    expect(await get(a!.id)).toMatchObject({
      status: 'VERIFYING',
      output: { verification: { last: { key, state: 'OPEN' } } },
    })
    expect(
      (await t.json('POST', `/api/v1/healing/breakers/${encodeURIComponent(key)}/reset`, {}, op.headers)).status,
    ).toBe(200)
    await tick(now + 4000)
    expect(await get(a!.id)).toMatchObject({
      status: 'SUCCESS',
      output: { verification: { passed: { key, state: 'CLOSED' } } },
    })

    const t0 = Date.now()
    await store.write(
      Array.from({ length: 20 }, (_, i) => ({
        name: 'verify_latency_ms',
        labels: { service: 'api' },
        value: 40,
        ts: t0 - 19_000 + i * 1000,
      })),
      t0,
    )
    const m = await manual({
      type: 'webhook',
      target: 'latency',
      params: hook('/latency'),
      verification: {
        type: 'metric',
        metric: 'verify_latency_ms',
        matchers: [{ label: 'service', op: '=', value: 'api' }],
        agg: 'avg',
        windowMs: '30s',
        comparator: '<',
        value: 100,
        afterMs: 0,
      },
    })
    await tick(Date.now())
    await tick(Date.now() + 1000)
    expect(await get(m.id)).toMatchObject({
      status: 'SUCCESS',
      output: { verification: { passed: { metric: 'verify_latency_ms', value: 40 } } },
    })
  })

  it("a rule naming its route moves it only when the breaker that opened is the route's active target", async () => {
    await route('chat-named')
    const rule = await createRule({
      name: 'named route',
      trigger: { type: 'breaker', keyPattern: '^model:http://(elsewhere|primary)' },
      actionType: 'model_failover',
      target: 'chat-named',
      cooldownMs: 0,
    })
    await tick()
    const now = Date.now()
    for (let i = 0; i < 10; i++)
      await t.services.healing.breakers.report('model:http://elsewhere:1/other', { ok: false, error: 'down' }, now + i)
    await tick(now + 100)
    const [a] = await actionsOf(rule.id)
    expect(a).toMatchObject({
      status: 'SUCCESS',
      output: {
        result: { from: 0, to: 0, unchanged: 'the active target is not behind model:http://elsewhere:1/other' },
      },
    })
    expect(await activeIndex('chat-named')).toBe(0)
    // Simulating the saved rule over that span finds that breaker opening (and writes nothing).
    const sim = (await (
      await t.json(
        'POST',
        '/api/v1/healing/simulate',
        { ruleId: rule.id, from: now, to: Date.now() + 1000 },
        op.headers,
      )
    ).json()) as {
      summary: { triggers: number }
      results: { trigger: { type: string; labels: Record<string, string> }; outcome: string }[]
    }
    expect(sim.summary.triggers).toBe(1)
    expect(sim.results[0]).toMatchObject({
      trigger: { type: 'breaker', labels: { key: 'model:http://elsewhere:1/other', kind: 'model' } },
      outcome: 'would run',
    })
    expect(await actionsOf(rule.id)).toHaveLength(1)
  })
})

describe('rules API', () => {
  it('refuses unknown action types, bad params, missing targets and * without a breaker trigger, naming the field', async () => {
    const base = { name: 'bad', trigger: { type: 'alert' }, actionType: 'webhook', target: 'x', params: hook('/x') }
    const errs = async (body: Record<string, unknown>) =>
      ((await (await t.json('POST', '/api/v1/healing/rules', body, op.headers)).json()) as ErrorOut).error.details
    expect(await errs({ ...base, actionType: 'teleport' })).toEqual([
      { field: 'actionType', message: 'unknown action type teleport' },
    ])
    expect((await errs({ ...base, params: { url: 'nope' } }))![0]!.field).toBe('params.url')
    expect(await errs({ ...base, actionType: 'model_failover', target: 'no-route', params: {} })).toEqual([
      { field: 'target', message: 'no model route named no-route' },
    ])
    expect(await errs({ ...base, actionType: 'model_failover', target: '*', params: {} })).toEqual([
      { field: 'target', message: '* (every route on the breaker) needs a breaker trigger' },
    ])
    expect((await errs({ ...base, trigger: { type: 'breaker', keyPattern: '([' } }))![0]!.field).toBe(
      'trigger.keyPattern',
    )
    expect((await errs({ ...base, cooldownMs: 'soon' }))![0]!.field).toBe('cooldownMs')
    expect((await errs({ ...base, verification: { type: 'http', url: 'x', afterMs: 0 } }))![0]!.field).toBe(
      'verification.url',
    )
    expect(await errs({ ...base, notify: { channelIds: ['nope'], on: ['failure'] } })).toEqual([
      { field: 'notify.channelIds', message: 'no channel with id nope' },
    ])
  })

  it('CRUD, enable/disable; a disabled rule does not trigger', async () => {
    const rule = await createRule({
      name: 'crud',
      trigger: { type: 'alert', matchers: [{ label: 'case', op: '=', value: 'crud' }] },
      actionType: 'webhook',
      target: 'crud',
      params: hook('/crud'),
    })
    expect((await t.json('POST', `/api/v1/healing/rules/${rule.id}/disable`, {}, op.headers)).status).toBe(200)
    await tick()
    await fire('crud', { case: 'crud' })
    await tick()
    expect(await actionsOf(rule.id)).toHaveLength(0)
    // Enabling it again does not replay what fired while it was off.
    expect((await t.json('POST', `/api/v1/healing/rules/${rule.id}/enable`, {}, op.headers)).status).toBe(200)
    await tick()
    expect(await actionsOf(rule.id)).toHaveLength(0)
    await t.json('POST', `/api/v1/healing/rules/${rule.id}/disable`, {}, op.headers)
    const patched = await t.json(
      'PATCH',
      `/api/v1/healing/rules/${rule.id}`,
      { maxPerHour: 2, requiresApproval: true },
      op.headers,
    )
    expect(await patched.json()).toMatchObject({ maxPerHour: 2, mode: 'requires_approval', enabled: false })
    expect((await t.json('PATCH', `/api/v1/healing/rules/${rule.id}`, { actionType: 'nope' }, op.headers)).status).toBe(
      400,
    )
    expect(
      (
        await t.json(
          'POST',
          '/api/v1/healing/rules',
          { name: 'crud', trigger: { type: 'alert' }, actionType: 'webhook', target: 'x', params: hook('/x') },
          op.headers,
        )
      ).status,
    ).toBe(409)
    expect(
      (await t.app.request(`/api/v1/healing/rules/${rule.id}`, { method: 'DELETE', headers: op.headers })).status,
    ).toBe(204)
    expect((await t.app.request(`/api/v1/healing/rules/${rule.id}`, { headers: viewer.headers })).status).toBe(404)
  })
})

describe('simulate and stats', () => {
  it('simulate: what a rule would have done over a past range, changing nothing', async () => {
    const t0 = Date.now()
    for (const n of ['1', '2', '3']) await fire('db slow', { case: 'simulate', db: 'main', n })
    await fire('other', { case: 'unrelated' })
    const before = (await t.db.select({ n: sql<number>`count(*)` }).from(healingActions))[0]!.n
    const eventsBefore = (await t.db.select({ n: sql<number>`count(*)` }).from(healingEvents))[0]!.n
    const res = await t.json(
      'POST',
      '/api/v1/healing/simulate',
      {
        from: t0 - 1000,
        to: Date.now() + 1000,
        rule: {
          name: 'sim',
          trigger: { type: 'alert', matchers: [{ label: 'case', op: '=', value: 'simulate' }] },
          actionType: 'webhook',
          target: 'db-{{db}}',
          params: hook('/sim/{{n}}'),
          cooldownMs: '5m',
        },
      },
      op.headers,
    )
    expect(res.status, await res.clone().text()).toBe(200)
    const sim = (await res.json()) as {
      summary: Record<string, number>
      results: { outcome: string; action: { target: string; params: { url: string } } }[]
    }
    expect(sim.summary).toMatchObject({ triggers: 3, wouldRun: 1, skippedCooldown: 2 })
    expect(sim.results.map((r) => r.outcome)).toEqual(['would run', 'skipped: cooldown', 'skipped: cooldown'])
    expect(sim.results[0]!.action).toEqual({ type: 'webhook', target: 'db-main', params: { url: `${rx.url}/sim/1` } })
    expect((await t.db.select({ n: sql<number>`count(*)` }).from(healingActions))[0]!.n).toBe(before)
    expect((await t.db.select({ n: sql<number>`count(*)` }).from(healingEvents))[0]!.n).toBe(eventsBefore)
    expect(rx.on('/sim/1')).toHaveLength(0)
    // Bad input: neither or both, bad range, a bad inline rule names its field.
    const bad = async (body: Record<string, unknown>) =>
      ((await (await t.json('POST', '/api/v1/healing/simulate', body, op.headers)).json()) as ErrorOut).error
        .details![0]!.field
    expect(await bad({ from: t0 })).toBe('ruleId')
    expect(await bad({ ruleId: 'x', from: t0, to: t0 - 1 })).toBe('to')
    expect(
      await bad({ from: t0, rule: { name: 's', trigger: { type: 'alert' }, actionType: 'nope', target: 'x' } }),
    ).toBe('rule.actionType')
    expect((await t.json('POST', '/api/v1/healing/simulate', { ruleId: 'no-such', from: t0 }, op.headers)).status).toBe(
      404,
    )
  })

  it('stats: success rate and MTTR per action type, rule and target', async () => {
    const res = await t.app.request('/api/v1/healing/stats?window=24h', { headers: viewer.headers })
    const s = (await res.json()) as {
      overall: { succeeded: number; failed: number; successRate: number; mttrMs: number }
      byActionType: { actionType: string; succeeded: number; failed: number; rolledBack: number }[]
      byRule: { ruleName: string }[]
      byTarget: { target: string }[]
    }
    expect(s.overall.succeeded).toBeGreaterThan(3)
    expect(s.overall.successRate).toBeGreaterThan(0)
    expect(s.overall.successRate).toBeLessThan(1)
    expect(s.overall.mttrMs).toBeGreaterThanOrEqual(0)
    expect(s.byActionType.find((x) => x.actionType === 'model_failover')).toMatchObject({ rolledBack: 1 })
    expect(s.byRule.map((r) => r.ruleName)).toEqual(expect.arrayContaining(['cooldown', 'no loop', '(manual)']))
    expect(s.byTarget.map((r) => r.target)).toEqual(expect.arrayContaining(['svc-a', 'looper']))
    expect(s.byTarget.map((r) => r.target)).not.toContain('chat-named') // its only run found nothing to do
    expect((await t.app.request('/api/v1/healing/stats?window=1y', { headers: viewer.headers })).status).toBe(400)
    const badStatus = await t.app.request('/api/v1/healing/actions?status=PENDING,BOGUS', { headers: viewer.headers })
    expect(badStatus.status).toBe(400)
    expect((((await badStatus.json()) as ErrorOut).error.details ?? [])[0]!.field).toBe('status')
    const failed = (await (
      await t.app.request('/api/v1/healing/actions?status=FAILED,ROLLED_BACK&limit=1', { headers: viewer.headers })
    ).json()) as { items: Action[]; next: string | null }
    expect(failed.items).toHaveLength(1)
    expect(failed.next).not.toBeNull()
    const page2 = (await (
      await t.app.request(`/api/v1/healing/actions?status=FAILED,ROLLED_BACK&limit=1&cursor=${failed.next}`, {
        headers: viewer.headers,
      })
    ).json()) as { items: Action[] }
    expect(page2.items[0]!.id < failed.items[0]!.id).toBe(true)
  })
})

describe('label values in templates cannot steer a request', () => {
  it('values are percent-encoded in the path and query: evil.com/x?, @evil.com and ../../ stay inside their segment', async () => {
    const rule = await createRule({
      name: 'injection',
      trigger: { type: 'alert', matchers: [{ label: 'case', op: '=', value: 'inject' }] },
      actionType: 'webhook',
      target: 'svc-{{n}}',
      params: hook('/inj/{{svc}}/restart?who={{svc}}'),
      verification: { type: 'http', url: `${rx.url}/inj-check/{{svc}}`, afterMs: 0, timeoutMs: '5s' },
    })
    await tick()
    const t0 = Date.now()
    const values = ['evil.com/x?', '@evil.com', '../../']
    for (const [i, svc] of values.entries()) await fire('svc down', { case: 'inject', svc, n: String(i) })
    await tick(t0)
    const got = rx.requests.filter((r) => r.path.startsWith('/inj/')).map((r) => r.path)
    // Every request reached the local receiver (the host did not change), on the rule's path shape.
    expect(got.sort()).toEqual(
      values.map((v) => `/inj/${encodeURIComponent(v)}/restart?who=${encodeURIComponent(v)}`).sort(),
    )
    expect(got).toContain('/inj/%40evil.com/restart?who=%40evil.com')
    expect(got).toContain('/inj/..%2F..%2F/restart?who=..%2F..%2F')
    expect((await actionsOf(rule.id)).map((a) => a.status)).not.toContain('FAILED')
  })

  it('a value that would make a . or .. path segment fails the action and calls nothing', async () => {
    const rule = await createRule({
      name: 'dot segment',
      trigger: { type: 'alert', matchers: [{ label: 'case', op: '=', value: 'dots' }] },
      actionType: 'webhook',
      target: 'svc',
      params: hook('/dots/{{svc}}/restart'),
    })
    await tick()
    await fire('svc down', { case: 'dots', svc: '..' })
    await tick()
    const [a] = await actionsOf(rule.id)
    expect(a).toMatchObject({ status: 'FAILED' })
    expect(a!.reason).toMatch(/params\.url .*\.\. segment/)
    expect(rx.requests.filter((r) => r.path.startsWith('/dots') || r.path === '/restart')).toHaveLength(0)
  })

  it('a placeholder in the scheme, host or port of a URL is refused (400 naming the field)', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ actionType: 'webhook', target: 'x', params: { url: 'http://{{host}}/restart' } }, 'params.url'],
      [{ actionType: 'webhook', target: 'x', params: { url: 'http://127.0.0.1:{{port}}/restart' } }, 'params.url'],
      [{ actionType: 'webhook', target: 'x', params: { url: '{{scheme}}://127.0.0.1/restart' } }, 'params.url'],
      [{ actionType: 'webhook', target: 'x', params: { url: '{{url}}' } }, 'params.url'],
      [{ actionType: 'webhook', target: 'x', params: { url: 'http://user@{{h}}.example.com/' } }, 'params.url'],
      [
        {
          actionType: 'webhook',
          target: 'x',
          params: hook('/ok'),
          verification: { type: 'http', url: 'http://{{host}}/health', afterMs: 0 },
        },
        'verification.url',
      ],
      [{ actionType: 'service_restart', target: '{{command}}', params: {} }, 'target'],
      [{ actionType: 'n8n', target: '{{instance}}', params: { operation: 'activate', workflowId: 'w1' } }, 'target'],
    ]
    for (const [body, field] of cases) {
      const res = await t.json(
        'POST',
        '/api/v1/healing/rules',
        { name: `bad ${field} ${JSON.stringify(body)}`.slice(0, 100), trigger: { type: 'alert' }, ...body },
        op.headers,
      )
      expect(res.status, JSON.stringify(body)).toBe(400)
      const details = ((await res.json()) as ErrorOut).error.details ?? []
      expect(
        details.map((d) => d.field),
        JSON.stringify(body),
      ).toContain(field)
    }
  })
})
