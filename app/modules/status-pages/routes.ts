/**
 * The status pages' JSON API for admins (pages, incidents, updates) and reads for viewers. Every
 * change is audited and drops what the public cache holds for the page.
 */
import { Hono } from 'hono'
import { actor, type AppEnv, type ModuleDeps } from '../../context.ts'
import { AppError, badRequest } from '../../lib/errors.ts'
import { describe } from '../../lib/route-meta.ts'
import { clockOf } from '../../lib/time.ts'
import { validate } from '../../lib/validate.ts'
import { access } from '../../middleware/access.ts'
import type { AlertsService } from '../alerts/index.ts'
import { audit } from '../audit/index.ts'
import {
  IdParam,
  IncidentBody,
  IncidentPatch,
  ListQuery,
  PageBody,
  PagePatch,
  UpdateBody,
  type IncidentInput,
} from './input.ts'
import type { StatusPages } from './service.ts'
import {
  addUpdate,
  createIncident,
  createPage,
  deleteIncident,
  deletePage,
  getIncident,
  getPage,
  incidentJson,
  listIncidents,
  listPages,
  pageJson,
  updateIncident,
  updatePage,
} from './store.ts'

export type StatusRoutesDeps = ModuleDeps & { statusPages: StatusPages; alerts: Pick<AlertsService, 'get'> }

/** 400 naming `alertId` when the alert to make public does not exist. */
export async function checkAlert(alerts: Pick<AlertsService, 'get'>, input: Pick<IncidentInput, 'alertId'>) {
  if (!input.alertId) return
  try {
    await alerts.get(input.alertId)
  } catch (error) {
    if (error instanceof AppError && error.status === 404)
      throw badRequest('Invalid incident', [{ field: 'alertId', message: 'no alert has this id' }])
    throw error
  }
}

export function statusPagesRoutes(deps: StatusRoutesDeps) {
  const { db, statusPages } = deps
  const { cache } = statusPages
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  const tags = ['status pages']

  app.get('/api/v1/status-pages', access('viewer'), describe('List status pages', tags), async (c) =>
    c.json({ items: (await listPages(db)).map(pageJson) }),
  )

  app.post(
    '/api/v1/status-pages',
    access('admin'),
    describe(
      'Create a status page: slug, title, logoText, footer, published, groups of components with public names',
      tags,
      201,
    ),
    validate('json', PageBody),
    async (c) => {
      const row = await createPage(db, c.req.valid('json'), now())
      cache.invalidatePage(row.id)
      await audit(db, c, {
        action: 'status_page.created',
        target: row.slug,
        summary: `${row.published ? 'published' : 'draft'}, ${row.groups.length} groups`,
      })
      return c.json(pageJson(row), 201)
    },
  )

  app.get(
    '/api/v1/status-pages/:id',
    access('viewer'),
    describe('One status page', tags),
    validate('param', IdParam),
    async (c) => c.json(pageJson(await getPage(db, c.req.valid('param').id))),
  )

  app.patch(
    '/api/v1/status-pages/:id',
    access('admin'),
    describe('Change a status page (publish or unpublish with published)', tags),
    validate('param', IdParam),
    validate('json', PagePatch),
    async (c) => {
      const patch = c.req.valid('json')
      const { before, after } = await updatePage(db, c.req.valid('param').id, patch, now())
      cache.invalidatePage(after.id)
      await audit(db, c, {
        action: 'status_page.updated',
        target: after.slug,
        summary: `changed ${Object.keys(patch).join(', ') || 'nothing'}${before.slug !== after.slug ? ` (was ${before.slug})` : ''}`,
      })
      return c.json(pageJson(after))
    },
  )

  app.delete(
    '/api/v1/status-pages/:id',
    access('admin'),
    describe('Delete a status page with its incidents', tags, 204),
    validate('param', IdParam),
    async (c) => {
      const row = await deletePage(db, c.req.valid('param').id)
      cache.invalidatePage(row.id)
      await audit(db, c, { action: 'status_page.deleted', target: row.slug })
      return c.body(null, 204)
    },
  )

  app.get(
    '/api/v1/status-pages/:id/incidents',
    access('viewer'),
    describe("A status page's incidents, newest first (limit, cursor)", tags),
    validate('param', IdParam),
    validate('query', ListQuery),
    async (c) => {
      const p = await getPage(db, c.req.valid('param').id)
      const q = c.req.valid('query')
      const { items, next } = await listIncidents(db, p.id, { limit: q.limit ?? 100, cursor: q.cursor })
      const full = await Promise.all(items.map((i) => getIncident(db, i.id)))
      return c.json({ items: full.map(incidentJson), next })
    },
  )

  app.post(
    '/api/v1/status-pages/:id/incidents',
    access('admin'),
    describe(
      'Open an incident by hand or from an alert (alertId: "make public"): public title, first message, status, impact, componentIds',
      tags,
      201,
    ),
    validate('param', IdParam),
    validate('json', IncidentBody),
    async (c) => {
      const p = await getPage(db, c.req.valid('param').id)
      const body = c.req.valid('json')
      await checkAlert(deps.alerts, body)
      const row = await createIncident(db, p, body, actor(c), now())
      cache.invalidatePage(p.id)
      await audit(db, c, {
        action: 'status_incident.created',
        target: row.id,
        summary: `on ${p.slug}: "${row.title}" (${row.status}, ${row.impact})${row.alertId ? ` from alert ${row.alertId}` : ''}`,
      })
      return c.json(incidentJson(row), 201)
    },
  )

  app.get(
    '/api/v1/status-incidents/:id',
    access('viewer'),
    describe('One incident with its updates, newest first', tags),
    validate('param', IdParam),
    async (c) => c.json(incidentJson(await getIncident(db, c.req.valid('param').id))),
  )

  app.patch(
    '/api/v1/status-incidents/:id',
    access('admin'),
    describe("Change an incident's title, impact or components (its status moves by updates)", tags),
    validate('param', IdParam),
    validate('json', IncidentPatch),
    async (c) => {
      const id = c.req.valid('param').id
      const patch = c.req.valid('json')
      const before = await getIncident(db, id)
      const row = await updateIncident(db, await getPage(db, before.pageId), id, patch, now())
      cache.invalidatePage(row.pageId)
      await audit(db, c, {
        action: 'status_incident.updated',
        target: id,
        summary: `changed ${Object.keys(patch).join(', ') || 'nothing'}`,
      })
      return c.json(incidentJson(row))
    },
  )

  app.post(
    '/api/v1/status-incidents/:id/updates',
    access('admin'),
    describe('Post an update (investigating, identified, monitoring, resolved) with a message', tags, 201),
    validate('param', IdParam),
    validate('json', UpdateBody),
    async (c) => {
      const id = c.req.valid('param').id
      const row = await addUpdate(db, id, c.req.valid('json'), actor(c), now())
      cache.invalidatePage(row.pageId)
      await audit(db, c, { action: 'status_incident.update_posted', target: id, summary: row.status })
      return c.json(incidentJson(row), 201)
    },
  )

  app.delete(
    '/api/v1/status-incidents/:id',
    access('admin'),
    describe('Delete an incident (it leaves the public page and feed)', tags, 204),
    validate('param', IdParam),
    async (c) => {
      const row = await deleteIncident(db, c.req.valid('param').id)
      cache.invalidatePage(row.pageId)
      await audit(db, c, { action: 'status_incident.deleted', target: row.id, summary: row.title })
      return c.body(null, 204)
    },
  )

  return app
}
