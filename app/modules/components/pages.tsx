/** @jsxImportSource hono/jsx */
import { desc, eq } from 'drizzle-orm'
import { Hono } from 'hono'
import * as v from 'valibot'
import { statusHistory } from '../../../db/schema/components.ts'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { hxRedirect } from '../../lib/htmx.ts'
import { access, canWrite } from '../../middleware/access.ts'
import { requirePrincipal } from '../../middleware/auth.ts'
import { Empty, Layout, when } from '../../lib/layout.tsx'
import { clockOf } from '../../lib/time.ts'
import { validate } from '../../lib/validate.ts'
import { audit } from '../audit/index.ts'
import { parseCreateForm, parseEditForm } from './form.ts'
import { formatRange, overview } from './overview.ts'
import { checkSummary } from './routes.ts'
import { IdParam, OverviewQuery } from './schema.ts'
import {
  createComponent,
  deleteComponent,
  getComponent,
  httpConfig,
  listComponents,
  openPushToken,
  rotateToken,
  safeUrl,
  updateComponent,
} from './service.ts'
import { componentUptime } from './uptime.ts'
import {
  ComponentFormView,
  HistoryTable,
  ms,
  OverviewTiles,
  pct,
  Sparkline,
  StatusPill,
  StatusStrip,
} from './views.tsx'

const FormBody = v.record(v.string(), v.string())
const DAY = 86_400_000

export function componentPages(deps: ModuleDeps) {
  const { db, sealer, config } = deps
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()

  app.get('/overview/components', access('viewer'), validate('query', OverviewQuery), async (c) => {
    const range = c.req.valid('query').range ?? DAY
    return c.html(<OverviewTiles data={await overview(db, range, now())} range={formatRange(range)} />)
  })

  app.get('/components', access('viewer'), async (c) => {
    const { items } = await listComponents(db, { limit: 500 })
    const write = canWrite(c) // operators see the full check URL; viewers without query string or userinfo
    return c.html(
      <Layout title="Components" active="/components" principal={requirePrincipal(c)}>
        <div class="page-head">
          <h1>Components</h1>
          {canWrite(c) ? (
            <a class="button" href="/new/component">
              New component
            </a>
          ) : null}
        </div>
        <p class="muted">
          Agents, services, models, workflows, databases and vector stores, each watched by an HTTP check or a push
          heartbeat.
        </p>
        {items.length === 0 ? (
          <Empty>
            No components yet.{canWrite(c) ? ' Create one to start checking it.' : ' An operator can add them.'}
          </Empty>
        ) : (
          <table class="table" id="components">
            <thead>
              <tr>
                <th>Name</th>
                <th>Kind</th>
                <th>Check</th>
                <th>Status</th>
                <th>Since</th>
                <th>Last result</th>
              </tr>
            </thead>
            <tbody>
              {items.map((x) => (
                <tr data-component={x.name}>
                  <td>
                    <a href={`/components/${x.id}`}>{x.name}</a>
                  </td>
                  <td>{x.kind.replace('_', ' ')}</td>
                  <td>
                    {x.checkType === 'http' ? (
                      <span>
                        {x.method} <code>{write ? x.url : safeUrl(x.url!)}</code> every {x.intervalSeconds}s
                      </span>
                    ) : (
                      <span>
                        push every {x.expectedIntervalSeconds}s (+{x.graceSeconds}s)
                      </span>
                    )}
                  </td>
                  <td>
                    <StatusPill state={x.status} />
                  </td>
                  <td class="nowrap">{when(x.statusSince)}</td>
                  <td>
                    {x.lastCheckAt ? `${when(x.lastCheckAt)}${x.lastMessage ? ` — ${x.lastMessage}` : ''}` : 'not yet'}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Layout>,
    )
  })

  app.get('/new/component', access('operator'), (c) =>
    c.html(
      <Layout title="New component" active="/components" principal={requirePrincipal(c)}>
        <p>
          <a href="/components">← Components</a>
        </p>
        <h1>New component</h1>
        <ComponentFormView action="/components" />
      </Layout>,
    ),
  )

  app.post('/components', access('operator'), validate('form', FormBody), async (c) => {
    const row = await createComponent(deps, parseCreateForm(c.req.valid('form')), now())
    await audit(db, c, { action: 'component.created', target: row.name, summary: checkSummary(row) })
    return hxRedirect(c, `/components/${row.id}`)
  })

  app.get('/components/:id', access('viewer'), validate('param', IdParam), async (c) => {
    const x = await getComponent(db, c.req.valid('param').id)
    const [uptime, rows] = await Promise.all([
      componentUptime(db, x.id, now()),
      db
        .select()
        .from(statusHistory)
        .where(eq(statusHistory.componentId, x.id))
        .orderBy(desc(statusHistory.ts), desc(statusHistory.id))
        .limit(120),
    ])
    const write = canWrite(c)
    const token = write ? openPushToken(sealer, x) : null
    const pushUrl = token ? `${config.PUBLIC_URL}/api/v1/push/${token}` : null
    const http = httpConfig(x)
    return c.html(
      <Layout title={x.name} active="/components" principal={requirePrincipal(c)}>
        <p>
          <a href="/components">← Components</a>
        </p>
        <div class="page-head">
          <h1>
            {x.name} <StatusPill state={x.status} />
          </h1>
        </div>
        <p class="muted">
          {x.kind.replace('_', ' ')}
          {x.description ? ` · ${x.description}` : ''}
          {Object.entries(x.labels).map(([k, val]) => (
            <span class="badge">
              {k}={val}
            </span>
          ))}
        </p>
        <div class="tiles">
          <div class={`tile ${x.status === 'up' ? 'ok' : x.status === 'down' ? 'bad' : ''}`}>
            <span class="label">Status</span>
            <strong>{x.status}</strong>
            <span class="muted">since {when(x.statusSince)}</span>
          </div>
          <div class="tile">
            <span class="label">Uptime 24h</span>
            <strong data-uptime="24h">{pct(uptime['24h'])}</strong>
          </div>
          <div class="tile">
            <span class="label">Uptime 7d</span>
            <strong data-uptime="7d">{pct(uptime['7d'])}</strong>
          </div>
          <div class="tile">
            <span class="label">Uptime 30d</span>
            <strong data-uptime="30d">{pct(uptime['30d'])}</strong>
          </div>
          <div class="tile">
            <span class="label">Last latency</span>
            <strong>{ms(x.lastLatencyMs)}</strong>
            <span class="muted">{x.lastMessage ?? ''}</span>
          </div>
        </div>
        <section class="card">
          <h2>Status history</h2>
          <StatusStrip rows={rows} />
        </section>
        <section class="card">
          <h2>Latency</h2>
          <Sparkline rows={rows} />
        </section>
        {pushUrl ? (
          <section class="card">
            <h2>Push URL</h2>
            <p class="muted">
              Call it at least every {x.expectedIntervalSeconds} s (grace {x.graceSeconds} s); it works as an Uptime
              Kuma push URL. The token in it is the credential: keep it secret.
            </p>
            <code class="secret" id="push-url">
              {pushUrl}?status=up&msg=OK&ping=
            </code>
            <pre>{`curl -fsS "${pushUrl}?status=up&msg=OK&ping=42"`}</pre>
            <button
              class="small"
              hx-post={`/components/${x.id}/rotate-token`}
              hx-confirm="Make a new token? The current push URL stops working."
              hx-swap="none"
            >
              Rotate token
            </button>
          </section>
        ) : x.checkType === 'push' ? (
          <p class="muted">A push component: operators see its push URL here.</p>
        ) : null}
        <section class="card">
          <h2>Recent results</h2>
          {rows.length ? <HistoryTable rows={rows.slice(0, 20)} /> : <p class="muted">None yet.</p>}
        </section>
        {write ? (
          <section>
            <h2>Check configuration</h2>
            <ComponentFormView c={x} action={`/components/${x.id}`} />
            <button
              class="danger"
              hx-post={`/components/${x.id}/delete`}
              hx-confirm={`Delete ${x.name} and its status history? Its metrics stay.`}
              hx-swap="none"
            >
              Delete component
            </button>
          </section>
        ) : http ? (
          <section class="card">
            <h2>Check configuration</h2>
            <p>
              {http.method} <code>{write ? http.url : safeUrl(http.url)}</code> every {http.intervalSeconds} s, timeout{' '}
              {http.timeoutMs} ms, expecting {http.expectedStatus.join(', ')}
              {http.expectedBodyText ? ` and “${http.expectedBodyText}” in the body` : ''}.
            </p>
          </section>
        ) : null}
      </Layout>,
    )
  })

  app.post('/components/:id', access('operator'), validate('param', IdParam), validate('form', FormBody), async (c) => {
    const before = await getComponent(db, c.req.valid('param').id)
    const row = await updateComponent(deps, before.id, parseEditForm(c.req.valid('form')), now())
    await audit(db, c, {
      action: 'component.updated',
      target: row.name,
      summary: `${before.name !== row.name ? `renamed from ${before.name}; ` : ''}${checkSummary(row)}`,
    })
    return hxRedirect(c, `/components/${row.id}`)
  })

  app.post('/components/:id/delete', access('operator'), validate('param', IdParam), async (c) => {
    const row = await deleteComponent(db, c.req.valid('param').id)
    await audit(db, c, { action: 'component.deleted', target: row.name, summary: checkSummary(row) })
    return hxRedirect(c, '/components')
  })

  app.post('/components/:id/rotate-token', access('operator'), validate('param', IdParam), async (c) => {
    const row = await rotateToken(deps, c.req.valid('param').id, now())
    await audit(db, c, { action: 'component.token_rotated', target: row.name })
    return hxRedirect(c, `/components/${row.id}`)
  })

  return app
}
