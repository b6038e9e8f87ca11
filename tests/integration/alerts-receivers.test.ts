/**
 * The receivers for monitoring tools, with payloads shaped as Alertmanager 0.25, Grafana 10 and
 * Uptime Kuma 1.23 send them: firing then resolved, duplicate deliveries, bad payloads, `?key=`,
 * and who may call them.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { testApp } from '../helpers/app.ts'

const t = await testApp()
afterAll(() => t.close())
const ingest = await t.key('operator', ['ingest'])
const viewer = await t.key('viewer')

type AlertOut = {
  id: string
  status: string
  severity: string
  title: string
  repeatCount: number
  fingerprint: string
  source: string
  value: number | null
  labels: Record<string, string>
  annotations: Record<string, string>
  startsAt: string | null
  endsAt: string | null
}
type Detail = AlertOut & { events: { type: string; actor: string }[] }
type Err = { error: { code: string; details: { field: string; message: string }[] } }

const post = (path: string, body: unknown, headers: Record<string, string> = ingest.headers) =>
  t.json('POST', path, body, headers)
async function alertsOf(source: string) {
  const res = await t.app.request(`/api/v1/alerts?source=${source}&limit=500`, { headers: viewer.headers })
  expect(res.status).toBe(200)
  return ((await res.json()) as { items: AlertOut[] }).items
}
async function detail(id: string) {
  const res = await t.app.request(`/api/v1/alerts/${id}`, { headers: viewer.headers })
  return (await res.json()) as Detail
}
const fields = async (res: Response) => ((await res.json()) as Err).error.details.map((d) => d.field)
const count = async () => Number((await t.client.execute('select count(*) as n from alerts')).rows[0]!.n)

const ZERO = '0001-01-01T00:00:00Z'
function amAlert(
  status: 'firing' | 'resolved',
  name: string,
  fingerprint: string,
  extra: Record<string, unknown> = {},
) {
  return {
    status,
    labels: { alertname: name, instance: 'db-1:9100', job: 'node', severity: 'page' },
    annotations: { summary: `${name} on db-1`, description: 'Disk is 97% full' },
    startsAt: '2026-11-23T10:00:00.000Z',
    endsAt: status === 'resolved' ? '2026-11-23T10:05:00.000Z' : ZERO,
    generatorURL: 'http://prometheus:9090/graph?g0.expr=node_filesystem_avail_bytes',
    fingerprint,
    ...extra,
  }
}
function amWebhook(status: 'firing' | 'resolved', alerts: unknown[]) {
  return {
    receiver: 'homeostat',
    status,
    alerts,
    groupLabels: { alertname: 'DiskFull' },
    commonLabels: { alertname: 'DiskFull', job: 'node' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager:9093',
    version: '4',
    groupKey: '{}:{alertname="DiskFull"}',
    truncatedAlerts: 0,
  }
}

describe('POST /api/v1/hooks/alertmanager', () => {
  it('creates one alert per fingerprint, counts a duplicate delivery as a repeat, then resolves', async () => {
    const firing = amWebhook('firing', [
      amAlert('firing', 'DiskFull', 'a1b2c3d4e5f60718'),
      amAlert('firing', 'DiskFull', '0f1e2d3c4b5a6978', {
        labels: { alertname: 'DiskFull', instance: 'db-2:9100', severity: 'warning' },
      }),
    ])
    const res = await post('/api/v1/hooks/alertmanager', firing)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ received: 2, created: 2 })
    let list = await alertsOf('alertmanager')
    expect(list).toHaveLength(2)
    const one = list.find((a) => a.fingerprint === 'alertmanager:a1b2c3d4e5f60718')!
    expect(one).toMatchObject({
      status: 'firing',
      severity: 'critical',
      title: 'DiskFull',
      labels: { instance: 'db-1:9100' },
      startsAt: '2026-11-23T10:00:00.000Z',
    })
    expect(one.annotations).toMatchObject({
      summary: 'DiskFull on db-1',
      generatorURL: expect.stringContaining('prometheus'),
    })
    expect(list.find((a) => a.fingerprint.endsWith('0f1e2d3c4b5a6978'))!.severity).toBe('warning')

    // Alertmanager retries a delivery it thinks failed: the same body again.
    const again = await post('/api/v1/hooks/alertmanager', firing)
    expect(await again.json()).toMatchObject({ received: 2, created: 0, repeated: 2 })
    list = await alertsOf('alertmanager')
    expect(list).toHaveLength(2)
    expect(list.find((a) => a.id === one.id)!.repeatCount).toBe(2)

    const resolved = await post(
      '/api/v1/hooks/alertmanager',
      amWebhook('resolved', [amAlert('resolved', 'DiskFull', 'a1b2c3d4e5f60718')]),
    )
    expect(await resolved.json()).toMatchObject({ resolved: 1 })
    const dupResolved = await post(
      '/api/v1/hooks/alertmanager',
      amWebhook('resolved', [amAlert('resolved', 'DiskFull', 'a1b2c3d4e5f60718')]),
    )
    expect(await dupResolved.json()).toMatchObject({ resolved: 0, unchanged: 1 })
    const d = await detail(one.id)
    expect(d).toMatchObject({ status: 'resolved', endsAt: '2026-11-23T10:05:00.000Z' })
    expect(d.events.map((e) => e.type)).toEqual(['created', 'fired', 'repeated', 'resolved'])
    expect(d.events[0]!.actor).toMatch(/^key:/)
  })

  it('a firing delivery retried after the resolution does not reopen the alert; a new incident does', async () => {
    const fp = 'b0b0b0b0b0b0b0b0'
    await post('/api/v1/hooks/alertmanager', amWebhook('firing', [amAlert('firing', 'Flappy', fp)]))
    await post('/api/v1/hooks/alertmanager', amWebhook('resolved', [amAlert('resolved', 'Flappy', fp)]))
    // The first delivery again (Alertmanager retried it), after the resolution: it is stale.
    expect(
      await (await post('/api/v1/hooks/alertmanager', amWebhook('firing', [amAlert('firing', 'Flappy', fp)]))).json(),
    ).toMatchObject({ stale: 1, fired: 0 })
    const a = (await alertsOf('alertmanager')).find((x) => x.fingerprint === `alertmanager:${fp}`)!
    expect(a.status).toBe('resolved')
    // It starts again after it ended: a new incident reopens the same alert.
    expect(
      await (
        await post(
          '/api/v1/hooks/alertmanager',
          amWebhook('firing', [amAlert('firing', 'Flappy', fp, { startsAt: '2026-11-23T10:30:00.000Z' })]),
        )
      ).json(),
    ).toMatchObject({ fired: 1 })
    expect((await detail(a.id)).events.map((e) => e.type)).toEqual(['created', 'fired', 'resolved', 'fired'])
  })

  it('an alert resolved by hand fires again on the next firing delivery, as a rule would', async () => {
    const fp = 'c0c0c0c0c0c0c0c0'
    await post('/api/v1/hooks/alertmanager', amWebhook('firing', [amAlert('firing', 'Manual', fp)]))
    const a = (await alertsOf('alertmanager')).find((x) => x.fingerprint === `alertmanager:${fp}`)!
    const operator = await t.key('operator')
    expect((await post(`/api/v1/alerts/${a.id}/resolve`, {}, operator.headers)).status).toBe(200)
    expect(
      await (await post('/api/v1/hooks/alertmanager', amWebhook('firing', [amAlert('firing', 'Manual', fp)]))).json(),
    ).toMatchObject({ fired: 1, stale: 0 })
  })

  it.each([
    ['no alerts', { ...amWebhook('firing', []), alerts: undefined }, 'alerts'],
    ['an empty alerts list', amWebhook('firing', []), 'alerts'],
    ['a wrong version', { ...amWebhook('firing', [amAlert('firing', 'X', 'ff00')]), version: '3' }, 'version'],
    [
      'an alert without labels',
      amWebhook('firing', [{ ...amAlert('firing', 'X', 'ff01'), labels: undefined }]),
      'alerts.0.labels',
    ],
    [
      'an alert with a bad status',
      amWebhook('firing', [amAlert('firing', 'X', 'ff02'), { ...amAlert('firing', 'X', 'ff03'), status: 'burning' }]),
      'alerts.1.status',
    ],
    [
      'a bad time',
      amWebhook('firing', [{ ...amAlert('firing', 'X', 'ff04'), startsAt: 'yesterday' }]),
      'alerts.0.startsAt',
    ],
    [
      'an unknown top-level field',
      { ...amWebhook('firing', [amAlert('firing', 'X', 'ff05')]), ruleName: 'legacy' },
      'ruleName',
    ],
  ])('%s is a 400 naming it, and nothing of the batch is written', async (_name, body, field) => {
    const before = await count()
    const res = await post('/api/v1/hooks/alertmanager', body)
    expect(res.status).toBe(400)
    expect(await fields(res)).toContain(field)
    expect(await count()).toBe(before)
  })

  it('accepts extra fields an alert carries beyond the documented ones', async () => {
    const res = await post(
      '/api/v1/hooks/alertmanager',
      amWebhook('firing', [amAlert('firing', 'Extra', 'ee01', { newField: { x: 1 } })]),
    )
    expect(res.status).toBe(200)
  })
})

describe('POST /api/v1/hooks/grafana', () => {
  const grafanaAlert = (status: 'firing' | 'resolved') => ({
    status,
    labels: { alertname: 'High CPU', grafana_folder: 'Infra', 'team-name': 'sre', severity: 'high' },
    annotations: { summary: 'CPU above 90%' },
    startsAt: '2026-11-23T11:00:00Z',
    endsAt: status === 'resolved' ? '2026-11-23T11:10:00Z' : ZERO,
    generatorURL: 'http://grafana:3000/alerting/grafana/abc/view?orgId=1',
    fingerprint: '57c6d9296de2ad39',
    silenceURL: 'http://grafana:3000/alerting/silence/new?alertmanager=grafana',
    dashboardURL: 'http://grafana:3000/d/dash?orgId=1',
    panelURL: 'http://grafana:3000/d/dash?orgId=1&viewPanel=2',
    values: { A: 93.5, C: 1 },
    valueString: "[ var='A' labels={} value=93.5 ], [ var='C' labels={} value=1 ]",
    imageURL: '',
    orgId: 1,
  })
  const payload = (status: 'firing' | 'resolved') => ({
    receiver: 'homeostat',
    status,
    orgId: 1,
    alerts: [grafanaAlert(status)],
    groupLabels: { alertname: 'High CPU' },
    commonLabels: { alertname: 'High CPU', grafana_folder: 'Infra' },
    commonAnnotations: {},
    externalURL: 'http://grafana:3000/',
    version: '1',
    groupKey: '{}/{}:{alertname="High CPU"}',
    truncatedAlerts: 0,
    title: '[FIRING:1] High CPU Infra',
    state: status === 'firing' ? 'alerting' : 'ok',
    message: '**Firing**\n\nValue: A=93.5\nLabels:\n - alertname = High CPU\n',
  })

  it('fires with the dashboard links and the query value, repeats on a duplicate, resolves', async () => {
    expect((await post('/api/v1/hooks/grafana', payload('firing'))).status).toBe(200)
    expect(await (await post('/api/v1/hooks/grafana', payload('firing'))).json()).toMatchObject({
      repeated: 1,
      created: 0,
    })
    const [a] = await alertsOf('grafana')
    expect(a).toMatchObject({
      fingerprint: 'grafana:57c6d9296de2ad39',
      status: 'firing',
      severity: 'critical',
      title: 'High CPU',
      value: 93.5,
      repeatCount: 2,
    })
    expect(a!.annotations).toMatchObject({
      dashboardURL: 'http://grafana:3000/d/dash?orgId=1',
      panelURL: expect.stringContaining('viewPanel'),
      valueString: expect.stringContaining('93.5'),
    })
    expect(a!.labels['team-name']).toBe('sre')
    expect(await (await post('/api/v1/hooks/grafana', payload('resolved'))).json()).toMatchObject({ resolved: 1 })
    expect((await alertsOf('grafana'))[0]!.status).toBe('resolved')
    expect(await alertsOf('grafana')).toHaveLength(1)
  })

  it('refuses a legacy (pre-unified) Grafana alert payload, naming what is missing', async () => {
    const res = await post('/api/v1/hooks/grafana', {
      title: '[Alerting] CPU',
      ruleId: 1,
      ruleName: 'CPU',
      state: 'alerting',
      evalMatches: [],
      message: 'm',
    })
    expect(res.status).toBe(400)
    const f = await fields(res)
    expect(f).toEqual(expect.arrayContaining(['status', 'alerts', 'ruleId']))
  })
})

describe('POST /api/v1/hooks/uptime-kuma', () => {
  const monitor = {
    id: 7,
    name: 'Shop API',
    url: 'https://shop.example.com/health',
    hostname: null,
    type: 'http',
    port: null,
    interval: 60,
    active: true,
    tags: [],
  }
  const beat = (status: number, msg: string) => ({
    heartbeat: {
      monitorID: 7,
      status,
      time: '2026-11-23 11:20:00.123',
      msg,
      ping: status === 1 ? 42 : null,
      important: true,
      duration: 60,
    },
    monitor,
    msg: `[Shop API] [${status === 1 ? '✅ Up' : '🔴 Down'}] ${msg}`,
  })

  it('answers the test message (no heartbeat) with 200 and writes nothing', async () => {
    const before = await count()
    const res = await post('/api/v1/hooks/uptime-kuma', {
      heartbeat: null,
      monitor: null,
      msg: 'Uptime Kuma Alert - Testing',
    })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({ received: 1, ignored: 1, created: 0 })
    expect(await count()).toBe(before)
  })

  it('down fires (once, however often it is delivered), up resolves, maintenance is ignored', async () => {
    expect(await (await post('/api/v1/hooks/uptime-kuma', beat(0, 'connect ECONNREFUSED'))).json()).toMatchObject({
      created: 1,
    })
    expect(await (await post('/api/v1/hooks/uptime-kuma', beat(0, 'connect ECONNREFUSED'))).json()).toMatchObject({
      repeated: 1,
    })
    let [a] = await alertsOf('uptime_kuma')
    expect(a).toMatchObject({
      fingerprint: 'uptime_kuma:7',
      status: 'firing',
      severity: 'critical',
      title: 'Monitor Shop API is down',
      labels: { alertname: 'Shop API', monitor_id: '7', monitor_type: 'http', url: 'https://shop.example.com/health' },
      startsAt: '2026-11-23T11:20:00.123Z',
    })
    expect(await (await post('/api/v1/hooks/uptime-kuma', beat(3, 'Maintenance'))).json()).toMatchObject({ ignored: 1 })
    expect((await alertsOf('uptime_kuma'))[0]!.status).toBe('firing')
    expect(await (await post('/api/v1/hooks/uptime-kuma', beat(1, '200 - OK'))).json()).toMatchObject({ resolved: 1 })
    ;[a] = await alertsOf('uptime_kuma')
    expect(a).toMatchObject({ status: 'resolved', value: 42 })
    expect(await alertsOf('uptime_kuma')).toHaveLength(1)
  })

  it('pending makes a pending alert; ?severity= sets the severity', async () => {
    const body = {
      ...beat(2, 'timeout'),
      monitor: { ...monitor, id: 8, name: 'Blog' },
      heartbeat: { ...beat(2, 'timeout').heartbeat, monitorID: 8 },
    }
    expect((await post('/api/v1/hooks/uptime-kuma?severity=warning', body)).status).toBe(200)
    const a = (await alertsOf('uptime_kuma')).find((x) => x.fingerprint === 'uptime_kuma:8')!
    expect(a).toMatchObject({ status: 'pending', severity: 'warning' })
    const bad = await post('/api/v1/hooks/uptime-kuma?severity=loud', body)
    expect(bad.status).toBe(400)
    expect(await fields(bad)).toContain('severity')
  })

  it.each([
    ['no msg', { heartbeat: null, monitor: null }, 'msg'],
    ['a bad status', { heartbeat: { status: 9, monitorID: 1 }, monitor: null, msg: 'x' }, 'heartbeat.status'],
    ['a heartbeat without a monitor', { heartbeat: { status: 0 }, monitor: null, msg: 'x' }, 'monitor'],
    ['a foreign payload', { text: 'hello' }, 'text'],
  ])('%s is a 400 naming it', async (_name, body, field) => {
    const res = await post('/api/v1/hooks/uptime-kuma', body)
    expect(res.status).toBe(400)
    expect(await fields(res)).toContain(field)
  })
})

describe('POST /api/v2/alerts (Alertmanager API v2 intake)', () => {
  const promAlert = (endsAt: string, instance = 'web-1') => ({
    labels: { alertname: 'HighLatency', instance, job: 'api', severity: 'critical' },
    annotations: { summary: `p99 above 1s on ${instance}` },
    startsAt: '2026-11-23T11:30:00.000Z',
    endsAt,
    generatorURL: 'http://prometheus:9090/graph?g0.expr=latency',
  })
  const future = () => new Date(Date.now() + 240_000).toISOString()

  it('re-sent firing alerts are one alert each; endsAt in the past resolves; the reply is an empty 200', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await post('/api/v2/alerts', [promAlert(future()), promAlert(future(), 'web-2')])
      expect(res.status).toBe(200)
      expect(await res.text()).toBe('')
    }
    let list = await alertsOf('prometheus')
    expect(list).toHaveLength(2)
    expect(list.every((a) => a.status === 'firing' && a.repeatCount === 5)).toBe(true)
    const ended = new Date(Date.now() - 1000).toISOString()
    expect((await post('/api/v2/alerts', [promAlert(ended)])).status).toBe(200)
    list = await alertsOf('prometheus')
    const web1 = list.find((a) => a.labels.instance === 'web-1')!
    expect(web1).toMatchObject({ status: 'resolved', endsAt: ended })
    expect((await detail(web1.id)).events.map((e) => e.type)).toEqual(['created', 'fired', 'resolved'])
    expect(list.find((a) => a.labels.instance === 'web-2')!.status).toBe('firing')
  })

  it('validates every alert before writing any', async () => {
    const before = await count()
    const res = await post('/api/v2/alerts', [promAlert(future(), 'web-9'), { annotations: {} }, { labels: {} }])
    expect(res.status).toBe(400)
    expect(await fields(res)).toEqual(expect.arrayContaining(['1.labels', '2.labels']))
    expect(await count()).toBe(before)
    const obj = await post('/api/v2/alerts', promAlert(future()))
    expect(obj.status).toBe(400)
  })
})

describe('access', () => {
  const body = [{ labels: { alertname: 'KeyInUrl', instance: 'x' } }]
  it('?key= works on the receiver routes, for tools that cannot set headers', async () => {
    const res = await t.app.request(`/api/v2/alerts?key=${encodeURIComponent(ingest.key)}`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json' },
    })
    expect(res.status).toBe(200)
    const kuma = await t.app.request(`/api/v1/hooks/uptime-kuma?key=${ingest.key}`, {
      method: 'POST',
      body: JSON.stringify({ heartbeat: null, monitor: null, msg: 'test' }),
      headers: { 'Content-Type': 'application/json' },
    })
    expect(kuma.status).toBe(200)
  })

  it('?key= is not read anywhere else', async () => {
    const res = await t.app.request(`/api/v1/alerts?key=${ingest.key}`, {
      method: 'POST',
      body: JSON.stringify({ title: 'x', severity: 'info', status: 'firing' }),
      headers: { 'Content-Type': 'application/json' },
    })
    expect(res.status).toBe(401)
  })

  it('a wrong ?key= is a 401; a viewer key is a 403; no key is a 401', async () => {
    const send = (path: string, headers: Record<string, string> = {}) =>
      t.app.request(path, {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'Content-Type': 'application/json', ...headers },
      })
    expect((await send('/api/v2/alerts?key=hs_nope')).status).toBe(401)
    expect((await send('/api/v2/alerts')).status).toBe(401)
    expect((await send('/api/v2/alerts', viewer.headers)).status).toBe(403)
    expect((await send(`/api/v2/alerts?key=${viewer.key}`)).status).toBe(403)
    for (const path of ['/api/v1/hooks/alertmanager', '/api/v1/hooks/grafana', '/api/v1/hooks/uptime-kuma'])
      expect((await send(path, viewer.headers)).status).toBe(403)
  })

  it('state changes are audited, with the key in the URL never recorded', async () => {
    const rows = await t.client.execute("select actor, target, summary from audit_log where action = 'alert.received'")
    expect(rows.rows.length).toBeGreaterThan(0)
    expect(JSON.stringify(rows.rows)).not.toContain(ingest.key)
  })
})

type Listed = { id: string; fingerprint: string; status: string; source: string }
const other = (await t.key('operator')).headers
describe('a key bound to one source', () => {
  it('reports through its own receiver only: another receiver is a 403 and changes nothing', async () => {
    const am = (await t.key('viewer', ['ingest'], 'alertmanager')).headers
    const firing = amWebhook('firing', [amAlert('firing', 'BoundOwn', 'b0b0b0b0b0b0b0b0')])
    expect((await post('/api/v1/hooks/alertmanager', firing, am)).status).toBe(200)
    expect((await alertsOf('alertmanager')).map((a: Listed) => a.fingerprint)).toContain(
      'alertmanager:b0b0b0b0b0b0b0b0',
    )
    const before = (await alertsOf('prometheus')).length
    const prom = [{ labels: { alertname: 'ClaimedProm', instance: 'x' }, startsAt: new Date().toISOString() }]
    const res = await post('/api/v2/alerts', prom, am)
    expect(res.status).toBe(403)
    expect(await alertsOf('prometheus')).toHaveLength(before)
  })

  it('on the generic API: another `source` is a 403; its fingerprints and labels never reach another source alert', async () => {
    // An alert of source grafana-ish "api": a fingerprint and labels a bound key might try to hit.
    const victim = await t.json(
      'POST',
      '/api/v1/alerts',
      { title: 'Victim', severity: 'error', status: 'firing', labels: { svc: 'pay' }, fingerprint: 'fp-1' },
      other,
    )
    expect(victim.status).toBe(201)
    const byLabels = await t.json(
      'POST',
      '/api/v1/alerts',
      { title: 'VictimL', severity: 'error', status: 'firing', labels: { svc: 'pay' } },
      other,
    )
    expect(byLabels.status).toBe(201)
    const bound = (await t.key('viewer', ['ingest'], 'kuma-edge')).headers
    const claim = await t.json(
      'POST',
      '/api/v1/alerts',
      { title: 'Victim', severity: 'error', status: 'resolved', fingerprint: 'fp-1', source: 'api' },
      bound,
    )
    expect(claim.status).toBe(403)
    // Without `source`, the same fingerprint and the same labels land in the key's own source.
    for (const body of [
      { title: 'Victim', severity: 'error', status: 'resolved', fingerprint: 'fp-1' },
      { title: 'VictimL', severity: 'error', status: 'resolved', labels: { svc: 'pay' } },
    ]) {
      const res = await t.json('POST', '/api/v1/alerts', body, bound)
      expect(res.status).toBeLessThan(300)
      const { alert } = (await res.json()) as { alert: Listed | null }
      if (alert) expect(alert.fingerprint).toMatch(/^kuma-edge:/)
    }
    const still = ((await alertsOf('api')) as (Listed & { title: string })[]).filter((a) =>
      a.title.startsWith('Victim'),
    )
    expect(still.map((a) => a.status)).toEqual(['firing', 'firing'])
    // Changing an alert by hand needs an operator: a bound (ingest) key cannot resolve or acknowledge.
    const id = ((await victim.json()) as { alert: Listed }).alert.id
    expect((await t.json('POST', `/api/v1/alerts/${id}/resolve`, {}, bound)).status).toBe(403)
    expect((await t.json('POST', `/api/v1/alerts/${id}/acknowledge`, {}, bound)).status).toBe(403)
  })
})
