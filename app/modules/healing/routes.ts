import { Hono } from 'hono'
import { actor, type AppEnv, type ModuleDeps } from '../../context.ts'
import { AppError, notFound } from '../../lib/errors.ts'
import { describe } from '../../lib/route-meta.ts'
import { validate } from '../../lib/validate.ts'
import { access, canWrite } from '../../middleware/access.ts'
import { audit } from '../audit/index.ts'
import { actionTypes } from './actions/index.ts'
import { webhookSecret } from './actions/webhook.ts'
import { checkAction, createAction, invalid } from './orchestrator/enqueue.ts'
import {
  createN8nInstance,
  deleteN8nInstance,
  getN8nInstance,
  listN8nInstances,
  n8nInstanceJson,
  updateN8nInstance,
} from './actions/n8n-instances.ts'
import { approveAction, rejectAction } from './orchestrator/decisions.ts'
import {
  checkRule,
  createRule,
  deleteRule,
  draftRule,
  getRule,
  listRules,
  ruleJson,
  setRuleEnabled,
  updateRule,
} from './rules/rules.ts'
import {
  ActionBody,
  ActionListQuery,
  DecisionQuery,
  IdParam,
  N8nInstanceBody,
  N8nInstancePatch,
  RuleBody,
  RuleListQuery,
  RulePatch,
  SimulateBody,
  StatsQuery,
} from './input.ts'
import { simulate } from './rules/simulate.ts'
import { createFromPreset, PresetBody, presetJson, RULE_PRESETS, rulePreset } from './rules/presets.ts'
import { healingStats } from './stats.ts'
import { healingStatus } from './status.ts'
import { actionJson, eventJson, getAction, listActions, timeline } from './orchestrator/store.ts'
import type { HealingCtx } from './types.ts'
import { clockOf } from '../../lib/time.ts'

const MAX_SIMULATE_MS = 30 * 86_400_000

/** The healing API: rules, actions (manual runs, approvals, timeline), n8n instances, simulate, stats, status. */
export function healingRoutes(deps: ModuleDeps & { healing: HealingCtx }) {
  const { db, config } = deps
  const hd = deps.healing
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  const tags = ['healing']

  app.get(
    '/api/v1/healing/action-types',
    access('viewer'),
    describe('The action types: what each does, what its target names, and its params schema', tags),
    async (c) => {
      const { toJsonSchema } = await import('@valibot/to-json-schema') // loaded on first use, like the OpenAPI document
      return c.json({
        items: [...actionTypes.values()].map((d) => ({
          type: d.type,
          describe: d.describe,
          target: d.targetIs,
          rollback: !!d.rollback,
          paramsSchema: toJsonSchema(d.paramsSchema, { errorMode: 'ignore' }),
        })),
      })
    },
  )

  app.get(
    '/api/v1/healing/rule-templates',
    access('viewer'),
    describe('Rule templates: ready rules made from a few answers (e.g. retry transient n8n failures)', tags),
    (c) => c.json({ items: RULE_PRESETS.map(presetJson) }),
  )

  app.post(
    '/api/v1/healing/rule-templates/:id',
    access('operator'),
    describe(
      'Create a rule from a template: {target, name?, maxPerExecution?, maxPerWorkflowPerHour?, classes?}',
      tags,
      201,
    ),
    validate('param', IdParam),
    validate('json', PresetBody),
    async (c) => {
      const preset = rulePreset(c.req.valid('param').id)
      if (!preset) throw notFound('Rule template')
      const row = await createFromPreset(hd, preset, c.req.valid('json'), now())
      await audit(db, c, {
        action: 'healing_rule.created',
        target: row.name,
        summary: `from template ${preset.id}: ${row.actionType} on ${row.target}`,
      })
      return c.json(ruleJson(row), 201)
    },
  )

  app.get(
    '/api/v1/healing/rules',
    access('viewer'),
    describe('List healing rules, newest first: enabled, actionType, limit, cursor', tags),
    validate('query', RuleListQuery),
    async (c) => {
      const q = c.req.valid('query')
      const { items, next } = await listRules(db, {
        limit: q.limit ?? 100,
        cursor: q.cursor,
        enabled: q.enabled === undefined ? undefined : q.enabled === 'true',
        actionType: q.actionType,
      })
      return c.json({ items: items.map(ruleJson), next })
    },
  )

  app.post(
    '/api/v1/healing/rules',
    access('operator'),
    describe(
      'Create a healing rule: trigger (alert, detection, breaker) → action type on a target, with cooldown, cap, approval, verification, rollback and notices',
      tags,
      201,
    ),
    validate('json', RuleBody),
    async (c) => {
      const row = await createRule(hd, c.req.valid('json'), now())
      await audit(db, c, {
        action: 'healing_rule.created',
        target: row.name,
        summary: `${row.trigger.type} → ${row.actionType} on ${row.target}`,
      })
      return c.json(ruleJson(row), 201)
    },
  )

  app.get(
    '/api/v1/healing/rules/:id',
    access('viewer'),
    describe('A healing rule', tags),
    validate('param', IdParam),
    async (c) => c.json(ruleJson(await getRule(db, c.req.valid('param').id))),
  )

  app.patch(
    '/api/v1/healing/rules/:id',
    access('operator'),
    describe('Change a healing rule; the result is checked as a whole', tags),
    validate('param', IdParam),
    validate('json', RulePatch),
    async (c) => {
      const before = await getRule(db, c.req.valid('param').id)
      const row = await updateRule(hd, before, c.req.valid('json'), now())
      await audit(db, c, {
        action: 'healing_rule.updated',
        target: row.name,
        summary: `changed ${Object.keys(c.req.valid('json')).join(', ') || 'nothing'}`,
      })
      return c.json(ruleJson(row))
    },
  )

  app.delete(
    '/api/v1/healing/rules/:id',
    access('operator'),
    describe('Delete a healing rule (its actions are kept)', tags, 204),
    validate('param', IdParam),
    async (c) => {
      const rule = await getRule(db, c.req.valid('param').id)
      await deleteRule(db, rule.id)
      await audit(db, c, { action: 'healing_rule.deleted', target: rule.name })
      return c.body(null, 204)
    },
  )

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    app.post(
      `/api/v1/healing/rules/:id/${verb}`,
      access('operator'),
      describe(enabled ? 'Enable a healing rule' : 'Disable a healing rule (actions already queued still run)', tags),
      validate('param', IdParam),
      async (c) => {
        const row = await setRuleEnabled(db, c.req.valid('param').id, enabled, now())
        await audit(db, c, { action: `healing_rule.${verb}d`, target: row.name })
        return c.json(ruleJson(row))
      },
    )
  }

  app.get(
    '/api/v1/healing/actions',
    access('viewer'),
    describe('List healing actions, newest first: status (comma-separated), rule, target, type, limit, cursor', tags),
    validate('query', ActionListQuery),
    async (c) => {
      const q = c.req.valid('query')
      const { items, next } = await listActions(db, {
        status: q.status,
        ruleId: q.rule,
        target: q.target,
        actionType: q.type,
        limit: q.limit ?? 100,
        cursor: q.cursor,
      })
      return c.json({ items: items.map((a) => actionJson(a, config.PUBLIC_URL, canWrite(c))), next })
    },
  )

  app.post(
    '/api/v1/healing/actions',
    access('operator'),
    describe(
      'Run an action by hand (type, target, params, dryRun); idempotent with an Idempotency-Key header or idempotencyKey: a retried request returns the same action (200)',
      tags,
      201,
    ),
    validate('json', ActionBody),
    async (c) => {
      const body = c.req.valid('json')
      const header = c.req.header('Idempotency-Key')
      if (header !== undefined && (header.length < 1 || header.length > 200))
        throw invalid([{ field: 'Idempotency-Key', message: 'must be 1–200 characters' }])
      const key = header ?? body.idempotencyKey
      const principal = c.get('principal')
      const checked = await checkAction(hd, body.type, body.target, body.params ?? {})
      if ('issues' in checked)
        throw invalid(checked.issues.map((i) => (i.field === 'actionType' ? { ...i, field: 'type' } : i)))
      const at = now()
      const by = actor(c)
      const { action, created } = await createAction(
        hd,
        {
          actionType: body.type,
          target: body.target,
          params: checked.params,
          trigger: { type: 'manual', summary: body.reason ?? `run by ${by}`, at },
          requestedBy: by,
          priority: body.priority,
          maxAttempts: body.maxAttempts,
          dryRun: body.dryRun,
          idempotencyKey: key ? `${principal?.id ?? 'anonymous'}:${key}` : undefined,
          approval: body.requiresApproval ? { ttlMs: body.approvalTtlMs ?? 3_600_000 } : undefined,
          verification: body.verification as never,
          rollbackOnFailure: body.rollbackOnFailure,
          notify: body.notify,
        },
        at,
      )
      if (!created) return c.json(actionJson(action, config.PUBLIC_URL, canWrite(c)), 200)
      await audit(db, c, {
        action: 'healing_action.requested',
        target: action.id,
        summary: `${action.actionType} on ${action.target}${action.dryRun ? ' (dry run)' : ''}`,
      })
      hd.kick()
      return c.json(actionJson(action, config.PUBLIC_URL, canWrite(c)), 201)
    },
  )

  app.get(
    '/api/v1/healing/actions/:id',
    access('viewer'),
    describe('A healing action with its timeline', tags),
    validate('param', IdParam),
    async (c) => {
      const a = await getAction(db, c.req.valid('param').id)
      return c.json({
        ...actionJson(a, config.PUBLIC_URL, canWrite(c)),
        timeline: (await timeline(db, a.id)).map(eventJson),
      })
    },
  )

  app.post(
    '/api/v1/healing/actions/:id/approve',
    access('operator'),
    describe(
      'Approve an action waiting for approval: it runs at once. 409 when already decided, 410 when expired',
      tags,
    ),
    validate('param', IdParam),
    async (c) => {
      const row = await approveAction(hd, c.req.valid('param').id, actor(c), now())
      await audit(db, c, {
        action: 'healing_action.approved',
        target: row.id,
        summary: `${row.actionType} on ${row.target}`,
      })
      hd.kick()
      return c.json(actionJson(row, config.PUBLIC_URL, canWrite(c)))
    },
  )

  app.post(
    '/api/v1/healing/actions/:id/reject',
    access('operator'),
    describe('Reject an action waiting for approval (?comment=). 409 when already decided, 410 when expired', tags),
    validate('param', IdParam),
    validate('query', DecisionQuery),
    async (c) => {
      const comment = c.req.valid('query').comment
      const row = await rejectAction(hd, c.req.valid('param').id, actor(c), now(), comment)
      await audit(db, c, { action: 'healing_action.rejected', target: row.id, summary: comment })
      return c.json(actionJson(row, config.PUBLIC_URL, canWrite(c)))
    },
  )

  app.post(
    '/api/v1/healing/simulate',
    access('operator'),
    describe(
      'A rule (ruleId, or an unsaved rule) over a past range [from, to]: what would have triggered and which actions; changes nothing',
      tags,
    ),
    validate('json', SimulateBody),
    async (c) => {
      const body = c.req.valid('json')
      const at = now()
      if (!body.ruleId === !body.rule) throw invalid([{ field: 'ruleId', message: 'give either ruleId or rule' }])
      const to = body.to ?? at
      if (to <= body.from) throw invalid([{ field: 'to', message: 'must be after from' }])
      if (to - body.from > MAX_SIMULATE_MS) throw invalid([{ field: 'from', message: 'the range is at most 30 days' }])
      let rule
      if (body.ruleId) rule = await getRule(db, body.ruleId)
      else {
        rule = draftRule(body.rule!, at, 'draft')
        try {
          await checkRule(hd, rule)
        } catch (error) {
          if (error instanceof AppError && Array.isArray(error.details))
            throw invalid(error.details.map((d) => ({ ...d, field: `rule.${d.field}` })))
          throw error
        }
      }
      return c.json(await simulate(hd, rule, body.from, to))
    },
  )

  app.get(
    '/api/v1/healing/stats',
    access('viewer'),
    describe(
      'Success rate and MTTR (trigger → verified recovery) per action type, rule and target; window=24h|7d|30d',
      tags,
    ),
    validate('query', StatsQuery),
    async (c) => c.json(await healingStats(db, c.req.valid('query').window ?? '24h', now())),
  )

  app.get(
    '/api/v1/healing/status',
    access('viewer'),
    describe(
      'Healing overview: active incidents, running, queued and pending-approval actions, breakers, routes with their active target',
      tags,
    ),
    async (c) => c.json(await healingStatus(db, config.PUBLIC_URL, now())),
  )

  app.get(
    '/api/v1/healing/signing-secret',
    access('admin'),
    describe(
      'The secret webhook actions sign with (X-Homeostat-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">)',
      tags,
    ),
    (c) => c.json({ secret: webhookSecret(hd), header: 'X-Homeostat-Signature' }),
  )

  app.get(
    '/api/v1/healing/n8n-instances',
    access('admin'),
    describe('List n8n instances (API keys masked)', tags),
    async (c) => c.json({ items: (await listN8nInstances(db)).map((r) => n8nInstanceJson(deps.sealer, r)) }),
  )

  app.post(
    '/api/v1/healing/n8n-instances',
    access('admin'),
    describe(
      'Add an n8n instance {name, baseUrl, apiKey} for the n8n action; the key is sealed and never returned',
      tags,
      201,
    ),
    validate('json', N8nInstanceBody),
    async (c) => {
      const row = await createN8nInstance(db, deps.sealer, c.req.valid('json'), now())
      await audit(db, c, { action: 'n8n_instance.created', target: row.name, summary: row.baseUrl })
      return c.json(n8nInstanceJson(deps.sealer, row), 201)
    },
  )

  app.get(
    '/api/v1/healing/n8n-instances/:id',
    access('admin'),
    describe('An n8n instance (API key masked)', tags),
    validate('param', IdParam),
    async (c) => c.json(n8nInstanceJson(deps.sealer, await getN8nInstance(db, c.req.valid('param').id))),
  )

  app.patch(
    '/api/v1/healing/n8n-instances/:id',
    access('admin'),
    describe('Change an n8n instance (name, baseUrl, apiKey)', tags),
    validate('param', IdParam),
    validate('json', N8nInstancePatch),
    async (c) => {
      const before = await getN8nInstance(db, c.req.valid('param').id)
      const row = await updateN8nInstance(db, deps.sealer, before, c.req.valid('json'), now())
      await audit(db, c, {
        action: 'n8n_instance.updated',
        target: row.name,
        summary: `changed ${Object.keys(c.req.valid('json')).join(', ') || 'nothing'}`,
      })
      return c.json(n8nInstanceJson(deps.sealer, row))
    },
  )

  app.delete(
    '/api/v1/healing/n8n-instances/:id',
    access('admin'),
    describe('Delete an n8n instance', tags, 204),
    validate('param', IdParam),
    async (c) => {
      const row = await getN8nInstance(db, c.req.valid('param').id)
      await deleteN8nInstance(db, row.id)
      await audit(db, c, { action: 'n8n_instance.deleted', target: row.name })
      return c.body(null, 204)
    },
  )

  return app
}
