/** @jsxImportSource hono/jsx */
import { Hono } from 'hono'
import { count, desc } from 'drizzle-orm'
import { auditLog } from '../../../db/schema/audit.ts'
import { apiKeys, users } from '../../../db/schema/auth.ts'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { access } from '../../middleware/access.ts'
import { requirePrincipal } from '../../middleware/auth.ts'
import { Layout, when } from '../../lib/layout.tsx'
import type { RouteInfo } from '../../lib/route-meta.ts'
import { buildOpenApi } from './openapi.ts'
import { readiness } from './service.ts'
import { VERSION } from './routes.ts'

export function systemPages(deps: ModuleDeps, routes: () => RouteInfo[]) {
  const { db } = deps
  const app = new Hono<AppEnv>()

  // Infrastructure status (Settings → System): readiness, counts, the jobs. The front page (`/`) is
  // the operator's (app/modules/front); this is what keeps Homeostat itself running.
  app.get('/settings/system', access('viewer'), async (c) => {
    // The audit log is for admins (who did what, from which address): others see no recent changes.
    const isAdmin = requirePrincipal(c).role === 'admin'
    const [[u], [k], recent, checks, jobs] = await Promise.all([
      db.select({ n: count() }).from(users),
      db.select({ n: count() }).from(apiKeys),
      isAdmin ? db.select().from(auditLog).orderBy(desc(auditLog.id)).limit(8) : [],
      readiness(deps),
      deps.scheduler?.status(),
    ])
    return c.html(
      <Layout title="System" active="/settings" principal={requirePrincipal(c)}>
        <h1>System</h1>
        <div class="tiles">
          {checks.map((x) => (
            <div class={`tile ${x.ok ? 'ok' : 'bad'}`}>
              <span class="label">{x.name}</span>
              <strong>{x.ok ? 'OK' : 'Failing'}</strong>
              <span class="muted">{x.detail ?? ''}</span>
            </div>
          ))}
          <div class="tile">
            <span class="label">Users</span>
            <strong>{u?.n ?? 0}</strong>
          </div>
          <div class="tile">
            <span class="label">API keys</span>
            <strong>{k?.n ?? 0}</strong>
          </div>
        </div>
        <section class="card">
          <h2>Jobs</h2>
          <table class="table">
            <thead>
              <tr>
                <th>Job</th>
                <th>Schedule</th>
                <th>Last tick</th>
                <th>Last recorded run</th>
                <th>Next run</th>
                <th>Skipped</th>
              </tr>
            </thead>
            <tbody>
              {(jobs?.jobs ?? []).map((j) => (
                <tr>
                  <td>{j.name}</td>
                  <td>
                    <code>{j.schedule}</code>
                  </td>
                  <td>{when(j.lastTick ?? j.lastRun?.startedAt)}</td>
                  <td>{j.lastRun ? `${j.lastRun.status}, ${when(j.lastRun.startedAt)}` : 'none yet'}</td>
                  <td>{j.nextRun ? when(Date.parse(j.nextRun)) : '—'}</td>
                  <td>{j.skipped}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
        {isAdmin && (
          <section class="card">
            <h2>Recent changes</h2>
            <ul class="plain">
              {recent.map((e) => (
                <li>
                  <span class="muted">{when(e.ts)}</span> {e.actor} <code>{e.action}</code> {e.target ?? ''}
                </li>
              ))}
            </ul>
          </section>
        )}
      </Layout>,
    )
  })

  app.get('/settings', access('viewer'), (c) => {
    const p = requirePrincipal(c)
    const links = [
      ...(p.role === 'admin'
        ? [
            { href: '/settings/users', title: 'Users', text: 'Who can sign in, and with which role.' },
            { href: '/settings/keys', title: 'API keys', text: 'Keys for scripts, agents, n8n and Prometheus.' },
            { href: '/settings/audit', title: 'Audit log', text: 'Every change: who, what, when, from where.' },
          ]
        : []),
      ...(p.kind === 'session'
        ? [{ href: '/settings/security', title: 'My account', text: 'Password and two-factor sign-in.' }]
        : []),
      { href: '/settings/system', title: 'System', text: 'Database, migrations, scheduler and jobs.' },
    ]
    return c.html(
      <Layout title="Settings" active="/settings" principal={p}>
        <h1>Settings</h1>
        <div class="tiles">
          {links.map((l) => (
            <a class="tile link-tile" href={l.href}>
              <strong>{l.title}</strong>
              <span class="muted">{l.text}</span>
            </a>
          ))}
        </div>
      </Layout>,
    )
  })

  app.get('/docs', access('viewer'), async (c) => {
    const doc = await buildOpenApi(routes(), VERSION, deps.config.PUBLIC_URL)
    return c.html(
      <Layout title="API docs" active="/docs" principal={requirePrincipal(c)}>
        <h1>API</h1>
        <p>
          Machine-readable: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a> (OpenAPI 3.1). Authenticate with{' '}
          <code>Authorization: Bearer hs_…</code>.
        </p>
        {Object.entries(doc.paths).map(([path, ops]) =>
          Object.entries(ops).map(([method, op]) => {
            const o = op as {
              summary: string
              'x-access': string
              parameters?: { name: string; in: string; required: boolean }[]
              requestBody?: { content: Record<string, { schema: unknown }> }
            }
            return (
              <details class="op">
                <summary>
                  <span class={`method ${method}`}>{method.toUpperCase()}</span> <code>{path}</code>{' '}
                  <span class="muted">{o.summary}</span> <span class="badge">{o['x-access']}</span>
                </summary>
                {o.parameters?.length ? (
                  <p>
                    Parameters:{' '}
                    {o.parameters.map((x) => `${x.name} (${x.in}${x.required ? ', required' : ''})`).join(', ')}
                  </p>
                ) : null}
                {o.requestBody ? (
                  <pre>{JSON.stringify(Object.values(o.requestBody.content)[0]?.schema, null, 2)}</pre>
                ) : null}
              </details>
            )
          }),
        )}
      </Layout>,
    )
  })

  return app
}
