/**
 * Run policies (docs/runs.md#policy) and the decision a failure gets. The built-in defaults are
 * overridden by the stored `default`, then by the stored policies of the run's labels (in label
 * name order), then by the run's own; routes merge per class. `decide` is pure: the failure route
 * calls it with what it read, so the same inputs always answer the same decision.
 */
import type { PolicyRoute, Run, RunFailureClass, RunPolicy, RunTask } from '../../../db/schema/runs.ts'

export type EffectivePolicy = Required<Omit<RunPolicy, 'routes'>> & {
  routes: Record<RunFailureClass, PolicyRoute>
}

export const DEFAULT_POLICY: EffectivePolicy = {
  maxAttempts: 3,
  maxDepth: 2,
  // The plan Homeostat answers targets at most $1 per workflow run.
  budgetCostUsd: 1,
  budgetDurationMs: 3_600_000,
  stuckFactor: 3,
  stalledMinutes: 15,
  routes: {
    syntax: { action: 'retry', role: 'coder' },
    test_failure: { action: 'branch', role: 'debugger' },
    runtime_error: { action: 'branch', role: 'debugger' },
    timeout: { action: 'retry', delayMs: 5_000 },
    dependency: { action: 'retry', role: 'coder' },
    rate_limit: { action: 'retry', delayMs: 30_000 },
    // A model's 5xx, refusal or context overflow: retry after a pause (time for a model route to fail over).
    model_error: { action: 'retry', delayMs: 10_000 },
    tool_error: { action: 'retry', delayMs: 2_000 },
    bad_output: { action: 'retry' },
    budget: { action: 'escalate' },
    unknown: { action: 'retry' },
  },
}

/** Merges partial policies over the defaults, in order (later wins); routes merge per class. */
export function mergePolicies(...layers: (RunPolicy | null | undefined)[]): EffectivePolicy {
  const out: EffectivePolicy = { ...DEFAULT_POLICY, routes: { ...DEFAULT_POLICY.routes } }
  for (const layer of layers) {
    if (!layer) continue
    const { routes, ...rest } = layer
    for (const [k, value] of Object.entries(rest)) if (value !== undefined) (out as Record<string, unknown>)[k] = value
    if (routes) Object.assign(out.routes, routes)
  }
  return out
}

export const labelScope = (name: string, value: string) => `label:${name}=${value}`

/** The stored layers that apply to a run: `default`, then its labels' in name order, then its own. */
export function policyFor(stored: Map<string, RunPolicy>, run: Pick<Run, 'labels' | 'policy'> | undefined) {
  const labels = Object.entries(run?.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
  return mergePolicies(stored.get('default'), ...labels.map(([n, v]) => stored.get(labelScope(n, v))), run?.policy)
}

export type Decision =
  | { action: 'retry'; class: RunFailureClass; attempt: number; role: string | null; delayMs: number; reason: string }
  | {
      action: 'branch'
      class: RunFailureClass
      attempt: number
      reason: string
      task: { id: string; role: string; depth: number; branchOf: string }
    }
  | { action: 'escalate'; class: RunFailureClass; attempt: number; reason: string }

export type DecideInput = {
  policy: EffectivePolicy
  cls: RunFailureClass
  attempt: number
  task: Pick<RunTask, 'id' | 'role' | 'depth'>
  run: Pick<Run, 'costUsd' | 'startedAt'>
  now: number
}

/** The id of the branch a failure makes: derived, so the same failure twice names the same task. */
export const branchId = (taskId: string, role: string, attempt: number) =>
  `${taskId}~${role}${attempt > 1 ? `-${attempt}` : ''}`.slice(0, 200)

/** What the orchestrator should do about a failed attempt (docs/runs.md#decisions). */
export function decide({ policy, cls, attempt, task, run, now }: DecideInput): Decision {
  const escalate = (reason: string): Decision => ({ action: 'escalate', class: cls, attempt, reason })
  if (cls === 'budget') return escalate('the task ran out of budget')
  if (run.costUsd >= policy.budgetCostUsd)
    return escalate(`the run cost $${run.costUsd.toFixed(4)}, its budget is $${policy.budgetCostUsd}`)
  if (now - run.startedAt >= policy.budgetDurationMs)
    return escalate(
      `the run has taken ${Math.round((now - run.startedAt) / 1000)} s, its budget is ${policy.budgetDurationMs / 1000} s`,
    )
  const route = policy.routes[cls]
  if (route.action === 'escalate') return escalate(`${cls} goes to a person by policy`)
  if (route.action === 'branch') {
    const role = route.role ?? 'debugger'
    if (task.depth + 1 > policy.maxDepth)
      return escalate(
        `${cls} would branch to ${role} at depth ${task.depth + 1}, beyond the maximum ${policy.maxDepth}`,
      )
    return {
      action: 'branch',
      class: cls,
      attempt,
      reason: `${cls} branches to ${role}`,
      task: { id: branchId(task.id, role, attempt), role, depth: task.depth + 1, branchOf: task.id },
    }
  }
  if (attempt >= policy.maxAttempts) return escalate(`attempt ${attempt} of ${policy.maxAttempts} failed (${cls})`)
  return {
    action: 'retry',
    class: cls,
    attempt: attempt + 1,
    role: route.role ?? task.role,
    delayMs: route.delayMs ?? 0,
    reason: `${cls}: retry (attempt ${attempt + 1} of ${policy.maxAttempts})`,
  }
}
