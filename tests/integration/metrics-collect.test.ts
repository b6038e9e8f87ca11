/**
 * Ingest runs the runtime's full collection every COLLECT_EVERY_SAMPLES samples written (ADR 0026):
 * the heap's growth under a steady ingest, not a working set, was most of the process's memory. Only
 * ingest pays for it; the alert intake keeps the runtime's own schedule.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { COLLECT_EVERY_SAMPLES, collectingEvery, createMetricStore } from '../../app/modules/metrics/index.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

const T0 = Date.parse('2026-11-20T00:00:00Z')
let t: TestApp | undefined
afterEach(() => t?.close())

const samples = (n: number, from = 0) =>
  Array.from({ length: n }, (_, i) => ({
    name: 'collect_metric',
    labels: { host: `h${i % 5}` },
    value: i,
    ts: T0 + from + i,
  }))

describe('collections during ingest', () => {
  it('collects after every `every` samples written, counting across writes, and stores every sample', async () => {
    t = await testApp()
    let calls = 0
    const store = collectingEvery(createMetricStore(t.db), () => void calls++, 25)
    await store.write(samples(10), T0 + 60_000)
    await store.write(samples(10, 10), T0 + 60_000)
    expect(calls).toBe(0)
    await store.write(samples(10, 20), T0 + 60_000) // 30 written: past 25
    expect(calls).toBe(1)
    await store.write(samples(30, 30), T0 + 60_000) // 30 more since the last: past 25 again
    expect(calls).toBe(2)
    const [row] = (await t.client.execute('select coalesce(sum(n), 0) as n from point_batches')).rows
    expect(Number(row!.n)).toBe(60)
  })

  it('does not count a write that failed: its samples were not stored', async () => {
    t = await testApp()
    let calls = 0
    const store = collectingEvery(createMetricStore(t.db), () => void calls++, 5)
    t.client.close() // every statement now fails
    await expect(store.write(samples(10), T0 + 60_000)).rejects.toThrow()
    expect(calls).toBe(0)
    t = undefined // closed already
  })

  it("the app's ingest collects once COLLECT_EVERY_SAMPLES points arrived over HTTP; alerts do not", async () => {
    let calls = 0
    t = await testApp({}, { collect: () => void calls++ })
    const ingest = (await t.key('viewer', ['ingest'])).headers
    const per = 10_000
    for (let sent = 0; sent < COLLECT_EVERY_SAMPLES; sent += per) {
      const points = samples(per, sent).map((s) => ({ ...s, ts: T0 + s.ts - T0 }))
      const res = await t.json('POST', '/api/v1/metrics', { points }, ingest)
      expect(res.status).toBe(200)
      if (sent + per < COLLECT_EVERY_SAMPLES) expect(calls).toBe(0)
    }
    expect(calls).toBe(1)
    const body = { title: 'disk_full', severity: 'warning', status: 'firing', labels: { alertname: 'disk_full' } }
    const alert = await t.json('POST', '/api/v1/alerts', body, ingest)
    expect(alert.status, await alert.clone().text()).toBeLessThan(300)
    expect(calls).toBe(1)
  })
})
