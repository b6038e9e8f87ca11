/**
 * The alert intake's group commit: deliveries that arrive together are written in one
 * transaction, yet each behaves as if applied alone and in order. Repeats of one fingerprint in a
 * delivery, concurrent deliveries of one fingerprint (no transition or repeat lost), a silence
 * created between deliveries, a delivery that fails (alone), the audit row written with the
 * alerts, and the quick validation path agreeing with the schema.
 */
import { and, asc, desc, eq } from 'drizzle-orm'
import * as v from 'valibot'
import { afterAll, describe, expect, it } from 'vitest'
import { alertEvents, alerts, storedAlert } from '../../db/schema/alerts.ts'
import { auditLog } from '../../db/schema/audit.ts'
import { labelsFingerprint, type AlertReport } from '../../app/modules/alerts/lifecycle/lifecycle.ts'
import { isPostableAlerts, PostableAlerts } from '../../app/modules/alerts/receivers/prometheus.ts'
import { testApp } from '../helpers/app.ts'

const t = await testApp()
afterAll(() => t.close())
const ingest = await t.key('operator', ['ingest'])
const operator = await t.key('operator')
const service = t.services.alerts

const post = (body: unknown) => t.json('POST', '/api/v2/alerts', body, ingest.headers)
const iso = (ms: number) => new Date(ms).toISOString()
const promAlert = (instance: string, opts: { startsAt?: number; endsAt?: number; summary?: string } = {}) => ({
  labels: { alertname: 'GroupCommit', instance, job: 'api', severity: 'warning' },
  annotations: { summary: opts.summary ?? `slow on ${instance}` },
  startsAt: iso(opts.startsAt ?? Date.now() - 1000),
  endsAt: iso(opts.endsAt ?? Date.now() + 240_000),
})
const fingerprintOf = (instance: string) =>
  `prometheus:${labelsFingerprint({ alertname: 'GroupCommit', instance, job: 'api', severity: 'warning' })}`
async function stored(instance: string) {
  const [a] = await t.db
    .select(storedAlert)
    .from(alerts)
    .where(eq(alerts.fingerprint, fingerprintOf(instance)))
  expect(a).toBeDefined()
  const events = await t.db
    .select()
    .from(alertEvents)
    .where(eq(alertEvents.alertId, a!.id))
    .orderBy(asc(alertEvents.id))
  return { alert: a!, types: events.map((e) => e.type) }
}

describe('one delivery', () => {
  it('applies repeats of one fingerprint in the order sent: fire, repeat, resolve, a new incident', async () => {
    const now = Date.now()
    const res = await post([
      promAlert('dup-1', { startsAt: now - 5000 }),
      promAlert('dup-1', { startsAt: now - 5000, summary: 'changed' }),
      promAlert('dup-1', { startsAt: now - 5000, endsAt: now - 2000 }),
      promAlert('dup-1', { startsAt: now - 1000 }),
      promAlert('dup-1', { startsAt: now - 1000 }),
    ])
    expect(res.status).toBe(200)
    const { alert, types } = await stored('dup-1')
    expect(types).toEqual(['created', 'fired', 'resolved', 'fired'])
    expect(alert).toMatchObject({
      status: 'firing',
      repeatCount: 2,
      endsAt: null,
      resolvedAt: null,
      startsAt: now - 1000,
    })
    expect(alert.annotations.summary).toBe('slow on dup-1')
    expect(
      Number(
        (
          await t.client.execute({
            sql: 'select count(*) as n from alerts where fingerprint = ?',
            args: [fingerprintOf('dup-1')],
          })
        ).rows[0]!.n,
      ),
    ).toBe(1)
  })

  it('writes its audit row in the same transaction; quiet repeats are not audited', async () => {
    const count = async () =>
      (
        await t.db
          .select()
          .from(auditLog)
          .where(and(eq(auditLog.action, 'alert.received'), eq(auditLog.target, 'prometheus')))
      ).length
    const before = await count()
    expect((await post([promAlert('audit-1'), promAlert('audit-2')])).status).toBe(200)
    expect(await count()).toBe(before + 1)
    const [row] = await t.db
      .select()
      .from(auditLog)
      .where(eq(auditLog.action, 'alert.received'))
      .orderBy(desc(auditLog.id))
      .limit(1)
    expect(row!.summary).toBe('2 received: 2 created')
    expect(row!.actor).not.toBe('')
    expect((await post([promAlert('audit-1'), promAlert('audit-2')])).status).toBe(200)
    expect(await count()).toBe(before + 1)
  })
})

describe('concurrent deliveries', () => {
  it('of one firing alert count every repeat (none lost, one alert)', async () => {
    expect((await post([promAlert('conc-1')])).status).toBe(200)
    const replies = await Promise.all(
      Array.from({ length: 30 }, () => post([promAlert('conc-1'), promAlert('conc-2')])),
    )
    expect(replies.map((r) => r.status)).toEqual(Array(30).fill(200))
    expect((await stored('conc-1')).alert.repeatCount).toBe(31)
    const c2 = await stored('conc-2')
    expect(c2.alert.repeatCount).toBe(30)
    expect(c2.types).toEqual(['created', 'fired'])
  })

  it('that each fire and resolve one fingerprint record every transition', async () => {
    const now = Date.now()
    const replies = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        post([
          promAlert('flap-1', { startsAt: now + i * 10 }),
          promAlert('flap-1', { startsAt: now + i * 10, endsAt: now - 100_000 + i * 10 + 5 }),
        ]),
      ),
    )
    expect(replies.every((r) => r.status === 200)).toBe(true)
    const { alert, types } = await stored('flap-1')
    expect(types.filter((x) => x === 'fired')).toHaveLength(12)
    expect(types.filter((x) => x === 'resolved')).toHaveLength(12)
    expect(types[0]).toBe('created')
    expect(alert.status).toBe('resolved')
  })

  it('each resolve only their own delivery when one of them fails', async () => {
    const good: AlertReport = {
      fingerprint: 'group-good',
      source: 'test',
      state: 'firing',
      severity: 'warning',
      title: 'good',
      labels: { alertname: 'good' },
    }
    // A rule id that does not exist: the foreign key refuses this delivery's insert.
    const bad: AlertReport = {
      fingerprint: 'group-bad',
      source: 'test',
      ruleId: 'no-such-rule',
      state: 'firing',
      severity: 'warning',
      title: 'bad',
      labels: { alertname: 'bad' },
    }
    const [a, b, c] = await Promise.allSettled([
      service.reportMany([good]),
      service.reportMany([bad, { ...good, fingerprint: 'group-good-2' }]),
      service.reportMany([{ ...good, fingerprint: 'group-good-3' }]),
    ])
    expect(a.status).toBe('fulfilled')
    expect(b.status).toBe('rejected')
    expect(c.status).toBe('fulfilled')
    const fps = (await t.db.select({ fp: alerts.fingerprint }).from(alerts)).map((r) => r.fp)
    expect(fps).toEqual(expect.arrayContaining(['group-good', 'group-good-3']))
    expect(fps).not.toContain('group-bad')
    expect(fps).not.toContain('group-good-2') // a delivery is all or nothing
  })
})

describe('silences', () => {
  it('a silence created between deliveries applies to the next repeat, with its event', async () => {
    expect((await post([promAlert('mute-1'), promAlert('mute-2')])).status).toBe(200)
    expect((await stored('mute-1')).alert.silenced).toBe(false)
    const silence = await t.json(
      'POST',
      '/api/v1/silences',
      { matchers: [{ label: 'instance', op: '=', value: 'mute-1' }], duration: '1h', comment: 'mid-stream' },
      operator.headers,
    )
    expect(silence.status).toBe(201)
    expect((await post([promAlert('mute-1'), promAlert('mute-2')])).status).toBe(200)
    const m1 = await stored('mute-1')
    expect(m1.alert.silenced).toBe(true)
    expect(m1.alert.repeatCount).toBe(2)
    expect(m1.types).toEqual(['created', 'fired', 'silenced'])
    expect((await stored('mute-2')).alert.silenced).toBe(false)
  })
})

describe('the quick validation path of POST /api/v2/alerts', () => {
  const ok = promAlert('quick')
  // [case, body, takes the quick path]
  const cases: [string, unknown, boolean][] = [
    ['a valid body', [ok], true],
    [
      'no annotations, null annotations, empty and zero times',
      [{ labels: { a: 'b' } }, { labels: { a: 'b' }, annotations: null, startsAt: '', endsAt: '0001-01-01T00:00:00Z' }],
      true,
    ],
    ['extra fields (kept)', [{ ...ok, status: 'firing', fingerprint: 'x' }], true],
    ['an object, not a list', ok, false],
    ['an empty list', [], false],
    ['no labels', [{ annotations: {} }], false],
    ['empty labels', [{ labels: {} }], false],
    ['an empty label name', [{ labels: { '': 'x' } }], false],
    ['a number label value', [{ labels: { a: 1 } }], false],
    ['a label value too long', [{ labels: { a: 'x'.repeat(2049) } }], false],
    ['65 labels', [{ labels: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`l${i}`, 'v'])) }], false],
    ['a bad time', [{ labels: { a: 'b' }, startsAt: 'yesterday' }], false],
    ['a number time', [{ labels: { a: 'b' }, endsAt: 5 }], false],
    ['labels as a list', [{ labels: ['a'] }], false],
    ['a __proto__ label (the schema drops it: not quick)', [JSON.parse('{"labels":{"__proto__":"x","a":"b"}}')], false],
    ['a long generatorURL', [{ labels: { a: 'b' }, generatorURL: 'x'.repeat(4097) }], false],
  ]
  it.each(cases)('%s', (_name, body, quick) => {
    expect(isPostableAlerts(body)).toBe(quick)
    // What the quick path accepts, the schema accepts too, unchanged.
    if (quick) expect(v.safeParse(PostableAlerts, body)).toMatchObject({ success: true, output: body })
  })

  it("a body the quick path refuses still gets the schema's 400 naming the field", async () => {
    const res = await post([promAlert('quick-ok'), { labels: { a: 1 } }])
    expect(res.status).toBe(400)
    expect(
      ((await res.json()) as { error: { details: { field: string }[] } }).error.details.map((d) => d.field),
    ).toContain('1.labels.a')
  })
})
