/** Healing rules: trigger → action on a target, with cooldown, cap, approval, verification, rollback and notices. */
import { and, desc, eq, inArray, lt, type SQL } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import { healingRules, type HealingRule, type HealingTrigger } from '../../../../db/schema/healing.ts'
import { channels } from '../../../../db/schema/notify.ts'
import { isUniqueViolation } from '../../../lib/db-errors.ts'
import { conflict, notFound, type ErrorDetail } from '../../../lib/errors.ts'
import { newId } from '../../../lib/ids.ts'
import { page } from '../../../lib/pagination.ts'
import { toIso } from '../../../lib/time.ts'
import { actionDef } from '../actions/index.ts'
import {
  keepMaskedHeaders,
  maskHeaders,
  ruleHeadersOwner,
  sealedHeaderIssues,
  sealHeaders,
} from '../actions/headers.ts'
import { invalid } from '../orchestrator/enqueue.ts'
import type { RuleInput, RulePatchInput } from '../input.ts'
import { hasPlaceholder, templateIssues } from './template.ts'
import type { HealingCtx } from '../types.ts'

export const ruleJson = (r: HealingRule) => ({
  id: r.id,
  name: r.name,
  description: r.description,
  enabled: r.enabled,
  trigger: r.trigger,
  actionType: r.actionType,
  target: r.target,
  params: maskHeaders(r.params),
  mode: r.mode,
  requiresApproval: r.mode === 'requires_approval',
  cooldownMs: r.cooldownMs,
  maxPerHour: r.maxPerHour,
  priority: r.priority,
  maxAttempts: r.maxAttempts,
  approvalTtlMs: r.approvalTtlMs,
  verification: r.verification,
  rollbackOnFailure: r.rollbackOnFailure,
  notify: r.notify,
  createdAt: toIso(r.createdAt),
  updatedAt: toIso(r.updatedAt),
})

/** A rule row from input (not saved): the defaults of the schema. */
export function draftRule(input: RuleInput, now: number, id = newId(now)): HealingRule {
  return {
    id,
    name: input.name,
    description: input.description ?? '',
    enabled: input.enabled ?? true,
    trigger: input.trigger as HealingTrigger,
    actionType: input.actionType,
    target: input.target,
    params: input.params ?? {},
    mode: input.mode ?? (input.requiresApproval ? 'requires_approval' : 'automated'),
    cooldownMs: input.cooldownMs ?? 300_000,
    maxPerHour: input.maxPerHour ?? 6,
    priority: input.priority ?? 0,
    maxAttempts: input.maxAttempts ?? 3,
    approvalTtlMs: input.approvalTtlMs ?? 3_600_000,
    verification: input.verification ?? { type: 'none' },
    rollbackOnFailure: input.rollbackOnFailure ?? true,
    notify: input.notify ?? { channelIds: [], on: [] },
    createdAt: now,
    updatedAt: now,
  }
}

/**
 * Checks a rule as a whole: a known action type that can handle the trigger, params the type
 * accepts, and a target that exists (when it holds no `{{label}}` placeholder to fill later).
 */
export async function checkRule(deps: HealingCtx, r: HealingRule) {
  const issues: ErrorDetail[] = []
  const def = actionDef(r.actionType)
  if (!def) throw invalid([{ field: 'actionType', message: `unknown action type ${r.actionType}` }])
  if (!def.canHandle(r.trigger))
    issues.push({ field: 'actionType', message: `${r.actionType} cannot handle a ${r.trigger.type} trigger` })
  issues.push(...templateIssues(r))
  const templated = hasPlaceholder(r.params)
  const checked = templated ? undefined : def.validate(r.params)
  if (checked && !checked.ok) issues.push(...checked.issues)
  const star = r.actionType === 'model_failover' && r.target === '*'
  if (star && r.trigger.type !== 'breaker')
    issues.push({ field: 'target', message: '* (every route on the breaker) needs a breaker trigger' })
  if (!star && !hasPlaceholder(r.target) && checked?.ok && def.check) {
    const problem = await def.check(deps, r.target, checked.params)
    if (problem) issues.push(problem)
  }
  if (r.notify.channelIds.length) {
    const found = new Set(
      (await deps.db.select({ id: channels.id }).from(channels).where(inArray(channels.id, r.notify.channelIds))).map(
        (c) => c.id,
      ),
    )
    const missing = r.notify.channelIds.filter((id) => !found.has(id))
    if (missing.length) issues.push({ field: 'notify.channelIds', message: `no channel with id ${missing.join(', ')}` })
  }
  if (issues.length) throw invalid(issues)
}

const uniqueName = (error: unknown) => isUniqueViolation(error, 'healing_rules.name')

/** A header value a caller sends must be plain: only the server writes the sealed marker (400 naming it). */
function refuseSealedHeaders(params: unknown) {
  const issues = sealedHeaderIssues(params)
  if (issues.length) throw invalid(issues)
}

export async function createRule(deps: HealingCtx, input: RuleInput, now: number) {
  const draft = draftRule(input, now)
  refuseSealedHeaders(draft.params)
  await checkRule(deps, draft)
  const row = { ...draft, params: sealHeaders(deps.sealer, draft.params, ruleHeadersOwner(draft.id)) }
  try {
    await deps.db.insert(healingRules).values(row)
  } catch (error) {
    if (uniqueName(error)) throw conflict(`A healing rule named ${row.name} already exists`)
    throw error
  }
  return row
}

export async function getRule(db: Db, id: string) {
  const [row] = await db.select().from(healingRules).where(eq(healingRules.id, id))
  if (!row) throw notFound('Healing rule')
  return row
}

export async function listRules(db: Db, q: { enabled?: boolean; actionType?: string; limit: number; cursor?: string }) {
  const where: SQL[] = []
  if (q.enabled !== undefined) where.push(eq(healingRules.enabled, q.enabled))
  if (q.actionType) where.push(eq(healingRules.actionType, q.actionType))
  if (q.cursor) where.push(lt(healingRules.id, q.cursor))
  const rows = await db
    .select()
    .from(healingRules)
    .where(and(...where))
    .orderBy(desc(healingRules.id))
    .limit(q.limit + 1)
  return page(rows, q.limit, (r) => r.id)
}

export async function updateRule(deps: HealingCtx, before: HealingRule, patch: RulePatchInput, now: number) {
  const merged: RuleInput = {
    ...ruleInputOf(before),
    ...Object.fromEntries(Object.entries(patch).filter(([, x]) => x !== undefined)),
  } as RuleInput
  if (patch.requiresApproval !== undefined && patch.mode === undefined)
    merged.mode = patch.requiresApproval ? 'requires_approval' : 'automated'
  if (patch.params) {
    // Checked before the stored values are merged back: those are the only sealed values a rule takes.
    refuseSealedHeaders(patch.params)
    const kept = keepMaskedHeaders(before.params, patch.params)
    if ('moved' in kept)
      throw invalid(
        kept.moved.map((h) => ({ field: `params.headers.${h}`, message: 'must be given again when the url changes' })),
      )
    merged.params = kept.params
  }
  const draft = { ...draftRule(merged, before.createdAt, before.id), updatedAt: now }
  await checkRule(deps, draft)
  const next = { ...draft, params: sealHeaders(deps.sealer, draft.params, ruleHeadersOwner(before.id)) }
  try {
    const [row] = await deps.db.update(healingRules).set(next).where(eq(healingRules.id, before.id)).returning()
    return row!
  } catch (error) {
    if (uniqueName(error)) throw conflict(`A healing rule named ${next.name} already exists`)
    throw error
  }
}

const ruleInputOf = (r: HealingRule): RuleInput => ({
  name: r.name,
  description: r.description,
  enabled: r.enabled,
  trigger: r.trigger as RuleInput['trigger'],
  actionType: r.actionType,
  target: r.target,
  params: r.params,
  mode: r.mode,
  cooldownMs: r.cooldownMs,
  maxPerHour: r.maxPerHour,
  priority: r.priority,
  maxAttempts: r.maxAttempts,
  approvalTtlMs: r.approvalTtlMs,
  verification: r.verification as RuleInput['verification'],
  rollbackOnFailure: r.rollbackOnFailure,
  notify: r.notify,
})

export async function setRuleEnabled(db: Db, id: string, enabled: boolean, now: number) {
  const [row] = await db
    .update(healingRules)
    .set({ enabled, updatedAt: now })
    .where(eq(healingRules.id, id))
    .returning()
  if (!row) throw notFound('Healing rule')
  return row
}

export const deleteRule = (db: Db, id: string) => db.delete(healingRules).where(eq(healingRules.id, id))
