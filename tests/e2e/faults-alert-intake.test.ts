/**
 * Faults, alert intake: Prometheus-style deliveries (POST /api/v2/alerts, a JSON array) keep coming
 * while the server is killed with SIGKILL. Each delivery carries new alerts of its own and repeats
 * of a shared set. After a restart on the same database: every alert of every 200'd delivery is
 * there, each fingerprint has one alert row, and deliveries sent again (Prometheus resends until
 * it gets a 2xx) make no second row.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { keepSending, openDbFile, restart, scalar, startFaultServer } from '../helpers/faults.ts'
import { cliKey, killAll } from '../helpers/server.ts'

afterAll(() => killAll())

const PER_DELIVERY = 10
const SHARED = 20

/** Delivery n: PER_DELIVERY alerts only it carries, and five of the shared ones (repeats). */
function delivery(n: number) {
  const startsAt = new Date(1_700_000_000_000).toISOString()
  const own = Array.from({ length: PER_DELIVERY }, (_, i) => ({
    labels: { alertname: 'FaultIntake', delivery: String(n), item: String(i), severity: 'warning' },
    annotations: { summary: `delivery ${n} item ${i}` },
    startsAt,
  }))
  const shared = Array.from({ length: 5 }, (_, i) => ({
    labels: { alertname: 'FaultShared', item: String((n * 5 + i) % SHARED), severity: 'warning' },
    startsAt,
  }))
  return [...own, ...shared]
}

describe('alert intake across a hard kill', () => {
  it('keeps every alert of every acknowledged delivery, one row per fingerprint', async () => {
    const first = await startFaultServer()
    const key = await cliKey(first, 'prometheus', 'operator', ['ingest'])
    const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' }
    const traffic = keepSending(first, 4, (n) =>
      fetch(`${first.url}/api/v2/alerts`, {
        method: 'POST',
        headers,
        body: JSON.stringify(delivery(n)),
        signal: AbortSignal.timeout(5000),
      }),
    )
    await traffic.killAfter(30)
    const { acked, unacked } = traffic
    const next = traffic.sent

    const second = await restart(first)
    for (const n of [...unacked, ...acked.slice(0, 3)]) {
      const res = await second.fetch('/api/v2/alerts', { method: 'POST', headers, body: JSON.stringify(delivery(n)) })
      expect(res.status, `resend of delivery ${n}: ${await res.text()}`).toBe(200)
    }

    const db = openDbFile(second)
    try {
      const perDelivery = new Map<number, number>()
      const rows = await db.execute(
        "select json_extract(labels, '$.delivery') as d, count(*) as n from alerts " +
          "where json_extract(labels, '$.alertname') = 'FaultIntake' group by d",
      )
      for (const r of rows.rows) perDelivery.set(Number(r.d), Number(r.n))
      const lost = acked.filter((n) => perDelivery.get(n) !== PER_DELIVERY)
      expect(acked.length).toBeGreaterThanOrEqual(30)
      expect(lost, `acknowledged deliveries with alerts missing: ${lost.join(', ')}`).toEqual([])
      // Every delivery (sent once or twice) is there once: next deliveries in all.
      expect(
        await scalar(db, "select count(*) from alerts where json_extract(labels, '$.alertname') = 'FaultIntake'"),
      ).toBe(next * PER_DELIVERY)
      expect(
        await scalar(db, "select count(*) from alerts where json_extract(labels, '$.alertname') = 'FaultShared'"),
      ).toBe(SHARED)
      expect(await scalar(db, 'select count(*) - count(distinct fingerprint) from alerts')).toBe(0)
    } finally {
      db.close()
    }
  })
})
