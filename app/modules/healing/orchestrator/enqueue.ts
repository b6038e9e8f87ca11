/**
 * Creating healing actions: from a rule's trigger (with its cooldown and hourly cap per rule and
 * target, `{{label}}` templates filled, approval when the rule asks for it) or by hand through the
 * API (idempotent by key). Every creation is one batch: the action row and its first timeline entry.
 */
import {
  actionHeadersOwner,
  maskHeaders,
  openHeaders,
  ruleHeadersOwner,
  sealedHeaderIssues,
  sealHeaders,
} from '../actions/headers.ts'
import { and, desc, eq, gte, sql } from 'drizzle-orm'
import {
  type HealingAction,
  type HealingRule,
  type HealingTriggerRef,
  type HealingVerification,
  type HealingNotify,
  healingActions,
} from '../../../../db/schema/healing.ts'
import { isUniqueViolation } from '../../../lib/db-errors.ts'
import { AppError, type ErrorDetail } from '../../../lib/errors.ts'
import { newId } from '../../../lib/ids.ts'
import { actionDef } from '../actions/index.ts'
import { routesOnBreaker } from '../model-routes/model-routes.ts'
import { noticeAlert, queueNotice } from '../notices.ts'
import { eventRow, type Batch, type Plan } from './store.ts'
import { fillText, renderTemplates } from '../rules/template.ts'
import type { HealingCtx } from '../types.ts'

const HOUR = 3_600_000

export type NewAction = {
  rule?: HealingRule
  actionType: string
  target: string
  params: Record<string, unknown>
  trigger: HealingTriggerRef
  requestedBy: string
  priority?: number
  maxAttempts?: number
  dryRun?: boolean
  idempotencyKey?: string
  approval?: { ttlMs: number }
  verification?: HealingVerification
  rollbackOnFailure?: boolean
  notify?: HealingNotify
  /** Why the rule's templates could not be filled for this trigger: the action fails with it. */
  templateIssues?: ErrorDetail[]
}

export type Created = { action: HealingAction; created: boolean }

/** Checks type, params and target; every problem names its field (the routes answer 400 with them). */
export async function checkAction(
  deps: HealingCtx,
  actionType: string,
  target: string,
  params: unknown,
): Promise<{ params: Record<string, unknown> } | { issues: ErrorDetail[] }> {
  const def = actionDef(actionType)
  if (!def) return { issues: [{ field: 'actionType', message: `unknown action type ${actionType}` }] }
  // Values here come in the clear (from a caller, or a rule's opened and filled params): one that
  // already carries the sealed marker is refused, never stored as it is and opened later.
  const sealed = sealedHeaderIssues(params)
  if (sealed.length) return { issues: sealed }
  const v = def.validate(params)
  if (!v.ok) return { issues: v.issues }
  const problem = await def.check?.(deps, target, v.params)
  // Plain still: createAction seals header values for the action's own row before anything stores them.
  return problem ? { issues: [problem] } : { params: v.params as Record<string, unknown> }
}

export const invalid = (issues: ErrorDetail[]) =>
  new AppError(400, 'invalid_input', issues.map((i) => `${i.field}: ${i.message}`).join('; '), issues)

const uniqueKey = (error: unknown) => isUniqueViolation(error, 'healing_actions.idempotency_key')

/** Why a rule's run on a target is suppressed now (cooldown, hourly cap), from its recent actions. */
async function suppression(deps: HealingCtx, rule: HealingRule, target: string, now: number): Promise<string | null> {
  const since = now - Math.max(HOUR, rule.cooldownMs)
  const [r] = await deps.db
    .select({
      lastRun: sql<
        number | null
      >`max(case when ${healingActions.status} != 'SKIPPED' then ${healingActions.createdAt} end)`,
      inHour: sql<number>`coalesce(sum(case when ${healingActions.status} != 'SKIPPED' and ${healingActions.createdAt} > ${now - HOUR} then 1 else 0 end), 0)`,
    })
    .from(healingActions)
    .where(
      and(eq(healingActions.ruleId, rule.id), eq(healingActions.target, target), gte(healingActions.createdAt, since)),
    )
  if (r?.lastRun != null && now - r.lastRun < rule.cooldownMs) return 'cooldown'
  if ((r?.inHour ?? 0) >= rule.maxPerHour) return 'hourly cap'
  return null
}

/** Records a suppressed run: a SKIPPED row, or one more on the newest row when it is the same suppression still going on. */
async function skip(deps: HealingCtx, base: HealingAction, reason: string, now: number): Promise<Created> {
  const { db } = deps
  const [last] = await db
    .select()
    .from(healingActions)
    .where(and(eq(healingActions.ruleId, base.ruleId!), eq(healingActions.target, base.target)))
    .orderBy(desc(healingActions.createdAt))
    .limit(1)
  if (last && last.status === 'SKIPPED' && last.reason === reason) {
    const suppressed = Number(last.output.suppressed ?? 1) + 1
    const [row] = await db
      .update(healingActions)
      .set({ output: { ...last.output, suppressed, lastTrigger: base.trigger }, updatedAt: now })
      .where(eq(healingActions.id, last.id))
      .returning()
    return { action: row ?? last, created: false }
  }
  const row: HealingAction = {
    ...base,
    status: 'SKIPPED',
    reason,
    finishedAt: now,
    output: { ...base.output, suppressed: 1 },
  }
  await db.batch([
    db.insert(healingActions).values(row),
    eventRow(db, row.id, now, 'SKIPPED', 'healing', `suppressed: ${reason}`, { trigger: base.trigger.summary }),
  ])
  return { action: row, created: true }
}

/** The targets a rule's trigger resolves to (templates filled; `*` expanded for model_failover on a breaker). */
export async function targetsFor(deps: HealingCtx, rule: HealingRule, ref: HealingTriggerRef): Promise<string[]> {
  const labels = ref.labels ?? {}
  const target = fillText(rule.target, labels)
  if (rule.actionType === 'model_failover' && target === '*' && ref.type === 'breaker' && labels.key)
    return routesOnBreaker(deps.db, labels.key)
  return [target]
}

/** Runs of a rule for one trigger: one action per target, each subject to cooldown and caps. */
export async function enqueueFromRule(
  deps: HealingCtx,
  rule: HealingRule,
  ref: HealingTriggerRef,
  now: number,
): Promise<Created[]> {
  const out: Created[] = []
  for (const target of await targetsFor(deps, rule, ref)) {
    // Opened to fill placeholders in header values too; createAction seals them again for the action.
    const opened = openHeaders(deps.sealer, rule.params, ruleHeadersOwner(rule.id))
    const filled =
      'issues' in opened ? opened : renderTemplates(rule.actionType, opened.params, rule.verification, ref.labels ?? {})
    const { params, verification } =
      'issues' in filled
        ? { params: 'issues' in opened ? maskHeaders(rule.params) : opened.params, verification: rule.verification }
        : filled
    out.push(
      await createAction(
        deps,
        {
          rule,
          actionType: rule.actionType,
          target,
          params,
          trigger: ref,
          requestedBy: `rule:${rule.name}`,
          priority: rule.priority,
          maxAttempts: rule.maxAttempts,
          approval: rule.mode === 'requires_approval' ? { ttlMs: rule.approvalTtlMs } : undefined,
          verification,
          ...('issues' in filled ? { templateIssues: filled.issues } : {}),
          rollbackOnFailure: rule.rollbackOnFailure,
          notify: rule.notify,
        },
        now,
      ),
    )
  }
  return out
}

/**
 * Creates one action. A rule's run is checked against its cooldown and cap first (SKIPPED when
 * suppressed); params and target are checked (a rule whose filled-in template is bad gives a
 * FAILED action with the reason; a manual request with bad input never gets here — the route
 * answers 400). A request with an idempotency key that was seen returns the action it made.
 */
/** Creates an action (queued, waiting for approval, skipped or failed at once) and announces it to the live feed. */
export async function createAction(deps: HealingCtx, input: NewAction, now: number): Promise<Created> {
  const made = await insertAction(deps, input, now)
  if (made.created) deps.changed?.([made.action.id])
  return made
}

async function insertAction(deps: HealingCtx, input: NewAction, now: number): Promise<Created> {
  const { db } = deps
  const plan: Plan = {
    verification: input.verification ?? { type: 'none' },
    rollbackOnFailure: input.rollbackOnFailure ?? true,
    notify: input.notify ?? { channelIds: [], on: [] },
  }
  const id = newId(now)
  // Header values are secrets at rest in every row written below (queued, skipped or failed), bound to this action.
  const seal = (params: Record<string, unknown>) => sealHeaders(deps.sealer, params, actionHeadersOwner(id))
  const base: HealingAction = {
    id,
    ruleId: input.rule?.id ?? null,
    trigger: input.trigger,
    actionType: input.actionType,
    target: input.target,
    params: seal(input.params),
    status: 'PENDING',
    reason: null,
    priority: input.priority ?? 0,
    dryRun: input.dryRun ?? false,
    attempt: 0,
    maxAttempts: input.maxAttempts ?? 3,
    // A type with its own schedule waits before its first attempt too (n8n_retry: 5 s after the failure).
    runAfter: now + (actionDef(input.actionType)?.backoffMs?.(0) ?? 0),
    requestedBy: input.requestedBy,
    decidedBy: null,
    decidedAt: null,
    approvalExpiresAt: null,
    idempotencyKey: input.idempotencyKey ?? null,
    createdAt: now,
    startedAt: null,
    verifyAt: null,
    finishedAt: null,
    output: { plan },
    error: null,
    updatedAt: now,
  }
  if (input.idempotencyKey) {
    const [seen] = await db.select().from(healingActions).where(eq(healingActions.idempotencyKey, input.idempotencyKey))
    if (seen) return { action: seen, created: false }
  }
  if (input.rule) {
    const why = await suppression(deps, input.rule, input.target, now)
    if (why) return skip(deps, base, why, now)
    const checked = input.templateIssues
      ? { issues: input.templateIssues }
      : await checkAction(deps, input.actionType, input.target, input.params)
    if ('issues' in checked) {
      const reason = `bad action after filling templates: ${checked.issues.map((i) => `${i.field} ${i.message}`).join('; ')}`
      const row: HealingAction = { ...base, status: 'FAILED', reason, error: reason, finishedAt: now }
      await db.batch([
        db.insert(healingActions).values(row),
        eventRow(db, row.id, now, 'FAILED', 'healing', reason, { trigger: input.trigger.summary }),
      ])
      return { action: row, created: true }
    }
    base.params = seal(checked.params)
  }
  const row: HealingAction =
    input.approval && !base.dryRun
      ? { ...base, status: 'PENDING_APPROVAL', approvalExpiresAt: now + input.approval.ttlMs }
      : base
  const message =
    row.status === 'PENDING_APPROVAL'
      ? `waiting for approval until ${new Date(row.approvalExpiresAt!).toISOString()}`
      : `queued${row.dryRun ? ' (dry run)' : ''}`
  const statements: Batch = [
    db.insert(healingActions).values(row),
    eventRow(db, row.id, now, row.status, input.requestedBy, message, {
      trigger: input.trigger.summary,
      ...(input.trigger.labels ? { labels: input.trigger.labels } : {}),
    }),
  ]
  try {
    await db.batch(statements)
  } catch (error) {
    if (input.idempotencyKey && uniqueKey(error)) {
      const [seen] = await db
        .select()
        .from(healingActions)
        .where(eq(healingActions.idempotencyKey, input.idempotencyKey))
      if (seen) return { action: seen, created: false }
    }
    throw error
  }
  if (row.status === 'PENDING_APPROVAL' && plan.notify.on.includes('approval')) {
    await queueNotice(
      deps,
      plan.notify.channelIds,
      noticeAlert(row, 'approval', deps.config.PUBLIC_URL, now),
      'approval',
      now,
    )
  }
  return { action: row, created: true }
}
