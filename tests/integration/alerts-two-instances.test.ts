/**
 * Two instances on one database lose nothing (issue 16). Instance A is the test app (its HTTP
 * routes), instance B a second alerts service over its own connection (`otherInstance`: its own
 * cache, group commit and turns, like a second server). Prometheus-style repeats of the same label
 * sets go to both, round after round, while people acknowledge and resolve on either, at the same
 * moment as the repeats and as each other. At the end every acknowledge and every resolve is in the
 * row and in the history (alert_events), no repeat is lost from the count, and no fingerprint has
 * two alerts. Bounded loops, no timing assertions: the races come from the calls being issued
 * together (each instance reads before the other writes), not from sleeps.
 */
import { asc, eq, sql } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { alertEvents, alerts, storedAlert } from '../../db/schema/alerts.ts'
import { labelsFingerprint } from '../../app/modules/alerts/lifecycle/lifecycle.ts'
import { prometheusReports } from '../../app/modules/alerts/receivers/prometheus.ts'
import { otherInstance, testApp } from '../helpers/app.ts'

const t = await testApp()
const b = await otherInstance(t)
afterAll(() => {
  b.close()
  t.close()
})
const ingest = await t.key('operator', ['ingest'])

const ROUNDS = 8
const iso = (ms: number) => new Date(ms).toISOString()
const labelsOf = (name: string) => ({ alertname: 'TwoInstances', instance: name, job: 'api', severity: 'warning' })
const promAlert = (name: string) => ({
  labels: labelsOf(name),
  annotations: { summary: `slow on ${name}` },
  startsAt: iso(Date.now() - 60_000),
  endsAt: iso(Date.now() + 240_000),
})
const fingerprintOf = (name: string) => `prometheus:${labelsFingerprint(labelsOf(name))}`
// Alertmanager-like bodies: every label set of the group, each time.
const toA = async (names: string[]) => {
  const res = await t.json('POST', '/api/v2/alerts', names.map(promAlert), ingest.headers)
  expect(res.status).toBe(200)
}
const toB = (names: string[]) =>
  b.alerts.reportMany(prometheusReports(names.map(promAlert), 'instance-b', Date.now()), Date.now(), {
    staleGuard: true,
  })
const idOf = async (name: string) =>
  (
    await t.db
      .select({ id: alerts.id })
      .from(alerts)
      .where(eq(alerts.fingerprint, fingerprintOf(name)))
  )[0]!.id
const stored = async (name: string) => {
  const [a] = await t.db
    .select(storedAlert)
    .from(alerts)
    .where(eq(alerts.fingerprint, fingerprintOf(name)))
  const events = await t.db
    .select()
    .from(alertEvents)
    .where(eq(alertEvents.alertId, a!.id))
    .orderBy(asc(alertEvents.id))
  return { alert: a!, events }
}
const instance = (i: number) => (i % 2 ? { name: 'A', alerts: t.services.alerts } : { name: 'B', alerts: b.alerts })

describe('two instances on one database', () => {
  it('keep every acknowledge, resolve and repeat under repeats to both, and never make an alert twice', async () => {
    const acked = Array.from({ length: ROUNDS }, (_, i) => `ack-${i}`)
    const resolved = Array.from({ length: ROUNDS }, (_, i) => `res-${i}`)
    const all = [...acked, ...resolved]
    await toA(all)
    // How many firing reports each alert received (the first included): its repeat count at the end.
    const reports = new Map(all.map((n) => [n, 1]))
    const count = (names: string[]) => {
      for (const n of names) reports.set(n, (reports.get(n) ?? 0) + 1)
    }
    const ids = new Map(await Promise.all(all.map(async (n) => [n, await idOf(n)] as const)))

    for (let r = 0; r < ROUNDS; r++) {
      const acker = instance(r)
      const _other = instance(r + 1)
      // A new label set reported to both at once: each instance takes it to be new.
      const fresh = `new-${r}`
      count(all)
      count(all)
      count([fresh, fresh])
      await Promise.all([
        toA([...all, fresh]),
        toB([...all, fresh]),
        // An acknowledge on one instance while both process repeats of it.
        acker.alerts.acknowledge(ids.get(acked[r]!)!, { actor: `ack-by-${acker.name}` }),
      ])
    }
    // The resolves: each alert acknowledged on one instance and resolved on the other at the same
    // moment, while repeats of the acknowledged ones go on to both. An acknowledge the resolve
    // got to first is refused (409): an alert is never acknowledged after it was resolved.
    const refusedAcks = new Set<string>()
    await Promise.all([
      ...resolved.map(async (n, i) => {
        const acker = instance(i)
        await acker.alerts.acknowledge(ids.get(n)!, { actor: `ack-by-${acker.name}` }).catch((error) => {
          expect(error.status).toBe(409)
          refusedAcks.add(n)
        })
      }),
      ...resolved.map((n, i) =>
        instance(i + 1).alerts.resolve(ids.get(n)!, { actor: `resolve-by-${instance(i + 1).name}` }),
      ),
      toA(acked),
      toB(acked),
    ])
    count(acked)
    count(acked)

    for (const [r, n] of acked.entries()) {
      const { alert, events } = await stored(n)
      expect(alert).toMatchObject({ status: 'acknowledged', ackBy: `ack-by-${instance(r).name}` })
      expect(alert.repeatCount).toBe(reports.get(n))
      expect(events.filter((e) => e.type === 'acked').map((e) => e.actor)).toEqual([`ack-by-${instance(r).name}`])
    }
    for (const [i, n] of resolved.entries()) {
      const { alert, events } = await stored(n)
      const resolver = `resolve-by-${instance(i + 1).name}`
      const ack = refusedAcks.has(n) ? null : `ack-by-${instance(i).name}`
      expect(alert).toMatchObject({ status: 'resolved', resolvedBy: resolver, ackBy: ack })
      // The history says the same, in an order the row agrees with: acknowledged (if at all) before resolved.
      expect(events.filter((e) => e.type === 'acked' || e.type === 'resolved').map((e) => e.actor)).toEqual(
        ack ? [ack, resolver] : [resolver],
      )
      expect(alert.repeatCount).toBe(reports.get(n))
    }
    for (let r = 0; r < ROUNDS; r++) {
      const { alert, events } = await stored(`new-${r}`)
      expect(alert.repeatCount).toBe(2)
      expect(events.filter((e) => e.type === 'created')).toHaveLength(1)
    }
    const twice = await t.db.all(sql`select fingerprint from alerts group by fingerprint having count(*) > 1`)
    expect(twice).toEqual([])
  })
})
