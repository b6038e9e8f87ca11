import { createServer } from 'node:http'
import { afterAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../app/lib/logger.ts'
import { createMetricStore } from '../../app/modules/metrics/store.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { listenLocal, readBody } from '../helpers/http.ts'
import { startReceiver, verify } from '../helpers/receiver.ts'

const t = await testApp()
const rx = await startReceiver()
afterAll(async () => {
  await rx.close()
  t.close()
})
const op = await t.key('operator')
const viewer = await t.key('viewer')
const ingest = await t.key('operator', ['ingest'])

type AlertOut = {
  id: string
  fingerprint: string
  status: string
  repeatCount: number
  events?: { type: string; detail: Record<string, unknown> }[]
}
type NotificationOut = {
  id: number
  status: string
  attempts: number
  kind: string
  lastError: string | null
  response: string | null
  channelName: string | null
}
type Body = {
  version: number
  event: string
  alert: { id: string; fingerprint: string; status: string; url: string }
  alerts: unknown[]
}

const fire = async (
  app: TestApp,
  title: string,
  labels: Record<string, string>,
  status: 'firing' | 'resolved' = 'firing',
  severity = 'error',
) => {
  const res = await app.json('POST', '/api/v1/alerts', { title, severity, status, labels }, ingest.headers)
  expect(res.status, await res.clone().text()).toBeLessThan(300)
  return ((await res.json()) as { alert: AlertOut }).alert
}
const run = (app: TestApp, at: number) => app.services.notifier.run(at)
const notificationsOf = async (id: string) =>
  (
    (await (await t.app.request(`/api/v1/alerts/${id}/notifications`, { headers: viewer.headers })).json()) as {
      items: NotificationOut[]
    }
  ).items
const eventsOf = async (id: string) =>
  ((await (await t.app.request(`/api/v1/alerts/${id}`, { headers: viewer.headers })).json()) as AlertOut).events!
const received = (alertId: string) => rx.on('/outbox').filter((r) => (r.json as Body).alert.id === alertId)

const channel = (await (
  await t.json(
    'POST',
    '/api/v1/channels',
    { name: 'outbox hook', type: 'webhook', settings: { url: `${rx.url}/outbox` } },
    op.headers,
  )
).json()) as { id: string; signingSecret: string }

describe('the outbox', () => {
  it('a fired alert is queued in the same change, then sent signed by the job; notified event and per-channel result', async () => {
    const a = await fire(t, 'disk full', { host: 'db1', case: 'basic' })
    const queued = await notificationsOf(a.id)
    expect(queued).toMatchObject([{ status: 'pending', kind: 'fired', attempts: 0, channelName: 'outbox hook' }])
    expect(received(a.id)).toHaveLength(0) // nothing is sent by the report itself
    expect(await run(t, Date.now())).toMatchObject({ sent: 1 })
    const [got] = received(a.id)
    expect(got!.json).toMatchObject({
      version: 1,
      event: 'fired',
      alert: { id: a.id, fingerprint: a.fingerprint, status: 'firing', url: `${t.config.PUBLIC_URL}/alerts/${a.id}` },
    })
    expect(verify(got!.headers['x-homeostat-signature'], got!.body, channel.signingSecret)).toBe(true)
    expect(await notificationsOf(a.id)).toMatchObject([
      { status: 'sent', attempts: 1, response: null }, // the far end's reply is for operators only (issue 16)
    ])
    expect((await eventsOf(a.id)).filter((e) => e.type === 'notified')).toMatchObject([
      { detail: { channel: 'outbox hook', result: 'sent', code: 200, kind: 'fired' } },
    ])
    // Acknowledged and resolved are notified too.
    expect((await t.json('POST', `/api/v1/alerts/${a.id}/acknowledge`, {}, op.headers)).status).toBe(200)
    await fire(t, 'disk full', { host: 'db1', case: 'basic' }, 'resolved')
    await run(t, Date.now())
    expect(received(a.id).map((r) => (r.json as Body).event)).toEqual(['fired', 'acknowledged', 'resolved'])
  })

  it('dedup: 100 repeats make 1 alert and 1 notification', async () => {
    const reports = await Promise.all(
      Array.from({ length: 100 }, () => fire(t, 'flapping', { host: 'web1', case: 'dedup' })),
    )
    expect(new Set(reports.map((r) => r.id)).size).toBe(1)
    await run(t, Date.now())
    await run(t, Date.now())
    expect(received(reports[0]!.id)).toHaveLength(1)
    expect(await notificationsOf(reports[0]!.id)).toHaveLength(1)
  })

  it('retries with backoff after the receiver fails 3 times, recording each error', async () => {
    const a = await fire(t, 'retry me', { case: 'retry' })
    rx.fail(3)
    const t0 = Date.now()
    expect(await run(t, t0)).toMatchObject({ failed: 1 })
    expect(await notificationsOf(a.id)).toMatchObject([
      { status: 'failed', attempts: 1, lastError: 'HTTP 500', response: null }, // the body is not stored
    ])
    expect(await run(t, t0 + 4_000)).toMatchObject({ sent: 0, failed: 0 }) // not due before 5 s
    expect(await run(t, t0 + 5_000)).toMatchObject({ failed: 1 }) // 2nd attempt, next in 15 s
    expect(await run(t, t0 + 5_000 + 14_000)).toMatchObject({ failed: 0 })
    expect(await run(t, t0 + 5_000 + 15_000)).toMatchObject({ failed: 1 }) // 3rd, next in 30 s
    expect(await run(t, t0 + 20_000 + 30_000)).toMatchObject({ sent: 1 })
    expect(received(a.id)).toHaveLength(4)
    expect(await notificationsOf(a.id)).toMatchObject([{ status: 'sent', attempts: 4, lastError: null }])
    expect((await eventsOf(a.id)).filter((e) => e.type === 'notified').map((e) => e.detail.result)).toEqual([
      'failed',
      'failed',
      'failed',
      'sent',
    ])
  })

  it('gives up as dead after the attempts run out; a person can retry it', async () => {
    const a = await fire(t, 'dead letter', { case: 'dead' })
    rx.fail(1000)
    let at = Date.now()
    for (let i = 0; i < 12; i++) {
      await run(t, at)
      at += 3_600_000
    }
    rx.fail(0)
    // Every 4 h a still-firing alert is notified again (repeatInterval): those are rows of their own.
    const all = await notificationsOf(a.id)
    expect(all.filter((x) => x.kind === 'repeated').length).toBeGreaterThan(0)
    const n = all.find((x) => x.kind === 'fired')
    expect(n).toMatchObject({ status: 'dead', attempts: 12, lastError: 'HTTP 500' })
    expect((await t.json('POST', `/api/v1/notifications/${n!.id}/retry`, {}, viewer.headers)).status).toBe(403)
    expect((await t.json('POST', '/api/v1/notifications/999999/retry', {}, op.headers)).status).toBe(404)
    const retried = await t.json('POST', `/api/v1/notifications/${n!.id}/retry`, {}, op.headers)
    expect(await retried.json()).toMatchObject({ status: 'pending', attempts: 0 })
    await run(t, Date.now())
    expect((await notificationsOf(a.id)).find((x) => x.id === n!.id)).toMatchObject({ status: 'sent', attempts: 1 })
  })

  it('a silenced alert is recorded, not notified', async () => {
    const s = await t.json(
      'POST',
      '/api/v1/silences',
      { matchers: [{ label: 'case', op: '=', value: 'silenced' }], duration: '1h', comment: 'maintenance' },
      op.headers,
    )
    expect(s.status).toBe(201)
    const a = await fire(t, 'quiet please', { case: 'silenced' })
    await run(t, Date.now())
    expect(received(a.id)).toHaveLength(0)
    expect(await notificationsOf(a.id)).toHaveLength(0)
    expect((await eventsOf(a.id)).map((e) => e.type)).toContain('silenced')
    // When the silence ends on the still-firing alert, it is notified then.
    const { id } = (await s.json()) as { id: string }
    expect((await t.json('POST', `/api/v1/silences/${id}/expire`, {}, op.headers)).status).toBe(200)
    await run(t, Date.now())
    expect(received(a.id).map((r) => (r.json as Body).event)).toEqual(['fired'])
  })

  it('secrets stay out of the logs when a send fails', async () => {
    const lines: string[] = []
    const log = createLogger('debug', {}, (_lvl, line) => lines.push(line))
    const ch = (await (
      await t.json(
        'POST',
        '/api/v1/channels',
        { name: 'leaky', type: 'slack', settings: { webhookUrl: 'http://127.0.0.1:1/services/T0/B0/SLACKSECRET' } },
        op.headers,
      )
    ).json()) as { id: string }
    const a = await fire(t, 'leak check', { case: 'logs' })
    await t.services.notifier.run(Date.now(), log)
    expect(lines.join('\n')).toContain('notification failed')
    expect(lines.join('\n')).not.toContain('SLACKSECRET')
    const list = await (await t.app.request(`/api/v1/alerts/${a.id}/notifications`, { headers: viewer.headers })).text()
    expect(list).not.toContain('SLACKSECRET')
    expect((await t.app.request(`/api/v1/channels/${ch.id}`, { method: 'DELETE', headers: op.headers })).status).toBe(
      204,
    )
  })

  it('a rule that breaches is notified once while it keeps firing, and again when it resolves', async () => {
    const rule = (await (
      await t.json(
        'POST',
        '/api/v1/alert-rules',
        {
          name: 'queue too long',
          kind: 'threshold',
          metric: 'notify_queue_len',
          agg: 'max',
          window: '1m',
          comparator: '>',
          value: 10,
          severity: 'critical',
        },
        op.headers,
      )
    ).json()) as { id: string }
    const store = createMetricStore(t.db)
    const evaluator = t.services.alerts
    // Not in the first 2 s of a minute: the 1m window is the current clock minute (see the README).
    const t0 = Math.max(Date.now(), Math.floor(Date.now() / 60_000) * 60_000 + 2_000)
    await store.write([{ name: 'notify_queue_len', labels: {}, value: 40, ts: t0 - 1000 }], t0)
    await evaluator.evaluateAll(t0)
    await evaluator.evaluateAll(t0 + 1000) // a repeat: no second notification
    await run(t, t0 + 1000)
    const [a] = (
      (await (await t.app.request(`/api/v1/alerts?rule=${rule.id}`, { headers: viewer.headers })).json()) as {
        items: AlertOut[]
      }
    ).items
    expect(received(a!.id).map((r) => (r.json as Body).event)).toEqual(['fired'])
    await evaluator.evaluateAll(t0 + 120_000) // the point left the window: resolved
    await run(t, t0 + 120_000)
    expect(received(a!.id).map((r) => (r.json as Body).event)).toEqual(['fired', 'resolved'])
    await t.json('POST', `/api/v1/alert-rules/${rule.id}/disable`, {}, op.headers)
  })

  it('the notifications job is registered and runs through the scheduler', async () => {
    const a = await fire(t, 'via scheduler', { case: 'scheduler' })
    expect(await t.scheduler.runTick('notifications', Math.floor(Date.now() / 1000) * 1000 + 1000)).toBe('ran')
    expect(received(a.id)).toHaveLength(1)
  })
})

describe('eager sending', () => {
  it('with jobs enabled, a new notification goes out right after the change, before any tick', async () => {
    const app = await testApp({ JOBS_ENABLED: 'true' }) // the scheduler is not started: only the kick can send
    try {
      const key = await app.key('operator')
      await app.json(
        'POST',
        '/api/v1/channels',
        { name: 'eager hook', type: 'webhook', settings: { url: `${rx.url}/eager` } },
        key.headers,
      )
      expect(
        (
          await app.json(
            'POST',
            '/api/v1/alerts',
            { title: 'now please', severity: 'critical', status: 'firing', labels: { case: 'eager' } },
            key.headers,
          )
        ).status,
      ).toBe(201)
      for (let i = 0; i < 100 && rx.on('/eager').length === 0; i++) await new Promise((r) => setTimeout(r, 50))
      expect(rx.on('/eager')).toHaveLength(1)
    } finally {
      app.close()
    }
  })
})

describe('restart', () => {
  it('queued notifications (and ones stuck in sending) are sent by a new instance over the same database', async () => {
    const first = await testApp()
    const key = await first.key('operator')
    await first.json(
      'POST',
      '/api/v1/channels',
      { name: 'restart hook', type: 'webhook', settings: { url: `${rx.url}/restart` } },
      key.headers,
    )
    for (const n of [1, 2, 3])
      expect(
        (
          await first.json(
            'POST',
            '/api/v1/alerts',
            { title: `queued ${n}`, severity: 'warning', status: 'firing', labels: { n: String(n) } },
            key.headers,
          )
        ).status,
      ).toBe(201)
    // One row was claimed by the first instance when it died mid-send.
    await first.client.execute(
      "update notifications set status = 'sending', attempts = 1, next_attempt_at = 0 where id = (select min(id) from notifications)",
    )
    first.client.close()
    const second = await testApp({ DATABASE_URL: first.config.DATABASE_URL })
    try {
      expect(rx.on('/restart')).toHaveLength(0)
      expect(await second.services.notifier.run(Date.now())).toMatchObject({ sent: 3 })
      expect(rx.on('/restart').map((r) => (r.json as Body).alert.status)).toEqual(['firing', 'firing', 'firing'])
      const left = await second.client.execute("select count(*) as n from notifications where status != 'sent'")
      expect(left.rows[0]!.n).toBe(0)
    } finally {
      second.close()
      first.close()
    }
  })

  it('a row being sent is held for NOTIFICATION_LEASE_SECONDS (60 s unless set) before it may be claimed again', async () => {
    for (const [env, leaseMs] of [
      [{}, 60_000],
      [{ NOTIFICATION_LEASE_SECONDS: '15' }, 15_000],
    ] as const) {
      const app = await testApp(env)
      // The far end reads the row while its send is under way: what another tick would find.
      let heldUntil: number | undefined
      const far = createServer(async (req, res) => {
        await readBody(req)
        const row = await app.client.execute("select next_attempt_at as at from notifications where status = 'sending'")
        heldUntil = Number(row.rows[0]?.at)
        res.writeHead(200).end('ok')
      })
      const url = await listenLocal(far)
      try {
        const key = await app.key('operator')
        const channel = await app.json(
          'POST',
          '/api/v1/channels',
          { name: 'lease hook', type: 'webhook', settings: { url } },
          key.headers,
        )
        expect(channel.status).toBe(201)
        const fired = await app.json(
          'POST',
          '/api/v1/alerts',
          { title: 'lease', severity: 'warning', status: 'firing', labels: { lease: String(leaseMs) } },
          key.headers,
        )
        expect(fired.status).toBe(201)
        const at = Date.now() + 1_000
        expect(await app.services.notifier.run(at)).toMatchObject({ sent: 1 })
        expect(heldUntil).toBe(at + leaseMs)
      } finally {
        far.closeAllConnections()
        await new Promise((r) => far.close(r))
        app.close()
      }
    }
  })
})
