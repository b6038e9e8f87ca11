/**
 * Prometheus remote write 1.0 bodies for load tests and benchmarks: the same bytes can be posted to
 * Homeostat and to a Prometheus started with --web.enable-remote-write-receiver.
 */
import { compress } from 'snappyjs'
import { WriteRequest } from '../../app/modules/metrics/remote-write.ts'

export const REMOTE_WRITE_HEADERS = {
  'content-type': 'application/x-protobuf',
  'content-encoding': 'snappy',
  'x-prometheus-remote-write-version': '0.1.0',
} as const

/**
 * `count` snappy-compressed WriteRequests of `seriesPerRequest` series with one sample each, as a
 * Prometheus shard sends them. Request r carries timestamp `t0 + r * stepMs` for every series, so
 * each series' timestamps rise across the list (in order for a Prometheus receiver). Series look
 * like node-exporter ones: 50 metric names × 20 instances × a `series` label.
 */
export function remoteWritePayloads(
  count: number,
  opts: { seriesPerRequest?: number; t0?: number; stepMs?: number } = {},
): Buffer[] {
  const perRequest = opts.seriesPerRequest ?? 1000
  const step = opts.stepMs ?? 1000
  const t0 = opts.t0 ?? Date.now() - count * step
  const labelsOf = Array.from({ length: perRequest }, (_, i) => [
    { name: '__name__', value: `bench_metric_${i % 50}` },
    { name: 'instance', value: `host-${i % 20}:9100` },
    { name: 'job', value: 'bench' },
    { name: 'series', value: String(i) },
  ])
  return Array.from({ length: count }, (_, r) => {
    const message = WriteRequest.fromObject({
      timeseries: labelsOf.map((labels, i) => ({
        labels,
        samples: [{ value: ((r * 7 + i) % 1000) / 10, timestamp: t0 + r * step }],
      })),
    })
    return Buffer.from(compress(WriteRequest.encode(message).finish()))
  })
}
