import { and, count, eq } from 'drizzle-orm'
import protobuf from 'protobufjs'
import { compress } from 'snappyjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { series } from '../../db/schema/metrics.ts'
import { storedPoints } from '../helpers/raw-points.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { moveInbox } from '../../app/modules/metrics/inbox.ts'

// The messages as prometheus/prompb/{remote,types}.proto define them, parsed here on their own (not
// the app's definitions), with the fields 1.0 receivers must skip: metadata and exemplars.
const PROTO = `
syntax = "proto3";
package prometheus;
message WriteRequest { repeated TimeSeries timeseries = 1; reserved 2; repeated MetricMetadata metadata = 3; }
message MetricMetadata { int32 type = 1; string metric_family_name = 2; string help = 4; string unit = 5; }
message Sample { double value = 1; int64 timestamp = 2; }
message Exemplar { repeated Label labels = 1; double value = 2; int64 timestamp = 3; }
message TimeSeries { repeated Label labels = 1; repeated Sample samples = 2; repeated Exemplar exemplars = 3; }
message Label { string name = 1; string value = 2; }
`
const WriteRequest = protobuf.parse(PROTO).root.lookupType('prometheus.WriteRequest')

type Series = { labels: Record<string, string>; samples: [value: number, ts: number][]; exemplars?: unknown[] }
const request = (list: Series[], extra: Record<string, unknown> = {}) =>
  WriteRequest.encode(
    WriteRequest.fromObject({
      timeseries: list.map((s) => ({
        labels: Object.entries(s.labels).map(([name, value]) => ({ name, value })),
        samples: s.samples.map(([value, timestamp]) => ({ value, timestamp })),
        exemplars: s.exemplars ?? [],
      })),
      ...extra,
    }),
  ).finish()

let t: TestApp
/** The database after moving the write inbox into chunks (readers see both; this checks the move too). */
const moved = async () => (await moveInbox(t.db), t.db)
let ingest: Record<string, string>
const HEADERS = {
  'Content-Type': 'application/x-protobuf',
  'Content-Encoding': 'snappy',
  'X-Prometheus-Remote-Write-Version': '0.1.0',
  'User-Agent': 'Prometheus/2.42.0',
}
const post = (body: Uint8Array | string, headers: Record<string, string> = ingest) =>
  t.app.request('/api/v1/write', {
    method: 'POST',
    body: typeof body === 'string' ? body : new Uint8Array(body),
    headers: { ...HEADERS, ...headers },
  })
const pointCount = async () => (await storedPoints(await moved())).length
const stored = async (name: string) =>
  (await storedPoints(await moved()))
    .filter((p) => p.name === name)
    .map((p) => ({ labels: p.labels, ts: p.ts, value: p.value }))
const errorOf = async (res: Response) =>
  ((await res.json()) as { error: { code: string; message: string; details: { field: string; message: string }[] } })
    .error

beforeAll(async () => {
  t = await testApp({ INGEST_BODY_LIMIT_BYTES: '65536' })
  ingest = (await t.key('viewer', ['ingest'])).headers
})
afterAll(() => t.close())

const T0 = Date.parse('2026-11-02T10:00:00.000Z')

describe('POST /api/v1/write (Prometheus remote write 1.0)', () => {
  it('stores every series: __name__ is the name, empty labels dropped, samples as points; 204', async () => {
    const body = compress(
      request(
        [
          {
            labels: {
              __name__: 'node_cpu_seconds_total',
              instance: 'h1:9100',
              job: 'node',
              cpu: '0',
              mode: 'idle',
              empty: '',
            },
            samples: [
              [10.5, T0],
              [11.25, T0 + 15_000],
            ],
          },
          {
            labels: { job: 'node', __name__: 'node_load1', instance: 'h1:9100' },
            samples: [[0.42, T0]],
            exemplars: [{ labels: [{ name: 'trace_id', value: 'abc' }], value: 1, timestamp: T0 }],
          },
        ],
        { metadata: [{ type: 1, metric_family_name: 'node_load1', help: 'load' }] },
      ),
    )
    const res = await post(body)
    expect(res.status).toBe(204)
    expect(await res.text()).toBe('')
    expect(res.headers.get('x-homeostat-samples-written')).toBe('3')
    expect(await stored('node_cpu_seconds_total')).toEqual([
      { labels: { cpu: '0', instance: 'h1:9100', job: 'node', mode: 'idle' }, ts: T0, value: 10.5 },
      { labels: { cpu: '0', instance: 'h1:9100', job: 'node', mode: 'idle' }, ts: T0 + 15_000, value: 11.25 },
    ])
    expect(await stored('node_load1')).toEqual([{ labels: { instance: 'h1:9100', job: 'node' }, ts: T0, value: 0.42 }])
    // Readable through the query API like any other series.
    const q = await t.app.request(
      `/api/v1/metrics/query?name=node_load1&from=${T0 - 60_000}&to=${T0 + 60_000}&step=1m&agg=last`,
      { headers: (await t.key('viewer')).headers },
    )
    expect(((await q.json()) as { series: { values: [string, number][] }[] }).series[0]!.values).toContainEqual([
      new Date(T0).toISOString(),
      0.42,
    ])
  })

  it('a retried request stores the same points again, no duplicates; shares series with /api/v1/metrics', async () => {
    const body = compress(
      request([
        {
          labels: { __name__: 'retry_metric', a: '1' },
          samples: [
            [1, T0],
            [2, T0 + 1000],
          ],
        },
      ]),
    )
    expect((await post(body)).status).toBe(204)
    const first = await stored('retry_metric')
    expect((await post(body)).status).toBe(204)
    expect(await stored('retry_metric')).toEqual(first)
    expect(first).toHaveLength(2)
    // The JSON route resolves the same label set to the same series.
    expect(
      (
        await t.json(
          'POST',
          '/api/v1/metrics',
          { name: 'retry_metric', labels: { a: '1' }, value: 3, ts: T0 + 2000 },
          ingest,
        )
      ).status,
    ).toBe(200)
    expect((await t.db.select({ n: count() }).from(series).where(eq(series.name, 'retry_metric')))[0]!.n).toBe(1)
    expect((await stored('retry_metric')).map((p) => p.value)).toEqual([1, 2, 3])
  })

  it('drops NaN (including the staleness marker) and ±Inf samples and counts them', async () => {
    const stale = new DataView(new ArrayBuffer(8))
    stale.setBigUint64(0, 0x7ff0000000000002n) // Prometheus' StaleNaN
    const body = compress(
      request([
        {
          labels: { __name__: 'nan_metric' },
          samples: [
            [1, T0],
            [Number.NaN, T0 + 1000],
            [stale.getFloat64(0), T0 + 2000],
            [Number.POSITIVE_INFINITY, T0 + 3000],
            [4, T0 + 4000],
          ],
        },
      ]),
    )
    const res = await post(body)
    expect(res.status).toBe(204)
    expect(res.headers.get('x-homeostat-samples-dropped')).toBe('3')
    expect((await stored('nan_metric')).map((p) => [p.ts, p.value])).toEqual([
      [T0, 1],
      [T0 + 4000, 4],
    ])
    expect(t.telemetry.registry.render()).toMatch(
      /homeostat_remote_write_samples_total\{outcome="dropped_non_finite"\} 3/,
    )
  })

  it('answers 204 to a request with metadata only (Prometheus sends those every minute)', async () => {
    const before = await pointCount()
    expect(
      (await post(compress(request([], { metadata: [{ type: 2, metric_family_name: 'up', help: 'up' }] })))).status,
    ).toBe(204)
    expect((await post(compress(new Uint8Array(0)))).status).toBe(204)
    expect(await pointCount()).toBe(before)
  })

  it('refuses a body that is not snappy, truncated, or not a WriteRequest, with a clear 400', async () => {
    const before = await pointCount()
    const notSnappy = await post('this is not snappy')
    expect(notSnappy.status).toBe(400)
    expect((await errorOf(notSnappy)).code).toBe('invalid_snappy')
    const raw = await post(request([{ labels: { __name__: 'raw_protobuf' }, samples: [[1, T0]] }])) // forgot to compress
    expect(raw.status).toBe(400)
    const good = compress(
      request([{ labels: { __name__: 'truncated_metric', job: 'x'.repeat(200) }, samples: [[1, T0]] }]),
    )
    expect((await post(good.slice(0, good.length - 20))).status).toBe(400)
    // Streams snappyjs alone would accept: shorter or longer than their length header says.
    for (const stream of [
      [10, 4 << 2, 8, 1, 18, 1, 0x61],
      [2, 4 << 2, 8, 1, 18, 1, 0x61],
    ]) {
      const res = await post(new Uint8Array(stream))
      expect(res.status).toBe(400)
      expect((await errorOf(res)).details[0]!.message).toMatch(/decompresses to 5 bytes/)
    }
    const garbage = await post(compress(new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0x0f, 0x01])))
    expect(garbage.status).toBe(400)
    const error = await errorOf(garbage)
    expect(error.code).toBe('invalid_protobuf')
    expect(error.message).toMatch(/prometheus\.WriteRequest/)
    expect(await pointCount()).toBe(before)
  })

  it('refuses the whole request when one series has no __name__ or a bad name, naming the series', async () => {
    const before = await pointCount()
    const res = await post(
      compress(
        request([
          { labels: { __name__: 'fine_metric' }, samples: [[1, T0]] },
          { labels: { job: 'x' }, samples: [[1, T0]] },
          { labels: { __name__: '9starts_with_digit' }, samples: [[1, T0]] },
          { labels: { __name__: 'fine_metric', 'bad-label': 'v' }, samples: [[1, T0]] },
          { labels: { __name__: 'fine_metric', __reserved: 'v' }, samples: [[1, T0]] },
          {
            labels: {
              __name__: 'fine_metric',
              ...Object.fromEntries(Array.from({ length: 33 }, (_, i) => [`l${i}`, 'v'])),
            },
            samples: [[1, T0]],
          },
          {
            labels: { __name__: 'fine_metric' },
            samples: [
              [1, T0],
              [1, Date.now() + 3_600_000],
            ],
          },
        ]),
      ),
    )
    expect(res.status).toBe(400)
    const error = await errorOf(res)
    expect(error.message).toMatch(/nothing was written/)
    expect(error.details.map((d) => d.field)).toEqual([
      'timeseries.1.labels',
      'timeseries.2.labels.__name__',
      'timeseries.3.labels.bad-label',
      'timeseries.4.labels.__reserved',
      'timeseries.5.labels',
      'timeseries.6.samples.1.timestamp',
    ])
    expect(error.details[0]!.message).toMatch(/__name__/)
    expect(await pointCount()).toBe(before)
    expect(await stored('fine_metric')).toEqual([])
  })

  it('a series already stored still has every sample checked, and labels sent in another order are the same series', async () => {
    const known = { __name__: 'known_metric', job: 'j', instance: 'i' }
    expect((await post(compress(request([{ labels: known, samples: [[1, T0]] }])))).status).toBe(204)
    const res = await post(
      compress(
        request([
          {
            labels: known,
            samples: [
              [2, T0 + 1000],
              [3, -5],
            ],
          },
          { labels: { ...known, instance: 'bad-\u0000' }, samples: [[1, Date.now() + 3_600_000]] },
        ]),
      ),
    )
    expect(res.status).toBe(400)
    expect((await errorOf(res)).details.map((d) => d.field)).toEqual([
      'timeseries.0.samples.1.timestamp',
      'timeseries.1.samples.0.timestamp',
    ])
    expect(await stored('known_metric')).toEqual([{ labels: { instance: 'i', job: 'j' }, ts: T0, value: 1 }])
    // NaN is dropped for a known series too; the same labels in another order land in the same series.
    const again = await post(
      compress(
        request([
          {
            labels: { instance: 'i', __name__: 'known_metric', job: 'j' },
            samples: [
              [4, T0 + 2000],
              [Number.NaN, T0 + 3000],
            ],
          },
        ]),
      ),
    )
    expect([again.status, again.headers.get('x-homeostat-samples-dropped')]).toEqual([204, '1'])
    expect((await stored('known_metric')).map((p) => [p.labels, p.value])).toEqual([
      [{ instance: 'i', job: 'j' }, 1],
      [{ instance: 'i', job: 'j' }, 4],
    ])
  })

  it('415 for another Content-Type or Content-Encoding, or remote write 2.0', async () => {
    const body = compress(request([{ labels: { __name__: 'typed_metric' }, samples: [[1, T0]] }]))
    const variants: Record<string, string>[] = [
      { 'Content-Type': 'application/json' },
      { 'Content-Type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request' },
      { 'Content-Encoding': 'zstd' },
    ]
    for (const headers of variants) {
      const res = await post(body, { ...ingest, ...headers })
      expect(res.status).toBe(415)
      expect((await errorOf(res)).details[0]!.field).toMatch(/^Content-(Type|Encoding)$/)
    }
    expect(
      (await post(body, { ...ingest, 'Content-Type': 'application/x-protobuf;proto=prometheus.WriteRequest' })).status,
    ).toBe(204)
  })

  it('applies the ingest body limit, to the body and to what it decompresses to', async () => {
    const big = request([{ labels: { __name__: 'big_metric', pad: 'x'.repeat(1000) }, samples: [[1, T0]] }])
    const random = new Uint8Array(70_000).map(() => Math.floor(Math.random() * 256)) // does not compress
    expect((await post(compress(random))).status).toBe(413)
    // A tiny body whose header claims 100 MB decompressed.
    const bomb = new Uint8Array([0x80, 0x80, 0xe8, 0x2f, ...big.slice(0, 8)])
    const res = await post(bomb)
    expect(res.status).toBe(413)
    expect((await errorOf(res)).message).toMatch(/decompressed/)
  })

  it('needs an ingest key or operator: viewer 403, no key 401', async () => {
    const body = compress(request([{ labels: { __name__: 'auth_metric' }, samples: [[1, T0]] }]))
    expect((await post(body, (await t.key('viewer')).headers)).status).toBe(403)
    expect((await post(body, {})).status).toBe(401)
    expect((await post(body, (await t.key('operator')).headers)).status).toBe(204)
    expect(
      await t.db
        .select()
        .from(series)
        .where(and(eq(series.name, 'auth_metric'))),
    ).toHaveLength(1)
  })

  // The walk off the wire (ADR 0031) knows a series by a hash of its label bytes and a compare: series whose
  // bytes differ in one place, or only in length, stay apart however they are interleaved across requests.
  it('series whose label bytes are alike stay apart, across requests and in any order', async () => {
    const names = ['alike_a', 'alike_b']
    const instances = ['h1', 'h2', 'h10', 'h1\u00e9']
    const all = names.flatMap((n) => instances.map((instance) => ({ __name__: 'alike_metric', group: n, instance })))
    for (let r = 0; r < 3; r++) {
      const order = r % 2 ? [...all].reverse() : all
      const body = request(order.map((labels, i) => ({ labels, samples: [[r * 100 + i, T0 + r * 1000]] })))
      expect((await post(compress(body))).status).toBe(204)
    }
    const points = await stored('alike_metric')
    const bySeries = new Map<string, number[]>()
    for (const p of points)
      bySeries.set(JSON.stringify(p.labels), [...(bySeries.get(JSON.stringify(p.labels)) ?? []), p.value])
    expect(bySeries.size).toBe(all.length)
    for (const [i, labels] of all.entries()) {
      const { __name__, ...rest } = labels
      // Request r sent this series at index i (r = 0, 2) or at the mirrored index (r = 1).
      expect(bySeries.get(JSON.stringify(rest))).toEqual([i, 100 + all.length - 1 - i, 200 + i])
    }
  })

  it('a series whose every sample is dropped (NaN) is not created', async () => {
    const res = await post(
      compress(
        request([
          { labels: { __name__: 'only_nan_metric', instance: 'x' }, samples: [[Number.NaN, T0]] },
          { labels: { __name__: 'beside_nan_metric', instance: 'x' }, samples: [[1, T0]] },
        ]),
      ),
    )
    expect([res.status, res.headers.get('x-homeostat-samples-dropped')]).toEqual([204, '1'])
    expect(await t.db.select().from(series).where(eq(series.name, 'only_nan_metric'))).toHaveLength(0)
    expect(await stored('beside_nan_metric')).toEqual([{ labels: { instance: 'x' }, ts: T0, value: 1 }])
  })

  it('token counts sent by remote write are priced into llm_cost_usd_total in the same write, as over JSON', async () => {
    const op = (await t.key('operator')).headers
    const price = await t.app.request('/api/v1/prices', {
      method: 'POST',
      headers: { ...op, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'rw-model', promptPer1M: 2, completionPer1M: 8 }),
    })
    expect(price.status).toBeLessThan(300)
    const labels = { __name__: 'llm_tokens_total', model: 'rw-model', component: 'rw-agent' }
    const body = request([
      { labels: { ...labels, kind: 'prompt' }, samples: [[1000, T0]] },
      { labels: { ...labels, kind: 'completion' }, samples: [[500, T0]] },
    ])
    expect((await post(compress(body))).status).toBe(204)
    // 1 000 × 2 / 1M + 500 × 8 / 1M
    expect(await stored('llm_cost_usd_total')).toEqual([
      { labels: { component: 'rw-agent', model: 'rw-model' }, ts: T0, value: 0.006 },
    ])
  })
})
