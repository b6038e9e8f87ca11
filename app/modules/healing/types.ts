/**
 * The shapes every healing action type shares. An action type is one file in `actions/` that
 * exports an `ActionDef`; `actions/index.ts` lists them. The orchestrator only ever talks to this
 * interface, so a new type (as `prompt_rollback`) is one file plus one line.
 */
import type * as v from 'valibot'
import type { Config } from '../../config.ts'
import type { Db } from '../../../db/client.ts'
import type { HealingAction, HealingTrigger, HealingTriggerRef } from '../../../db/schema/healing.ts'
import type { Sealer } from '../../lib/crypto.ts'
import type { ErrorDetail } from '../../lib/errors.ts'
import type { Logger } from '../../lib/logger.ts'
import type { OutboundPolicy } from '../../lib/outbound.ts'
import type { AlertsService } from '../alerts/index.ts'
import type { Breakers } from './breakers/breakers.ts'
import type { AllowedCommand } from './actions/commands.ts'
import type { ModelRoutes } from './model-routes/model-routes.ts'

/** What the healing module needs from the app. */
export type HealingDeps = {
  db: Db
  sealer: Sealer
  config: Pick<Config, 'PUBLIC_URL' | 'HEALING_COMMANDS_FILE'>
  log?: Logger
  /** Webhook and n8n actions, model-route probes and HTTP verifications call out under this policy. */
  outbound: OutboundPolicy
  /** The alerts service that failed actions raise their alert through (and resolve it). */
  alerts: Pick<AlertsService, 'report'>
  /** The notification outbox's sender (notify's notifier): asked to send a queued notice soon. */
  delivery: { kick(): void }
  /**
   * The backups module's workflow rollback, for `workflow_rollback`. Passed in by the composition
   * root: backups imports healing (its n8n instances), so healing cannot import backups.
   */
  rollbackWorkflow: WorkflowRollback
  /** The n8n module's capped retry of failed executions (the `n8n_retry` action); absent: that type fails. */
  n8nRetry?: N8nRetryPort
  /**
   * The registry's alias resolver: a route target whose model is `alias:<model>/<alias>` is answered
   * with the version the alias points at now (null: not an alias, or no such alias). Passed in by the
   * composition root, as healing cannot import the registry.
   */
  resolveModel?: (model: string) => Promise<string | null>
  /** The registry's alias mover, for `model_alias` (absent: that type fails). Passed in like `rollbackWorkflow`. */
  moveModelAlias?: ModelAliasPort
  /** The registry's prompt labels and scores (the `prompt_rollback` action); absent: that type fails. */
  prompts?: PromptRollbackPort
  /** Told the ids of actions just created or moved (the live feed: open healing pages refresh). */
  changed?: (actionIds: string[]) => void
}

/**
 * What the `prompt_rollback` action asks of the registry module, passed in by the composition
 * root (healing cannot import the registry).
 */
export type PromptRollbackPort = {
  /** The version a label points at now; undefined when the prompt or label does not exist. */
  labelVersion(prompt: string, label: string): Promise<number | undefined>
  /** Moves the label to `to` (a version, or the highest one below the current); null when already there. */
  rollback(
    prompt: string,
    label: string,
    to: number | 'previous',
    opts: { actor: string; reason: string; now: number },
  ): Promise<{ from: number | null; to: number } | null>
  /** Mean and count of `prompt_score{prompt, version}` in [from, to). */
  score(prompt: string, version: number, from: number, to: number): Promise<{ avg: number | null; count: number }>
}

/**
 * What the `model_alias` action asks of the registry: point `<model>/<alias>` at a version, or at
 * `previous` (the version before the one it points at now, as the version records it). Throws an
 * error with a `status` (404 no such model, alias or version; 409 nothing before) that retrying cannot fix.
 */
export type ModelAliasPort = {
  move(
    ref: { modelId: string; alias: string },
    to: string | 'previous',
    actor: string,
    reason: string,
  ): Promise<{ from: string | null; to: string }>
}

/**
 * What the `n8n_retry` action asks of the n8n module, which owns executions, their classes and the
 * retry history. The composition root passes it in: healing cannot import the n8n module (that
 * module uses healing's n8n instances), so the shape is declared here and the n8n module fits it.
 */
export type N8nRetryPort = { retry(request: N8nRetryRequest): Promise<N8nRetryResult> }
export type N8nRetryRequest = {
  /** The n8n instance's name (the action's target). */
  instance: string
  executionId: string
  /** Failure classes this rule retries (each also one n8n retries at all). */
  classes: readonly string[]
  maxPerExecution: number
  maxPerWorkflowPerHour: number
  actionId: string
  now: number
}
/**
 * `succeeded`: the retry ran clean. `failed` with `again`: it failed in a class worth another try
 * (the action backs off and tries again). `gave_up` / `refused`: stop and escalate (`again` false).
 */
export type N8nRetryResult = {
  outcome: 'succeeded' | 'failed' | 'gave_up' | 'refused'
  again: boolean
  message: string
  detail: Record<string, unknown>
}

/** The current version of a workflow as a rollback's guard sees it (backups' RollbackHead). */
export type WorkflowHead = { version: number; kind: string; restoredVersion: number | null; changedAt: number }

/** What a workflow rollback answers: done (`restored`, `replaced`), or called off by the guard (`skipped`). */
export type WorkflowRollbackResult = {
  instance: string
  workflowId: string
  version: number
  restored?: number
  replaced?: number
  skipped?: string
  active?: boolean
}

export type WorkflowRollback = (
  instanceId: string,
  workflowId: string,
  input: { to: number | 'previous'; guard?: (head: WorkflowHead) => string | null },
  actor: string,
  now: number,
) => Promise<WorkflowRollbackResult>

/**
 * What the orchestrator, actions, routes and pages work with: the app's deps plus the state the
 * healing service makes once (see service.ts).
 */
export type HealingCtx = HealingDeps & {
  /** The breakers' writers, with this process's per-key report queues. */
  breakers: Breakers
  /** The model routes' cached answer and the writes that invalidate it. */
  modelRoutes: ModelRoutes
  /** The allow-list of HEALING_COMMANDS_FILE, read again when the file changes. */
  commands: () => Record<string, AllowedCommand> | null
  /** Runs a healing tick now rather than at the next second; never throws (built at the root from the scheduler). */
  kick: () => void
}

/** What execute/verify/rollback get: the action row, its checked params, and a clock. */
export type ActionCtx<P> = {
  deps: HealingCtx
  action: HealingAction
  params: P
  target: string
  now: () => number
  /** Output of execute (for rollback and verify). */
  result?: Record<string, unknown>
}

/** An action that failed; `retryable: false` fails it at once instead of retrying. */
export class ActionError extends Error {
  constructor(
    message: string,
    readonly retryable = true,
    readonly output: Record<string, unknown> = {},
  ) {
    super(message)
    this.name = 'ActionError'
  }
}

export type Validated<P> = { ok: true; params: P } | { ok: false; issues: ErrorDetail[] }

export type ActionDef<P = Record<string, unknown>> = {
  type: string
  /** One line for the API and the dashboard. */
  describe: string
  /** What `target` names for this type (shown in docs and errors). */
  targetIs: string
  paramsSchema: v.GenericSchema<unknown, P>
  validate(params: unknown): Validated<P>
  /** What makes the target or params unusable (does not exist, not allowed), naming the field; undefined when fine. */
  check?(deps: HealingCtx, target: string, params: P): Promise<ErrorDetail | undefined>
  /** Whether a rule with this trigger may use the type. */
  canHandle(trigger: HealingTrigger | HealingTriggerRef): boolean
  /** The side effect. Throws ActionError (or anything) on failure. */
  execute(ctx: ActionCtx<P>): Promise<Record<string, unknown>>
  /** A type's own check after execute, on top of the rule's verification. */
  verify?(ctx: ActionCtx<P>): Promise<{ ok: boolean; detail?: Record<string, unknown> }>
  /**
   * The wait before attempt `attempt + 1` (0: before the first), when the type has its own schedule
   * (n8n_retry: 5 s, 15 s, 30 s); otherwise the first attempt runs at once and retries back off 2 s, 4 s, 8 s…
   */
  backoffMs?(attempt: number): number
  /** Undoes execute after a failed verification. */
  rollback?(ctx: ActionCtx<P>): Promise<Record<string, unknown>>
}
