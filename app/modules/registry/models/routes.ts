/**
 * `/api/v1/models`: models, versions, Modelfile validation, deploys (NDJSON progress), rollbacks,
 * archive, deployments and aliases. Viewers read; operators change. Every change is audited.
 */
import { desc, eq, inArray } from 'drizzle-orm'
import { Hono, type Context } from 'hono'
import { streamSSE, stream } from 'hono/streaming'
import { deploymentHistory, deployments, modelVersions, ollamaHosts } from '../../../../db/schema/registry.ts'
import { actor, type AppEnv, type ModuleDeps } from '../../../context.ts'
import { notFound } from '../../../lib/errors.ts'
import { describe } from '../../../lib/route-meta.ts'
import { clockOf, toIso } from '../../../lib/time.ts'
import { validate } from '../../../lib/validate.ts'
import { access } from '../../../middleware/access.ts'
import { audit } from '../../audit/index.ts'
import type { Registry } from '../service.ts'
import { aliasJson, getAlias, listAliases } from './aliases.ts'
import { deploymentJson, type Who } from './deploy.ts'
import {
  AliasBody,
  AliasParam,
  DeployBody,
  DeploymentParam,
  ListQuery,
  ModelBody,
  ModelParam,
  ModelPatch,
  RollbackBody,
  StatusBody,
  ValidateBody,
  VersionBody,
  VersionParam,
} from './input.ts'
import { validateModelfile } from './modelfile.ts'
import {
  createModel,
  createVersion,
  getModel,
  getVersion,
  listModels,
  listVersions,
  modelfileRefused,
  modelJson,
  setVersionStatus,
  updateModel,
  versionJson,
} from './store.ts'

export const whoOf = (c: Context<AppEnv>): Who => ({ actor: actor(c), requestId: c.get('requestId'), ip: c.get('ip') })

/** Deployment rows with their host and version names. */
export async function deploymentsOf(deps: Pick<ModuleDeps, 'db'>, modelId: string, limit = 50) {
  const { db } = deps
  const rows = await db
    .select({ d: deploymentHistory, host: ollamaHosts.name, version: modelVersions.version })
    .from(deploymentHistory)
    .innerJoin(ollamaHosts, eq(ollamaHosts.id, deploymentHistory.hostId))
    .innerJoin(modelVersions, eq(modelVersions.id, deploymentHistory.versionId))
    .where(eq(deploymentHistory.modelId, modelId))
    .orderBy(desc(deploymentHistory.startedAt), desc(deploymentHistory.id))
    .limit(limit)
  const fromIds = [...new Set(rows.map((r) => r.d.fromVersionId).filter((x): x is string => !!x))]
  const from = new Map(
    (fromIds.length
      ? await db
          .select({ id: modelVersions.id, version: modelVersions.version })
          .from(modelVersions)
          .where(inArray(modelVersions.id, fromIds))
      : []
    ).map((v) => [v.id, v.version]),
  )
  const live = await db
    .select({ d: deployments, host: ollamaHosts.name, version: modelVersions.version })
    .from(deployments)
    .innerJoin(ollamaHosts, eq(ollamaHosts.id, deployments.hostId))
    .innerJoin(modelVersions, eq(modelVersions.id, deployments.versionId))
    .where(eq(deployments.modelId, modelId))
    .orderBy(ollamaHosts.name)
  return {
    live: live.map((l) => ({
      host: l.host,
      hostId: l.d.hostId,
      version: l.version,
      since: toIso(l.d.since),
      by: l.d.by,
      deployment: l.d.historyId,
    })),
    history: rows.map((r) =>
      deploymentJson(r.d, {
        host: r.host,
        version: r.version,
        fromVersion: r.d.fromVersionId ? (from.get(r.d.fromVersionId) ?? null) : null,
      }),
    ),
  }
}

export function modelRoutes(deps: Pick<ModuleDeps, 'db' | 'now'> & { registry: Registry }) {
  const { db, registry } = deps
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  const tags = ['registry']

  app.post(
    '/api/v1/models/validate',
    access('viewer'),
    describe(
      'Validate a Modelfile: 200 with warnings and what was parsed, or 422 with every error and its line (as a save answers)',
      tags,
    ),
    validate('json', ValidateBody),
    (c) => {
      const r = validateModelfile(c.req.valid('json').modelfile)
      if (!r.valid) throw modelfileRefused(r.errors)
      return c.json({ valid: r.valid, errors: r.errors, warnings: r.warnings, parsed: r.parsed })
    },
  )

  app.get(
    '/api/v1/models',
    access('viewer'),
    describe('List models (by id, paged)', tags),
    validate('query', ListQuery),
    async (c) => {
      const q = c.req.valid('query')
      const { items, next } = await listModels(db, { limit: q.limit ?? 100, cursor: q.cursor })
      return c.json({ items: items.map(modelJson), next })
    },
  )

  app.post(
    '/api/v1/models',
    access('operator'),
    describe('Create a model (the id is yours: the same create again answers the same model)', tags, 201),
    validate('json', ModelBody),
    async (c) => {
      const { row, created } = await createModel(db, c.req.valid('json'), actor(c), now())
      if (created) await audit(db, c, { action: 'registry.model_created', target: row.id, summary: row.baseModel })
      return c.json(modelJson(row), created ? 201 : 200)
    },
  )

  app.get(
    '/api/v1/models/:id',
    access('viewer'),
    describe('A model with its versions (newest first), aliases and what is live where', tags),
    validate('param', ModelParam),
    async (c) => {
      const model = await getModel(db, c.req.valid('param').id)
      const [versions, aliases, deployed] = await Promise.all([
        listVersions(db, model.id),
        listAliases(db, model.id),
        deploymentsOf(deps, model.id, 20),
      ])
      return c.json({
        ...modelJson(model),
        versions: versions.map((v) => versionJson(v, { modelfile: false })),
        aliases: aliases.map(aliasJson),
        live: deployed.live,
      })
    },
  )

  app.patch(
    '/api/v1/models/:id',
    access('operator'),
    describe('Change a model’s name, description, base model, tags or notes', tags),
    validate('param', ModelParam),
    validate('json', ModelPatch),
    async (c) => {
      const patch = c.req.valid('json')
      const row = await updateModel(db, c.req.valid('param').id, patch, now())
      await audit(db, c, {
        action: 'registry.model_updated',
        target: row.id,
        summary: `changed ${Object.keys(patch).join(', ') || 'nothing'}`,
      })
      return c.json(modelJson(row))
    },
  )

  app.get(
    '/api/v1/models/:id/versions',
    access('viewer'),
    describe('A model’s versions, newest first (Modelfiles included)', tags),
    validate('param', ModelParam),
    async (c) => {
      const model = await getModel(db, c.req.valid('param').id)
      return c.json({ items: (await listVersions(db, model.id)).map((v) => versionJson(v)) })
    },
  )

  app.post(
    '/api/v1/models/:id/versions',
    access('operator'),
    describe(
      'Add a version: its Modelfile is validated (422 with line-numbered errors); the same create again answers it',
      tags,
      201,
    ),
    validate('param', ModelParam),
    validate('json', VersionBody),
    async (c) => {
      const model = await getModel(db, c.req.valid('param').id)
      const { row, created } = await createVersion(db, model, c.req.valid('json'), actor(c), now())
      if (created)
        await audit(db, c, {
          action: 'registry.version_created',
          target: `${model.id}@${row.version}`,
          summary: `sha256 ${row.sha256.slice(0, 12)}, ${row.status}`,
        })
      return c.json(versionJson(row), created ? 201 : 200)
    },
  )

  app.get(
    '/api/v1/models/:id/versions/:version',
    access('viewer'),
    describe('One version with its Modelfile and training info', tags),
    validate('param', VersionParam),
    async (c) => {
      const p = c.req.valid('param')
      return c.json(versionJson(await getVersion(db, p.id, p.version)))
    },
  )

  app.post(
    '/api/v1/models/:id/versions/:version/status',
    access('operator'),
    describe(
      'Set a version’s status (training, ready, deprecated, failed, or archived with optional delete from hosts)',
      tags,
    ),
    validate('param', VersionParam),
    validate('json', StatusBody),
    async (c) => {
      const p = c.req.valid('param')
      const body = c.req.valid('json')
      const before = await getVersion(db, p.id, p.version)
      if (body.status === 'archived') {
        const { row, deleted } = await registry.archive(p.id, p.version, body.deleteFromHosts ?? false)
        await audit(db, c, {
          action: 'registry.version_archived',
          target: `${p.id}@${p.version}`,
          summary: `${before.status} → archived${deleted.length ? `; deleted from ${deleted.filter((d) => d.deleted).length} host(s)` : ''}`,
        })
        return c.json({ ...versionJson(row), deletedFrom: deleted })
      }
      const row = await setVersionStatus(db, before, body.status, now())
      await audit(db, c, {
        action: 'registry.version_status',
        target: `${p.id}@${p.version}`,
        summary: `${before.status} → ${body.status}`,
      })
      return c.json(versionJson(row))
    },
  )

  app.post(
    '/api/v1/models/:id/versions/:version/deploy',
    access('operator'),
    describe(
      'Deploy a version to an Ollama host (create, show, copy to <model>:live). Accept: application/x-ndjson streams the progress; otherwise the finished deployment',
      tags,
    ),
    validate('param', VersionParam),
    validate('json', DeployBody),
    async (c) => {
      const p = c.req.valid('param')
      const { record, done } = await registry.deploy(p.id, p.version, c.req.valid('json').host, whoOf(c))
      if ((c.req.header('accept') ?? '').includes('application/x-ndjson')) {
        c.header('Content-Type', 'application/x-ndjson')
        c.header('X-Deployment-Id', record.id)
        return stream(c, async (s) => {
          for await (const e of registry.hub.follow(record.id)) await s.write(`${JSON.stringify(e)}\n`)
        })
      }
      const finished = await done
      const json = (await deploymentsOf(deps, p.id, 50)).history.find((d) => d.id === finished.id)
      return c.json(json ?? deploymentJson(finished), finished.status === 'succeeded' ? 200 : 502)
    },
  )

  app.post(
    '/api/v1/models/:id/rollback',
    access('operator'),
    describe('Roll back on a host to the previous (or a named) version; copy only when the host still has it', tags),
    validate('param', ModelParam),
    validate('json', RollbackBody),
    async (c) => {
      const id = c.req.valid('param').id
      const body = c.req.valid('json')
      const { done } = await registry.rollback(id, body.host, body.version, whoOf(c))
      const finished = await done
      const json = (await deploymentsOf(deps, id, 50)).history.find((d) => d.id === finished.id)
      return c.json(json ?? deploymentJson(finished), finished.status === 'succeeded' ? 200 : 502)
    },
  )

  app.get(
    '/api/v1/models/:id/deployments',
    access('viewer'),
    describe('What is live on each host (since when, by whom) and the deploy and rollback history', tags),
    validate('param', ModelParam),
    async (c) => {
      const model = await getModel(db, c.req.valid('param').id)
      return c.json(await deploymentsOf(deps, model.id, 200))
    },
  )

  app.get(
    '/api/v1/deployments/:deployment/events',
    access('viewer'),
    describe('A running deployment’s progress as server-sent events (status, then done or failed)', tags),
    validate('param', DeploymentParam),
    async (c) => {
      const id = c.req.valid('param').deployment
      const [row] = await db.select().from(deploymentHistory).where(eq(deploymentHistory.id, id))
      if (!row) throw notFound('Deployment')
      return streamSSE(c, async (s) => {
        if (!registry.hub.has(id)) {
          // Finished before this process knew it (or in another instance): its outcome from the database.
          const json = deploymentJson(row)
          const event = row.status === 'failed' ? 'failed' : row.status === 'succeeded' ? 'done' : 'status'
          const status =
            event === 'status' ? 'running in another instance: its history row will have the outcome' : undefined
          await s.writeSSE({ event, data: JSON.stringify({ type: event, status, deployment: json, error: row.error }) })
          return
        }
        const abort = new AbortController()
        s.onAbort(() => abort.abort())
        for await (const e of registry.hub.follow(id, abort.signal))
          await s.writeSSE({ event: e.type, data: JSON.stringify(e) })
      })
    },
  )

  app.get(
    '/api/v1/models/:id/aliases',
    access('viewer'),
    describe('A model’s aliases and the versions they point at', tags),
    validate('param', ModelParam),
    async (c) => {
      const model = await getModel(db, c.req.valid('param').id)
      return c.json({ items: (await listAliases(db, model.id)).map(aliasJson) })
    },
  )

  app.put(
    '/api/v1/models/:id/aliases/:alias',
    access('operator'),
    describe(
      'Point an alias (production, canary, …) at a version; model routes naming alias:<model>/<alias> follow it',
      tags,
    ),
    validate('param', AliasParam),
    validate('json', AliasBody),
    async (c) => {
      const p = c.req.valid('param')
      const body = c.req.valid('json')
      await getModel(db, p.id)
      const row = await registry.moveAlias(p.id, p.alias, body.version, whoOf(c), body.reason ?? '')
      return c.json(aliasJson(row))
    },
  )

  app.get(
    '/api/v1/models/:id/aliases/:alias',
    access('viewer'),
    describe('One alias', tags),
    validate('param', AliasParam),
    async (c) => {
      const p = c.req.valid('param')
      return c.json(aliasJson(await getAlias(db, p.id, p.alias)))
    },
  )

  return app
}
