/**
 * Faults, notification delivery: alerts fire while the webhook receiver (a local stand-in for
 * Slack/PagerDuty/a webhook) is failing, so their notifications sit in the outbox being retried;
 * the server is killed with SIGKILL in the middle of that. After a restart on the same database the
 * receiver recovers, and every notification is delivered at least once, each carrying its dedup key
 * (the body's `id`, the outbox row), with no notification lost and none made twice. A send the kill
 * caught in flight is sent again once its lease has passed: 15 s here (`NOTIFICATION_LEASE_SECONDS`;
 * one minute by default), so the test does not wait out the default.
 */
import { createServer } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, hardKill, openDbFile, restart, scalar, startFaultServer } from '../helpers/faults.ts'
import { listenLocal, readBody } from '../helpers/http.ts'
import { cliKey, killAll, until } from '../helpers/server.ts'

const ALERTS = 30
/** A short lease (the default is 60 s): the restarted server claims a send the kill cut off after this. */
const LEASE = { NOTIFICATION_LEASE_SECONDS: '15' }
let up = false
/** Every request the receiver got: the notification id (dedup key) and whether it answered 200. */
const got: { id: string; ok: boolean }[] = []
const receiver = createServer(async (req, res) => {
  const { json } = await readBody(req)
  const id = String((json as { id?: unknown } | undefined)?.id ?? '')
  got.push({ id, ok: up })
  res.writeHead(up ? 200 : 500).end(up ? 'ok' : 'down for maintenance')
})
let url = ''
beforeAll(async () => {
  url = await listenLocal(receiver)
})
afterAll(async () => {
  await killAll()
  receiver.closeAllConnections()
  await new Promise((r) => receiver.close(r))
})

describe('notification delivery across a hard kill', () => {
  it('delivers every queued notification at least once, with its dedup key, after the restart', async () => {
    const first = await startFaultServer({ env: LEASE })
    const operator = await cliKey(first, 'notifier', 'operator')
    const call = api(first, operator)
    const channel = await call('POST', '/api/v1/channels', { name: 'ops-hook', type: 'webhook', settings: { url } })
    expect(channel.status, channel.text).toBe(201)
    for (let i = 0; i < ALERTS; i++) {
      const r = await call('POST', '/api/v2/alerts', [
        { labels: { alertname: 'FaultNotify', item: String(i), severity: 'critical' } },
      ])
      expect(r.status, r.text).toBe(200)
    }
    // Some sends have been tried (and refused) and the rest are queued: kill now.
    await until('the receiver was tried', () => (got.length >= 5 ? true : undefined), 20_000)
    await hardKill(first)
    const triedBefore = new Set(got.map((g) => g.id)).size

    up = true
    const second = await restart(first, LEASE)
    const db = openDbFile(second)
    try {
      const ids = (await db.execute("select id from notifications where kind = 'fired'")).rows.map((r) => String(r.id))
      // One notification per fired alert, written with the alert: none lost, none doubled by the restart.
      expect(ids.length).toBe(ALERTS)
      await until(
        'every notification sent',
        async () =>
          (await scalar(db, "select count(*) from notifications where status <> 'sent'")) === 0 ? true : undefined,
        // A send caught in flight by the kill waits out its lease (15 s here), then its backoff.
        Number(LEASE.NOTIFICATION_LEASE_SECONDS) * 1000 + 40_000,
        500,
      )
      const delivered = new Set(got.filter((g) => g.ok).map((g) => g.id))
      const missing = ids.filter((id) => !delivered.has(id))
      expect(missing, `notifications never delivered: ${missing.join(', ')}`).toEqual([])
      // Nothing the receiver got is unknown to the outbox: every request carried a row's dedup key.
      expect([...new Set(got.map((g) => g.id))].filter((id) => !ids.includes(id))).toEqual([])
      expect(triedBefore).toBeGreaterThan(0)
    } finally {
      db.close()
    }
  }, 120_000)
})
