/**
 * What a metric's points mean, which rate functions need (docs/metrics.md#counters-deltas-and-gauges):
 * - `counter`: a cumulative total (Prometheus' counter): monotonic, a drop is a reset;
 * - `delta`: each point is the increase of its own interval (OpenTelemetry's delta temporality, and
 *   what Homeostat writes for tokens, errors and cost of each call); the increase over a window is
 *   the sum of its points;
 * - `gauge`: a value at a time.
 * Names Homeostat writes itself have their kind here, in code; other names have the kind their
 * sender declared (an OTLP sum's temporality, a Prometheus text `# TYPE`, or the API), kept in
 * `metric_kinds`. A name nobody declared is `undefined`: rate functions then treat it as Prometheus
 * does, as a counter.
 */
import { inArray, sql } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { metricKinds } from '../../../db/schema/metrics.ts'
import { currentName } from './names.ts'

export const KINDS = ['counter', 'delta', 'gauge'] as const
export type Kind = (typeof KINDS)[number]

/** The kinds of the names Homeostat writes itself; a sender's declaration does not change them. */
export const BUILT_IN_KINDS: Readonly<Record<string, Kind>> = {
  up: 'gauge',
  check_duration_seconds: 'gauge',
  heartbeat_ping_seconds: 'gauge',
  llm_tokens_total: 'delta',
  llm_errors_total: 'delta',
  llm_cost_usd_total: 'delta',
  llm_latency_seconds: 'gauge',
  n8n_workflow_executions_total: 'counter',
  n8n_workflow_failures_total: 'counter',
  n8n_workflow_duration_seconds: 'gauge',
}

/** The kind of each name (old names by their new one), built-in first, then as declared. */
export async function kindsOf(db: Db, names: Iterable<string>): Promise<Map<string, Kind>> {
  const out = new Map<string, Kind>()
  const ask = new Map<string, string[]>() // stored current name → names asked
  for (const name of new Set(names)) {
    const current = currentName(name)
    const builtIn = BUILT_IN_KINDS[current]
    if (builtIn) out.set(name, builtIn)
    else ask.set(current, [...(ask.get(current) ?? []), name])
  }
  const wanted = [...ask.keys()]
  for (let i = 0; i < wanted.length; i += 500) {
    const rows = await db
      .select()
      .from(metricKinds)
      .where(inArray(metricKinds.name, wanted.slice(i, i + 500)))
    for (const r of rows) for (const n of ask.get(r.name) ?? []) out.set(n, r.kind)
  }
  return out
}

export const kindOf = async (db: Db, name: string) => (await kindsOf(db, [name])).get(name)

/**
 * Records declared kinds (name → kind) from `source` (`otlp`, `prometheus_text`, `api`). The last
 * declaration wins; built-in names are left alone. One statement, and only for what changed since
 * this recorder last wrote it, so ingest pays a map lookup per name per request.
 */
export function createKindRecorder(db: Db) {
  const known = new Map<string, Kind>()
  return async function declare(kinds: ReadonlyMap<string, Kind>, source: string, now = Date.now()) {
    const changed = [...kinds].filter(([name, kind]) => !BUILT_IN_KINDS[currentName(name)] && known.get(name) !== kind)
    if (!changed.length) return
    const rows = changed.map(([name, kind]) => ({ name: currentName(name), kind, source, updatedAt: now }))
    for (let i = 0; i < rows.length; i += 500)
      await db
        .insert(metricKinds)
        .values(rows.slice(i, i + 500))
        .onConflictDoUpdate({
          target: metricKinds.name,
          set: { kind: sql`excluded.kind`, source: sql`excluded.source`, updatedAt: sql`excluded.updated_at` },
        })
    for (const [name, kind] of changed) known.set(name, kind)
    if (known.size > 100_000) known.clear()
  }
}
export type KindRecorder = ReturnType<typeof createKindRecorder>
