/**
 * The bench's OTLP trace intake figures (`BENCH_ONLY=otlp`), on a Homeostat of its own (Bun, empty
 * DB), with the single-point metrics ingest measured against the same server in the same rounds:
 *
 * - OTLP spans/s: POST /v1/traces, protobuf, OTLP_BATCH spans a request (default 200, as an SDK
 *   batch span processor sends), every span durably written (run_spans, runs, run_tasks, llm_*
 *   points) before the 200. Each request carries new traces of 10 spans (an agent run: root agent,
 *   two sub-agents, a tool call, four model calls, two HTTP spans); half of each trace comes in the
 *   next request, as a batch processor cuts traces wherever its batch fills, so every request also
 *   reads back and completes traces begun in another.
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
function traceSpans(t: number, now: number) {
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

/** Request bodies: request r carries the second halves of request r-1's traces and the first halves of its own. */
function otlpBodies(key: string) {
  const perRequest = Math.floor(BATCH / TRACE_SPANS)
  let r = 0
  let carried: ReturnType<typeof traceSpans> = []
  const next = () => {
    const now = Date.now()
    const spans = carried
    carried = []
    for (let i = 0; i < perRequest; i++) {
      const all = traceSpans(r * perRequest + i, now)
      // Children first in this request, the parents next time: the intake must link them afterwards.
      spans.push(...all.slice(TRACE_SPANS / 2))
      carried.push(...all.slice(0, TRACE_SPANS / 2))
    }
    r++
    const message = {
      resourceSpans: [
        {
          resource: { attributes: [str('service.name', 'bench-team')] },
          scopeSpans: [{ scope: { name: 'bench', version: '1' }, spans }],
        },
      ],
    }
    return Buffer.from(ExportTraceServiceRequest.encode(ExportTraceServiceRequest.fromObject(message)).finish())
  }
  return {
    spansPerRequest: perRequest * TRACE_SPANS,
    request: {
      method: 'POST' as const,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/x-protobuf' },
      body: next(),
      next,
    },
  }
}

export async function otlpFigures(dir: string, base: Env, log: (line: string) => void) {
  const failed: string[] = []
  const rows: string[][] = []
  const env = { ...base, DATA_DIR: join(dir, 'otlp'), DATABASE_URL: `file:${join(dir, 'otlp', 'h.db')}` }
  const server = await startHomeostat('homeostat-otlp', env)
  try {
    const key = runCommand(BUN, ['app/cli.ts', 'keys', 'create', '--name', 'bench', '--role', 'operator'], env)
    const pid = findProcess(server.pid, /bun/)
    const otlp = otlpBodies(key)
    const single = singlePoint(key)
    const per = Math.max(1, SECONDS / ROUNDS)
    const spansPerS: number[] = []
    const pointsPerS: number[] = []
    const ratios: number[] = []
    const cpuPerSpan: number[] = []
    for (let round = 0; round < ROUNDS; round++) {
      const cpu0 = cpuSeconds(pid)
      const o = await load(`${server.url}/v1/traces`, otlp.request, {
        connections: Math.min(CONNECTIONS, 8),
        seconds: per,
        warmupSeconds: round === 0 ? WARMUP : 0,
      })
      const cpu1 = cpuSeconds(pid)
      if (o.errors || o.non2xx) failed.push(`otlp: ${o.errors} errors, ${o.non2xx} non-2xx answers`)
      const s = await load(`${server.url}/api/v1/metrics`, single, {
        connections: CONNECTIONS,
        seconds: per,
        warmupSeconds: round === 0 ? WARMUP : 0,
      })
      if (s.errors || s.non2xx) failed.push(`otlp (single point): ${s.errors} errors, ${s.non2xx} non-2xx answers`)
      spansPerS.push(o.rps * otlp.spansPerRequest)
      pointsPerS.push(s.rps)
      ratios.push((o.rps * otlp.spansPerRequest) / s.rps)
      cpuPerSpan.push(((cpu1 - cpu0) * 1e6) / Math.max(1, o.requests * otlp.spansPerRequest))
      log(`  round ${round + 1}: ${Math.round(spansPerS.at(-1)!)} spans/s, single point ${Math.round(s.rps)} req/s`)
    }
    const spans = median(spansPerS)
    rows.push([
      `OTLP spans/s (protobuf, ${otlp.spansPerRequest} spans a request, durable)`,
      `${Math.round(spans)}`,
      `≥ ${TARGET_SPANS_PER_S}`,
      `${median(ratios).toFixed(2)}× single`,
      spans >= TARGET_SPANS_PER_S ? 'pass' : 'MISS',
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
