import { Hono } from 'hono'
import { actor, type AppEnv, type ModuleDeps } from '../../../context.ts'
import { describe } from '../../../lib/route-meta.ts'
import { validate } from '../../../lib/validate.ts'
import { clockOf } from '../../../lib/time.ts'
import { access } from '../../../middleware/access.ts'
import { audit } from '../../audit/index.ts'
import { getN8nInstance } from '../../healing/index.ts'
import { exportArchive, slug } from './export.ts'
import {
  DiffQuery,
  InstanceParam,
  InstanceQuery,
  ListQuery,
  PullBody,
  RollbackBody,
  VersionParam,
  VersionsQuery,
  WorkflowParam,
} from './input.ts'
import { rollbackSummary, type WorkflowHistory } from './service.ts'
import { listVersions, listWorkflows, openContent } from './store.ts'
import { versionJson, workflowJson } from './views.ts'

/**
 * The workflow history API. Viewers read history, versions and diffs; operators pull and roll
 * back; the export is for admins: it is every version of every workflow in one file, and n8n
 * workflow JSON can hold secrets typed into node parameters.
 */
export function workflowHistoryRoutes(deps: ModuleDeps & { workflowHistory: WorkflowHistory }) {
  const { db, sealer } = deps
  const wh = deps.workflowHistory
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  const tags = ['backups']

  app.get(
    '/api/v1/n8n/workflows',
    access('viewer'),
    describe('Workflows with stored versions (latest name, active, version count); ?instance= filters', tags),
    validate('query', ListQuery),
    async (c) => c.json({ items: (await listWorkflows(db, c.req.valid('query').instance)).map(workflowJson) }),
  )

  app.get(
    '/api/v1/n8n/workflows/:id/versions',
    access('viewer'),
    describe('Versions of workflow :id of n8n instance ?instance=, newest first (paged by cursor)', tags),
    validate('param', WorkflowParam),
    validate('query', VersionsQuery),
    async (c) => {
      const { instance, limit = 50, cursor } = c.req.valid('query')
      const before = cursor && /^\d+$/.test(cursor) ? Number(cursor) : undefined
      const rows = await listVersions(db, instance, c.req.valid('param').id, limit + 1, before)
      const items = rows.slice(0, limit)
      return c.json({
        items: items.map((r) => versionJson(r)),
        next: rows.length > limit ? String(items.at(-1)!.seq) : null,
      })
    },
  )

  app.get(
    '/api/v1/n8n/workflows/:id/versions/:v',
    access('viewer'),
    describe('One version with its workflow JSON (name, active, nodes, connections, settings)', tags),
    validate('param', VersionParam),
    validate('query', InstanceQuery),
    async (c) => {
      const { id, v } = c.req.valid('param')
      const row = await wh.version(c.req.valid('query').instance, id, v)
      return c.json({ ...versionJson(row), workflow: openContent(sealer, row) })
    },
  )

  app.get(
    '/api/v1/n8n/workflows/:id/diff',
    access('viewer'),
    describe('Structured diff between versions ?from= and ?to= (nodes, parameters, connections, settings)', tags),
    validate('param', WorkflowParam),
    validate('query', DiffQuery),
    async (c) => {
      const { instance, from, to } = c.req.valid('query')
      return c.json({ from, to, ...(await wh.diff(instance, c.req.valid('param').id, from, to)) })
    },
  )

  app.post(
    '/api/v1/n8n/workflows/:id/rollback',
    access('operator'),
    describe('Put version {to: n | "previous"} back into n8n (same id and active state); {recreate} if deleted', tags),
    validate('param', WorkflowParam),
    validate('query', InstanceQuery),
    validate('json', RollbackBody),
    async (c) => {
      const body = c.req.valid('json')
      const id = c.req.valid('param').id
      const result = await wh.rollback(c.req.valid('query').instance, id, body, actor(c), now())
      await audit(db, c, {
        action: 'workflow.rolled_back',
        target: `${result.instance}/${id}`,
        summary: rollbackSummary(result),
      })
      return c.json(result)
    },
  )

  app.post(
    '/api/v1/n8n/pull',
    access('operator'),
    describe('Pull workflows from every n8n instance now (or {instance}); stores versions that changed', tags),
    validate('json', PullBody),
    async (c) => {
      const results = await wh.pull(now(), c.req.valid('json').instance)
      const created = results.reduce((n, r) => n + r.created, 0)
      await audit(db, c, {
        action: 'workflows.pulled',
        target: c.req.valid('json').instance ?? null,
        summary: `${results.length} instance(s), ${created} new version(s)`,
      })
      return c.json({ items: results })
    },
  )

  app.get(
    '/api/v1/n8n/instances/:id/export',
    access('admin'),
    describe('Every version of every workflow of an n8n instance as a tar of JSON files (admins)', tags),
    validate('param', InstanceParam),
    async (c) => {
      const instance = await getN8nInstance(db, c.req.valid('param').id)
      await audit(db, c, { action: 'workflows.exported', target: instance.name })
      const file = `${slug(instance.name)}-workflows-${new Date(now()).toISOString().slice(0, 10)}.tar`
      return new Response(exportArchive(db, sealer, instance), {
        headers: { 'Content-Type': 'application/x-tar', 'Content-Disposition': `attachment; filename="${file}"` },
      })
    },
  )

  return app
}
