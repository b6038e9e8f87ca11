import { afterAll, describe, expect, it } from 'vitest'
import { testApp } from '../helpers/app.ts'
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

type AlertOut = { id: string; fingerprint: string; events?: { type: string; detail: Record<string, unknown> }[] }
type Body = { event: string; alert: { id: string }; alerts: { id: string }[] }
type Err = { error: { details: { field: string }[] } }

const run = (at: number) => t.services.notifier.run(at)
const fire = async (title: string, labels: Record<string, string>, severity = 'error', status = 'firing') => {
  const res = await t.json('POST', '/api/v1/alerts', { title, severity, status, labels }, ingest.headers)
  expect(res.status, await res.clone().text()).toBeLessThan(300)
  return ((await res.json()) as { alert: AlertOut }).alert
}
const hook = async (name: string) =>
  (
    (await (
      await t.json(
        'POST',
        '/api/v1/channels',
        { name, type: 'webhook', settings: { url: `${rx.url}/${name}` } },
        op.headers,
      )
    ).json()) as { id: string }
  ).id
const policy = async (body: Record<string, unknown>) => {
  const res = await t.json('POST', '/api/v1/policies', body, op.headers)
  expect(res.status, await res.clone().text()).toBe(201)
  return (await res.json()) as { id: string }
}
const about = (path: string, id: string) => rx.on(path).filter((r) => (r.json as Body).alerts.some((a) => a.id === id))
const events = async (id: string) =>
  ((await (await t.app.request(`/api/v1/alerts/${id}`, { headers: viewer.headers })).json()) as AlertOut).events!

const A = await hook('a')
const B = await hook('b')
const C = await hook('c')
const R = await hook('r')
const PD = (
  (await (
    await t.json(
      'POST',
      '/api/v1/channels',
      { name: 'pd', type: 'pagerduty', settings: { routingKey: 'PDKEY', baseUrl: `${rx.url}/pd` } },
      op.headers,
    )
  ).json()) as { id: string }
).id

describe('policies: validation and CRUD', () => {
  it.each([
    ['an unknown channel', { channelIds: ['nope'] }, 'channelIds'],
    [
      'an unknown escalation channel',
      { escalations: [{ after: '5m', channelIds: ['nope'] }] },
      'escalations.0.channelIds',
    ],
    ['a bad regex', { matchers: [{ label: 'team', op: '=~', value: '(' }] }, 'matchers.0'],
    ['a negative group wait', { groupWait: -1 }, 'groupWait'],
    ['a bad groupBy label', { groupBy: ['not-a-label'] }, 'groupBy.0'],
  ])('%s is a 400 naming the field', async (_n, change, field) => {
    const res = await t.json('POST', '/api/v1/policies', { name: `bad ${_n}`, ...change }, op.headers)
    expect(res.status).toBe(400)
    expect(((await res.json()) as Err).error.details.map((d) => d.field).some((f) => f.startsWith(field))).toBe(true)
  })

  it('creates, reads, patches and deletes; viewers read only; names are unique', async () => {
    const p = await policy({
      name: 'crud',
      matchers: [{ label: 'team', op: '=', value: 'nobody' }],
      channelIds: [A],
      groupWait: '10s',
    })
    expect((await t.json('POST', '/api/v1/policies', { name: 'crud' }, op.headers)).status).toBe(409)
    expect((await t.json('POST', '/api/v1/policies', { name: 'viewer' }, viewer.headers)).status).toBe(403)
    expect(await (await t.app.request(`/api/v1/policies/${p.id}`, { headers: viewer.headers })).json()).toMatchObject({
      name: 'crud',
      groupWaitMs: 10_000,
      groupIntervalMs: 300_000,
      repeatIntervalMs: 14_400_000,
      sendResolved: true,
      continue: false,
    })
    expect(
      await (
        await t.json('PATCH', `/api/v1/policies/${p.id}`, { enabled: false, groupBy: ['team'] }, op.headers)
      ).json(),
    ).toMatchObject({ enabled: false, groupBy: ['team'] })
    expect((await t.app.request(`/api/v1/policies/${p.id}`, { method: 'DELETE', headers: op.headers })).status).toBe(
      204,
    )
    expect((await t.app.request(`/api/v1/policies/${p.id}`, { headers: viewer.headers })).status).toBe(404)
  })
})

describe('routing, grouping, continue, resolved, escalation, repeat', () => {
  it('routes by matchers in order with continue; groups by label values after groupWait; sendResolved', async () => {
    await policy({
      name: 'db grouped',
      matchers: [{ label: 'team', op: '=', value: 'db' }],
      channelIds: [A],
      groupBy: ['team'],
      groupWait: '30s',
      groupInterval: '5m',
      continue: true,
      sendResolved: false,
    })
    await policy({
      name: 'db escalating',
      matchers: [{ label: 'team', op: '=~', value: 'db|data' }],
      channelIds: [B],
      groupWait: 0,
      groupInterval: 0,
      escalations: [{ after: '5m', channelIds: [C] }],
    })
    await policy({
      name: 'pager',
      matchers: [{ label: 'team', op: '=', value: 'pd' }],
      channelIds: [PD],
      groupWait: 0,
      groupInterval: 0,
    })
    await policy({
      name: 'repeat',
      matchers: [{ label: 'team', op: '=', value: 'rep' }],
      channelIds: [R],
      groupWait: 0,
      groupInterval: 0,
      repeatInterval: '1m',
    })
    const x = await fire('replica lag', { team: 'db', host: 'db1' })
    const y = await fire('slow queries', { team: 'db', host: 'db2' })
    const t0 = Date.now()
    await run(t0)
    expect(about('/b', x.id)).toHaveLength(1)
    expect(about('/b', y.id)).toHaveLength(1)
    expect(about('/a', x.id)).toHaveLength(0) // waiting for the group
    await run(t0 + 31_000)
    const grouped = rx.on('/a')
    expect(grouped).toHaveLength(1)
    expect((grouped[0]!.json as Body).alerts.map((a) => a.id).sort()).toEqual([x.id, y.id].sort())
    expect(rx.on('/c')).toHaveLength(0)
    // A later alert of the same group waits groupInterval after the group's last send.
    const v = await fire('disk slow', { team: 'db', host: 'db3' })
    await run(t0 + 5 * 60_000)
    expect(about('/a', v.id)).toHaveLength(0)
    await run(t0 + 31_000 + 5 * 60_000)
    expect(about('/a', v.id)).toHaveLength(1)
    // Resolved: the first policy does not send it, the second does.
    await fire('replica lag', { team: 'db', host: 'db1' }, 'error', 'resolved')
    await run(t0 + 32_000)
    expect(about('/a', x.id)).toHaveLength(1)
    expect(about('/b', x.id).map((r) => (r.json as Body).event)).toEqual(['fired', 'resolved'])
  })

  it('an alert no policy matches goes to every enabled channel', async () => {
    const u = await fire('unrouted', { team: 'nobody' })
    await run(Date.now())
    for (const path of ['/a', '/b', '/c', '/r']) expect(about(path, u.id), path).toHaveLength(1)
    expect(
      rx
        .on('/pd/v2/enqueue')
        .filter((r) => (r.json as { payload?: { summary: string } }).payload?.summary === 'unrouted'),
    ).toHaveLength(1)
  })

  it('escalates a critical alert not acknowledged within `after`, once; not an acknowledged one', async () => {
    const z = await fire('primary down', { team: 'data', host: 'z' }, 'critical')
    const w = await fire('replica down', { team: 'data', host: 'w' }, 'critical')
    expect((await t.json('POST', `/api/v1/alerts/${w.id}/acknowledge`, {}, op.headers)).status).toBe(200)
    const t0 = Date.now()
    await run(t0)
    expect(about('/b', z.id)).toHaveLength(1)
    expect(await run(t0 + 4 * 60_000)).toMatchObject({ escalated: 0 })
    expect(await run(t0 + 6 * 60_000)).toMatchObject({ escalated: 1 })
    await run(t0 + 7 * 60_000)
    expect(about('/c', z.id).map((r) => (r.json as Body).event)).toEqual(['escalated'])
    expect(about('/c', w.id)).toHaveLength(0)
    expect((await events(z.id)).filter((e) => e.type === 'escalated')).toMatchObject([
      { detail: { step: 0, afterMs: 300_000, channelIds: [C] } },
    ])
  })

  it('repeats a still-firing alert after repeatInterval', async () => {
    const r = await fire('still broken', { team: 'rep' })
    const t0 = Date.now()
    await run(t0)
    await run(t0 + 30_000)
    expect(about('/r', r.id).map((x) => (x.json as Body).event)).toEqual(['fired'])
    await run(t0 + 61_000)
    await run(t0 + 62_000)
    expect(about('/r', r.id).map((x) => (x.json as Body).event)).toEqual(['fired', 'repeated'])
  })

  it('pagerduty: trigger, acknowledge, resolve with dedup_key = the fingerprint', async () => {
    const p = await fire('gpu on fire', { team: 'pd' }, 'critical')
    await run(Date.now())
    expect((await t.json('POST', `/api/v1/alerts/${p.id}/acknowledge`, {}, op.headers)).status).toBe(200)
    await run(Date.now())
    await fire('gpu on fire', { team: 'pd' }, 'critical', 'resolved')
    await run(Date.now())
    const mine = rx
      .on('/pd/v2/enqueue')
      .map((r) => r.json as { dedup_key: string; event_action: string; routing_key: string })
      .filter((e) => e.dedup_key === p.fingerprint)
    expect(mine.map((e) => e.event_action)).toEqual(['trigger', 'acknowledge', 'resolve'])
    expect(mine.every((e) => e.routing_key === 'PDKEY')).toBe(true)
  })
})

describe('webhook subscriptions', () => {
  it('subscribes with events and a severity floor, delivers signed through the outbox, unsubscribes', async () => {
    expect(
      (await t.json('POST', '/api/v1/webhooks', { url: `${rx.url}/sub`, events: ['exploded'] }, op.headers)).status,
    ).toBe(400)
    expect(
      (await t.json('POST', '/api/v1/webhooks', { url: `${rx.url}/sub`, events: ['fired'] }, viewer.headers)).status,
    ).toBe(403)
    const res = await t.json(
      'POST',
      '/api/v1/webhooks',
      { url: `${rx.url}/sub/n8n-webhook-path`, events: ['fired', 'resolved'], minSeverity: 'error' },
      op.headers,
    )
    expect(res.status).toBe(201)
    const sub = (await res.json()) as { id: string; secret: string; events: string[] }
    expect(sub.secret).toMatch(/^whsec_/)
    const listed = await (await t.app.request('/api/v1/webhooks', { headers: viewer.headers })).text()
    expect(listed).toContain(sub.id)
    expect(listed).not.toContain(sub.secret)
    expect(listed).not.toContain('n8n-webhook-path')
    expect(await (await t.app.request(`/api/v1/webhooks/${sub.id}`, { headers: viewer.headers })).json()).toMatchObject(
      { events: ['fired', 'resolved'], minSeverity: 'error' },
    )

    const low = await fire('just a warning', { team: 'sub' }, 'warning')
    const high = await fire('really bad', { team: 'sub' }, 'critical')
    expect((await t.json('POST', `/api/v1/alerts/${high.id}/acknowledge`, {}, op.headers)).status).toBe(200)
    await fire('really bad', { team: 'sub' }, 'critical', 'resolved')
    await run(Date.now())
    expect(about('/sub/n8n-webhook-path', low.id)).toHaveLength(0)
    const got = about('/sub/n8n-webhook-path', high.id)
    expect(got.map((r) => (r.json as Body).event)).toEqual(['fired', 'resolved']) // not subscribed to acknowledged
    for (const r of got) expect(verify(r.headers['x-homeostat-signature'], r.body, sub.secret)).toBe(true)

    expect((await t.app.request(`/api/v1/webhooks/${sub.id}`, { method: 'DELETE', headers: op.headers })).status).toBe(
      204,
    )
    expect((await t.app.request(`/api/v1/webhooks/${sub.id}`, { headers: viewer.headers })).status).toBe(404)
    const after = await fire('after unsubscribe', { team: 'sub' }, 'critical')
    await run(Date.now())
    expect(about('/sub/n8n-webhook-path', after.id)).toHaveLength(0)
  })
})
