/**
 * Nothing is dropped silently (issue 16): a notification that gives up (`dead`, after MAX_ATTEMPTS)
 * raises `homeostat_notification_failed`, whose notification goes through another channel than the
 * failed one (even though the only policy sends everything to the failed one), and counts in
 * `homeostat_notifications_dead_total` on /metrics. The notifications job runs on a fake clock.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { MAX_ATTEMPTS } from '../../app/modules/notify/delivery.ts'
import { testApp } from '../helpers/app.ts'
import { startReceiver } from '../helpers/receiver.ts'

const t = await testApp()
const down = await startReceiver()
const backup = await startReceiver()
afterAll(async () => {
  await down.close()
  await backup.close()
  t.close()
})
const op = await t.key('operator')
const ingest = await t.key('operator', ['ingest'])

type Body = { event: string; alert: { id: string; title: string; labels: Record<string, string> } }
type AlertOut = { id: string; status: string; source: string; labels: Record<string, string> }

const channel = async (name: string, url: string) =>
  (
    (await (
      await t.json('POST', '/api/v1/channels', { name, type: 'webhook', settings: { url } }, op.headers)
    ).json()) as {
      id: string
    }
  ).id
const deadTotal = (text: string) =>
  Number(text.match(/^homeostat_notifications_dead_total\{channel="pager"\} (\d+)$/m)?.[1] ?? 0)
const metrics = async () => (await t.app.request('/metrics', { headers: op.headers })).text()

describe('a notification that gives up', () => {
  it('raises homeostat_notification_failed through another channel, is counted, and resolves when the channel delivers again', async () => {
    const pager = await channel('pager', `${down.url}/pager`)
    await channel('backup', `${backup.url}/backup`)
    // The only policy sends every alert to the pager alone: the failure alert still avoids it.
    const policy = await t.json('POST', '/api/v1/policies', { name: 'all to pager', channelIds: [pager] }, op.headers)
    expect(policy.status, await policy.clone().text()).toBe(201)
    const before = deadTotal(await metrics())

    const res = await t.json(
      'POST',
      '/api/v1/alerts',
      { title: 'disk full', severity: 'critical', status: 'firing', labels: { host: 'db1' } },
      ingest.headers,
    )
    const original = ((await res.json()) as { alert: AlertOut }).alert
    down.fail(1_000_000)
    let at = Date.now()
    for (let i = 0; i < MAX_ATTEMPTS + 3; i++) {
      await t.services.notifier.run(at)
      at += 3_600_000
    }
    expect(down.on('/pager').length).toBeGreaterThanOrEqual(MAX_ATTEMPTS)
    expect(backup.on('/backup').filter((r) => (r.json as Body).alert.id === original.id)).toEqual([])

    const list = (await (await t.app.request('/api/v1/alerts?source=homeostat', { headers: op.headers })).json()) as {
      items: AlertOut[]
    }
    const failed = list.items.filter((a) => a.labels.alertname === 'homeostat_notification_failed')
    expect(failed).toHaveLength(1)
    expect(failed[0]).toMatchObject({
      status: 'firing',
      source: 'homeostat',
      labels: { channel: 'pager', channel_id: pager, alert_id: original.id, alert: 'disk full' },
    })
    // Its notification went to the backup channel, never to the pager.
    const got = backup.on('/backup').filter((r) => (r.json as Body).alert.id === failed[0]!.id)
    expect(got).toHaveLength(1)
    expect((got[0]!.json as Body).event).toBe('fired')
    expect(down.on('/pager').filter((r) => (r.json as Body).alert.id === failed[0]!.id)).toEqual([])

    expect(deadTotal(await metrics())).toBeGreaterThan(before)

    // The backup channel delivering (the failure alert's own notification, above) resolves nothing:
    // only the failed channel delivering again does, as a condition clears in Alertmanager.
    const status = async () =>
      ((await (await t.app.request(`/api/v1/alerts/${failed[0]!.id}`, { headers: op.headers })).json()) as AlertOut)
        .status
    expect(await status()).toBe('firing')
    down.fail(0)
    await t.json(
      'POST',
      '/api/v1/alerts',
      { title: 'cpu hot', severity: 'warning', status: 'firing', labels: { host: 'db2' } },
      ingest.headers,
    )
    await t.services.notifier.run(at)
    expect(down.on('/pager').filter((r) => (r.json as Body).alert.title === 'cpu hot')).toHaveLength(1)
    expect(await status()).toBe('resolved')
    // Its resolution is notified like any alert's, through the other channel.
    await t.services.notifier.run(at + 60_000)
    const resolved = backup.on('/backup').filter((r) => (r.json as Body).alert.id === failed[0]!.id)
    expect(resolved.map((r) => (r.json as Body).event)).toEqual(['fired', 'resolved'])
  })
})
