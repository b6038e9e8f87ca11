/**
 * The shape of mix.json, shared by the k6 scripts (tests/load/fleet-mix.ts) and the Node side (the
 * bench and the suite, tests/helpers/fleet.ts). It imports nothing, so both k6's type check
 * (tests/load/tsconfig.json, no Node) and Node's can read it; the k6 files import `k6/*`, which
 * Node cannot.
 */

/** The scenarios mix.json defines (issue 24): a steady rate, a spike and back, an hour's soak. */
export type ScenarioName = 'sustained' | 'spike' | 'soak'
export const SCENARIO_NAMES: readonly ScenarioName[] = ['sustained', 'spike', 'soak']

/** A rate held (or, with `ramp`, reached linearly) for `seconds`. */
export type Stage = { rate: number; seconds: number; ramp?: boolean }
/** One form of a scenario: `full` for the record, `short` for CI time. */
export type ScenarioForm = { stages: Stage[]; warmupSeconds?: number }

export type Mix = {
  fleet: {
    pushComponents: number
    heartbeatSeconds: number
    ingestKeys: number
    readerKeys: number
    n8nKeys: number
    users: number
    batchPoints: number
    n8nPoints: number
    alertsPerPost: number
    alertLabelSets: number
    metricSeries: number
    modelRoutes: string[]
    prompts: string[]
  }
  kinds: { id: string; weight: number; api: boolean; what: string }[]
  thresholds: { errorRate: number; apiP95Ms: number; apiP99Ms: number; soakRssGrowthMb: number }
  scenarios: Record<ScenarioName, { full: ScenarioForm; short: ScenarioForm }>
}

/** Whether a name (an environment variable's value) is one of the scenarios. */
export const isScenario = (name: string): name is ScenarioName => (SCENARIO_NAMES as readonly string[]).includes(name)
