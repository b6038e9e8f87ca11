/** Stored run policies (scope `default` or `label:<name>=<value>`) and the class rules' CRUD. */
import { asc, eq } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { type RunClassRule, runClassRules, type RunPolicy, runPolicies } from '../../../db/schema/runs.ts'
import { notFound } from '../../lib/errors.ts'
import { newId } from '../../lib/ids.ts'
import { toIso } from '../../lib/time.ts'
import type { ClassRuleInput } from './input.ts'

export const listPolicies = (db: Db) => db.select().from(runPolicies).orderBy(asc(runPolicies.scope))

export async function loadPolicies(db: Db) {
  return new Map((await listPolicies(db)).map((p) => [p.scope, p.policy]))
}

export async function setPolicy(db: Db, scope: string, policy: RunPolicy, by: string, now: number) {
  const row = { scope, policy, updatedBy: by, updatedAt: now }
  await db.insert(runPolicies).values(row).onConflictDoUpdate({ target: runPolicies.scope, set: row })
  return row
}

export async function deletePolicy(db: Db, scope: string) {
  const gone = await db.delete(runPolicies).where(eq(runPolicies.scope, scope)).returning()
  if (!gone.length) throw notFound('Run policy')
}

export const policyJson = (p: typeof runPolicies.$inferSelect) => ({
  scope: p.scope,
  policy: p.policy,
  updatedBy: p.updatedBy,
  updatedAt: toIso(p.updatedAt),
})

export const listClassRules = (db: Db) =>
  db.select().from(runClassRules).orderBy(asc(runClassRules.position), asc(runClassRules.id))

export async function createClassRule(db: Db, input: ClassRuleInput, now: number) {
  const row = {
    id: newId(now),
    name: input.name,
    pattern: input.pattern ?? null,
    role: input.role ?? null,
    attribute: input.attribute ?? null,
    attributeValue: input.attributeValue ?? null,
    class: input.class,
    position: input.position ?? 0,
    enabled: input.enabled ?? true,
    createdAt: now,
    updatedAt: now,
  }
  await db.insert(runClassRules).values(row)
  return row as RunClassRule
}

export async function deleteClassRule(db: Db, id: string) {
  const gone = await db.delete(runClassRules).where(eq(runClassRules.id, id)).returning()
  if (!gone.length) throw notFound('Classification rule')
  return gone[0]!
}

export const classRuleJson = (r: RunClassRule) => ({
  ...r,
  createdAt: toIso(r.createdAt),
  updatedAt: toIso(r.updatedAt),
})
