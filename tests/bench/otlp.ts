/**
 * The bench's OTLP trace intake figures (`BENCH_ONLY=otlp`), on a Homeostat of its own (Bun, empty
 * DB), with the single-point metrics ingest measured against the same server in the same rounds:
 *
 * - OTLP spans/s: POST /v1/traces, protobuf, OTLP_BATCH spans a request (default 200, as an SDK
 *   batch span processor sends), every span durably written (run_spans, runs, run_tasks, llm_*
 *   points) before the 200. Each request carries new traces of 10 spans (an agent run: root agent,
 *   two sub-agents, a tool call, four model calls, two HTTP spans); half of each trace comes in the
 *   next request, as a batch processor cuts traces wherever its batch fills, so every request also
 *   reads back and completes traces begun in another. The same again in random order: the spans of
 *   three requests' traces shuffled together, so a trace comes in up to three exports in any order.
 *   Bodies are encoded before each round (the client's encoding is not measured); 8 connections
 *   stand for 8 exporters sending at once.
 * - The single-point metrics ingest (POST /api/v1/metrics, one point a request): the baseline.
 *
 * Interleaved rounds (every scenario once per round); figures are medians. Asserts nothing.
 */
import { join } from 'node:path'
import { ExportTraceServiceRequest } from '../../app/modules/runs/otlp/proto.ts'
import { singlePoint } from './ingest.ts'
import { BUN, cpuSeconds, findProcess, load, median, runCommand, startHomeostat } from './lib.ts'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 9)
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3))
const WARMUP = Number(process.env.BENCH_WARMUP ?? 2)
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 50)
const BATCH = Math.max(10, Number(process.env.OTLP_BATCH ?? 200))
const TRACE_SPANS = 10
const TARGET_SPANS_PER_S = 20_000

type Env = Record<string, string>
type Attr = { key: string; value: Record<string, unknown> }
const str = (key: string, value: string): Attr => ({ key, value: { stringValue: value } })
const int = (key: string, value: number): Attr => ({ key, value: { intValue: value } })

const bytesOf = (n: number, width: number) => {
  const b = new Uint8Array(width)
  let x = n
  for (let i = width - 1; i >= 0 && x > 0; i--) {
    b[i] = x & 0xff
    x = Math.floor(x / 256)
  }
  b[0] = 0x7f // never all zeros
  return b
}

/** The 10 spans of trace `t`, parents before children in the list (the split puts some in the next request). */
export function traceSpans(t: number, now: number) {
  const traceId = bytesOf(t, 16)
  const id = (i: number) => bytesOf(t * 16 + i + 1, 8)
  const ns = (ms: number) => String(BigInt(ms) * 1_000_000n)
  const span = (i: number, parent: number | null, name: string, attributes: Attr[], error = false) => ({
    traceId,
    spanId: id(i),
    parentSpanId: parent === null ? undefined : id(parent),
    name,
    kind: 1,
    startTimeUnixNano: ns(now + i),
    endTimeUnixNano: ns(now + 100 - i),
    attributes,
    status: error ? { code: 2, message: 'AssertionError: 1 failed' } : { code: 0 },
  })
  const agent = (name: string) => [str('gen_ai.operation.name', 'invoke_agent'), str('gen_ai.agent.name', name)]
  const chat = (agentName: string, i: number) => [
    str('gen_ai.operation.name', 'chat'),
    str('gen_ai.request.model', 'gpt-4o'),
    str('gen_ai.agent.name', agentName),
    int('gen_ai.usage.input_tokens', 500 + i),
    int('gen_ai.usage.output_tokens', 100 + i),
  ]
  return [
    span(0, null, 'invoke_agent planner', agent('planner')),
    span(1, 0, 'invoke_agent coder', agent('coder')),
    span(2, 0, 'invoke_agent tester', agent('tester')),
    span(3, 0, 'chat gpt-4o', chat('planner', t % 7)),
    span(4, 1, 'POST', [str('http.request.method', 'POST')]),
    span(5, 4, 'chat gpt-4o', chat('coder', t % 5)),
    span(6, 1, 'chat gpt-4o', chat('coder', t % 3)),
    span(7, 2, 'execute_tool run_tests', [str('gen_ai.operation.name', 'execute_tool')], t % 4 === 0),
    span(8, 2, 'POST', [str('http.request.method', 'POST')]),
    span(9, 8, 'chat gpt-4o', chat('tester', t % 2)),
  ]
}

/** One export request's protobuf body. */
const encode = (spans: ReturnType<typeof traceSpans>) =>
  Buffer.from(
    ExportTraceServiceRequest.encode(
      ExportTraceServiceRequest.fromObject({
        resourceSpans: [
          {
            resource: { attributes: [str('service.name', 'bench-team')] },
            scopeSpans: [{ scope: { name: 'bench', version: '1' }, spans }],
          },
        ],
      }),
    ).finish(),
  )

/** A fair shuffle (Fisher–Yates). */
function shuffle<T>(xs: T[]) {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    ;[xs[i], xs[j]] = [xs[j]!, xs[i]!]
  }
  return xs
}

/**
 * Request bodies, in one of two arrival orders:
 * - `split`: request r carries the second halves of request r-1's traces (children first) and the
 *   first halves of its own;
 * - `random`: the spans of every three requests' traces are shuffled together and cut into three
 *   requests, so a trace's spans come in up to three exports, in any order (no order to tune to).
 * Bodies are encoded ahead (`prepare`) so the bench client's own protobuf encoding is not what is
 * measured; when the ones prepared run out, more are made on the fly.
 */
export function otlpBodies(key: string, order: 'split' | 'random' = 'split') {
  const perRequest = Math.floor(BATCH / TRACE_SPANS)
  let r = 0
  let carried: ReturnType<typeof traceSpans> = []
  let queued: ReturnType<typeof traceSpans>[] = []
  const make = () => {
    const now = Date.now()
    if (order === 'random') {
      if (!queued.length) {
        const spans: ReturnType<typeof traceSpans> = []
        for (let i = 0; i < perRequest * 3; i++) spans.push(...traceSpans(r * perRequest + i, now))
        r += 3
        shuffle(spans)
        queued = [0, 1, 2].map((k) => spans.slice(k * perRequest * TRACE_SPANS, (k + 1) * perRequest * TRACE_SPANS))
      }
      return encode(queued.shift()!)
    }
    const spans = carried
    carried = []
    for (let i = 0; i < perRequest; i++) {
      const all = traceSpans(r * perRequest + i, now)
      // Children first in this request, the parents next time: the intake must link them afterwards.
      spans.push(...all.slice(TRACE_SPANS / 2))
      carried.push(...all.slice(0, TRACE_SPANS / 2))
    }
    r++
    return encode(spans)
  }
  let ready: Buffer[] = []
  const next = () => ready.shift() ?? make()
  return {
    spansPerRequest: perRequest * TRACE_SPANS,
    /** Encodes the next `n` bodies now (before a measured round). */
    prepare: (n: number) => {
      ready = Array.from({ length: n }, make)
    },
    request: {
      method: 'POST' as const,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-protobuf' },
      body: make(),
      next,
    },
  }
}

export async function otlpFigures(dir: string, base: Env, log: (line: string) => void) {
  const failed: string[] = []
  const rows: string[][] = []
  const env = { ...base, DATA_DIR: join(dir, 'otlp'), DATABASE_URL: `file:${join(dir, 'otlp', 'h.db')}` }
  // BENCH_PROFILE_DIR=<dir>: a Markdown CPU profile of the server (bun --cpu-prof-md), written when it stops.
  const profile = process.env.BENCH_PROFILE_DIR
  const server = await startHomeostat(
    'homeostat-otlp',
    env,
    profile ? ['--cpu-prof-md', `--cpu-prof-dir=${profile}`] : [],
  )
  try {
    const key = runCommand(BUN, ['app/cli.ts', 'keys', 'create', '--name', 'bench', '--role', 'operator'], env)
    const pid = findProcess(server.pid, /bun/)
    const orders = { split: otlpBodies(key, 'split'), random: otlpBodies(key, 'random') }
    const single = singlePoint(key)
    const per = Math.max(1, SECONDS / ROUNDS)
    const byOrder = { split: [] as number[], random: [] as number[] }
    const pointsPerS: number[] = []
    const ratios: number[] = []
    const cpuPerSpan: number[] = []
    for (let round = 0; round < ROUNDS; round++) {
      for (const order of ['split', 'random'] as const) {
        const otlp = orders[order]
        // Enough bodies for 40,000 spans/s through the round, encoded before it starts.
        otlp.prepare(Math.ceil((40_000 * (per + (round === 0 ? WARMUP : 0))) / otlp.spansPerRequest))
        const cpu0 = cpuSeconds(pid)
        const o = await load(`${server.url}/v1/traces`, otlp.request, {
          connections: Math.min(CONNECTIONS, 8),
          seconds: per,
          warmupSeconds: round === 0 ? WARMUP : 0,
        })
        const cpu1 = cpuSeconds(pid)
        if (o.errors || o.non2xx) failed.push(`otlp (${order}): ${o.errors} errors, ${o.non2xx} non-2xx answers`)
        byOrder[order].push(o.rps * otlp.spansPerRequest)
        if (order === 'split') cpuPerSpan.push(((cpu1 - cpu0) * 1e6) / Math.max(1, o.requests * otlp.spansPerRequest))
      }
      const s = await load(`${server.url}/api/v1/metrics`, single, {
        connections: CONNECTIONS,
        seconds: per,
        warmupSeconds: round === 0 ? WARMUP : 0,
      })
      if (s.errors || s.non2xx) failed.push(`otlp (single point): ${s.errors} errors, ${s.non2xx} non-2xx answers`)
      pointsPerS.push(s.rps)
      ratios.push(byOrder.split.at(-1)! / s.rps)
      log(
        `  round ${round + 1}: ${Math.round(byOrder.split.at(-1)!)} spans/s split, ${Math.round(byOrder.random.at(-1)!)} random, single point ${Math.round(s.rps)} req/s`,
      )
    }
    const spans = median(byOrder.split)
    const perRequest = orders.split.spansPerRequest
    rows.push([
      `OTLP spans/s (protobuf, ${perRequest} spans a request, durable)`,
      `${Math.round(spans)}`,
      `≥ ${TARGET_SPANS_PER_S}`,
      `${median(ratios).toFixed(2)}× single`,
      spans >= TARGET_SPANS_PER_S ? 'pass' : 'MISS',
    ])
    rows.push([
      "  the same, traces' spans shuffled over three requests",
      `${Math.round(median(byOrder.random))}`,
      '—',
      `${(median(byOrder.random) / spans).toFixed(2)}× split`,
      '',
    ])
    rows.push(['  server CPU per span', `${median(cpuPerSpan).toFixed(1)} µs`, '—', '', ''])
    rows.push([
      '  single-point metrics ingest (same server, same rounds)',
      `${Math.round(median(pointsPerS))}/s`,
      '—',
      '',
      '',
    ])
  } catch (error) {
    failed.push(`otlp: ${error instanceof Error ? error.message : String(error)}`)
  } finally {
    await server.stop()
  }
  return { rows, failed }
}
