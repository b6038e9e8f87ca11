/**
 * The intake's cache of alerts (app/modules/alerts/intake/alert-cache.ts): a repeat takes its alert from
 * the cache instead of reading it, and the transaction checks that the cached row is still what
 * is stored. Another instance (a second connection to the same database, with its own cache)
 * resolving, acknowledging, counting repeats of or deleting the alert makes that check fail; the
 * delivery is then applied from a fresh read, with the same outcome as without a cache. Bounded.
 */
import { asc, eq } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { alertEvents, alerts, type Alert, storedAlert } from '../../db/schema/alerts.ts'
import { createAlertCache } from '../../app/modules/alerts/intake/alert-cache.ts'
import { labelsFingerprint } from '../../app/modules/alerts/lifecycle/lifecycle.ts'
import { prometheusReports } from '../../app/modules/alerts/receivers/prometheus.ts'
import { otherInstance, testApp } from '../helpers/app.ts'

const t = await testApp()
const other = await otherInstance(t)
const otherAlerts = other.alerts
afterAll(() => {
  other.close()
  t.close()
})
const ingest = await t.key('operator', ['ingest'])

const post = (body: unknown) => t.json('POST', '/api/v2/alerts', body, ingest.headers)
const iso = (ms: number) => new Date(ms).toISOString()
const labelsOf = (instance: string) => ({ alertname: 'Cached', instance, job: 'api', severity: 'warning' })
const promAlert = (instance: string, endsAt = Date.now() + 240_000) => ({
  labels: labelsOf(instance),
  annotations: { summary: `slow on ${instance}` },
  startsAt: iso(Date.now() - 1000),
  endsAt: iso(endsAt),
})
const fingerprintOf = (instance: string) => `prometheus:${labelsFingerprint(labelsOf(instance))}`
async function stored(instance: string) {
  const [a] = await t.db
    .select(storedAlert)
    .from(alerts)
    .where(eq(alerts.fingerprint, fingerprintOf(instance)))
  const events = a
    ? await t.db.select().from(alertEvents).where(eq(alertEvents.alertId, a.id)).orderBy(asc(alertEvents.id))
    : []
  return { alert: a, types: events.map((e) => e.type) }
}
const cached = (instance: string) => t.services.alerts.internal.intake.cache.get(fingerprintOf(instance))

describe('the alert cache', () => {
  it('holds each alert as stored after its delivery commits, and repeats use it', async () => {
    expect((await post([promAlert('c-1')])).status).toBe(200)
    const first = cached('c-1')
    expect(first).toEqual((await stored('c-1')).alert)
    expect((await post([promAlert('c-1')])).status).toBe(200)
    const { alert, types } = await stored('c-1')
    expect(alert).toMatchObject({ status: 'firing', repeatCount: 2 })
    expect(types).toEqual(['created', 'fired'])
    expect(cached('c-1')).toEqual(alert)
    // A quiet repeat moves the cached alert on in place (no copy per repeat for the cache to hold).
    expect(cached('c-1')).toBe(first)
  })

  it('notices an alert another instance resolved: the next firing report opens a new incident', async () => {
    expect((await post([promAlert('c-2')])).status).toBe(200)
    const id = (await stored('c-2')).alert!.id
    await otherAlerts.resolve(id, { actor: 'someone-else' }, Date.now() + 1)
    expect(cached('c-2')!.status).toBe('firing') // this instance does not know yet
    expect((await post([promAlert('c-2')])).status).toBe(200)
    const { alert, types } = await stored('c-2')
    expect(types).toEqual(['created', 'fired', 'resolved', 'fired'])
    expect(alert).toMatchObject({ status: 'firing', repeatCount: 1, resolvedBy: null })
    expect(cached('c-2')).toEqual(alert)
  })

  it('notices an acknowledgement and repeats another instance counted', async () => {
    expect((await post([promAlert('c-3')])).status).toBe(200)
    const id = (await stored('c-3')).alert!.id
    await otherAlerts.acknowledge(id, { actor: 'oncall' }, Date.now() + 1)
    const theirs = await otherAlerts.reportMany(
      prometheusReports([promAlert('c-3'), promAlert('c-3')], 'other', Date.now()),
      Date.now() + 2,
    )
    expect(theirs.map((r) => r.change)).toEqual(['repeated', 'repeated'])
    const [mine] = await t.services.alerts.reportMany(
      prometheusReports([promAlert('c-3')], 'me', Date.now()),
      Date.now() + 3,
    )
    // Not the cached "firing, count 1": the stored acknowledged alert, counted on.
    expect(mine).toMatchObject({
      change: 'repeated',
      alert: { status: 'acknowledged', ackBy: 'oncall', repeatCount: 4 },
    })
    expect((await stored('c-3')).alert).toMatchObject({ status: 'acknowledged', repeatCount: 4 })
  })

  it('notices an alert deleted meanwhile: it is created again, not lost', async () => {
    expect((await post([promAlert('c-4')])).status).toBe(200)
    await other.db.delete(alerts).where(eq(alerts.fingerprint, fingerprintOf('c-4')))
    expect(cached('c-4')).toBeDefined()
    expect((await post([promAlert('c-4'), promAlert('c-5')])).status).toBe(200)
    const { alert, types } = await stored('c-4')
    expect(alert).toMatchObject({ status: 'firing', repeatCount: 1 })
    expect(types).toEqual(['created', 'fired'])
    expect((await stored('c-5')).types).toEqual(['created', 'fired'])
  })

  it('a resolution this instance made by hand is seen by the next delivery', async () => {
    expect((await post([promAlert('c-6')])).status).toBe(200)
    await t.services.alerts.resolve((await stored('c-6')).alert!.id, { actor: 'me' }, Date.now() + 1)
    expect((await post([promAlert('c-6')])).status).toBe(200)
    expect((await stored('c-6')).types).toEqual(['created', 'fired', 'resolved', 'fired'])
  })

  it('a resolved report of an alert another instance already resolved changes nothing', async () => {
    expect((await post([promAlert('c-7')])).status).toBe(200)
    await otherAlerts.resolve((await stored('c-7')).alert!.id, { actor: 'someone-else' }, Date.now() + 1)
    expect((await post([promAlert('c-7', Date.now() - 500)])).status).toBe(200)
    const { alert, types } = await stored('c-7')
    expect(types).toEqual(['created', 'fired', 'resolved'])
    expect(alert!.resolvedBy).toBe('someone-else')
  })
})

describe('createAlertCache', () => {
  const row = (fingerprint: string) => ({ fingerprint }) as Alert
  it('keeps at most its bound, dropping the least recently used first', () => {
    const c = createAlertCache(4)
    for (const fp of ['a', 'b']) c.set(row(fp))
    expect(c.get('a')?.fingerprint).toBe('a') // a is now recent; b is not
    for (const fp of ['c', 'd', 'e']) c.set(row(fp))
    expect(c.size).toBeLessThanOrEqual(4)
    expect(c.get('b')).toBeUndefined()
    expect(['d', 'e'].map((fp) => c.get(fp)?.fingerprint)).toEqual(['d', 'e'])
    c.delete('e')
    expect(c.get('e')).toBeUndefined()
  })

  it('asks for a check of an alert cached as of an earlier epoch (or none), once for each epoch', () => {
    const c = createAlertCache(4)
    c.set(row('a'), 3)
    c.set(row('b'))
    expect([c.needsCheck('a', 3), c.needsCheck('b', 3)]).toEqual([false, true])
    expect([c.needsCheck('a', 3), c.needsCheck('b', 3)]).toEqual([false, false]) // taken as of 3 now
    expect(c.needsCheck('a', 4)).toBe(true)
    c.set(row('a')) // a new row for the key: no epoch until one is given
    expect(c.needsCheck('a', 4)).toBe(true)
    expect(c.needsCheck('never cached', 4)).toBe(true)
  })
})
