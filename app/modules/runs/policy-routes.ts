import { Hono } from 'hono'
import * as v from 'valibot'
import { type AppEnv, actor, type ModuleDeps } from '../../context.ts'
import { describe } from '../../lib/route-meta.ts'
import { validate } from '../../lib/validate.ts'
import { access } from '../../middleware/access.ts'
import { audit } from '../audit/index.ts'
import { ClassRuleBody, PolicyInput, PolicyScope, RunParam } from './input.ts'
import {
  classRuleJson,
  createClassRule,
  deletePolicy,
  deleteClassRule,
  listClassRules,
  listPolicies,
  policyJson,
  setPolicy,
} from './policies.ts'
import { DEFAULT_POLICY } from './policy.ts'
import { findRun } from './read.ts'
import type { Runs } from './service.ts'

/**
 * Run policies and classification rules (docs/runs.md#policy, #failure-classes). Viewers read;
 * operators change them, each change audited. A run's own policy is set with its run (PUT /runs/:id).
 */
export function runPolicyRoutes(deps: ModuleDeps & { runs: Runs }) {
  const { db, runs } = deps
  const app = new Hono<AppEnv>()
  const tags = ['runs']

  app.get(
    '/api/v1/run-policies',
    access('viewer'),
    describe('The built-in defaults and the stored run policies (default, per label)', tags),
    async (c) => c.json({ defaults: DEFAULT_POLICY, items: (await listPolicies(db)).map(policyJson) }),
  )

  app.put(
    '/api/v1/run-policies/:scope',
    access('operator'),
    describe('Set the policy of a scope: default or label:<name>=<value> (partial, merged over the defaults)', tags),
    validate('param', PolicyScope),
    validate('json', PolicyInput),
    async (c) => {
      const { scope } = c.req.valid('param')
      const at = runs.now()
      const row = await setPolicy(db, scope, c.req.valid('json'), actor(c), at)
      runs.invalidatePolicies()
      await audit(db, c, { action: 'run.policy.set', target: scope, summary: JSON.stringify(row.policy) }, at)
      return c.json(policyJson(row))
    },
  )

  app.delete(
    '/api/v1/run-policies/:scope',
    access('operator'),
    describe('Remove the stored policy of a scope (the defaults apply again)', tags),
    validate('param', PolicyScope),
    async (c) => {
      const { scope } = c.req.valid('param')
      await deletePolicy(db, scope)
      runs.invalidatePolicies()
      await audit(db, c, { action: 'run.policy.deleted', target: scope })
      return c.body(null, 204)
    },
  )

  app.get(
    '/api/v1/runs/:id/policy',
    access('viewer'),
    describe('The policy in force for a run (defaults, stored default, its labels’, its own)', tags),
    validate('param', RunParam),
    async (c) => c.json(await runs.policyOf(await findRun(db, c.req.valid('param').id))),
  )

  app.get(
    '/api/v1/run-class-rules',
    access('viewer'),
    describe('Users’ failure classification rules, in the order they are tried', tags),
    async (c) => c.json({ items: (await listClassRules(db)).map(classRuleJson) }),
  )

  app.post(
    '/api/v1/run-class-rules',
    access('operator'),
    describe('Add a classification rule {name, pattern (RE2) and/or attribute, role?, class, position?}', tags),
    validate('json', ClassRuleBody),
    async (c) => {
      const at = runs.now()
      const row = await createClassRule(db, c.req.valid('json'), at)
      runs.invalidateRules()
      await audit(
        db,
        c,
        { action: 'run.class_rule.created', target: row.id, summary: `${row.name} → ${row.class}` },
        at,
      )
      return c.json(classRuleJson(row), 201)
    },
  )

  app.delete(
    '/api/v1/run-class-rules/:id',
    access('operator'),
    describe('Remove a classification rule', tags),
    validate('param', v.object({ id: v.pipe(v.string(), v.maxLength(100)) })),
    async (c) => {
      const row = await deleteClassRule(db, c.req.valid('param').id)
      runs.invalidateRules()
      await audit(db, c, { action: 'run.class_rule.deleted', target: row.id, summary: row.name })
      return c.body(null, 204)
    },
  )

  return app
}
