/** @jsxImportSource hono/jsx */
import { Hono } from 'hono'
import type { AuditEntry } from '../../../db/schema/audit.ts'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { access } from '../../middleware/access.ts'
import { requirePrincipal } from '../../middleware/auth.ts'
import { Empty, Layout, when } from '../../lib/layout.tsx'
import { validate } from '../../lib/validate.ts'
import { AuditQuery } from './schema.ts'
import { listAudit } from './service.ts'

function Rows({ items, next, query }: { items: AuditEntry[]; next: string | null; query: URLSearchParams }) {
  if (next) query.set('cursor', next)
  return (
    <>
      {items.map((e) => (
        <tr>
          <td class="nowrap">{when(e.ts)}</td>
          <td>{e.actor}</td>
          <td>
            <code>{e.action}</code>
          </td>
          <td>{e.target ?? ''}</td>
          <td>{e.summary}</td>
          <td class="muted">{e.ip ?? ''}</td>
        </tr>
      ))}
      {next ? (
        <tr id="more">
          <td colspan={6}>
            <button class="link" hx-get={`/settings/audit/rows?${query}`} hx-target="#more" hx-swap="outerHTML">
              Load more
            </button>
          </td>
        </tr>
      ) : null}
    </>
  )
}

export function auditPages({ db }: ModuleDeps) {
  const app = new Hono<AppEnv>()

  app.get('/settings/audit', access('admin'), validate('query', AuditQuery), async (c) => {
    const q = c.req.valid('query')
    const { items, next } = await listAudit(db, { ...q, limit: q.limit ?? 50 })
    return c.html(
      <Layout title="Audit log" active="/settings" principal={requirePrincipal(c)}>
        <h1>Audit log</h1>
        <form class="inline card" hx-get="/settings/audit/rows" hx-target="#audit-rows" hx-push-url="false">
          <label>
            Actor <input name="actor" placeholder="user:ada@example.com" value={q.actor ?? ''} />
          </label>
          <label>
            Action <input name="action" placeholder="auth.* or key.created" value={q.action ?? ''} />
          </label>
          <label>
            Target <input name="target" value={q.target ?? ''} />
          </label>
          <label>
            From <input name="from" type="datetime-local" />
          </label>
          <label>
            To <input name="to" type="datetime-local" />
          </label>
          <button type="submit">Filter</button>
        </form>
        {items.length === 0 ? (
          <Empty>Nothing recorded yet. Every sign-in, key and setting change will appear here.</Empty>
        ) : null}
        <table class="table">
          <thead>
            <tr>
              <th>When</th>
              <th>Actor</th>
              <th>Action</th>
              <th>Target</th>
              <th>Summary</th>
              <th>IP</th>
            </tr>
          </thead>
          <tbody id="audit-rows">
            <Rows items={items} next={next} query={new URL(c.req.url).searchParams} />
          </tbody>
        </table>
      </Layout>,
    )
  })

  app.get('/settings/audit/rows', access('admin'), validate('query', AuditQuery), async (c) => {
    const q = c.req.valid('query')
    const { items, next } = await listAudit(db, { ...q, limit: q.limit ?? 50 })
    const query = new URL(c.req.url).searchParams
    query.delete('cursor')
    return c.html(
      items.length || q.cursor ? (
        <Rows items={items} next={next} query={query} />
      ) : (
        <tr>
          <td colspan={6} class="empty">
            No entries match.
          </td>
        </tr>
      ),
    )
  })

  return app
}
