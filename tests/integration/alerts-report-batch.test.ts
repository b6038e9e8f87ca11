/**
 * `reportMany` (the group commit): a receiver's delivery applied as one batch gives the same alerts and events as
 * reporting each alert in order, one fingerprint's reports apply one after another, it never races
 * `report` on the same fingerprint, and the silence and outbox hooks still apply per alert.
 */
import { asc, eq } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { alertEvents, alerts, storedAlert } from '../../db/schema/alerts.ts'
import type { AlertReport } from '../../app/modules/alerts/lifecycle/lifecycle.ts'
import { testApp } from '../helpers/app.ts'

const t = await testApp()
afterAll(() => t.close())
const service = t.services.alerts

const report = (fingerprint: string, state: AlertReport['state'], extra: Partial<AlertReport> = {}): AlertReport => ({
  fingerprint,
  source: 'test',
  state,
  severity: 'warning',
  title: fingerprint,
  labels: { alertname: fingerprint, host: 'h1' },
  ...extra,
})
const eventsOf = async (fingerprint: string) => {
  const [a] = await t.db.select(storedAlert).from(alerts).where(eq(alerts.fingerprint, fingerprint))
  const events = await t.db
    .select()
    .from(alertEvents)
    .where(eq(alertEvents.alertId, a!.id))
    .orderBy(asc(alertEvents.id))
  return { alert: a!, types: events.map((e) => e.type) }
}

describe('reportMany', () => {
  it('applies a delivery in order: new, repeated, resolved and a fingerprint twice', async () => {
    const at = Date.now()
    const results = await service.reportMany(
      [
        report('b1', 'firing'),
        report('b2', 'firing'),
        report('b1', 'firing'),
        report('b3', 'pending'),
        report('b2', 'resolved'),
      ],
      at,
    )
    expect(results.map((r) => r.change)).toEqual(['created', 'created', 'repeated', 'created', 'resolved'])
    const b1 = await eventsOf('b1')
    expect(b1.alert.status).toBe('firing')
    expect(b1.alert.repeatCount).toBe(2)
    expect(b1.types).toEqual(['created', 'fired', 'repeated'])
    const b2 = await eventsOf('b2')
    expect(b2.alert.status).toBe('resolved')
    expect(b2.types).toEqual(['created', 'fired', 'resolved'])
    expect((await eventsOf('b3')).alert.status).toBe('pending')

    // A duplicate delivery: repeats and nothing, never a second alert.
    const again = await service.reportMany([report('b1', 'firing'), report('b2', 'resolved')], at + 1000)
    expect(again.map((r) => r.change)).toEqual(['repeated', 'none'])
    expect(
      Number((await t.client.execute("select count(*) as n from alerts where fingerprint like 'b%'")).rows[0]!.n),
    ).toBe(3)
  })

  it('takes its turn with reportAlert on the same fingerprints (no lost repeat)', async () => {
    await service.report(report('c1', 'firing'))
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        i % 2
          ? service.report(report('c1', 'firing', { quietRepeat: true }))
          : service.reportMany([
              report('c1', 'firing', { quietRepeat: true }),
              report('c2', 'firing', { quietRepeat: true }),
            ]),
      ),
    )
    expect((await eventsOf('c1')).alert.repeatCount).toBe(21)
    expect((await eventsOf('c2')).alert.repeatCount).toBe(10)
  })

  it('writes the outbox rows of its fired transitions in the same batch', async () => {
    const channel = await t.json(
      'POST',
      '/api/v1/channels',
      { name: 'batch hook', type: 'webhook', settings: { url: 'http://127.0.0.1:9/hook' } },
      (await t.key('operator')).headers,
    )
    expect(channel.status).toBe(201)
    await service.reportMany([report('d1', 'firing'), report('d2', 'firing'), report('d1', 'resolved')])
    const rows = await t.client.execute(
      "select n.kind, a.fingerprint from notifications n join alerts a on a.id = n.alert_id where a.fingerprint in ('d1', 'd2') order by n.id",
    )
    expect(rows.rows.map((r) => `${r.fingerprint}:${r.kind}`)).toEqual(['d1:fired', 'd2:fired', 'd1:resolved'])
  })
})
