/**
 * Status pages and their incidents in the database: plain functions over `db`. Routes and pages
 * call these, write the audit row, and tell the cache what changed.
 */
import { and, desc, eq, inArray, lt } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { components } from '../../../db/schema/components.ts'
import {
  type StatusGroup,
  type StatusIncident,
  type StatusIncidentUpdate,
  type StatusPage,
  statusIncidents,
  statusIncidentUpdates,
  statusPages,
} from '../../../db/schema/status-pages.ts'
import { isUniqueViolation } from '../../lib/db-errors.ts'
import { AppError, badRequest, type ErrorDetail, notFound } from '../../lib/errors.ts'
import { newId } from '../../lib/ids.ts'
import { page } from '../../lib/pagination.ts'
import { toIso } from '../../lib/time.ts'
import type { IncidentInput, IncidentPatchInput, PageInput, PagePatchInput, UpdateInput } from './input.ts'

const slugTaken = (slug: string) =>
  new AppError(409, 'conflict', `A status page with the slug ${slug} already exists`, [
    { field: 'slug', message: 'is already used by another status page' },
  ])

/** 400 naming each group entry whose component does not exist, or that appears twice. */
async function checkGroups(db: Db, groups: StatusGroup[]) {
  const ids = groups.flatMap((g) => g.components.map((c) => c.componentId))
  if (!ids.length) return
  const found = new Set(
    (await db.select({ id: components.id }).from(components).where(inArray(components.id, ids))).map((r) => r.id),
  )
  const seen = new Set<string>()
  const problems: ErrorDetail[] = []
  for (const [i, g] of groups.entries()) {
    for (const [j, c] of g.components.entries()) {
      const field = `groups.${i}.components.${j}.componentId`
      if (!found.has(c.componentId)) problems.push({ field, message: 'no component has this id' })
      else if (seen.has(c.componentId)) problems.push({ field, message: 'is already on this page' })
      seen.add(c.componentId)
    }
  }
  if (problems.length) throw badRequest('Invalid status page', problems)
}

export async function createPage(db: Db, input: PageInput, now: number): Promise<StatusPage> {
  await checkGroups(db, input.groups ?? [])
  const row: StatusPage = {
    id: newId(now),
    slug: input.slug,
    title: input.title,
    logoText: input.logoText ?? '',
    footer: input.footer ?? '',
    published: input.published ?? false,
    groups: input.groups ?? [],
    createdAt: now,
    updatedAt: now,
  }
  try {
    await db.insert(statusPages).values(row)
  } catch (error) {
    throw isUniqueViolation(error) ? slugTaken(input.slug) : error
  }
  return row
}

export async function getPage(db: Db, id: string) {
  const [row] = await db.select().from(statusPages).where(eq(statusPages.id, id))
  if (!row) throw notFound('Status page')
  return row
}

export async function pageBySlug(db: Db, slug: string) {
  const [row] = await db.select().from(statusPages).where(eq(statusPages.slug, slug))
  return row
}

export const listPages = (db: Db) => db.select().from(statusPages).orderBy(statusPages.slug)

export async function updatePage(db: Db, id: string, patch: PagePatchInput, now: number) {
  const before = await getPage(db, id)
  if (patch.groups) await checkGroups(db, patch.groups)
  const after = { ...before, ...patch, updatedAt: now }
  try {
    await db.update(statusPages).set(after).where(eq(statusPages.id, id))
  } catch (error) {
    throw isUniqueViolation(error) ? slugTaken(after.slug) : error
  }
  return { before, after }
}

export async function deletePage(db: Db, id: string) {
  const row = await getPage(db, id)
  await db.delete(statusPages).where(eq(statusPages.id, id))
  return row
}

export const pageJson = (p: StatusPage) => ({
  id: p.id,
  slug: p.slug,
  title: p.title,
  logoText: p.logoText,
  footer: p.footer,
  published: p.published,
  groups: p.groups,
  url: `/status/${p.slug}`,
  createdAt: toIso(p.createdAt),
  updatedAt: toIso(p.updatedAt),
})

/** 400 when an incident names a component that is not on its page (the public knows no other). */
function checkIncidentComponents(p: StatusPage, ids: string[] | undefined) {
  if (!ids?.length) return
  const onPage = new Set(p.groups.flatMap((g) => g.components.map((c) => c.componentId)))
  const problems = ids.flatMap((id, i) =>
    onPage.has(id) ? [] : [{ field: `componentIds.${i}`, message: 'is not a component of this status page' }],
  )
  if (problems.length) throw badRequest('Invalid incident', problems)
}

export type IncidentWithUpdates = StatusIncident & { updates: StatusIncidentUpdate[] }

/** Opens an incident on a page with its first update (one batch). */
export async function createIncident(
  db: Db,
  p: StatusPage,
  input: IncidentInput,
  by: string,
  now: number,
): Promise<IncidentWithUpdates> {
  checkIncidentComponents(p, input.componentIds)
  const status = input.status ?? 'investigating'
  const startedAt = input.startedAt ?? now
  const incident: StatusIncident = {
    id: newId(now),
    pageId: p.id,
    alertId: input.alertId ?? null,
    title: input.title,
    status,
    impact: input.impact ?? 'minor',
    componentIds: input.componentIds ?? [],
    startedAt,
    resolvedAt: status === 'resolved' ? now : null,
    createdBy: by,
    createdAt: now,
    updatedAt: now,
  }
  const update: StatusIncidentUpdate = {
    id: newId(now),
    incidentId: incident.id,
    status,
    message: input.message,
    createdBy: by,
    createdAt: now,
  }
  await db.batch([db.insert(statusIncidents).values(incident), db.insert(statusIncidentUpdates).values(update)])
  return { ...incident, updates: [update] }
}

export async function getIncident(db: Db, id: string): Promise<IncidentWithUpdates> {
  const [row] = await db.select().from(statusIncidents).where(eq(statusIncidents.id, id))
  if (!row) throw notFound('Incident')
  const updates = await db
    .select()
    .from(statusIncidentUpdates)
    .where(eq(statusIncidentUpdates.incidentId, id))
    .orderBy(desc(statusIncidentUpdates.createdAt), desc(statusIncidentUpdates.id))
  return { ...row, updates }
}

/** A page's incidents, newest first, by cursor (the incident id). */
export async function listIncidents(db: Db, pageId: string, q: { limit: number; cursor?: string }) {
  const rows = await db
    .select()
    .from(statusIncidents)
    .where(and(eq(statusIncidents.pageId, pageId), q.cursor ? lt(statusIncidents.id, q.cursor) : undefined))
    .orderBy(desc(statusIncidents.id))
    .limit(q.limit + 1)
  return page(rows, q.limit, (r) => r.id)
}

export async function updateIncident(db: Db, p: StatusPage, id: string, patch: IncidentPatchInput, now: number) {
  const before = await getIncident(db, id)
  checkIncidentComponents(p, patch.componentIds)
  await db
    .update(statusIncidents)
    .set({ ...patch, updatedAt: now })
    .where(eq(statusIncidents.id, id))
  return { ...before, ...patch, updatedAt: now }
}

/** Adds an update; its status becomes the incident's (resolved sets, and reopening clears, the end). */
export async function addUpdate(db: Db, id: string, input: UpdateInput, by: string, now: number) {
  const before = await getIncident(db, id)
  const update: StatusIncidentUpdate = {
    id: newId(now),
    incidentId: id,
    status: input.status,
    message: input.message,
    createdBy: by,
    createdAt: now,
  }
  const resolvedAt = input.status === 'resolved' ? (before.resolvedAt ?? now) : null
  await db.batch([
    db.insert(statusIncidentUpdates).values(update),
    db
      .update(statusIncidents)
      .set({ status: input.status, resolvedAt, updatedAt: now })
      .where(eq(statusIncidents.id, id)),
  ])
  return { ...before, status: input.status, resolvedAt, updatedAt: now, updates: [update, ...before.updates] }
}

export async function deleteIncident(db: Db, id: string) {
  const row = await getIncident(db, id)
  await db.delete(statusIncidents).where(eq(statusIncidents.id, id))
  return row
}

/** An incident for the admin API: everything, the alert link included (the public view has less). */
export const incidentJson = (i: IncidentWithUpdates) => ({
  id: i.id,
  pageId: i.pageId,
  alertId: i.alertId,
  title: i.title,
  status: i.status,
  impact: i.impact,
  componentIds: i.componentIds,
  startedAt: toIso(i.startedAt),
  resolvedAt: toIso(i.resolvedAt),
  createdBy: i.createdBy,
  createdAt: toIso(i.createdAt),
  updatedAt: toIso(i.updatedAt),
  updates: i.updates.map((u) => ({
    id: u.id,
    status: u.status,
    message: u.message,
    createdBy: u.createdBy,
    createdAt: toIso(u.createdAt),
  })),
})
