/**
 * The alerts service tells `changed` (the live feed) of an alert only once its change is committed:
 * another connection to the same file, reading at that moment, finds it. A page refreshed on a live
 * event used to read the old list when the event was told from a hook (inside the transaction, before
 * the commit) and the commit took longer than the feed's coalescing: the alert a rule raised after the
 * page's stream opened never showed without the poll. Quiet repeats are not news and are not told.
 */
import Database from 'libsql'
import { afterAll, describe, expect, it } from 'vitest'
import { createAlerts } from '../../app/modules/alerts/index.ts'
import type { AlertReport } from '../../app/modules/alerts/lifecycle/lifecycle.ts'
import { openDb } from '../../db/client.ts'
import { testApp } from '../helpers/app.ts'

const t = await testApp()
const path = t.config.DATABASE_URL.slice('file:'.length)
const other = await openDb({ url: t.config.DATABASE_URL })
const reader = new Database(path)
afterAll(() => {
  reader.close()
  other.client.close()
  t.close()
})

const report = (fingerprint: string, state: AlertReport['state'] = 'firing'): AlertReport => ({
  fingerprint,
  source: 'test',
  state,
  severity: 'warning',
  title: fingerprint,
  labels: { alertname: fingerprint },
})

/** What another connection sees of each alert at the moment `changed` names it. */
function watcher() {
  const told: { id: string; status: string | undefined }[] = []
  const statusOf = reader.prepare('select status from alerts where id = ?')
  const changed = (ids: readonly string[]) => {
    for (const id of ids) told.push({ id, status: (statusOf.get(id) as { status?: string } | undefined)?.status })
  }
  return { told, changed }
}

describe('changed (the live feed) hears committed changes only', () => {
  it('a group-committed report: created, a quiet repeat (not told), then resolved', async () => {
    const w = watcher()
    const service = createAlerts({ db: other.db, changed: w.changed })
    const [created] = await service.reportMany([report('after-commit-group')])
    const id = created!.alert!.id
    expect(w.told).toEqual([{ id, status: 'firing' }])
    // A repeat as Prometheus resends it (no news: no event, nothing told).
    await service.reportMany([{ ...report('after-commit-group'), quietRepeat: true }])
    expect(w.told).toHaveLength(1)
    await service.reportMany([report('after-commit-group', 'resolved')])
    expect(w.told).toEqual([
      { id, status: 'firing' },
      { id, status: 'resolved' },
    ])
  })

  it('a change written on its own (an acknowledge) is told with the acknowledged row in place', async () => {
    const w = watcher()
    const service = createAlerts({ db: other.db, changed: w.changed })
    const [created] = await service.reportMany([report('after-commit-ack')])
    const id = created!.alert!.id
    await service.acknowledge(id, { actor: 'person' })
    expect(w.told.at(-1)).toEqual({ id, status: 'acknowledged' })
  })
})
