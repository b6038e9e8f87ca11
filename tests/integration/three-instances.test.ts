/**
 * Three instances on one database file (issue 24): each is the whole app as production builds it
 * (its own scheduler, caches, notifier and connections), all three on one `file:` database.
 *
 * - Every scheduled job runs once per tick: the three schedulers are asked for the same ticks at
 *   the same moment, and one of them runs each tick while the others are told it is not theirs.
 * - No duplicate alert or notification: all three evaluate the same breaching rule at once (as if
 *   the evaluation job's lease had failed them all), then all three send the outbox at once; the
 *   receiver (a local server on loopback) gets one notification, and there is one alert.
 *
 * The figure (throughput of one, two and three instances under the fleet mix) is in the bench's
 * load group (tests/bench/load.ts); the real-process version of the lease test is
 * tests/e2e/two-instances.test.ts.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { createMetricStore } from '../../app/modules/metrics/store.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { startReceiver } from '../helpers/receiver.ts'

const first = await testApp()
const others = [
  await testApp({ DATABASE_URL: first.config.DATABASE_URL }),
  await testApp({ DATABASE_URL: first.config.DATABASE_URL }),
]
const instances: TestApp[] = [first, ...others]
const rx = await startReceiver()
afterAll(async () => {
  await rx.close()
  for (const app of others) app.close()
  first.close()
})

describe('three instances on one database file', () => {
  it('run every scheduled job once per tick', async () => {
    const jobs = (await first.scheduler.status()).jobs.map((j) => j.name)
    expect(jobs.length).toBeGreaterThan(5)
    const base = Math.floor(Date.now() / 1000) * 1000 + 10_000
    for (const [i, tick] of [base, base + 1000, base + 2000].entries()) {
      for (const job of jobs) {
        const outcomes = await Promise.all(instances.map((app) => app.scheduler.runTick(job, tick)))
        const ran = outcomes.filter((o) => o === 'ran' || o === 'failed')
        expect(ran, `${job}, tick ${i}: ${outcomes.join(', ')}`).toHaveLength(1)
        expect(
          outcomes.filter((o) => o === 'not_leader'),
          `${job}, tick ${i}`,
        ).toHaveLength(2)
      }
    }
    // Each ran tick is one job_runs row at most (quiet jobs write none when idle), never three.
    const rows = await first.client.execute(
      'select job, tick, count(*) as n from job_runs where tick >= ? group by job, tick having n > 1',
      [base],
    )
    expect(rows.rows).toEqual([])
  })

  it('make one alert and send one notification when all three evaluate the same breaching rule', async () => {
    const op = await first.key('operator')
    const channel = await first.json(
      'POST',
      '/api/v1/channels',
      { name: 'three hook', type: 'webhook', settings: { url: `${rx.url}/three` } },
      op.headers,
    )
    expect(channel.status).toBe(201)
    const rule = await first.json(
      'POST',
      '/api/v1/alert-rules',
      {
        name: 'three instances breach',
        kind: 'threshold',
        metric: 'three_queue_len',
        agg: 'max',
        window: '1m',
        comparator: '>',
        value: 10,
        severity: 'critical',
      },
      op.headers,
    )
    expect(rule.status).toBe(201)
    const { id } = (await rule.json()) as { id: string }
    // Not in the first 2 s of a minute: the 1m window is the current clock minute.
    const t0 = Math.max(Date.now(), Math.floor(Date.now() / 60_000) * 60_000 + 2_000)
    await createMetricStore(first.db).write([{ name: 'three_queue_len', labels: {}, value: 40, ts: t0 - 1000 }], t0)

    await Promise.all(instances.map((app) => app.services.alerts.evaluateAll(t0)))
    await Promise.all(instances.map((app) => app.services.alerts.evaluateAll(t0 + 1000)))
    await Promise.all(instances.map((app) => app.services.notifier.run(t0 + 1000)))

    const alerts = await first.client.execute('select id from alerts where rule_id = ?', [id])
    expect(alerts.rows).toHaveLength(1)
    const alertId = String(alerts.rows[0]!.id)
    const notes = await first.client.execute(
      "select status, count(*) as n from notifications where alert_id = ? and kind = 'fired' group by status",
      [alertId],
    )
    expect(notes.rows.map((r) => [r.status, r.n])).toEqual([['sent', 1]])
    const got = rx.on('/three').map((r) => (r.json as { event: string; alert: { id: string } }).alert.id)
    expect(got).toEqual([alertId])
  })
})
