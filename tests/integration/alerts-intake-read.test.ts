/**
 * The intake's read of the alerts a group has not cached (app/modules/alerts/intake/read.ts): on a
 * local file it runs on the database's transaction thread and decodes the rows itself; the alerts
 * it answers are those the Drizzle query on the client answers (every column, pending repeats
 * added, nulls, flags, JSON columns), it sees the transactions sent before it, and a failed one
 * does not stop it. Without a file (`:memory:`) it is the Drizzle query.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { threadReader, openDb, writeTransaction } from '../../db/client.ts'
import { runMigrations } from '../../db/migrate.ts'
import { alertRepeats, alerts, type Alert } from '../../db/schema/alerts.ts'
import { alertsQuery, createAlertsRead } from '../../app/modules/alerts/intake/read.ts'
import { testApp } from '../helpers/app.ts'

const t = await testApp()
const closing: (() => void)[] = [() => t.close()]
afterAll(() => {
  for (const close of closing) close()
})

const row = (n: number, over: Partial<Alert> = {}): Alert => ({
  id: `01READ${String(n).padStart(20, '0')}`,
  fingerprint: `read:${n}`,
  ruleId: null,
  source: 'prometheus',
  title: `Read ${n}`,
  status: 'firing',
  silenced: false,
  severity: 'warning',
  labels: { alertname: `Read${n}`, instance: `host-${n}` },
  annotations: { summary: `on host-${n}` },
  value: null,
  startsAt: 1_000 + n,
  activeAt: 1_000,
  endsAt: null,
  lastSeenAt: 2_000 + n,
  repeatCount: 1,
  ackBy: null,
  ackAt: null,
  resolvedBy: null,
  resolvedAt: null,
  createdAt: 1_000,
  updatedAt: 2_000 + n,
  ...over,
})
const byFingerprint = (list: Alert[]) => [...list].sort((a, b) => (a.fingerprint < b.fingerprint ? -1 : 1))

describe("the intake's read of alerts not cached", () => {
  it('answers on the transaction thread what the Drizzle query on the client answers', async () => {
    expect(threadReader(t.db)).toBeTypeOf('function')
    const rows = [
      row(1),
      row(2, {
        silenced: true,
        status: 'acknowledged',
        ackBy: 'ops@example.com',
        ackAt: 3_000,
        value: 0.25,
        labels: { 'team-name': 'ü "quoted" \\ 🚨', z: '' },
        annotations: {},
      }),
      row(3, { status: 'resolved', endsAt: 4_000, resolvedBy: 'prometheus', resolvedAt: 4_000, value: -7 }),
      row(4, { status: 'pending', startsAt: null, repeatCount: 0 }),
    ]
    await t.db.insert(alerts).values(rows)
    // Pending repeats of alert 1: its count, last seen and update time as it stands are the sums and latest.
    await t.db.insert(alertRepeats).values({ alertId: rows[0]!.id, n: 5, lastSeenAt: 9_000, updatedAt: 9_500 })
    const wanted = ['read:1', 'read:2', 'read:3', 'read:4', 'read:absent']
    const onThread = byFingerprint(await createAlertsRead(t.db)(wanted))
    const onClient = byFingerprint(await alertsQuery(t.db, wanted))
    expect(onThread).toEqual(onClient)
    expect(onThread.map((a) => a.fingerprint)).toEqual(['read:1', 'read:2', 'read:3', 'read:4'])
    expect(onThread[0]).toMatchObject({ repeatCount: 6, lastSeenAt: 9_000, updatedAt: 9_500 })
    expect(onThread[1]).toMatchObject({ silenced: true, value: 0.25, labels: rows[1]!.labels, annotations: {} })
    expect(onThread[3]).toMatchObject({ startsAt: null, repeatCount: 0 })
  })

  it('answers nothing for fingerprints never stored, and an empty list', async () => {
    const read = createAlertsRead(t.db)
    expect(await read(['read:none', 'read:other'])).toEqual([])
    expect(await read([])).toEqual([])
  })

  it('sees a transaction sent before it, and goes on after one that failed', async () => {
    const read = createAlertsRead(t.db)
    // Not awaited: the read is queued behind it on the thread.
    const committed = writeTransaction(t.db, [t.db.insert(alerts).values(row(10))])
    const [seen] = await read(['read:10'])
    await committed
    expect(seen).toMatchObject({ fingerprint: 'read:10', title: 'Read 10' })
    // A duplicate fingerprint fails its transaction (rolled back); the next read still answers.
    await expect(writeTransaction(t.db, [t.db.insert(alerts).values(row(10, { id: '01READOTHER' }))])).rejects.toThrow()
    expect((await read(['read:10'])).map((a) => a.id)).toEqual([row(10).id])
  })

  it('is the Drizzle query on the client without a database file', async () => {
    const memory = await openDb({ url: ':memory:' })
    closing.push(() => memory.client.close())
    await runMigrations(memory.db)
    expect(threadReader(memory.db)).toBeUndefined()
    await memory.db.insert(alerts).values([row(20), row(21, { silenced: true })])
    const read = await createAlertsRead(memory.db)(['read:21', 'read:20', 'read:none'])
    expect(byFingerprint(read)).toEqual(byFingerprint(await alertsQuery(memory.db, ['read:20', 'read:21'])))
    expect(read).toHaveLength(2)
  })
})
