import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core'

/** Run facts a span carried (homeostat.run.* attributes), kept until the trace's run is written. */
export type SpanRunInfo = { goal?: string; requester?: string; labels?: Record<string, string> }

/**
 * The spans of the OTLP intake (docs/runs.md#opentelemetry), one row per (trace, span), every kind
 * (agent, tool, model call, or any other span): spans of one trace arrive in several exports and in
 * any order, so a span's enclosing task (the nearest agent or tool span above it, maybe through
 * spans we do not map) and a task's token sum over its model calls are worked out from these rows,
 * not from one request. A retried export writes the same rows again, so nothing is counted twice.
 * Old rows are purged (purgeSpans). WITHOUT ROWID, clustered by trace.
 */
export const runSpans = sqliteTable(
  'run_spans',
  {
    traceId: text('trace_id').notNull(),
    spanId: text('span_id').notNull(),
    parentSpanId: text('parent_span_id'),
    runId: text('run_id').notNull(),
    /** `task` (agent and tool spans), `llm` (model calls), `other` (kept only as a link in the chain). */
    kind: text('kind', { enum: ['task', 'llm', 'other'] }).notNull(),
    model: text('model'),
    inputTokens: integer('input_tokens').notNull().default(0),
    outputTokens: integer('output_tokens').notNull().default(0),
    startedAt: integer('started_at').notNull(),
    endedAt: integer('ended_at').notNull(),
    failed: integer('failed', { mode: 'boolean' }).notNull().default(false),
    run: text('run', { mode: 'json' }).$type<SpanRunInfo>(),
    receivedAt: integer('received_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.traceId, t.spanId] }), index('run_spans_received_idx').on(t.receivedAt)],
)
export type RunSpan = typeof runSpans.$inferSelect
