import { count, eq, sql } from 'drizzle-orm'
import { compress } from 'snappyjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { pointBatches, series } from '../../db/schema/metrics.ts'
import { createWriteDecoder, WriteRequest } from '../../app/modules/metrics/remote-write.ts'
import { createMetricStore } from '../../app/modules/metrics/store.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { REMOTE_WRITE_HEADERS } from '../helpers/remote-write.ts'

let t: TestApp
let ingest: Record<string, string>
const MAX_BATCH = 1000

beforeAll(async () => {
  // The default body limits (16 MB for ingest), so only the new limits can refuse the bodies below.
  t = await testApp({ METRICS_MAX_BATCH: String(MAX_BATCH) })
  ingest = (await t.key('viewer', ['ingest'])).headers
})
afterAll(() => t.close())

const post = (body: Uint8Array) =>
  t.app.request('/api/v1/write', {
    method: 'POST',
    body: new Uint8Array(body),
    headers: { ...REMOTE_WRITE_HEADERS, ...ingest },
  })
const errorOf = async (res: Response) =>
  ((await res.json()) as { error: { code: string; message: string; details: { field: string; message: string }[] } })
    .error
const seriesCount = async () => (await t.db.select({ n: count() }).from(series))[0]!.n

const varint = (n: number) => {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return out
}

/**
 * A snappy stream, written by hand, of one series of `samples` empty samples (`12 00` each: a
 * Sample with value 0 at epoch 0): a literal of the series' start and the first 30 samples, then
 * copies of 32 samples each, three bytes apiece. 6 MB of it claims about 128 MB decompressed.
 */
function emptySamplesBomb(copies: number) {
  const decodedSamples = 60 + copies * 64
  const inner = decodedSamples // the series' body: only samples
  const prefix = [0x0a, ...varint(inner)]
  const total = prefix.length + decodedSamples
  const literal = (bytes: number[]) => [((bytes.length - 1) << 2) | 0, ...bytes]
  const head = [
    ...varint(total),
    ...literal(prefix),
    ...literal(Array.from({ length: 60 }, (_, i) => (i % 2 ? 0x00 : 0x12))),
  ]
  const body = new Uint8Array(head.length + copies * 3)
  body.set(head)
  // Copy with a 2-byte offset: tag (length - 1) << 2 | 2, then the offset 2 (the pattern's period).
  for (let i = head.length; i < body.length; i += 3) body.set([0xfe, 0x02, 0x00], i)
  return body
}

const write = (list: { labels: Record<string, string>; samples: number }[], ts = Date.now() - 60_000) =>
  compress(
    WriteRequest.encode(
      WriteRequest.fromObject({
        timeseries: list.map((s) => ({
          labels: Object.entries(s.labels).map(([name, value]) => ({ name, value })),
          samples: Array.from({ length: s.samples }, (_, i) => ({ value: i, timestamp: ts + i })),
        })),
      }),
    ).finish(),
  )

describe('remote write limits', () => {
  it('refuses 6 MB of compressed empty samples from the snappy header, before decompressing', async () => {
    const body = emptySamplesBomb(2_000_000)
    expect(body.length).toBeGreaterThan(6_000_000)
    const res = await post(body)
    expect(res.status).toBe(413)
    const error = await errorOf(res)
    expect(error.code).toBe('payload_too_large')
    expect(error.message).toMatch(/decompressed body would be \d+ bytes, over 33554432/)
    expect(await seriesCount()).toBe(0)
  })

  it('refuses a body under the decoded cap with more samples than METRICS_MAX_BATCH, before making them', async () => {
    // 2 MB decompressed: a million empty samples in one series.
    const res = await post(emptySamplesBomb(16_000))
    expect(res.status).toBe(413)
    const error = await errorOf(res)
    expect(error.message).toMatch(`at most ${MAX_BATCH} samples`)
    expect(error.details[0]!.message).toMatch('METRICS_MAX_BATCH')
  })

  it('counts samples across series and series themselves; at the limit is accepted', async () => {
    const over = await post(
      write([
        { labels: { __name__: 'limit_a', i: '1' }, samples: 600 },
        { labels: { __name__: 'limit_a', i: '2' }, samples: 401 },
      ]),
    )
    expect(over.status).toBe(413)
    expect(await seriesCount()).toBe(0)
    const manySeries = write(
      Array.from({ length: MAX_BATCH + 1 }, (_, i) => ({ labels: { __name__: 'limit_b', i: String(i) }, samples: 0 })),
    )
    expect((await post(manySeries)).status).toBe(413)
    const atLimit = await post(
      write([
        { labels: { __name__: 'limit_a', i: '1' }, samples: 600 },
        { labels: { __name__: 'limit_a', i: '2' }, samples: 400 },
      ]),
    )
    expect(atLimit.status).toBe(204)
    expect(await t.db.select({ n: count() }).from(series).where(eq(series.name, 'limit_a'))).toEqual([{ n: 2 }])
  })

  it('refuses a series with a flood of empty labels without decoding them', async () => {
    const labels = Object.fromEntries(Array.from({ length: 100_000 }, (_, i) => [`l${i}`, '']))
    const res = await post(write([{ labels: { __name__: 'limit_c', ...labels }, samples: 1 }]))
    expect(res.status).toBe(400)
    expect((await errorOf(res)).details[0]!.field).toBe('timeseries.0.labels')
  })
})

describe('series per metric (METRICS_MAX_SERIES_PER_METRIC)', () => {
  let s: TestApp
  let key: Record<string, string>
  beforeAll(async () => {
    s = await testApp({ METRICS_MAX_SERIES_PER_METRIC: '5' })
    key = (await s.key('viewer', ['ingest'])).headers
  })
  afterAll(() => s.close())
  const batch = (pts: { name: string; labels: Record<string, string> }[]) =>
    s.json('POST', '/api/v1/metrics', { points: pts.map((p, i) => ({ ...p, value: i })) }, key)
  const counts = async () => ({
    series: (await s.db.select({ n: count() }).from(series))[0]!.n,
    inbox: (await s.db.select({ n: sql<number>`coalesce(sum(${pointBatches.n}), 0)` }).from(pointBatches))[0]!.n,
  })
  const many = (name: string, from: number, n: number) =>
    Array.from({ length: n }, (_, i) => ({ name, labels: { pod: `p${from + i}` } }))

  it('refuses a write that would pass the limit whole, naming the metric, and counts the refused series', async () => {
    expect((await batch(many('card_a', 0, 3))).status).toBe(200)
    const before = await counts()
    const res = await batch([{ name: 'card_b', labels: {} }, ...many('card_a', 3, 3)])
    expect(res.status).toBe(400)
    const error = await errorOf(res)
    expect(error.code).toBe('series_limit')
    expect(error.message).toMatch('card_a')
    expect(error.details).toEqual([{ field: 'card_a', message: expect.stringMatching(/has 3 series.*limit of 5/) }])
    expect(await counts()).toEqual(before) // not even card_b's series or point
    const text = await (await s.app.request('/metrics', { headers: (await s.key('admin')).headers })).text()
    expect(text).toMatch(/^homeostat_series_refused_total 3$/m)
    // Known series still write, and new ones up to the limit.
    expect((await batch([...many('card_a', 0, 3), ...many('card_a', 3, 2)])).status).toBe(200)
    expect((await batch(many('card_a', 5, 1))).status).toBe(400)
  })

  it('applies to remote write too', async () => {
    const body = write(
      Array.from({ length: 6 }, (_, i) => ({ labels: { __name__: 'card_rw', i: String(i) }, samples: 1 })),
    )
    const res = await s.app.request('/api/v1/write', {
      method: 'POST',
      body: new Uint8Array(body),
      headers: { ...REMOTE_WRITE_HEADERS, ...key },
    })
    expect(res.status).toBe(400)
    expect((await errorOf(res)).details[0]!.field).toBe('card_rw')
  })

  it('counts again before refusing, so series forgotten meanwhile make room', async () => {
    expect((await batch(many('card_c', 0, 5))).status).toBe(200)
    await s.db.delete(series).where(eq(series.name, 'card_c'))
    expect((await batch(many('card_c', 10, 5))).status).toBe(200)
  })
})

describe('series caches are bounded by bytes', () => {
  it('the store drops its id caches once their estimated bytes pass the bound', async () => {
    const store = createMetricStore(t.db, { cacheBytes: 100_000 })
    const long = 'x'.repeat(1000)
    for (let r = 0; r < 20; r++) {
      const samples = Array.from({ length: 20 }, (_, i) => ({
        name: 'cache_bytes',
        labels: { a: long, b: long, i: `${r}-${i}` },
        value: 1,
        ts: Date.now() - 60_000,
      }))
      await store.write(samples)
      // At most the bound plus one write's own series.
      expect(store.cacheSize().bytes).toBeLessThan(100_000 + 20 * 5000)
    }
    expect(store.cacheSize().entries).toBeLessThan(200)
  })

  it("remote write's memory of checked series is bounded by bytes too", () => {
    const decoder = createWriteDecoder({ memoryBytes: 1_000_000 })
    const long = 'y'.repeat(1000)
    for (let r = 0; r < 50; r++) {
      const body = write(
        Array.from({ length: 100 }, (_, i) => ({
          labels: { __name__: 'mem_bytes', a: long, i: `${r}-${i}` },
          samples: 1,
        })),
      )
      decoder.decode(body, { maxDecodedBytes: 1 << 24, maxSamples: 10_000, now: Date.now() })
    }
    // 5 000 series of about 2 KB each: past the bound, so it started again on the way.
    expect(decoder.memory().bytes).toBeLessThanOrEqual(1_000_000 + 100 * 5000)
    expect(decoder.memory().entries).toBeLessThan(5000)
  })
})
