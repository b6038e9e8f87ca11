/**
 * The bench's OTLP metrics ingest figure (`BENCH_ONLY=otlp-metrics`), on a Homeostat of its own
 * (Bun, empty DB), in interleaved rounds against the same server:
 *
 * - POST /v1/metrics, protobuf: 1 000 gauge points a request (50 names × 20 instances, one point per
 *   series, at the request's own time, as a Collector's batch of a fleet's gauges), every point
 *   durably written before the 200.
 * - The same points as a JSON batch to POST /api/v1/metrics (`batch` of the ingest group).
 * - The same number of series by Prometheus remote write (POST /api/v1/write, snappy protobuf).
 *
 * Figures are points/s, medians over the rounds; the ratio is to the JSON batch. Asserts nothing.
 */
import { join } from 'node:path'
import { ExportMetricsServiceRequest } from '../../app/modules/metrics/otlp/proto.ts'
import { BATCH_POINTS, batch, REMOTE_WRITE_SERIES, remoteWritePool } from './ingest.ts'
import { BUN, load, median, runCommand, startHomeostat } from './lib.ts'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 9)
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3))
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20)

type Env = Record<string, string>

/** OTLP protobuf bodies of the JSON batch's points: same names, labels and values, new time each request. */
function otlpBatch(key: string) {
  const str = (k: string, v: string) => ({ key: k, value: { stringValue: v } })
  let last = 0
  const next = () => {
    const ts = (last = Math.max(Date.now(), last + 1))
    const timeUnixNano = String(BigInt(ts) * 1_000_000n)
    const metrics = Array.from({ length: 50 }, (_, n) => ({
      name: `bench_otlp_${n}`,
      gauge: {
        dataPoints: Array.from({ length: BATCH_POINTS / 50 }, (_, j) => {
          const i = j * 50 + n
          return {
            timeUnixNano,
            asDouble: (i * 7) % 1000,
            attributes: [str('instance', `host-${i % 20}:9100`), str('series', String(i))],
          }
        }),
      },
    }))
    const message = { resourceMetrics: [{ resource: {}, scopeMetrics: [{ metrics }] }] }
    return Buffer.from(ExportMetricsServiceRequest.encode(ExportMetricsServiceRequest.fromObject(message)).finish())
  }
  return {
    method: 'POST' as const,
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-protobuf' },
    body: next(),
    next,
  }
}

export async function otlpMetricsFigures(dir: string, base: Env, log: (line: string) => void) {
  const failed: string[] = []
  const rows: string[][] = []
  const env = { ...base, DATA_DIR: join(dir, 'otlpm'), DATABASE_URL: `file:${join(dir, 'otlpm', 'h.db')}` }
  const server = await startHomeostat('homeostat-otlp-metrics', env)
  try {
    const key = runCommand(BUN, ['app/cli.ts', 'keys', 'create', '--name', 'bench', '--role', 'operator'], env)
    const scenarios = [
      { name: 'otlp', path: '/v1/metrics', request: otlpBatch(key), perRequest: BATCH_POINTS },
      { name: 'json', path: '/api/v1/metrics', request: batch(key), perRequest: BATCH_POINTS },
      {
        name: 'remote write',
        path: '/api/v1/write',
        request: remoteWritePool().request({ authorization: `Bearer ${key}` }),
        perRequest: REMOTE_WRITE_SERIES,
      },
    ]
    const per = Math.max(1, SECONDS / ROUNDS)
    const rates = new Map<string, number[]>(scenarios.map((s) => [s.name, []]))
    const ratios: number[] = []
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of scenarios) {
        const r = await load(`${server.url}${s.path}`, s.request, {
          connections: CONNECTIONS,
          seconds: per,
          warmupSeconds: round === 0 ? WARMUP : 0,
        })
        if (r.errors || r.non2xx) failed.push(`otlp-metrics (${s.name}): ${r.errors} errors, ${r.non2xx} non-2xx`)
        rates.get(s.name)!.push(r.rps * s.perRequest)
      }
      ratios.push(rates.get('otlp')!.at(-1)! / rates.get('json')!.at(-1)!)
      log(
        `  round ${round + 1}: ${scenarios.map((s) => `${s.name} ${Math.round(rates.get(s.name)!.at(-1)!)}`).join(', ')} points/s`,
      )
    }
    const fig = (name: string) => `${Math.round(median(rates.get(name)!))}/s`
    rows.push([
      `OTLP metrics points/s (protobuf, ${BATCH_POINTS} gauge points a request, durable)`,
      fig('otlp'),
      '—',
      `${median(ratios).toFixed(2)}× JSON batch`,
      '',
    ])
    rows.push(['  the same points as JSON batches (POST /api/v1/metrics)', fig('json'), '—', '', ''])
    rows.push([
      `  remote write, ${REMOTE_WRITE_SERIES} series a request (same server)`,
      fig('remote write'),
      '—',
      '',
      '',
    ])
  } catch (error) {
    failed.push(`otlp-metrics: ${error instanceof Error ? error.message : String(error)}`)
  } finally {
    await server.stop()
  }
  return { rows, failed }
}
