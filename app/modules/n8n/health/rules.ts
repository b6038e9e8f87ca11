/** Users' failure-class rules: kept in order (position, then age); the poll compiles the enabled ones. */
import { asc, eq } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import { type N8nFailureRule, n8nFailureRules } from '../../../../db/schema/n8n.ts'
import { badRequest, notFound } from '../../../lib/errors.ts'
import { newId } from '../../../lib/ids.ts'
import { toIso } from '../../../lib/time.ts'
import type { RuleInput, RulePatchInput } from './input.ts'

export const ruleJson = (r: N8nFailureRule) => ({
  id: r.id,
  name: r.name,
  position: r.position,
  pattern: r.pattern,
  nodeType: r.nodeType,
  httpStatus: r.httpStatus,
  class: r.failureClass,
  enabled: r.enabled,
  createdAt: toIso(r.createdAt),
  updatedAt: toIso(r.updatedAt),
})

export const listRules = (db: Db) =>
  db.select().from(n8nFailureRules).orderBy(asc(n8nFailureRules.position), asc(n8nFailureRules.createdAt))

export async function getRule(db: Db, id: string) {
  const [row] = await db.select().from(n8nFailureRules).where(eq(n8nFailureRules.id, id))
  if (!row) throw notFound('Failure rule')
  return row
}

export async function createRule(db: Db, input: RuleInput, now: number) {
  const row: N8nFailureRule = {
    id: newId(now),
    name: input.name,
    position: input.position ?? 0,
    pattern: input.pattern ?? null,
    nodeType: input.nodeType ?? null,
    httpStatus: input.httpStatus ?? null,
    failureClass: input.class,
    enabled: input.enabled ?? true,
    createdAt: now,
    updatedAt: now,
  }
  await db.insert(n8nFailureRules).values(row)
  return row
}

export async function updateRule(db: Db, id: string, patch: RulePatchInput, now: number) {
  const before = await getRule(db, id)
  const after: N8nFailureRule = {
    ...before,
    ...(patch.name !== undefined ? { name: patch.name } : {}),
    ...(patch.pattern !== undefined ? { pattern: patch.pattern } : {}),
    ...(patch.nodeType !== undefined ? { nodeType: patch.nodeType } : {}),
    ...(patch.httpStatus !== undefined ? { httpStatus: patch.httpStatus } : {}),
    ...(patch.class !== undefined ? { failureClass: patch.class } : {}),
    ...(patch.position !== undefined ? { position: patch.position } : {}),
    ...(patch.enabled !== undefined ? { enabled: patch.enabled } : {}),
    updatedAt: now,
  }
  if (!after.pattern && !after.nodeType && after.httpStatus === null)
    throw badRequest('A rule needs at least one condition', [
      { field: 'pattern', message: 'give at least one of pattern, nodeType, httpStatus' },
    ])
  const { id: _, ...set } = after
  await db.update(n8nFailureRules).set(set).where(eq(n8nFailureRules.id, id))
  return after
}

export async function deleteRule(db: Db, id: string) {
  const row = await getRule(db, id)
  await db.delete(n8nFailureRules).where(eq(n8nFailureRules.id, id))
  return row
}
