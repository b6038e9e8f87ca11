import { eq } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { labelsFingerprint } from '../../app/modules/alertmanager/shapes.ts'
import { auditLog } from '../../db/schema/audit.ts'
import { testApp } from '../helpers/app.ts'
import { startReceiver } from '../helpers/receiver.ts'

// Alertmanager's API v2 over the real app and database: shapes, filters, silences both ways, RBAC.
const t = await testApp()
const rx = await startReceiver()
afterAll(async () => {
  await rx.close()
  t.close()
})
const op = await t.key('operator')
const viewer = await t.key('viewer')
const admin = await t.key('admin')
const ingest = await t.key('operator', ['ingest'])
const HOUR = 3_600_000

type Err = { error: { code: string; details: { field: string; message: string }[] } }
type AmAlert = {
  labels: Record<string, string>
  annotations: Record<string, string>
  fingerprint: string
  receivers: { name: string }[]
  startsAt: string
  endsAt: string
  updatedAt: string
  generatorURL: string
  status: { state: string; silencedBy: string[]; inhibitedBy: string[] }
}
type AmSilence = {
  id: string
  status: { state: string }
  matchers: { name: string; value: string; isRegex: boolean; isEqual: boolean }[]
  startsAt: string
  endsAt: string
  updatedAt: string
  createdBy: string
  comment: string
}

const get = (path: string, headers: Record<string, string> = viewer.headers) => t.app.request(path, { headers })
async function ok<T>(path: string, headers: Record<string, string> = viewer.headers) {
  const res = await get(path, headers)
  expect(res.status, `${path}: ${await res.clone().text()}`).toBe(200)
  return (await res.json()) as T
}
const fields = async (res: Response) => ((await res.json()) as Err).error.details.map((d) => d.field)
const names = (list: AmAlert[]) => list.map((a) => a.labels.alertname).sort()
const q = (s: string) => encodeURIComponent(s)

async function fire(alertname: string, labels: Record<string, string>, status = 'firing') {
  const body = { title: alertname, severity: 'warning', status, labels: { alertname, ...labels } }
  const res = await t.json('POST', '/api/v1/alerts', body, ingest.headers)
  expect(res.status, await res.clone().text()).toBeLessThan(300)
  return ((await res.json()) as { alert: { id: string } }).alert
}
const future = (ms: number) => new Date(Date.now() + ms).toISOString()
const postable = (over: Record<string, unknown> = {}) => ({
  matchers: [{ name: 'alertname', value: 'DiskFull', isRegex: false, isEqual: true }],
  startsAt: new Date().toISOString(),
  endsAt: future(HOUR),
  createdBy: 'alice',
  comment: 'disk swap tonight',
  ...over,
})
const postSilence = (body: unknown, headers: Record<string, string> = op.headers) =>
  t.json('POST', '/api/v2/silences', body, headers)

const disk = await fire('DiskFull', { instance: 'db-1', env: 'prod' })
await fire('AgentDown', { instance: 'agent-7', env: 'stage' })
await fire('Flapping', { env: 'prod' })
await fire('Flapping', { env: 'prod' }, 'resolved')
// A rule's alert whose `for` has not passed yet: Alertmanager calls it unprocessed.
await t.services.alerts.report({
  fingerprint: 'rule:slow',
  source: 'rule',
  state: 'pending',
  severity: 'warning',
  title: 'SlowReplies',
  labels: { alertname: 'SlowReplies', env: 'prod' },
})

describe('GET /api/v2/alerts', () => {
  it("answers the open alerts in Alertmanager's shape, resolved ones left out", async () => {
    const list = await ok<AmAlert[]>('/api/v2/alerts')
    expect(names(list)).toEqual(['AgentDown', 'DiskFull', 'SlowReplies'])
    const a = list.find((x) => x.labels.alertname === 'DiskFull')!
    expect(a).toMatchObject({
      labels: { alertname: 'DiskFull', instance: 'db-1', env: 'prod' },
      receivers: [{ name: 'homeostat' }],
      fingerprint: labelsFingerprint(a.labels),
      generatorURL: `${t.config.PUBLIC_URL}/alerts/${disk.id}`,
      status: { state: 'active', silencedBy: [], inhibitedBy: [] },
    })
    expect(Date.parse(a.endsAt)).toBeGreaterThan(Date.parse(a.startsAt))
    expect(Number.isNaN(Date.parse(a.updatedAt))).toBe(false)
    expect(list.find((x) => x.labels.alertname === 'SlowReplies')!.status.state).toBe('unprocessed')
    expect(names(list)).not.toContain('Flapping')
    // Sorted by fingerprint, as Alertmanager answers.
    const fps = list.map((x) => x.fingerprint)
    expect(fps).toEqual([...fps].sort())
  })

  it("computes Prometheus's label-set fingerprint (FNV-1a 64)", () => {
    // The empty set is FNV-1a's offset basis; the order labels are given in does not matter.
    expect(labelsFingerprint({})).toBe('cbf29ce484222325')
    expect(labelsFingerprint({ b: '2', a: '1' })).toBe(labelsFingerprint({ a: '1', b: '2' }))
    expect(labelsFingerprint({ a: '1' })).not.toBe(labelsFingerprint({ a: '2' }))
    expect(labelsFingerprint({ a: '1' })).toMatch(/^[0-9a-f]{16}$/)
  })

  it('filters by label matchers (=, !=, =~, !~, repeated filter, quoted or not, in braces)', async () => {
    expect(names(await ok(`/api/v2/alerts?filter=${q('alertname="DiskFull"')}`))).toEqual(['DiskFull'])
    expect(names(await ok(`/api/v2/alerts?filter=${q('env=prod')}`))).toEqual(['DiskFull', 'SlowReplies'])
    expect(names(await ok(`/api/v2/alerts?filter=${q('env!="prod"')}`))).toEqual(['AgentDown'])
    expect(names(await ok(`/api/v2/alerts?filter=${q('instance=~"db-.*|agent-7"')}`))).toEqual([
      'AgentDown',
      'DiskFull',
    ])
    expect(names(await ok(`/api/v2/alerts?filter=${q('alertname!~"Disk.*"')}&filter=${q('env="prod"')}`))).toEqual([
      'SlowReplies',
    ])
    expect(names(await ok(`/api/v2/alerts?filter=${q('{env="stage"}')}`))).toEqual(['AgentDown'])
  })

  it('filters by state flags and receiver', async () => {
    expect(names(await ok('/api/v2/alerts?unprocessed=false'))).toEqual(['AgentDown', 'DiskFull'])
    expect(names(await ok('/api/v2/alerts?active=false'))).toEqual(['SlowReplies'])
    expect(names(await ok('/api/v2/alerts?inhibited=false&silenced=false'))).toHaveLength(3)
    expect(await ok('/api/v2/alerts?receiver=nobody')).toEqual([])
    expect(names(await ok('/api/v2/alerts?receiver=home.*'))).toHaveLength(3)
  })

  it('answers 400 naming the bad query field', async () => {
    for (const [query, field] of [
      [`filter=${q('not a matcher')}`, 'filter'],
      [`filter=${q('env=~"(unclosed"')}`, 'filter'],
      [`filter=${q('9bad="x"')}`, 'filter'],
      ['active=yes', 'active'],
      ['silenced=1', 'silenced'],
      ['unprocessed=maybe', 'unprocessed'],
      [`receiver=${q('(oops')}`, 'receiver'],
    ] as const) {
      const res = await get(`/api/v2/alerts?${query}`)
      expect(res.status, query).toBe(400)
      expect(await fields(res), query).toContain(field)
    }
    const groups = await get('/api/v2/alerts/groups?inhibited=nope')
    expect(groups.status).toBe(400)
    expect(await fields(groups)).toEqual(['inhibited'])
  })
})

describe('silences through the Alertmanager API', () => {
  let first: string
  it('POST /api/v2/silences creates a Homeostat silence, audited, that suppresses the alert at once', async () => {
    const res = await postSilence(postable())
    expect(res.status, await res.clone().text()).toBe(200)
    first = ((await res.json()) as { silenceID: string }).silenceID
    const v1 = await ok<{ state: string; matchers: unknown[]; comment: string; createdBy: string }>(
      `/api/v1/silences/${first}`,
    )
    expect(v1).toMatchObject({
      state: 'active',
      comment: 'disk swap tonight',
      matchers: [{ label: 'alertname', op: '=', value: 'DiskFull' }],
      createdBy: expect.stringMatching(/^key:/),
    })
    const [row] = await t.db.select().from(auditLog).where(eq(auditLog.target, first))
    expect(row).toMatchObject({ action: 'silence.created' })
    expect(row!.summary).toContain('createdBy "alice"')
    const list = await ok<AmAlert[]>(`/api/v2/alerts?filter=${q('alertname="DiskFull"')}`)
    expect(list[0]!.status).toEqual({ state: 'suppressed', silencedBy: [first], inhibitedBy: [] })
    expect(await ok('/api/v2/alerts?silenced=false&filter=alertname%3DDiskFull')).toEqual([])
    const dash = await ok<{ silenced: boolean }>(`/api/v1/alerts/${disk.id}`)
    expect(dash.silenced).toBe(true)
  })

  it('GET /api/v2/silences and /api/v2/silence/:id answer it in its shape, and v1 silences too', async () => {
    const one = await ok<AmSilence>(`/api/v2/silence/${first}`)
    expect(one).toMatchObject({
      id: first,
      status: { state: 'active' },
      matchers: [{ name: 'alertname', value: 'DiskFull', isRegex: false, isEqual: true }],
      comment: 'disk swap tonight',
    })
    const made = await t.json(
      'POST',
      '/api/v1/silences',
      {
        matchers: [
          { label: 'env', op: '!~', value: 'dev|test' },
          { label: 'team', op: '=', value: 'infra' },
        ],
        startsAt: future(HOUR),
        duration: '2h',
      },
      op.headers,
    )
    expect(made.status).toBe(201)
    const v1id = ((await made.json()) as { id: string }).id
    const list = await ok<AmSilence[]>('/api/v2/silences')
    const mine = list.find((s) => s.id === v1id)!
    expect(mine).toMatchObject({
      status: { state: 'pending' },
      matchers: [
        { name: 'env', value: 'dev|test', isRegex: true, isEqual: false },
        { name: 'team', value: 'infra', isRegex: false, isEqual: true },
      ],
    })
    expect(Date.parse(mine.endsAt) - Date.parse(mine.startsAt)).toBe(2 * HOUR)
    // filter: the silence's own matchers, read as labels, must satisfy it.
    const filtered = await ok<AmSilence[]>(`/api/v2/silences?filter=${q('alertname="DiskFull"')}`)
    expect(filtered.map((s) => s.id)).toEqual([first])
  })

  it('POST with an id replaces the silence: the new one in force, the old one expired', async () => {
    const res = await postSilence(postable({ id: first, comment: 'longer', endsAt: future(3 * HOUR) }))
    expect(res.status).toBe(200)
    const second = ((await res.json()) as { silenceID: string }).silenceID
    expect(second).not.toBe(first)
    expect((await ok<AmSilence>(`/api/v2/silence/${first}`)).status.state).toBe('expired')
    expect(await ok<AmSilence>(`/api/v2/silence/${second}`)).toMatchObject({
      status: { state: 'active' },
      comment: 'longer',
    })
    const actions = (await t.db.select().from(auditLog).where(eq(auditLog.target, first))).map((r) => r.action)
    expect(actions).toEqual(['silence.created', 'silence.expired'])
    first = second
  })

  it('a refused update leaves the old silence in force', async () => {
    const res = await postSilence(postable({ id: first, endsAt: new Date(Date.now() - HOUR).toISOString() }))
    expect(res.status).toBe(400)
    expect(await fields(res)).toContain('endsAt')
    expect((await ok<AmSilence>(`/api/v2/silence/${first}`)).status.state).toBe('active')
  })

  it('answers 400 naming the bad field', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [postable({ matchers: [] }), 'matchers'],
      [postable({ matchers: [{ name: '1x', value: 'a', isRegex: false }] }), 'matchers.0.name'],
      [postable({ matchers: [{ name: 'a', value: '(x', isRegex: true }] }), 'matchers.0.value'],
      [postable({ matchers: [{ name: 'a', value: 'x', isRegex: 'no' }] }), 'matchers.0.isRegex'],
      [postable({ matchers: [{ name: 'a', value: '', isRegex: false }] }), 'matchers'],
      [postable({ comment: '' }), 'comment'],
      [postable({ createdBy: undefined }), 'createdBy'],
      [postable({ startsAt: 'yesterday' }), 'startsAt'],
      [postable({ endsAt: new Date(Date.now() - 60_000).toISOString() }), 'endsAt'],
      [postable({ startsAt: Date.now() }), 'startsAt'],
      [postable({ matchers: [{ name: 'a', value: 'x', isRegex: false, extra: 1 }] }), 'matchers.0.extra'],
      [postable({ status: { state: 'active' } }), 'status'],
    ]
    for (const [body, field] of cases) {
      const res = await postSilence(body)
      expect(res.status, field).toBe(400)
      expect(await fields(res), field).toContain(field)
    }
  })

  it('404 for an unknown silence: GET, DELETE, and an update by its id', async () => {
    expect((await get('/api/v2/silence/01NOPE')).status).toBe(404)
    expect((await t.app.request('/api/v2/silence/01NOPE', { method: 'DELETE', headers: op.headers })).status).toBe(404)
    expect((await postSilence(postable({ id: '01NOPE' }))).status).toBe(404)
  })

  it('DELETE /api/v2/silence/:id expires it (audited), the alert is active again; twice is a 409', async () => {
    const del = () => t.app.request(`/api/v2/silence/${first}`, { method: 'DELETE', headers: op.headers })
    const res = await del()
    expect(res.status).toBe(200)
    expect((await ok<AmSilence>(`/api/v2/silence/${first}`)).status.state).toBe('expired')
    const actions = (await t.db.select().from(auditLog).where(eq(auditLog.target, first))).map((r) => r.action)
    expect(actions).toEqual(['silence.created', 'silence.expired'])
    const list = await ok<AmAlert[]>(`/api/v2/alerts?filter=${q('alertname="DiskFull"')}`)
    expect(list[0]!.status.state).toBe('active')
    expect((await del()).status).toBe(409)
  })
})

describe('receivers, groups and status', () => {
  it('channels are receivers; an alert routed by a policy names its channels, grouped by its group_by', async () => {
    const ch = await t.json(
      'POST',
      '/api/v1/channels',
      { name: 'oncall', type: 'webhook', settings: { url: `${rx.url}/oncall` } },
      admin.headers,
    )
    expect(ch.status, await ch.clone().text()).toBe(201)
    const channelId = ((await ch.json()) as { id: string }).id
    const policy = await t.json(
      'POST',
      '/api/v1/policies',
      { name: 'prod', matchers: [{ label: 'env', op: '=', value: 'prod' }], channelIds: [channelId], groupBy: ['env'] },
      admin.headers,
    )
    expect(policy.status, await policy.clone().text()).toBe(201)
    t.services.notifier.invalidateRouting()
    expect(await ok('/api/v2/receivers')).toEqual([{ name: 'homeostat' }, { name: 'oncall' }])
    const list = await ok<AmAlert[]>('/api/v2/alerts')
    const by = Object.fromEntries(list.map((a) => [a.labels.alertname, a.receivers.map((r) => r.name)]))
    // No policy matches env=stage: the default route, every enabled channel.
    expect(by).toEqual({ DiskFull: ['oncall'], SlowReplies: ['oncall'], AgentDown: ['oncall'] })
    expect(names(await ok('/api/v2/alerts?receiver=oncall'))).toHaveLength(3)

    type Group = { labels: Record<string, string>; receiver: { name: string }; alerts: AmAlert[] }
    const groups = await ok<Group[]>('/api/v2/alerts/groups')
    const shape = groups.map((g) => ({ labels: g.labels, receiver: g.receiver.name, alerts: names(g.alerts) }))
    expect(shape).toContainEqual({ labels: { env: 'prod' }, receiver: 'oncall', alerts: ['DiskFull', 'SlowReplies'] })
    expect(shape).toContainEqual({ labels: {}, receiver: 'oncall', alerts: ['AgentDown'] })
    expect(shape).toHaveLength(2)
    const onlyProd = await ok<Group[]>(`/api/v2/alerts/groups?filter=${q('env="prod"')}`)
    expect(onlyProd).toHaveLength(1)
  })

  it('GET /api/v2/status: disabled cluster, version, the routing as Alertmanager config', async () => {
    const s = await ok<{
      cluster: { status: string; peers: unknown[] }
      versionInfo: Record<string, string>
      config: { original: string }
      uptime: string
    }>('/api/v2/status')
    expect(s.cluster).toEqual({ name: 'homeostat', status: 'disabled', peers: [] })
    // karma picks its client by this version (>= 0.17.0); Homeostat's own is the revision.
    expect(s.versionInfo).toMatchObject({ version: '0.25.0', revision: 'homeostat-0.1.0' })
    expect(Object.keys(s.versionInfo).sort()).toEqual(
      ['branch', 'buildDate', 'buildUser', 'goVersion', 'revision', 'version'].sort(),
    )
    expect(s.config.original).toContain('receiver: "homeostat"')
    expect(s.config.original).toContain('- receiver: "oncall"')
    expect(s.config.original).toContain('matchers: ["env=\\"prod\\""]')
    expect(s.config.original).not.toContain(rx.url) // no channel settings, no secrets
    expect(Number.isNaN(Date.parse(s.uptime))).toBe(false)
  })
})

describe('authentication and roles', () => {
  const paths = ['/api/v2/alerts', '/api/v2/alerts/groups', '/api/v2/silences', '/api/v2/status', '/api/v2/receivers']
  it('reads need a key: 401 without one, 200 for a viewer', async () => {
    for (const p of paths) {
      expect((await t.app.request(p)).status, p).toBe(401)
      expect((await get(p)).status, p).toBe(200)
    }
  })

  it('the key may come as a basic-auth password (any user name); a wrong one is a 401', async () => {
    const basic = (user: string, pass: string) => ({ Authorization: `Basic ${btoa(`${user}:${pass}`)}` })
    expect((await get('/api/v2/alerts', basic('amtool', viewer.key))).status).toBe(200)
    expect((await get('/api/v2/status', basic('', viewer.key))).status).toBe(200)
    expect((await get('/api/v2/alerts', basic('amtool', 'hs_wrong'))).status).toBe(401)
    expect((await get('/api/v2/alerts', basic('amtool', ''))).status).toBe(401)
    expect((await get('/api/v2/alerts', { Authorization: 'Basic !!!' })).status).toBe(401)
    // ?key= is for the POST receivers only: a read never takes a key from the URL.
    expect((await t.app.request(`/api/v2/alerts?key=${viewer.key}`)).status).toBe(401)
    const res = await postSilence(postable(), { ...basic('amtool', op.key) })
    expect(res.status).toBe(200)
  })

  it('a viewer may not change silences (403, audited as forbidden); an ingest-only key may not read', async () => {
    const res = await postSilence(postable(), viewer.headers)
    expect(res.status).toBe(403)
    const [s] = await ok<AmSilence[]>('/api/v2/silences')
    const del = await t.app.request(`/api/v2/silence/${s!.id}`, { method: 'DELETE', headers: viewer.headers })
    expect(del.status).toBe(403)
    expect((await ok<AmSilence>(`/api/v2/silence/${s!.id}`)).status.state).not.toBe('expired')
    const forbidden = await t.db.select().from(auditLog).where(eq(auditLog.action, 'auth.forbidden'))
    expect(forbidden.length).toBeGreaterThanOrEqual(2)
    expect((await get('/api/v2/alerts', ingest.headers)).status).toBe(403)
  })
})
