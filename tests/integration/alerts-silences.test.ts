import { eq } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { createLogger } from '../../app/lib/logger.ts'
import { createMetricStore } from '../../app/modules/metrics/store.ts'
import { alertEvents, alerts, storedAlert } from '../../db/schema/alerts.ts'
import { auditLog } from '../../db/schema/audit.ts'
import { silencesJob } from '../../jobs/silences.ts'
import { testApp } from '../helpers/app.ts'

// Silences over the real app and database; the `silences` job is driven with a fake `now`.
const t = await testApp()
afterAll(() => t.close())
const op = await t.key('operator')
const viewer = await t.key('viewer')
const ingest = await t.key('operator', ['ingest'])
const job = silencesJob(t.services)
const tick = (now: number) => job.handler({ now, tick: now, log: createLogger('silent') })
const HOUR = 3_600_000

type Err = { error: { code: string; details: { field: string; message: string }[] } }
type SilenceOut = {
  id: string
  state: string
  matchers: unknown[]
  startsAt: string
  endsAt: string | null
  createdBy: string
  comment: string
  recurring: boolean
  expiredAt: string | null
  duration: number | null
  nextWindow?: { startsAt: string; endsAt: string } | null
}
type AlertOut = {
  id: string
  silenced: boolean
  status: string
  labels: Record<string, string>
  events?: { type: string; actor: string; detail: Record<string, unknown> }[]
}

const post = (path: string, body: unknown, headers = op.headers) => t.json('POST', path, body, headers)
const get = async <T>(path: string, headers = viewer.headers) => {
  const res = await t.app.request(path, { headers })
  expect(res.status, path).toBe(200)
  return (await res.json()) as T
}
const fields = async (res: Response) => ((await res.json()) as Err).error.details.map((d) => d.field)
async function silence(body: Record<string, unknown>) {
  const res = await post('/api/v1/silences', body)
  expect(res.status, await res.clone().text()).toBe(201)
  return (await res.json()) as SilenceOut
}
async function fire(title: string, labels: Record<string, string>, status = 'firing') {
  const res = await post('/api/v1/alerts', { title, severity: 'critical', status, labels }, ingest.headers)
  expect(res.status).toBeLessThan(300)
  return ((await res.json()) as { alert: AlertOut }).alert
}
const alertOf = (id: string) => get<AlertOut>(`/api/v1/alerts/${id}`)
const types = (a: AlertOut) => a.events!.map((e) => e.type)
const eq1 = (label: string, value: string) => [{ label, op: '=', value }]

describe('silences: CRUD, list by state, expire, audit', () => {
  it('creates, reads, lists and expires a silence, each change audited', async () => {
    const s = await silence({ matchers: eq1('agent', 'crud'), duration: '2h', comment: 'deploying' })
    expect(s).toMatchObject({
      state: 'active',
      matchers: eq1('agent', 'crud'),
      comment: 'deploying',
      recurring: false,
      expiredAt: null,
    })
    expect(s.createdBy).toMatch(/^key:/)
    expect(Date.parse(s.endsAt!) - Date.parse(s.startsAt)).toBe(2 * HOUR)
    const later = await silence({
      matchers: eq1('agent', 'crud-later'),
      startsAt: new Date(Date.now() + HOUR).toISOString(),
      endsAt: new Date(Date.now() + 2 * HOUR).toISOString(),
    })
    expect(later.state).toBe('pending')

    const one = await get<SilenceOut & { alerts: unknown[] }>(`/api/v1/silences/${s.id}`)
    expect(one).toMatchObject({ id: s.id, state: 'active', alerts: [] })
    const active = await get<{ items: SilenceOut[] }>('/api/v1/silences?state=active')
    expect(active.items.map((x) => x.id)).toContain(s.id)
    expect(active.items.map((x) => x.id)).not.toContain(later.id)
    expect((await get<{ items: SilenceOut[] }>('/api/v1/silences?state=pending')).items.map((x) => x.id)).toContain(
      later.id,
    )

    const expired = await t.app.request(`/api/v1/silences/${s.id}/expire`, { method: 'POST', headers: op.headers })
    expect(expired.status).toBe(200)
    expect(await expired.json()).toMatchObject({ id: s.id, state: 'expired' })
    expect(
      (await t.app.request(`/api/v1/silences/${s.id}/expire`, { method: 'POST', headers: op.headers })).status,
    ).toBe(409)
    expect((await get<{ items: SilenceOut[] }>('/api/v1/silences?state=expired')).items.map((x) => x.id)).toEqual([
      s.id,
    ])
    expect((await get<{ items: SilenceOut[] }>('/api/v1/silences?state=active')).items.map((x) => x.id)).not.toContain(
      s.id,
    )

    const audit = await t.db.select().from(auditLog).where(eq(auditLog.target, s.id))
    expect(audit.map((a) => a.action).sort()).toEqual(['silence.created', 'silence.expired'])
  })

  it('pages with a cursor', async () => {
    for (const i of [1, 2, 3]) await silence({ matchers: eq1('page', String(i)), duration: '1h' })
    const first = await get<{ items: SilenceOut[]; next: string | null }>('/api/v1/silences?limit=2')
    expect(first.items).toHaveLength(2)
    const second = await get<{ items: SilenceOut[]; next: string | null }>(
      `/api/v1/silences?limit=2&cursor=${first.next}`,
    )
    expect(second.items[0]!.id < first.items[1]!.id).toBe(true)
  })
})

describe('silences: bad input and access', () => {
  const now = Date.now()
  it.each([
    [
      'end before start',
      {
        matchers: eq1('a', 'b'),
        startsAt: new Date(now + 2 * HOUR).toISOString(),
        endsAt: new Date(now + HOUR).toISOString(),
      },
      'endsAt',
    ],
    [
      'an end in the past',
      {
        matchers: eq1('a', 'b'),
        startsAt: new Date(now - 2 * HOUR).toISOString(),
        endsAt: new Date(now - HOUR).toISOString(),
      },
      'endsAt',
    ],
    ['no end', { matchers: eq1('a', 'b') }, 'endsAt'],
    ['a bad cron', { matchers: eq1('a', 'b'), cron: 'at night', duration: '1h' }, 'cron'],
    ['cron without duration', { matchers: eq1('a', 'b'), cron: '0 2 * * *' }, 'duration'],
    [
      'an unknown timezone',
      { matchers: eq1('a', 'b'), cron: '0 2 * * *', duration: '1h', timezone: 'Mars/Olympus' },
      'timezone',
    ],
    [
      'a bad regex',
      { matchers: [...eq1('a', 'b'), { label: 'agent', op: '=~', value: '(unclosed' }], duration: '1h' },
      'matchers.1.value',
    ],
    ['no matchers', { matchers: [], duration: '1h' }, 'matchers'],
    [
      'matchers that match everything',
      { matchers: [{ label: 'agent', op: '=~', value: '.*' }], duration: '1h' },
      'matchers',
    ],
    ['an unknown operator', { matchers: [{ label: 'agent', op: '~', value: 'x' }], duration: '1h' }, 'matchers.0.op'],
    ['a bad duration', { matchers: eq1('a', 'b'), duration: 'soon' }, 'duration'],
  ])('%s is a 400 naming the field', async (_name, body, field) => {
    const res = await post('/api/v1/silences', body)
    expect(res.status).toBe(400)
    expect(await fields(res)).toContain(field)
  })

  it('a bad regex in a preview is a 400 naming the matcher', async () => {
    const res = await post('/api/v1/silences/preview', { matchers: [{ label: 'agent', op: '!~', value: '[z-a]' }] })
    expect(res.status).toBe(400)
    expect(await fields(res)).toEqual(['matchers.0.value'])
  })

  it('viewers may read but not preview, create, expire or mute', async () => {
    const s = await silence({ matchers: eq1('agent', 'rbac'), duration: '1h' })
    const a = await fire('rbac alert', { agent: 'rbac-other' })
    expect((await post('/api/v1/silences', { matchers: eq1('a', 'b'), duration: '1h' }, viewer.headers)).status).toBe(
      403,
    )
    expect((await post(`/api/v1/silences/${s.id}/expire`, {}, viewer.headers)).status).toBe(403)
    expect((await post(`/api/v1/alerts/${a.id}/mute`, { duration: '1h' }, viewer.headers)).status).toBe(403)
    // A preview evaluates the caller's patterns on every open alert: operators only.
    expect((await post('/api/v1/silences/preview', { matchers: eq1('agent', 'rbac') }, viewer.headers)).status).toBe(
      403,
    )
    expect((await post('/api/v1/silences/preview', { matchers: eq1('agent', 'rbac') })).status).toBe(200)
    expect((await t.app.request('/api/v1/silences/no-such-id', { headers: viewer.headers })).status).toBe(404)
    expect((await post('/api/v1/alerts/no-such-id/mute', { duration: '1h' })).status).toBe(404)
    expect((await post('/api/v1/silences/no-such-id/expire', {})).status).toBe(404)
  })
})

describe('applying silences to alerts', () => {
  it('an alert that fires under a silence is flagged and says so; it clears when the silence ends', async () => {
    const s = await silence({
      matchers: [
        { label: 'agent', op: '=~', value: 'billing|invoices' },
        { label: 'env', op: '!=', value: 'dev' },
      ],
      duration: '1h',
      comment: 'billing migration',
    })
    const a = await fire('billing down', { agent: 'billing', env: 'prod' })
    expect(a.silenced).toBe(true) // the reply already has it
    const dev = await fire('billing down in dev', { agent: 'billing', env: 'dev' })
    expect(dev.silenced).toBe(false)
    let full = await alertOf(a.id)
    expect(types(full)).toEqual(['created', 'fired', 'silenced'])
    expect(full.events!.at(-1)).toMatchObject({ actor: 'silences', detail: { silenceIds: [s.id], status: 'firing' } })
    expect((await get<{ items: AlertOut[] }>('/api/v1/alerts?silenced=true')).items.map((x) => x.id)).toContain(a.id)

    // The silence shows the alerts it matches; a repeat keeps the flag without a new event.
    expect((await get<{ alerts: AlertOut[] }>(`/api/v1/silences/${s.id}`)).alerts.map((x) => x.id)).toEqual([a.id])
    await fire('billing down', { agent: 'billing', env: 'prod' })
    expect(types(await alertOf(a.id))).toEqual(['created', 'fired', 'silenced', 'repeated'])

    // The job at a time within the silence changes nothing; after its end it clears the flag.
    expect(await tick(Date.now() + 30 * 60_000)).toMatchObject({ unsilenced: 0 })
    expect(await tick(Date.now() + 2 * HOUR)).toMatchObject({ unsilenced: 1 })
    full = await alertOf(a.id)
    expect(full).toMatchObject({ silenced: false, status: 'firing' })
    expect(full.events!.at(-1)).toMatchObject({ type: 'unsilenced', actor: 'silences', detail: { status: 'firing' } })
    expect(
      (await t.db.select().from(alertEvents).where(eq(alertEvents.alertId, a.id))).filter(
        (e) => e.type === 'unsilenced',
      ),
    ).toHaveLength(1)
    // A second tick writes nothing more.
    expect(await tick(Date.now() + 2 * HOUR)).toMatchObject({ silenced: 0, unsilenced: 0 })
  })

  it('a silence created over a firing alert flags it at once; expiring it clears the flag at once', async () => {
    const a = await fire('search slow', { agent: 'search' })
    expect(a.silenced).toBe(false)
    const preview = await post('/api/v1/silences/preview', { matchers: eq1('agent', 'search') })
    expect(((await preview.json()) as { count: number; items: AlertOut[] }).items.map((x) => x.id)).toEqual([a.id])
    const s = await silence({ matchers: eq1('agent', 'search'), duration: '1h' })
    expect((await alertOf(a.id)).silenced).toBe(true)
    expect((await post(`/api/v1/silences/${s.id}/expire`, {})).status).toBe(200)
    const full = await alertOf(a.id)
    expect(full.silenced).toBe(false)
    expect(types(full)).toEqual(['created', 'fired', 'silenced', 'unsilenced'])
  })

  it('a silence that starts later is applied by the job when it starts', async () => {
    const a = await fire('queue backlog', { agent: 'queue' })
    const start = Date.now() + HOUR
    await silence({ matchers: eq1('agent', 'queue'), startsAt: new Date(start).toISOString(), duration: '1h' })
    expect((await alertOf(a.id)).silenced).toBe(false)
    expect(await tick(start + 1000)).toMatchObject({ silenced: 1 })
    expect((await alertOf(a.id)).silenced).toBe(true)
    expect(await tick(start + HOUR)).toMatchObject({ unsilenced: 1 })
    expect((await alertOf(a.id)).silenced).toBe(false)
  })

  it('a resolved alert keeps its history; the job leaves resolved alerts alone', async () => {
    await silence({ matchers: eq1('agent', 'resolver'), duration: '1h' })
    const a = await fire('resolver', { agent: 'resolver' })
    expect(a.silenced).toBe(true)
    const r = await fire('resolver', { agent: 'resolver' }, 'resolved')
    expect(r).toMatchObject({ status: 'resolved', silenced: true })
    await tick(Date.now() + 2 * HOUR)
    expect(types(await alertOf(a.id))).toEqual(['created', 'fired', 'silenced', 'resolved'])
  })

  it('alerts fired by rule evaluation are silenced too', async () => {
    await silence({ matchers: eq1('alertname', 'deep queue'), duration: '1h' })
    const T = Math.ceil(Date.now() / 1000) * 1000 + 1000 // evaluation runs on whole seconds, after the silence starts
    await createMetricStore(t.db).write(
      [{ name: 'queue_depth', labels: { queue: 'mail' }, value: 900, ts: T - 30_000 }],
      T,
    )
    const res = await post('/api/v1/alert-rules', {
      name: 'deep queue',
      kind: 'threshold',
      metric: 'queue_depth',
      by: ['queue'],
      agg: 'max',
      window: '5m',
      comparator: '>',
      value: 100,
    })
    expect(res.status).toBe(201)
    await t.services.alerts.evaluateAll(T)
    const [row] = await t.db.select(storedAlert).from(alerts).where(eq(alerts.title, 'deep queue'))
    expect(row).toMatchObject({ status: 'firing', silenced: true })
  })
})

describe('mute', () => {
  it('creates a silence with = matchers for the alert’s labels for the duration', async () => {
    const a = await fire('payments 500s', { agent: 'payments', env: 'prod' })
    const res = await post(`/api/v1/alerts/${a.id}/mute`, { duration: '1h', comment: 'looking into it' })
    expect(res.status).toBe(201)
    const s = (await res.json()) as SilenceOut
    expect(s).toMatchObject({ state: 'active', comment: 'looking into it' })
    expect(s.matchers).toEqual(
      expect.arrayContaining([
        ...eq1('alertname', 'payments 500s'),
        ...eq1('agent', 'payments'),
        ...eq1('env', 'prod'),
      ]),
    )
    expect(s.matchers).toHaveLength(3)
    expect(Date.parse(s.endsAt!) - Date.parse(s.startsAt)).toBe(HOUR)
    expect((await alertOf(a.id)).silenced).toBe(true)
    expect((await post(`/api/v1/alerts/${a.id}/mute`, { duration: 'forever' })).status).toBe(400)
    expect((await post(`/api/v1/alerts/${a.id}/mute`, { duration: 90 * 60_000 })).status).toBe(201)
  })
})

describe('recurring maintenance windows', () => {
  it('with no silence in force the job looks only at the alerts still flagged, not at every open alert', async () => {
    const u = await testApp()
    try {
      const [sender, operator] = [await u.key('operator', ['ingest']), await u.key('operator')]
      for (let i = 0; i < 5; i++)
        expect(
          (
            await u.json(
              'POST',
              '/api/v1/alerts',
              { title: `plain ${i}`, severity: 'warning', status: 'firing', labels: { agent: `plain-${i}` } },
              sender.headers,
            )
          ).status,
        ).toBe(201)
      expect(
        (
          await u.json(
            'POST',
            '/api/v1/silences',
            { matchers: eq1('agent', 'plain-0'), duration: '1h' },
            operator.headers,
          )
        ).status,
      ).toBe(201)
      const tickU = (now: number) => silencesJob(u.services).handler({ now, tick: now, log: createLogger('silent') })
      // A silence in force: every open alert's labels are matched.
      expect(await tickU(Date.now() + 60_000)).toMatchObject({ checked: 5, silenced: 0, unsilenced: 0 })
      // None in force: only the one still flagged is read, and cleared.
      expect(await tickU(Date.now() + 2 * HOUR)).toMatchObject({ checked: 1, unsilenced: 1 })
      expect(await tickU(Date.now() + 2 * HOUR)).toMatchObject({ checked: 0, silenced: 0, unsilenced: 0 })
    } finally {
      u.close()
    }
  })

  it('silences only inside each window, in its timezone, and lists its next window', async () => {
    // The daily window starts twelve hours from now (Berlin time), so the alert is never fired inside it.
    const berlinHour = (t: number) =>
      Number(new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', hour12: false }).format(t))
    const hour = (berlinHour(Date.now()) + 12) % 24
    const a = await fire('nightly batch', { agent: 'batch' })
    const s = await silence({
      matchers: eq1('agent', 'batch'),
      cron: `0 ${hour} * * *`,
      duration: '1h',
      timezone: 'Europe/Berlin',
      comment: 'nightly maintenance',
    })
    expect(s).toMatchObject({ recurring: true, duration: HOUR, endsAt: null })
    expect(s.nextWindow).toBeTruthy()
    const w = Date.parse(s.nextWindow!.startsAt)
    expect(
      new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/Berlin', hour: '2-digit', minute: '2-digit' }).format(w),
    ).toBe(`${String(hour).padStart(2, '0')}:00`)
    expect(Date.parse(s.nextWindow!.endsAt) - w).toBe(HOUR)

    // Other tests' alerts may change too at these times: look at this one's flag.
    const flagAt = async (now: number) => (await tick(now), (await alertOf(a.id)).silenced)
    expect(await flagAt(w - 1000)).toBe(false)
    expect(await flagAt(w)).toBe(true)
    expect(await flagAt(w + HOUR - 1000)).toBe(true)
    expect(await flagAt(w + HOUR)).toBe(false)
    expect(await flagAt(w + 24 * HOUR + 60_000)).toBe(true) // the next night again
    const full = await alertOf(a.id)
    expect(types(full).filter((x) => x === 'silenced' || x === 'unsilenced')).toEqual([
      'silenced',
      'unsilenced',
      'silenced',
    ])
  })
})
