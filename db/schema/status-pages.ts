import { sql } from 'drizzle-orm'
import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core'
import { alerts } from './alerts.ts'

export const incidentStatuses = ['investigating', 'identified', 'monitoring', 'resolved'] as const
export type IncidentStatus = (typeof incidentStatuses)[number]
export const incidentImpacts = ['none', 'minor', 'major', 'critical'] as const
export type IncidentImpact = (typeof incidentImpacts)[number]

/**
 * What a page shows: groups of components, each under the public name an admin chose. The
 * component's own name, labels and check URL never reach the page; only `displayName` does.
 */
export type StatusGroup = { name: string; components: { componentId: string; displayName: string }[] }

/** A public status page: served without sign-in at /status/<slug> while `published`. */
export const statusPages = sqliteTable('status_pages', {
  id: text('id').primaryKey(),
  slug: text('slug').notNull().unique(),
  title: text('title').notNull(),
  logoText: text('logo_text').notNull().default(''),
  footer: text('footer').notNull().default(''),
  published: integer('published', { mode: 'boolean' }).notNull().default(false),
  groups: text('groups', { mode: 'json' }).$type<StatusGroup[]>().notNull().default(sql`'[]'`),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
})

/**
 * An incident told to the public on one page: made by hand or from an alert ("make public"). Only
 * its public title and updates are shown; the alert it came from stays private.
 */
export const statusIncidents = sqliteTable(
  'status_incidents',
  {
    id: text('id').primaryKey(),
    pageId: text('page_id')
      .notNull()
      .references(() => statusPages.id, { onDelete: 'cascade' }),
    alertId: text('alert_id').references(() => alerts.id, { onDelete: 'set null' }),
    title: text('title').notNull(),
    status: text('status', { enum: incidentStatuses }).notNull(),
    impact: text('impact', { enum: incidentImpacts }).notNull().default('minor'),
    /** Components of the page it affects (ids), shown by their display names. */
    componentIds: text('component_ids', { mode: 'json' }).$type<string[]>().notNull().default(sql`'[]'`),
    startedAt: integer('started_at').notNull(),
    resolvedAt: integer('resolved_at'),
    createdBy: text('created_by').notNull(),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('status_incidents_page_idx').on(t.pageId, t.startedAt)],
)

/** The updates of an incident over time, each with the status it moved the incident to. */
export const statusIncidentUpdates = sqliteTable(
  'status_incident_updates',
  {
    id: text('id').primaryKey(),
    incidentId: text('incident_id')
      .notNull()
      .references(() => statusIncidents.id, { onDelete: 'cascade' }),
    status: text('status', { enum: incidentStatuses }).notNull(),
    message: text('message').notNull(),
    createdBy: text('created_by').notNull(),
    createdAt: integer('created_at').notNull(),
  },
  (t) => [index('status_incident_updates_incident_idx').on(t.incidentId, t.createdAt)],
)

export type StatusPage = typeof statusPages.$inferSelect
export type StatusIncident = typeof statusIncidents.$inferSelect
export type StatusIncidentUpdate = typeof statusIncidentUpdates.$inferSelect
