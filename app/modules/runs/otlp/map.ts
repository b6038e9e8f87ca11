/**
 * What one span means for runs, by the OpenTelemetry GenAI semantic conventions
 * (docs/runs.md#opentelemetry): agent spans (`invoke_agent`, `create_agent`) and tool spans
 * (`execute_tool`) are tasks, model calls (`chat`, `text_completion`, `generate_content`,
 * `embeddings`) give their tokens and model to the task above them, and every other span is only
 * a link between those. Everything here reads the span alone, so the result cannot depend on the
 * order spans arrive in; what needs the rest of the trace is done in intake.ts.
 */
import type { SpanRunInfo } from '../../../../db/schema/runs-otlp.ts'
import type { Attrs, OtlpSpan, Scalar } from './decode.ts'

export type SpanKind = 'task' | 'llm' | 'other'

const AGENT_OPS = new Set(['invoke_agent', 'create_agent'])
const TOOL_OPS = new Set(['execute_tool'])
const LLM_OPS = new Set(['chat', 'text_completion', 'generate_content', 'embeddings'])
const KNOWN_OPS = new Set([...AGENT_OPS, ...TOOL_OPS, ...LLM_OPS])

/** The attributes of ours a span (or its resource) may carry. */
export const RUN_ID = 'homeostat.run.id'
export const RUN_GOAL = 'homeostat.run.goal'
export const RUN_REQUESTER = 'homeostat.run.requester'
export const RUN_LABEL = 'homeostat.run.label.'

export type SpanFacts = {
  kind: SpanKind
  runId: string
  run: SpanRunInfo | null
  /** Tasks only. */
  role?: string
  model?: string
  inputTokens: number
  outputTokens: number
  failed: boolean
  /** The error's text for the classifier and the task (failed spans only). */
  error?: string
  /** The `component` label of the llm_* metrics: the agent named on the span, else the service. */
  component?: string
}

const text = (x: Scalar | undefined) => (x === undefined || x === '' ? undefined : String(x))
const count = (x: Scalar | undefined) => {
  const n = Number(x)
  return Number.isFinite(n) && n > 0 ? Math.min(Math.floor(n), 1e12) : 0
}

/** Role names allow letters, digits and _ . - (input.ts): "Research Agent" becomes Research_Agent. */
export const roleOf = (name: string) => name.replace(/[^\w.-]+/g, '_').slice(0, 100) || 'agent'

/**
 * The GenAI operation: `gen_ai.operation.name`, or the span name's first word when the span carries
 * gen_ai.* attributes (the conventions name spans "{operation} {target}", e.g. "chat gpt-4o").
 */
export function operationOf(span: OtlpSpan): string | undefined {
  const op = text(span.attributes['gen_ai.operation.name'])
  if (op) return op
  const first = span.name.split(' ', 1)[0]!
  if (KNOWN_OPS.has(first) && Object.keys(span.attributes).some((k) => k.startsWith('gen_ai.'))) return first
  return undefined
}

/** The run's facts a span carries, from its resource, then from the span itself (which wins). */
function runInfo(span: OtlpSpan): SpanRunInfo | null {
  const info: SpanRunInfo = {}
  for (const attrs of [span.resource, span.attributes]) {
    const goal = text(attrs[RUN_GOAL])
    if (goal) info.goal = goal.slice(0, 2000)
    const requester = text(attrs[RUN_REQUESTER])
    if (requester) info.requester = requester.slice(0, 200)
    for (const [k, value] of Object.entries(attrs))
      if (k.startsWith(RUN_LABEL) && /^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k.slice(RUN_LABEL.length)))
        (info.labels ??= {})[k.slice(RUN_LABEL.length)] = String(value).slice(0, 1024)
  }
  return info.goal || info.requester || info.labels ? info : null
}

/** A failed span's error: `error.type`, the status message, then each exception event (type: message, stack). */
function errorOf(span: OtlpSpan): string | undefined {
  const type = text(span.attributes['error.type'])
  if (span.statusCode !== 2 && !type) return undefined
  const parts = [type, text(span.statusMessage)]
  for (const e of span.events) {
    if (e.name !== 'exception') continue
    const a = e.attributes
    const head = [text(a['exception.type']), text(a['exception.message'])].filter(Boolean).join(': ')
    parts.push(head, text(a['exception.stacktrace']))
  }
  const unique = [...new Set(parts.filter((p): p is string => Boolean(p)))]
  return (unique.join('\n') || 'span status ERROR').slice(0, 20_000)
}

/** The attributes the classifier (and the users' rules) read: the span's, with its exception's type. */
export function failureAttributes(span: OtlpSpan): Attrs {
  const out: Attrs = {}
  for (const [k, value] of Object.entries(span.attributes).slice(0, 64)) out[k] = value
  const exception = span.events.find((e) => e.name === 'exception')?.attributes
  if (exception?.['exception.type'] !== undefined) out['exception.type'] ??= exception['exception.type']
  return out
}

export function factsOf(span: OtlpSpan): SpanFacts {
  const a = span.attributes
  const op = operationOf(span)
  const kind: SpanKind =
    op && (AGENT_OPS.has(op) || TOOL_OPS.has(op)) ? 'task' : op && LLM_OPS.has(op) ? 'llm' : 'other'
  const runId = text(a[RUN_ID]) ?? text(span.resource[RUN_ID]) ?? span.traceId
  const facts: SpanFacts = {
    kind,
    runId,
    run: runInfo(span),
    inputTokens: count(a['gen_ai.usage.input_tokens'] ?? a['gen_ai.usage.prompt_tokens']),
    outputTokens: count(a['gen_ai.usage.output_tokens'] ?? a['gen_ai.usage.completion_tokens']),
    model: text(a['gen_ai.response.model'] ?? a['gen_ai.request.model'])?.slice(0, 200),
    failed: false,
  }
  if (kind === 'other') return facts
  const error = errorOf(span)
  facts.failed = error !== undefined
  facts.error = error
  const agent = text(a['gen_ai.agent.name']) ?? text(a['gen_ai.agent.id'])
  if (kind === 'task') facts.role = op && TOOL_OPS.has(op) ? 'tool' : roleOf(agent ?? 'agent')
  facts.component = agent ?? text(span.resource['service.name'])
  return facts
}

/** A task's title: the span's name, or the tool's name for a tool span without one. */
export const titleOf = (span: OtlpSpan) =>
  (span.name || `execute_tool ${text(span.attributes['gen_ai.tool.name']) ?? ''}`.trim()).slice(0, 500)
