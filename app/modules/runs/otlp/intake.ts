/**
 * The OTLP intake (docs/runs.md#opentelemetry): spans become runs and tasks through the runs
 * service, and model calls become llm_* points through the metric store. Spans of one trace come in
 * several exports and in any order (children before parents), and exports are retried, so each
 * request's spans are stored (run_spans) and the trace is worked out again from everything stored:
 * a task's parent is the nearest task above it, however many unmapped spans lie between, and its
 * tokens are the sum of the model calls below it. What changes because of this request's spans is
 * written; the runs service merges every write (upserts, max of tokens), so the result is the same
 * whatever the order, and a retried export writes the same values again. The spans and what they
 * change commit in one transaction (docs/adr/0010-runs-fixed-statements.md).
 */
import { sql } from 'drizzle-orm'
import * as v from 'valibot'
import type { Db } from '../../../../db/client.ts'
import type { RunSpan, runSpans, SpanRunInfo } from '../../../../db/schema/runs-otlp.ts'
import type { MetricStore, Sample } from '../../metrics/index.ts'
import { Id, TaskWithRun } from '../input.ts'
import type { Runs } from '../service.ts'
import type { RunWrite, Stmt, TaskWrite } from '../write.ts'
import type { OtlpSpan } from './decode.ts'
import { factsOf, failureAttributes, type SpanFacts, titleOf } from './map.ts'

export type OtlpIntakeDeps = {
  db: Db
  runs: Pick<Runs, 'record' | 'now'>
  metrics: Pick<MetricStore, 'write'>
}
export type IngestResult = { accepted: number; rejected: number; problems: string[] }

type Node = Omit<RunSpan, 'traceId' | 'receivedAt'> & { isNew: boolean }
/** The columns of run_spans in the order of the rows `saveSpans` sends; a stored span is replaced by its new copy. */
const SPAN_COLUMNS = [
  'trace_id',
  'span_id',
  'parent_span_id',
  'run_id',
  'kind',
  'model',
  'input_tokens',
  'output_tokens',
  'started_at',
  'ended_at',
  'failed',
  'run',
  'received_at',
]
// One fixed text, prepared once and run per span in the export's transaction (docs/adr/0010-runs-fixed-statements.md).
const SAVE_SPAN_SQL = `INSERT INTO run_spans (${SPAN_COLUMNS.join(', ')})
  VALUES (${SPAN_COLUMNS.map(() => '?').join(', ')})
  ON CONFLICT (trace_id, span_id) DO UPDATE SET ${SPAN_COLUMNS.slice(2)
    .map((c) => `${c} = excluded.${c}`)
    .join(', ')}`
/** A stored span as the read below answers it: the columns of SPAN_COLUMNS but received_at, in that order. */
type StoredRow = [
  string,
  string,
  string | null,
  string,
  Node['kind'],
  string | null,
  number,
  number,
  number,
  number,
  number,
  string | null,
]
const STORED_SPANS_SQL = `SELECT json_group_array(json_array(${SPAN_COLUMNS.slice(0, -1).join(', ')}))
  FROM run_spans WHERE trace_id IN (SELECT value FROM json_each(?))`
/** Parent links followed at most: deeper chains (or a cycle a broken client sent) stop there. */
const MAX_DEPTH = 256

function nodeOf(span: OtlpSpan, f: SpanFacts): Node {
  return {
    spanId: span.spanId,
    parentSpanId: span.parentSpanId || null,
    runId: f.runId,
    kind: f.kind,
    model: f.model ?? null,
    inputTokens: f.inputTokens,
    outputTokens: f.outputTokens,
    startedAt: span.startedAt,
    endedAt: span.endedAt,
    failed: f.failed,
    run: f.run,
    isNew: true,
  }
}

/** The nearest task above a span, and whether the way there passes a span of this request. */
function enclosing(spans: Map<string, Node>, from: Node): { task: Node | undefined; viaNew: boolean } {
  let viaNew = from.isNew
  let at = from
  for (let depth = 0; depth < MAX_DEPTH && at.parentSpanId; depth++) {
    const parent = spans.get(at.parentSpanId)
    if (!parent) break
    viaNew ||= parent.isNew
    if (parent.kind === 'task') return { task: parent, viaNew }
    at = parent
  }
  return { task: undefined, viaNew }
}

type Usage = { input: number; output: number; model: string | null; modelTokens: number; modelSpan: string }

/** The task writes one trace needs after this request, and its runs' writes. */
function traceWrites(spans: Map<string, Node>, fresh: Map<string, { span: OtlpSpan; facts: SpanFacts }>) {
  const tasks = new Map<string, TaskWrite>()
  const write = (n: Node) => {
    let t = tasks.get(n.spanId)
    if (!t) tasks.set(n.spanId, (t = { runId: n.runId, id: n.spanId }))
    return t
  }
  const usage = new Map<string, Usage>()
  const changedUsage = new Set<string>()
  for (const n of spans.values()) {
    if (n.kind === 'other') continue
    const { task, viaNew } = enclosing(spans, n)
    if (n.kind === 'task') {
      if (n.isNew) changedUsage.add(n.spanId)
      if (viaNew && task && task.runId === n.runId) write(n).parentId = task.spanId
      continue
    }
    if (!task || task.runId !== n.runId) continue
    const u = usage.get(task.spanId) ?? { input: 0, output: 0, model: null, modelTokens: -1, modelSpan: '' }
    u.input += n.inputTokens
    u.output += n.outputTokens
    // The model of the call with the most tokens names the task's model (ties: the lower span id).
    const tokens = n.inputTokens + n.outputTokens
    if (n.model && (tokens > u.modelTokens || (tokens === u.modelTokens && n.spanId < u.modelSpan)))
      Object.assign(u, { model: n.model, modelTokens: tokens, modelSpan: n.spanId })
    usage.set(task.spanId, u)
    if (viaNew) changedUsage.add(task.spanId)
  }
  for (const id of changedUsage) {
    const n = spans.get(id)!
    const u = usage.get(id)
    const t = write(n)
    // An agent span's own usage, when it reports one, is its calls' total: the larger of the two counts.
    const input = Math.max(n.inputTokens, u?.input ?? 0)
    const output = Math.max(n.outputTokens, u?.output ?? 0)
    if (input) t.inputTokens = input
    if (output) t.outputTokens = output
    const model = n.model ?? u?.model
    if (model) t.model = model
  }
  for (const { span, facts } of fresh.values()) {
    if (facts.kind !== 'task') continue
    const t = write(spans.get(span.spanId)!)
    Object.assign(t, {
      role: facts.role,
      title: titleOf(span),
      status: facts.failed ? 'failed' : 'succeeded',
      startedAt: span.startedAt,
      endedAt: span.endedAt,
    } satisfies Partial<TaskWrite>)
    if (facts.failed) Object.assign(t, { error: facts.error, attributes: failureAttributes(span) })
  }
  return tasks
}

/** The runs a trace's mapped spans belong to: start, the root span's end and status, goal and labels. */
function runWrites(spans: Map<string, Node>): RunWrite[] {
  const byRun = new Map<string, Node[]>()
  for (const n of spans.values()) byRun.set(n.runId, [...(byRun.get(n.runId) ?? []), n])
  const out: RunWrite[] = []
  for (const [id, nodes] of byRun) {
    if (!nodes.some((n) => n.kind !== 'other')) continue // a trace with no GenAI span is not a run
    const root = nodes.find((n) => !n.parentSpanId)
    // The runs service creates a run its tasks name; the run itself is written only when this request
    // brings what the tasks cannot tell: the root span (start and end), goal or labels, or a run of
    // model calls alone. Fewer statements per export, the same run in the end.
    const needed =
      root?.isNew ||
      nodes.some((n) => n.isNew && n.run) ||
      (!nodes.some((n) => n.kind === 'task') && nodes.some((n) => n.isNew && n.kind === 'llm'))
    if (!needed) continue
    const run: RunWrite = { id, startedAt: Math.min(...nodes.map((n) => n.startedAt)) }
    if (root) Object.assign(run, { endedAt: root.endedAt, status: root.failed ? 'failed' : 'succeeded' })
    // Goal and labels from every span that carries them, later spans winning (stable for any arrival order).
    const info: SpanRunInfo = {}
    const carriers = nodes
      .filter((n) => n.run)
      .sort((a, b) => a.startedAt - b.startedAt || (a.spanId < b.spanId ? -1 : 1))
    for (const n of carriers) {
      const r = n.run!
      if (r.goal) info.goal = r.goal
      if (r.requester) info.requester = r.requester
      if (r.labels) info.labels = { ...info.labels, ...r.labels }
    }
    out.push({ ...run, ...info })
  }
  return out
}

/**
 * The llm_* points of the request's model calls, summed where two calls share a series and ms. Each
 * sample carries its series' text (`key`, unambiguous: fixed metric and kind words, then the JSON of
 * the free labels), so the metric store finds the series id in its cache without sorting and hashing
 * the labels of every point (docs/adr/0014-otlp-trace-fast-path.md).
 */
function llmSamples(fresh: Iterable<{ span: OtlpSpan; facts: SpanFacts }>): Sample[] {
  const out = new Map<string, Sample>()
  const add = (key: string, name: string, labels: Record<string, string>, value: number, ts: number, sum: boolean) => {
    const at = `${key}\u0000${ts}`
    const prev = out.get(at)
    if (prev && sum) prev.value += value
    else out.set(at, { name, labels, value, ts, key })
  }
  for (const { span, facts } of fresh) {
    if (facts.kind !== 'llm') continue
    const model = facts.model ?? 'unknown'
    const component = facts.component?.slice(0, 200)
    const base: Record<string, string> = { model }
    if (component) base.component = component
    const series = JSON.stringify([model, component ?? ''])
    const ts = span.endedAt
    if (facts.inputTokens)
      add(
        `\u0002tokens\u0000prompt${series}`,
        'llm_tokens_total',
        { ...base, kind: 'prompt' },
        facts.inputTokens,
        ts,
        true,
      )
    if (facts.outputTokens) {
      const labels = { ...base, kind: 'completion' }
      add(`\u0002tokens\u0000completion${series}`, 'llm_tokens_total', labels, facts.outputTokens, ts, true)
    }
    add(`\u0002latency${series}`, 'llm_latency_seconds', base, (span.endedAt - span.startedAt) / 1000, ts, false)
    if (facts.failed) {
      const error = String(span.attributes['error.type'] ?? 'error').slice(0, 100)
      add(
        `\u0002errors${JSON.stringify([model, component ?? '', error])}`,
        'llm_errors_total',
        { ...base, error },
        1,
        ts,
        true,
      )
    }
  }
  return [...out.values()]
}

export function createOtlpIntake(deps: OtlpIntakeDeps) {
  const { db } = deps

  /**
   * The stored spans of the traces an export touches, in one query (their ids as one JSON parameter),
   * answered as one JSON text: one value to read instead of a row object per span
   * (docs/adr/0014-otlp-trace-fast-path.md).
   */
  const storedSpans = async (traceIds: string[]): Promise<(Node & { traceId: string })[]> => {
    const rs = await db.$client.execute({ sql: STORED_SPANS_SQL, args: [JSON.stringify(traceIds)] })
    const text = rs.rows[0]?.[0]
    if (typeof text !== 'string') return []
    return (JSON.parse(text) as StoredRow[]).map((r) => ({
      traceId: r[0],
      spanId: r[1],
      parentSpanId: r[2],
      runId: r[3],
      kind: r[4],
      model: r[5],
      inputTokens: r[6],
      outputTokens: r[7],
      startedAt: r[8],
      endedAt: r[9],
      failed: r[10] !== 0,
      run: r[11] == null ? null : (JSON.parse(r[11]) as SpanRunInfo),
      isNew: false,
    }))
  }

  /** The export's spans as rows of one statement, committed first in the transaction that records their runs. */
  const saveSpans = (rows: (typeof runSpans.$inferInsert)[]): Stmt[] =>
    rows.length
      ? [
          {
            sql: SAVE_SPAN_SQL,
            args: [],
            // JSON text: strings, finite numbers and nulls only, copied to the transaction thread at once.
            rows: JSON.stringify(
              rows.map((r) => [
                r.traceId,
                r.spanId,
                r.parentSpanId ?? null,
                r.runId,
                r.kind,
                r.model ?? null,
                r.inputTokens ?? 0,
                r.outputTokens ?? 0,
                r.startedAt,
                r.endedAt,
                r.failed ? 1 : 0,
                r.run == null ? null : JSON.stringify(r.run),
                r.receivedAt,
              ]),
            ),
          },
        ]
      : []

  /** Records usable spans (decode.ts); spans whose run id or task is not valid are counted as rejected. */
  async function ingest(spans: OtlpSpan[], now = deps.runs.now()): Promise<IngestResult> {
    const problems: string[] = []
    let rejected = 0
    const reject = (message: string) => {
      rejected++
      if (problems.length < 10) problems.push(message)
    }
    // The request's spans by trace, the last copy of a span winning.
    const fresh = new Map<string, Map<string, { span: OtlpSpan; facts: SpanFacts }>>()
    // Spans of a trace share their run id: each distinct one is checked once.
    const validRunIds = new Set<string>()
    for (const span of spans) {
      const facts = factsOf(span)
      if (!validRunIds.has(facts.runId)) {
        if (!v.is(Id, facts.runId)) {
          reject(`span ${span.spanId}: homeostat.run.id must be 1-200 characters of letters, digits and _ . : @ / ~ -`)
          continue
        }
        validRunIds.add(facts.runId)
      }
      let trace = fresh.get(span.traceId)
      if (!trace) fresh.set(span.traceId, (trace = new Map()))
      trace.set(span.spanId, { span, facts })
    }
    const traces = new Map<string, Map<string, Node>>()
    for (const { traceId, ...node } of await storedSpans([...fresh.keys()])) {
      let trace = traces.get(traceId)
      if (!trace) traces.set(traceId, (trace = new Map()))
      trace.set(node.spanId, node)
    }
    const rows: (typeof runSpans.$inferInsert)[] = []
    const runs: RunWrite[] = []
    const tasks: TaskWrite[] = []
    for (const [traceId, spansOfTrace] of fresh) {
      let trace = traces.get(traceId)
      if (!trace) traces.set(traceId, (trace = new Map()))
      for (const { span, facts } of spansOfTrace.values()) {
        const node = nodeOf(span, facts)
        trace.set(span.spanId, node)
        const { isNew: _, ...row } = node
        rows.push({ ...row, traceId, receivedAt: now })
      }
      for (const t of traceWrites(trace, spansOfTrace).values()) {
        const { attributes, ...task } = t
        const r = v.safeParse(TaskWithRun, task)
        if (r.success) tasks.push(t)
        else reject(`span ${t.id}: ${r.issues[0].message}`)
      }
      runs.push(...runWrites(trace))
    }
    // The spans and what they change in one transaction: an export is stored whole or not at all.
    if (rows.length || runs.length || tasks.length) await deps.runs.record({ runs, tasks }, now, saveSpans(rows))
    const samples = llmSamples([...fresh.values()].flatMap((t) => [...t.values()]))
    if (samples.length) await deps.metrics.write(samples, now)
    return { accepted: spans.length - rejected, rejected, problems }
  }

  /** Forgets spans received before `before`: they are needed only while their trace is still arriving. */
  const purgeSpans = async (before: number) =>
    (await db.run(sql`DELETE FROM run_spans WHERE received_at < ${before}`)).rowsAffected

  return { ingest, purgeSpans }
}
export type OtlpIntake = ReturnType<typeof createOtlpIntake>
