/**
 * The alert intake's write path under load: quiet repeats go to the narrow `alert_repeats` rows
 * (the alert as it stands is its row plus those), groups of deliveries are pipelined (the next
 * worked out while the one before commits on the database's transaction thread), and
 * fingerprints this process has never seen are taken to be new, checked by the unique index.
 * Each outcome must equal applying the deliveries one by one.
 */
import { asc, eq } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { alertEvents, alertRepeats, alerts, storedAlert } from '../../db/schema/alerts.ts'
import { labelsFingerprint, type AlertReport } from '../../app/modules/alerts/lifecycle/lifecycle.ts'
import { otherInstance, testApp } from '../helpers/app.ts'

const t = await testApp()
const other = await otherInstance(t)
const otherAlerts = other.alerts
afterAll(() => {
  other.close()
  t.close()
})
const ingest = await t.key('operator', ['ingest'])
const viewer = await t.key('viewer')
const service = t.services.alerts

const post = (body: unknown) => t.json('POST', '/api/v2/alerts', body, ingest.headers)
const iso = (ms: number) => new Date(ms).toISOString()
const labelsOf = (instance: string) => ({ alertname: 'Pipeline', instance, job: 'api', severity: 'warning' })
const promAlert = (instance: string, endsAt = Date.now() + 240_000) => ({
  labels: labelsOf(instance),
  annotations: { summary: `slow on ${instance}` },
  startsAt: iso(Date.now() - 1000),
  endsAt: iso(endsAt),
})
const fingerprintOf = (instance: string) => `prometheus:${labelsFingerprint(labelsOf(instance))}`
const row = async (instance: string) =>
  (
    await t.db
      .select()
      .from(alerts)
      .where(eq(alerts.fingerprint, fingerprintOf(instance)))
  )[0]!
const standing = async (instance: string) =>
  (
    await t.db
      .select(storedAlert)
      .from(alerts)
      .where(eq(alerts.fingerprint, fingerprintOf(instance)))
  )[0]!
const pending = async (alertId: string) =>
  (await t.db.select().from(alertRepeats).where(eq(alertRepeats.alertId, alertId)))[0]
const eventTypes = async (alertId: string) =>
  (await t.db.select().from(alertEvents).where(eq(alertEvents.alertId, alertId)).orderBy(asc(alertEvents.id))).map(
    (e) => e.type,
  )

describe('quiet repeats', () => {
  it('move only the narrow alert_repeats row; the alert as it stands (API included) counts them', async () => {
    expect((await post([promAlert('r-1')])).status).toBe(200)
    const first = await row('r-1')
    for (let i = 0; i < 4; i++) expect((await post([promAlert('r-1')])).status).toBe(200)
    const after = await row('r-1')
    expect(after).toMatchObject({
      repeatCount: first.repeatCount,
      updatedAt: first.updatedAt,
      lastSeenAt: first.lastSeenAt,
    }) // the wide row is untouched
    expect(await pending(first.id)).toMatchObject({ n: 4 })
    expect(await standing('r-1')).toMatchObject({ repeatCount: 5, status: 'firing' })
    const api = await t.json('GET', `/api/v1/alerts/${first.id}`, undefined, viewer.headers)
    expect(api.status).toBe(200)
    expect(((await api.json()) as { repeatCount: number }).repeatCount).toBe(5)
  })

  it('are written into the row by the next change of state, which deletes the pending row (no double count)', async () => {
    expect((await post([promAlert('r-2')])).status).toBe(200)
    for (let i = 0; i < 3; i++) expect((await post([promAlert('r-2')])).status).toBe(200)
    const { id } = await row('r-2')
    await service.acknowledge(id, { actor: 'alice' }, Date.now())
    expect(await pending(id)).toBeUndefined()
    expect(await row('r-2')).toMatchObject({ status: 'acknowledged', repeatCount: 4 })
    expect((await post([promAlert('r-2')])).status).toBe(200) // acknowledged alerts keep counting
    expect(await standing('r-2')).toMatchObject({ status: 'acknowledged', repeatCount: 5 })
    expect((await post([promAlert('r-2', Date.now() - 1000)])).status).toBe(200) // resolved by its sender
    expect(await pending(id)).toBeUndefined()
    expect(await row('r-2')).toMatchObject({ status: 'resolved', repeatCount: 5 })
    expect((await post([promAlert('r-2')])).status).toBe(200) // a new incident starts its count over
    expect(await standing('r-2')).toMatchObject({ status: 'firing', repeatCount: 1 })
    expect(await eventTypes(id)).toEqual(['created', 'fired', 'acked', 'resolved', 'fired'])
  })

  it('another instance counts through the same rows: no repeat of either is lost', async () => {
    expect((await post([promAlert('r-3')])).status).toBe(200)
    const report: AlertReport = {
      fingerprint: fingerprintOf('r-3'),
      source: 'prometheus',
      state: 'firing',
      severity: 'warning',
      title: 'Pipeline',
      labels: labelsOf('r-3'),
      annotations: { summary: 'slow on r-3' },
      quietRepeat: true,
    }
    await Promise.all([
      ...Array.from({ length: 5 }, () => post([promAlert('r-3')])),
      ...Array.from({ length: 5 }, () => otherAlerts.report(report)),
    ])
    expect((await standing('r-3')).repeatCount).toBe(11)
  })
})

describe('pipelined groups', () => {
  it('count every report of many concurrent deliveries over shared alerts, and a bad delivery fails alone', async () => {
    const instances = Array.from({ length: 12 }, (_, i) => `p-${i}`)
    expect((await post(instances.map((i) => promAlert(i)))).status).toBe(200)
    // A bad delivery first, then 60 deliveries of 10 reports at once: two groups are in flight
    // together, the second worked out from the first's alerts before the first fails.
    const bad = service.reportMany([
      { ...reportFor('p-0'), fingerprint: 'pipeline-bad', ruleId: 'no-such-rule' },
      reportFor('p-1'),
    ])
    const good = Array.from({ length: 60 }, (_, k) =>
      service.reportMany(Array.from({ length: 10 }, (_, j) => reportFor(instances[(k + j) % instances.length]!))),
    )
    const settled = await Promise.allSettled([bad, ...good])
    expect(settled[0]!.status).toBe('rejected')
    expect(settled.slice(1).every((s) => s.status === 'fulfilled')).toBe(true)
    const counts = await Promise.all(instances.map(async (i) => (await standing(i)).repeatCount))
    // Each instance: 1 from the first post + 50 reports (600 reports over 12 instances); the bad delivery wrote nothing.
    expect(counts).toEqual(Array(12).fill(51))
    expect(await t.db.select().from(alerts).where(eq(alerts.fingerprint, 'pipeline-bad'))).toEqual([])
  })

  it('apply every report in order when another instance acknowledges an alert while groups are in flight', async () => {
    expect((await post([promAlert('ack-1'), promAlert('ack-2')])).status).toBe(200)
    const { id } = await row('ack-1')
    const deliveries = Array.from({ length: 50 }, () =>
      service.reportMany(Array.from({ length: 8 }, (_, j) => reportFor(j % 2 ? 'ack-1' : 'ack-2'))),
    )
    const ack = otherAlerts.acknowledge(id, { actor: 'bob' }, Date.now())
    await Promise.all([...deliveries, ack])
    expect(await standing('ack-1')).toMatchObject({ status: 'acknowledged', ackBy: 'bob', repeatCount: 201 })
    expect((await standing('ack-2')).repeatCount).toBe(201)
  })
})

describe('fingerprints never seen', () => {
  it('are taken to be new, and one another instance created meanwhile gets the report as a repeat (one alert, no error)', async () => {
    expect((await post([promAlert('known-0')])).status).toBe(200) // this process has loaded the fingerprints it knows
    const report: AlertReport = {
      fingerprint: fingerprintOf('elsewhere'),
      source: 'prometheus',
      state: 'firing',
      severity: 'warning',
      title: 'Pipeline',
      labels: labelsOf('elsewhere'),
      annotations: { summary: 'slow on elsewhere' },
      quietRepeat: true,
    }
    await otherAlerts.report(report)
    expect((await post([promAlert('elsewhere'), promAlert('new-here')])).status).toBe(200)
    const rows = await t.db
      .select(storedAlert)
      .from(alerts)
      .where(eq(alerts.fingerprint, fingerprintOf('elsewhere')))
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({ status: 'firing', repeatCount: 2 })
    expect(await standing('new-here')).toMatchObject({ status: 'firing', repeatCount: 1 })
  })

  it('are known from a filter of the stored ones, read again from the database (larger) once it outgrows its capacity', async () => {
    const third = await otherInstance(t)
    try {
      const stored = (await t.db.select({ fingerprint: alerts.fingerprint }).from(alerts)).map((r) => r.fingerprint)
      expect(stored.length).toBeGreaterThan(5)
      const first = await third.alerts.internal.intake.known(2)
      expect(stored.every((fp) => first.has(fp))).toBe(true)
      const never = Array.from({ length: 200 }, (_, i) => `never-stored-${i}`)
      expect(never.filter((fp) => first.has(fp)).length).toBeLessThan(10)
      expect(await third.alerts.internal.intake.known(2)).toBe(first)
      // Its capacity is four times what was stored: one more than that and it is read again.
      for (let i = 0; i <= stored.length * 4; i++) first.add(`added-${i}`)
      const second = await third.alerts.internal.intake.known(2)
      expect(second).not.toBe(first)
      expect(stored.every((fp) => second.has(fp))).toBe(true)
      expect(second.has('added-0')).toBe(false) // never stored: the new filter has only what the database holds
    } finally {
      third.close()
    }
  })
})

function reportFor(instance: string): AlertReport {
  return {
    fingerprint: fingerprintOf(instance),
    source: 'prometheus',
    state: 'firing',
    severity: 'warning',
    title: 'Pipeline',
    labels: labelsOf(instance),
    annotations: { summary: `slow on ${instance}` },
    quietRepeat: true,
  }
}
