import { Hono } from 'hono'
import { actor, type AppEnv, type ModuleDeps } from '../../context.ts'
import { access, claimSource } from '../../middleware/access.ts'
import { requirePrincipal } from '../../middleware/auth.ts'
import { describe } from '../../lib/route-meta.ts'
import { validate } from '../../lib/validate.ts'
import { audit, auditRow } from '../audit/index.ts'
import { matchers } from '../metrics/index.ts'
import { alertJson, eventJson, eventReport } from './lifecycle/alerts.ts'
import { ruleTemplates } from './rules/rule-templates.ts'
import {
  createRule,
  deleteRule,
  draftRule,
  getRule,
  listRules,
  previewRule,
  ruleJson,
  ruleWarnings,
  setEnabled,
  updateRule,
} from './rules/rules.ts'
import { AlertEventBody, AlertListQuery, IdParam, RuleBody, RuleListQuery, RulePatch } from './schema.ts'
import type { AlertsService } from './service.ts'
import { clockOf } from '../../lib/time.ts'

export function alertsRoutes(deps: ModuleDeps & { alerts: AlertsService }) {
  const { db, alerts } = deps
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  const tags = ['alerts']

  app.get(
    '/api/v1/alert-rule-templates',
    access('viewer'),
    describe(
      'Rule templates: health degradation, high error rate, prompt score, cost spike, RAG ingestion failure',
      tags,
    ),
    (c) => c.json({ items: ruleTemplates }),
  )

  app.get(
    '/api/v1/alert-rules',
    access('viewer'),
    describe('List alert rules, newest first: kind, enabled, limit, cursor', tags),
    validate('query', RuleListQuery),
    async (c) => {
      const q = c.req.valid('query')
      const { items, next } = await listRules(db, {
        limit: q.limit ?? 100,
        cursor: q.cursor,
        kind: q.kind,
        enabled: q.enabled === undefined ? undefined : q.enabled === 'true',
      })
      return c.json({ items: items.map(ruleJson), next })
    },
  )

  app.post(
    '/api/v1/alert-rules',
    access('operator'),
    describe('Create an alert rule; `warnings` lists metrics with no series yet', tags, 201),
    validate('json', RuleBody),
    async (c) => {
      const row = await createRule(db, c.req.valid('json'), now())
      alerts.invalidateRules()
      await audit(db, c, {
        action: 'alert_rule.created',
        target: row.name,
        summary: `${row.kind} on ${row.metric}, ${row.severity}`,
      })
      return c.json({ ...ruleJson(row), warnings: await ruleWarnings(db, row) }, 201)
    },
  )

  app.post(
    '/api/v1/alert-rules/test',
    access('operator'),
    describe('Evaluate an unsaved rule now against stored data: what would fire, with values', tags),
    validate('json', RuleBody),
    async (c) => {
      const at = now()
      const rule = draftRule(c.req.valid('json'), at)
      return c.json({
        evaluatedAt: new Date(at).toISOString(),
        results: await previewRule(db, rule, at),
        warnings: await ruleWarnings(db, rule),
      })
    },
  )

  app.get(
    '/api/v1/alert-rules/:id',
    access('viewer'),
    describe('An alert rule', tags),
    validate('param', IdParam),
    async (c) => c.json(ruleJson(await getRule(db, c.req.valid('param').id))),
  )

  app.patch(
    '/api/v1/alert-rules/:id',
    access('operator'),
    describe('Change an alert rule; the result is checked as a whole', tags),
    validate('param', IdParam),
    validate('json', RulePatch),
    async (c) => {
      const before = await getRule(db, c.req.valid('param').id)
      const row = await updateRule(db, before, c.req.valid('json'), now())
      alerts.invalidateRules()
      await audit(db, c, {
        action: 'alert_rule.updated',
        target: row.name,
        summary: `changed ${Object.keys(c.req.valid('json')).join(', ') || 'nothing'}`,
      })
      return c.json({ ...ruleJson(row), warnings: await ruleWarnings(db, row) })
    },
  )

  app.delete(
    '/api/v1/alert-rules/:id',
    access('operator'),
    describe('Delete an alert rule; its open alerts are resolved and its alerts kept', tags, 204),
    validate('param', IdParam),
    async (c) => {
      const rule = await getRule(db, c.req.valid('param').id)
      const resolved = await alerts.resolveRuleAlerts(rule.id, { actor: actor(c) }, 'rule deleted', now())
      await deleteRule(db, rule.id)
      alerts.invalidateRules()
      await audit(db, c, {
        action: 'alert_rule.deleted',
        target: rule.name,
        summary: `${resolved} open alerts resolved`,
      })
      return c.body(null, 204)
    },
  )

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    app.post(
      `/api/v1/alert-rules/:id/${verb}`,
      access('operator'),
      describe(enabled ? 'Enable an alert rule' : 'Disable an alert rule; its open alerts are resolved', tags),
      validate('param', IdParam),
      async (c) => {
        await getRule(db, c.req.valid('param').id)
        const row = await setEnabled(db, c.req.valid('param').id, enabled, now())
        const resolved = enabled
          ? 0
          : await alerts.resolveRuleAlerts(row.id, { actor: actor(c) }, 'rule disabled', now())
        alerts.invalidateRules()
        await audit(db, c, {
          action: `alert_rule.${verb}d`,
          target: row.name,
          summary: enabled ? undefined : `${resolved} open alerts resolved`,
        })
        return c.json(ruleJson(row))
      },
    )
  }

  app.post(
    '/api/v1/alert-rules/:id/test',
    access('operator'),
    describe('Evaluate a saved rule now: what would fire, with values (writes nothing)', tags),
    validate('param', IdParam),
    async (c) => {
      const rule = await getRule(db, c.req.valid('param').id)
      const at = now()
      return c.json({
        evaluatedAt: new Date(at).toISOString(),
        results: await previewRule(db, rule, at),
        warnings: await ruleWarnings(db, rule),
      })
    },
  )

  app.get(
    '/api/v1/alerts',
    access('viewer'),
    describe(
      'List alerts, newest first: status, severity, source, fingerprint, rule, silenced, match[label]=, from, to, limit, cursor',
      tags,
    ),
    validate('query', AlertListQuery),
    async (c) => {
      const q = c.req.valid('query')
      const { items, next } = await alerts.list({
        ...q,
        limit: q.limit ?? 100,
        silenced: q.silenced === undefined ? undefined : q.silenced === 'true',
        match: matchers(c),
      } as Parameters<AlertsService['list']>[0])
      return c.json({ items: items.map(alertJson), next })
    },
  )

  app.post(
    '/api/v1/alerts',
    access('ingest'),
    describe(
      'Report an alert event {title, severity, status: firing|resolved, labels, annotations, fingerprint?, source?}; the same fingerprint is one alert',
      tags,
    ),
    validate('json', AlertEventBody),
    async (c) => {
      const body = c.req.valid('json')
      // A bound key reports under its source only, and its fingerprints always carry that source, so
      // neither a `fingerprint` nor labels can land on another source's alert.
      const source = claimSource(c, body.source)
      const bound = requirePrincipal(c).source
      const input = source ? { ...body, source } : body
      const fingerprintOf: typeof alerts.labelsFingerprint = bound
        ? (labels) => alerts.labelsFingerprint(labels, `${bound}:`)
        : alerts.labelsFingerprint
      // A change of state is audited in its own transaction; repeats are not audited.
      const { alert, change } = await alerts.report(
        eventReport(input, actor(c), fingerprintOf),
        now(),
        ({ alert, change }) =>
          change === 'none' || change === 'repeated'
            ? []
            : [
                auditRow(c, {
                  action: `alert.${change}`,
                  target: alert?.id,
                  summary: `${input.title} (${input.severity}, ${input.status})`,
                }),
              ],
      )
      return c.json({ change, alert: alert ? alertJson(alert) : null }, change === 'created' ? 201 : 200)
    },
  )

  app.get(
    '/api/v1/alerts/:id',
    access('viewer'),
    describe('An alert with its full event history', tags),
    validate('param', IdParam),
    async (c) => {
      const { alert, events } = await alerts.get(c.req.valid('param').id)
      return c.json({ ...alertJson(alert), events: events.map(eventJson) })
    },
  )

  // Each change and its audit row commit together (the service writes the row in the change's transaction).
  const actions = {
    acknowledge: alerts.acknowledge,
    unacknowledge: alerts.unacknowledge,
    resolve: alerts.resolve,
  } as const
  for (const [verb, run] of Object.entries(actions)) {
    app.post(
      `/api/v1/alerts/:id/${verb}`,
      access('operator'),
      describe(`${verb[0]!.toUpperCase()}${verb.slice(1)} an alert`, tags),
      validate('param', IdParam),
      async (c) => {
        const row = await run(c.req.valid('param').id, { actor: actor(c), audit: (e) => auditRow(c, e) }, now())
        return c.json(alertJson(row))
      },
    )
  }

  return app
}
