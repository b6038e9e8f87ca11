/** @jsxImportSource hono/jsx */
/**
 * The status pages in the dashboard: the list, a page's settings with its components (each shown
 * under a public name), its incidents and their updates, and "make public" from an alert. Viewers
 * read; admins change. Each form calls the same store as the JSON API, with the same checks and audit.
 */
import { asc } from 'drizzle-orm'
import { Hono } from 'hono'
import { components } from '../../../db/schema/components.ts'
import { incidentStatuses } from '../../../db/schema/status-pages.ts'
import { actor, type AppEnv } from '../../context.ts'
import { Empty, Layout, when } from '../../lib/layout.tsx'
import { clockOf } from '../../lib/time.ts'
import { validate } from '../../lib/validate.ts'
import { access, isAdmin } from '../../middleware/access.ts'
import { requirePrincipal } from '../../middleware/auth.ts'
import { audit } from '../audit/index.ts'
import { IdParam, IncidentBody, PageBody, PagePatch, UpdateBody } from './input.ts'
import { checkAlert, type StatusRoutesDeps } from './routes.ts'
import {
  addUpdate,
  createIncident,
  createPage,
  deleteIncident,
  deletePage,
  getIncident,
  getPage,
  listIncidents,
  listPages,
  updatePage,
} from './store.ts'

import { CsrfField, done, FormFields, groupsFromForm, IncidentForm, PageSettings, parse } from './page-forms.tsx'

export function statusPagesPages(deps: StatusRoutesDeps) {
  const { db, statusPages } = deps
  const { cache } = statusPages
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  const componentList = () =>
    db
      .select({ id: components.id, name: components.name, kind: components.kind })
      .from(components)
      .orderBy(asc(components.name))

  app.get('/status-pages', access('viewer'), async (c) => {
    const admin = isAdmin(c)
    const pages = await listPages(db)
    const alertId = c.req.query('alert')?.slice(0, 100)
    const alert = alertId && admin ? await deps.alerts.get(alertId).catch(() => null) : null
    return c.html(
      <Layout title="Status pages" active="/status-pages" principal={requirePrincipal(c)}>
        <h1>Status pages</h1>
        {alert ? (
          <section aria-labelledby="make-public">
            <h2 id="make-public">Make alert “{alert.alert.title}” public</h2>
            <p class="muted">
              Visitors see only the public title and messages you write here, never the alert's labels or annotations.
            </p>
            {pages.length ? (
              <IncidentForm c={c} pages={pages} alertId={alert.alert.id} />
            ) : (
              <Empty>Create a status page first.</Empty>
            )}
          </section>
        ) : null}
        {pages.length ? (
          <table class="table">
            <thead>
              <tr>
                <th scope="col">Title</th>
                <th scope="col">Address</th>
                <th scope="col">State</th>
                <th scope="col">Components</th>
              </tr>
            </thead>
            <tbody>
              {pages.map((p) => (
                <tr>
                  <td>
                    <a href={`/status-pages/${p.id}`}>{p.title}</a>
                  </td>
                  <td>
                    <a href={`/status/${p.slug}`}>/status/{p.slug}</a>
                  </td>
                  <td>{p.published ? 'published' : 'draft'}</td>
                  <td>{p.groups.reduce((n, g) => n + g.components.length, 0)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <Empty>No status pages yet.</Empty>
        )}
        {admin ? (
          <form class="stack card" method="post" action="/status-pages" hx-post="/status-pages" hx-swap="none">
            <CsrfField c={c} />
            <h2>New status page</h2>
            <label>
              Slug
              <input name="slug" required placeholder="acme" />
            </label>
            <label>
              Title
              <input name="title" required placeholder="Acme status" />
            </label>
            <button type="submit">Create</button>
          </form>
        ) : null}
      </Layout>,
    )
  })

  app.post('/status-pages', access('admin'), validate('form', FormFields), async (c) => {
    const form = c.req.valid('form')
    const row = await createPage(db, parse(PageBody, { slug: form.slug ?? '', title: form.title ?? '' }), now())
    cache.invalidatePage(row.id)
    await audit(db, c, { action: 'status_page.created', target: row.slug, summary: 'draft, made on the page' })
    return done(c, `/status-pages/${row.id}`)
  })

  app.get('/status-pages/:id', access('viewer'), validate('param', IdParam), async (c) => {
    const p = await getPage(db, c.req.valid('param').id)
    const admin = isAdmin(c)
    const { items } = await listIncidents(db, p.id, { limit: 100 })
    return c.html(
      <Layout title={p.title} active="/status-pages" principal={requirePrincipal(c)}>
        <p>
          <a href="/status-pages">← Status pages</a>
        </p>
        <h1>{p.title}</h1>
        <p>
          {p.published ? (
            <>
              Published at <a href={`/status/${p.slug}`}>/status/{p.slug}</a>
            </>
          ) : (
            'Draft: not shown to anyone yet.'
          )}
        </p>
        <h2>Incidents</h2>
        {items.length ? (
          <table class="table">
            <thead>
              <tr>
                <th scope="col">Title</th>
                <th scope="col">Status</th>
                <th scope="col">Started</th>
              </tr>
            </thead>
            <tbody>
              {items.map((i) => (
                <tr>
                  <td>
                    <a href={`/status-incidents/${i.id}`}>{i.title}</a>
                  </td>
                  <td>{i.status}</td>
                  <td>{when(i.startedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <Empty>No incidents.</Empty>
        )}
        {admin ? (
          <>
            <h2>Open an incident</h2>
            <IncidentForm c={c} pages={[p]} />
            <PageSettings c={c} p={p} all={await componentList()} />
            <form
              method="post"
              action={`/status-pages/${p.id}/delete`}
              hx-post={`/status-pages/${p.id}/delete`}
              hx-swap="none"
              hx-confirm="Delete this status page and its incidents?"
            >
              <CsrfField c={c} />
              <button type="submit" class="danger">
                Delete page
              </button>
            </form>
          </>
        ) : null}
      </Layout>,
    )
  })

  app.post(
    '/status-pages/:id',
    access('admin'),
    validate('param', IdParam),
    validate('form', FormFields),
    async (c) => {
      const before = await getPage(db, c.req.valid('param').id)
      const form = c.req.valid('form')
      const ids = (await componentList()).map((x) => x.id)
      const patch = parse(PagePatch, {
        slug: form.slug ?? '',
        title: form.title ?? '',
        logoText: form.logoText ?? '',
        footer: form.footer ?? '',
        published: form.published === 'on',
        groups: groupsFromForm(form, before.groups, ids),
      })
      const { after } = await updatePage(db, before.id, patch, now())
      cache.invalidatePage(after.id)
      await audit(db, c, { action: 'status_page.updated', target: after.slug, summary: 'changed on the page' })
      return done(c, `/status-pages/${after.id}`)
    },
  )

  app.post('/status-pages/:id/delete', access('admin'), validate('param', IdParam), async (c) => {
    const row = await deletePage(db, c.req.valid('param').id)
    cache.invalidatePage(row.id)
    await audit(db, c, { action: 'status_page.deleted', target: row.slug })
    return done(c, '/status-pages')
  })

  app.post('/status-incidents', access('admin'), validate('form', FormFields), async (c) => {
    const form = c.req.valid('form')
    const p = await getPage(db, form.pageId ?? '')
    const body = parse(IncidentBody, {
      title: form.title ?? '',
      message: form.message ?? '',
      ...(form.status ? { status: form.status } : {}),
      ...(form.impact ? { impact: form.impact } : {}),
      ...(form.alertId ? { alertId: form.alertId } : {}),
    })
    await checkAlert(deps.alerts, body)
    const row = await createIncident(db, p, body, actor(c), now())
    cache.invalidatePage(p.id)
    await audit(db, c, {
      action: 'status_incident.created',
      target: row.id,
      summary: `on ${p.slug}: "${row.title}"${row.alertId ? ` from alert ${row.alertId}` : ''}`,
    })
    return done(c, `/status-incidents/${row.id}`)
  })

  app.get('/status-incidents/:id', access('viewer'), validate('param', IdParam), async (c) => {
    const i = await getIncident(db, c.req.valid('param').id)
    const p = await getPage(db, i.pageId)
    return c.html(
      <Layout title={i.title} active="/status-pages" principal={requirePrincipal(c)}>
        <p>
          <a href={`/status-pages/${p.id}`}>← {p.title}</a>
        </p>
        <h1>{i.title}</h1>
        <p>
          {i.status} · {i.impact} impact · started {when(i.startedAt)}
          {i.alertId ? (
            <>
              {' '}
              · from <a href={`/alerts/${i.alertId}`}>an alert</a> (not shown publicly)
            </>
          ) : null}
        </p>
        {isAdmin(c) ? (
          <form
            class="stack card"
            method="post"
            action={`/status-incidents/${i.id}/updates`}
            hx-post={`/status-incidents/${i.id}/updates`}
            hx-swap="none"
          >
            <CsrfField c={c} />
            <h2>Post an update</h2>
            <label>
              Status
              <select name="status">
                {incidentStatuses.map((s) => (
                  <option value={s} selected={s === i.status}>
                    {s}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Message
              <textarea name="message" required rows={3} maxlength={5000}></textarea>
            </label>
            <button type="submit">Post update</button>
          </form>
        ) : null}
        <h2>Updates</h2>
        <ol class="plain">
          {i.updates.map((u) => (
            <li>
              <strong>{u.status}</strong>{' '}
              <span class="muted">
                {when(u.createdAt)} by {u.createdBy}
              </span>
              <p>{u.message}</p>
            </li>
          ))}
        </ol>
        {isAdmin(c) ? (
          <form
            method="post"
            action={`/status-incidents/${i.id}/delete`}
            hx-post={`/status-incidents/${i.id}/delete`}
            hx-swap="none"
            hx-confirm="Delete this incident from the public page?"
          >
            <CsrfField c={c} />
            <button type="submit" class="danger">
              Delete incident
            </button>
          </form>
        ) : null}
      </Layout>,
    )
  })

  app.post(
    '/status-incidents/:id/updates',
    access('admin'),
    validate('param', IdParam),
    validate('form', FormFields),
    async (c) => {
      const id = c.req.valid('param').id
      const form = c.req.valid('form')
      const row = await addUpdate(
        db,
        id,
        parse(UpdateBody, { status: form.status ?? '', message: form.message ?? '' }),
        actor(c),
        now(),
      )
      cache.invalidatePage(row.pageId)
      await audit(db, c, { action: 'status_incident.update_posted', target: id, summary: row.status })
      return done(c, `/status-incidents/${id}`)
    },
  )

  app.post('/status-incidents/:id/delete', access('admin'), validate('param', IdParam), async (c) => {
    const row = await deleteIncident(db, c.req.valid('param').id)
    cache.invalidatePage(row.pageId)
    await audit(db, c, { action: 'status_incident.deleted', target: row.id, summary: row.title })
    return done(c, `/status-pages/${row.pageId}`)
  })

  return app
}
