/**
 * The audit rule of the alerts service: a change a person makes to an alert (acknowledge,
 * unacknowledge, resolve by hand) writes its audit_log row in the same transaction as the alert
 * change, whichever route or page caused it; so does the generic API's report. If anything in
 * that transaction fails (here: a hook whose statement fails), neither the change nor its audit
 * row is written.
 */
import { asc, eq, sql } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { type AlertsService, createAlerts, NO_STATEMENTS, type TransitionHook } from '../../app/modules/alerts/index.ts'
import type { AlertReport } from '../../app/modules/alerts/lifecycle/lifecycle.ts'
import type { AlertAudit } from '../../app/modules/alerts/lifecycle/lifecycle-actions.ts'
import { alertEvents, alerts, storedAlert } from '../../db/schema/alerts.ts'
import { auditLog } from '../../db/schema/audit.ts'
import { testApp } from '../helpers/app.ts'

const t = await testApp()
afterAll(() => t.close())
const op = await t.key('operator')

const report = (fingerprint: string, state: AlertReport['state'] = 'firing'): AlertReport => ({
  fingerprint,
  source: 'test',
  state,
  severity: 'warning',
  title: `Audited ${fingerprint}`,
  labels: { alertname: 'Audited', instance: fingerprint },
})
const auditOf = (target: string) =>
  t.db.select().from(auditLog).where(eq(auditLog.target, target)).orderBy(asc(auditLog.id))
const stored = async (fingerprint: string) =>
  (await t.db.select(storedAlert).from(alerts).where(eq(alerts.fingerprint, fingerprint)))[0]
const eventTypes = async (alertId: string) =>
  (await t.db.select().from(alertEvents).where(eq(alertEvents.alertId, alertId)).orderBy(asc(alertEvents.id))).map(
    (e) => e.type,
  )
const by = (actor: string) => ({
  actor,
  audit: (e: AlertAudit) => ({
    table: auditLog,
    row: { ts: Date.now(), actor, action: e.action, target: e.target, summary: e.summary },
  }),
})

/** A second alerts service on the test database whose hook fails every change of these event types. */
function failingOn(...types: string[]): AlertsService {
  const fail: TransitionHook = (db, tr) =>
    tr.events.some((e) => types.includes(e.type)) ? [db.run(sql`select json('not json')`)] : NO_STATEMENTS
  return createAlerts({ db: t.db, hooks: [fail] })
}

describe("a person's change and its audit row", () => {
  it('commit together: acknowledge, unacknowledge and resolve each write the change and one audit row', async () => {
    const service = t.services.alerts
    const { alert } = await service.report(report('a-1'))
    const id = alert!.id
    await service.acknowledge(id, by('alice'))
    await service.unacknowledge(id, by('bob'))
    await service.resolve(id, by('carol'))
    expect(await eventTypes(id)).toEqual(['created', 'fired', 'acked', 'unacked', 'resolved'])
    expect((await auditOf(id)).map((r) => [r.action, r.actor, r.summary])).toEqual([
      ['alert.acknowledged', 'alice', 'Audited a-1'],
      ['alert.unacknowledged', 'bob', 'Audited a-1'],
      ['alert.resolved', 'carol', 'Audited a-1'],
    ])
  })

  it('roll back together: when the change fails in its transaction, no audit row is written', async () => {
    const failing = failingOn('acked', 'resolved')
    const { alert } = await failing.report(report('a-2'))
    const id = alert!.id
    await expect(failing.acknowledge(id, by('alice'))).rejects.toThrow(/malformed JSON|Failed query/)
    await expect(failing.resolve(id, by('alice'))).rejects.toThrow(/malformed JSON|Failed query/)
    expect(await stored('a-2')).toMatchObject({ status: 'firing', ackBy: null, resolvedBy: null })
    expect(await eventTypes(id)).toEqual(['created', 'fired'])
    expect(await auditOf(id)).toEqual([])
  })

  it('through the API: the audit row carries the request id, and a refused change writes none', async () => {
    const { alert } = await t.services.alerts.report(report('a-3'))
    const id = alert!.id
    const res = await t.json('POST', `/api/v1/alerts/${id}/acknowledge`, {}, op.headers)
    expect(res.status).toBe(200)
    expect((await t.json('POST', `/api/v1/alerts/${id}/acknowledge`, {}, op.headers)).status).toBe(409)
    const rows = await auditOf(id)
    expect(rows.map((r) => r.action)).toEqual(['alert.acknowledged'])
    expect(rows[0]!.requestId).toBeTruthy()
  })
})

describe('a reported change and its audit row', () => {
  it('roll back together with the report (the generic API audits its changes this way)', async () => {
    const failing = failingOn('fired')
    const row = () => [
      { table: auditLog, row: { ts: Date.now(), actor: 'script', action: 'alert.created', target: 'a-4' } },
    ]
    await expect(failing.report(report('a-4'), Date.now(), row)).rejects.toThrow(/malformed JSON|Failed query/)
    expect(await stored('a-4')).toBeUndefined()
    expect(await auditOf('a-4')).toEqual([])
    // Without the failing hook, both are written.
    const { change } = await t.services.alerts.report(report('a-4'), Date.now(), row)
    expect(change).toBe('created')
    expect((await auditOf('a-4')).map((r) => r.action)).toEqual(['alert.created'])
  })
})
