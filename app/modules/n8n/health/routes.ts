import { and, eq } from 'drizzle-orm'
import { Hono } from 'hono'
import { n8nWorkflows } from '../../../../db/schema/n8n.ts'
import type { AppEnv, ModuleDeps } from '../../../context.ts'
import { describe } from '../../../lib/route-meta.ts'
import { clockOf } from '../../../lib/time.ts'
import { validate } from '../../../lib/validate.ts'
import { access } from '../../../middleware/access.ts'
import { audit } from '../../audit/index.ts'
import { getN8nInstance } from '../../healing/index.ts'
import {
  ExecutionsQuery,
  ExpectationBody,
  InstanceQuery,
  PollBody,
  RuleBody,
  RuleParam,
  RulePatch,
  WorkflowParam,
  WorkflowsQuery,
} from './input.ts'
import { createRule, deleteRule, getRule, listRules, ruleJson, updateRule } from './rules.ts'
import type { WorkflowHealth } from './service.ts'
import { runsSince } from './store.ts'
import { retryJson, workflowRetries } from '../retry/store.ts'
import {
  DAY_MS,
  durations,
  executionJson,
  executionsOf,
  getWorkflow,
  instancesHealth,
  timeline,
  workflowJson,
  workflowList,
} from './views.ts'

/**
 * The workflow health API. Viewers read instances, workflows, executions and rules; operators
 * poll now, set expectations and change the classification rules (each change audited).
 */
export function workflowHealthRoutes(deps: ModuleDeps & { workflowHealth: WorkflowHealth }) {
  const { db } = deps
  const health = deps.workflowHealth
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  const tags = ['n8n']

  app.get(
    '/api/v1/n8n/health',
    access('viewer'),
    describe('n8n instances: reachable, version, last poll, workflows by state', tags),
    async (c) => c.json({ items: await instancesHealth(db) }),
  )

  app.get(
    '/api/v1/n8n/health/workflows',
    access('viewer'),
    describe(
      'Workflows with state, success rates 24 h / 7 d, last runs, next expected run (?instance=, ?state=)',
      tags,
    ),
    validate('query', WorkflowsQuery),
    async (c) => {
      const q = c.req.valid('query')
      const offset = q.cursor && /^\d+$/.test(q.cursor) ? Number(q.cursor) : 0
      return c.json(await workflowList(db, { ...q, limit: q.limit ?? 100, offset }, now(), health.graceMs))
    },
  )

  app.get(
    '/api/v1/n8n/health/workflows/:id',
    access('viewer'),
    describe(
      'One workflow of n8n instance ?instance=: state, rates, duration percentiles, latest executions, timeline',
      tags,
    ),
    validate('param', WorkflowParam),
    validate('query', InstanceQuery),
    async (c) => {
      const instance = await getN8nInstance(db, c.req.valid('query').instance)
      const w = await getWorkflow(db, instance.id, c.req.valid('param').id)
      const t = now()
      const [day, week] = [
        await runsSince(db, instance.id, t - DAY_MS),
        await runsSince(db, instance.id, t - 7 * DAY_MS),
      ]
      const recent = await executionsOf(db, instance.id, w.workflowId, { limit: 20 })
      return c.json({
        ...workflowJson(w, {
          now: t,
          graceMs: health.graceMs,
          day: day.get(w.workflowId),
          week: week.get(w.workflowId),
        }),
        instance: instance.name,
        durationMs: {
          '24h': await durations(db, instance.id, w.workflowId, t - DAY_MS),
          '7d': await durations(db, instance.id, w.workflowId, t - 7 * DAY_MS),
        },
        recentExecutions: recent.items.map((e) => executionJson(e, instance.baseUrl)),
        timeline: await timeline(db, w, t - DAY_MS, t),
        retries: (await workflowRetries(db, instance.id, w.workflowId)).map(retryJson),
      })
    },
  )

  app.get(
    '/api/v1/n8n/health/workflows/:id/executions',
    access('viewer'),
    describe('Executions of a workflow, newest first (?instance=, ?status=, ?class=, paged by cursor)', tags),
    validate('param', WorkflowParam),
    validate('query', ExecutionsQuery),
    async (c) => {
      const q = c.req.valid('query')
      const instance = await getN8nInstance(db, q.instance)
      const page = await executionsOf(db, instance.id, c.req.valid('param').id, {
        status: q.status,
        class: q.class,
        limit: q.limit ?? 50,
        before: q.cursor,
      })
      return c.json({ items: page.items.map((e) => executionJson(e, instance.baseUrl)), next: page.next })
    },
  )

  app.put(
    '/api/v1/n8n/health/workflows/:id/expectation',
    access('operator'),
    describe(
      'Expect at least one execution every {every} (e.g. "1h") from this workflow, else n8n_schedule_missed',
      tags,
    ),
    validate('param', WorkflowParam),
    validate('query', InstanceQuery),
    validate('json', ExpectationBody),
    async (c) => {
      const instance = await getN8nInstance(db, c.req.valid('query').instance)
      const w = await getWorkflow(db, instance.id, c.req.valid('param').id)
      const every = c.req.valid('json').every
      await setExpectation(w.instanceId, w.workflowId, every)
      await audit(db, c, {
        action: 'n8n.expectation.set',
        target: `${instance.name}/${w.workflowId}`,
        summary: `at least one execution every ${every / 1000} s`,
      })
      return c.json({ workflowId: w.workflowId, instanceId: w.instanceId, expectEveryMs: every })
    },
  )

  app.delete(
    '/api/v1/n8n/health/workflows/:id/expectation',
    access('operator'),
    describe('Remove the "every N" expectation of a workflow', tags),
    validate('param', WorkflowParam),
    validate('query', InstanceQuery),
    async (c) => {
      const instance = await getN8nInstance(db, c.req.valid('query').instance)
      const w = await getWorkflow(db, instance.id, c.req.valid('param').id)
      await setExpectation(w.instanceId, w.workflowId, null)
      await audit(db, c, { action: 'n8n.expectation.removed', target: `${instance.name}/${w.workflowId}` })
      return c.body(null, 204)
    },
  )

  const setExpectation = (instanceId: string, workflowId: string, every: number | null) =>
    db
      .update(n8nWorkflows)
      .set({ expectEveryMs: every, updatedAt: now() })
      .where(and(eq(n8nWorkflows.instanceId, instanceId), eq(n8nWorkflows.workflowId, workflowId)))

  app.post(
    '/api/v1/n8n/health/poll',
    access('operator'),
    describe('Read executions from every n8n instance now (or {instance}), as the n8n_poll job does', tags),
    validate('json', PollBody),
    async (c) => {
      const instance = c.req.valid('json').instance
      const results = await health.poll(now(), instance)
      await audit(db, c, {
        action: 'n8n.polled',
        target: instance ?? null,
        summary: `${results.length} instance(s), ${results.reduce((n, r) => n + r.executions, 0)} execution(s)`,
      })
      return c.json({ items: results })
    },
  )

  app.get(
    '/api/v1/n8n/failure-rules',
    access('viewer'),
    describe('Failure-class rules, in the order they are tried', tags),
    async (c) => c.json({ items: (await listRules(db)).map(ruleJson) }),
  )

  app.post(
    '/api/v1/n8n/failure-rules',
    access('operator'),
    describe('Add a rule: {name, class, pattern (RE2 on the message) | nodeType | httpStatus, position?}', tags),
    validate('json', RuleBody),
    async (c) => {
      const row = await createRule(db, c.req.valid('json'), now())
      await audit(db, c, {
        action: 'n8n.failure_rule.created',
        target: row.id,
        summary: `${row.name} → ${row.failureClass}`,
      })
      return c.json(ruleJson(row), 201)
    },
  )

  app.get(
    '/api/v1/n8n/failure-rules/:id',
    access('viewer'),
    describe('One failure-class rule', tags),
    validate('param', RuleParam),
    async (c) => c.json(ruleJson(await getRule(db, c.req.valid('param').id))),
  )

  app.patch(
    '/api/v1/n8n/failure-rules/:id',
    access('operator'),
    describe('Change a failure-class rule', tags),
    validate('param', RuleParam),
    validate('json', RulePatch),
    async (c) => {
      const row = await updateRule(db, c.req.valid('param').id, c.req.valid('json'), now())
      await audit(db, c, {
        action: 'n8n.failure_rule.updated',
        target: row.id,
        summary: `${row.name} → ${row.failureClass}`,
      })
      return c.json(ruleJson(row))
    },
  )

  app.delete(
    '/api/v1/n8n/failure-rules/:id',
    access('operator'),
    describe('Delete a failure-class rule', tags),
    validate('param', RuleParam),
    async (c) => {
      const row = await deleteRule(db, c.req.valid('param').id)
      await audit(db, c, { action: 'n8n.failure_rule.deleted', target: row.id, summary: row.name })
      return c.body(null, 204)
    },
  )

  return app
}
