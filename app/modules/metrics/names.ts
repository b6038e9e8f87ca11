/**
 * Metric names renamed in 0.2 to Prometheus' conventions (base units, counters `…_total`), and the
 * alias that keeps each old name readable for one release (docs/metrics.md#renamed-metrics, ADR 0011).
 * Nothing stored is rewritten: a read of either name covers the series stored under both, each
 * series' values turned into the unit of the name asked for. So points written before the upgrade,
 * agents still pushing the old name, and rules and dashboards written against it all meet.
 */
export type Renamed = {
  /** The name before 0.2. */
  old: string
  /** The name Homeostat writes now. */
  name: string
  /** A value under `old` times this is the value under `name` (ms → s: 0.001). */
  scale: number
}

export const RENAMED: readonly Renamed[] = [
  { old: 'llm_latency_ms', name: 'llm_latency_seconds', scale: 0.001 },
  { old: 'llm_cost_usd', name: 'llm_cost_usd_total', scale: 1 },
  { old: 'latency_ms', name: 'check_duration_seconds', scale: 0.001 },
  { old: 'ping_ms', name: 'heartbeat_ping_seconds', scale: 0.001 },
]

const byOld = new Map(RENAMED.map((r) => [r.old, r]))
const byNew = new Map(RENAMED.map((r) => [r.name, r]))

/** A stored name a read covers, with the factor that turns its values into the unit read. */
export type StoredName = { name: string; scale: number }

/** The stored names a read of `name` covers: itself, and its old or new name when it was renamed. */
export function storedNames(name: string): StoredName[] {
  const renamed = byNew.get(name)
  if (renamed)
    return [
      { name, scale: 1 },
      { name: renamed.old, scale: renamed.scale },
    ]
  const old = byOld.get(name)
  if (old)
    return [
      { name, scale: 1 },
      { name: old.name, scale: 1 / old.scale },
    ]
  return [{ name, scale: 1 }]
}

/** The name Homeostat writes for `name` (itself unless it is an old name). */
export const currentName = (name: string) => byOld.get(name)?.name ?? name

/** Both names of every renamed metric that `names` holds either of (for the rules watching a write). */
export function withAliases(names: Iterable<string>) {
  const out = new Set(names)
  for (const n of [...out]) for (const s of storedNames(n)) out.add(s.name)
  return out
}
