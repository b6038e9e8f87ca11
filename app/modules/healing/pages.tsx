/** @jsxImportSource hono/jsx */
import { Hono } from 'hono'
import * as v from 'valibot'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { hxRedirect } from '../../lib/htmx.ts'
import { Empty, Layout, liveTrigger, when } from '../../lib/layout.tsx'
import { validate } from '../../lib/validate.ts'
import { access, canWrite, isAdmin } from '../../middleware/access.ts'
import { requirePrincipal } from '../../middleware/auth.ts'
import { audit } from '../audit/index.ts'
import { actionPages } from './orchestrator/action-pages.tsx'
import { listBreakers } from './breakers/breakers.ts'
import { BreakerTable, breakerPages } from './breakers/pages.tsx'
import {
  createN8nInstance,
  deleteN8nInstance,
  getN8nInstance,
  listN8nInstances,
  n8nInstanceJson,
} from './actions/n8n-instances.ts'
import { routePages, RouteRows } from './model-routes/pages.tsx'
import { rulePages } from './rules/pages.tsx'
import { IdParam, N8nInstanceBody, StatsQuery } from './input.ts'
import { healingStats } from './stats.ts'
import { readHealingNow, statusJson } from './status.ts'
import type { HealingCtx } from './types.ts'
import { ActionTable, ms, pct, Section, Tabs } from './views.tsx'
import { clockOf } from '../../lib/time.ts'

/** Where an alert's page is (as app/modules/alerts serves it today). */
const alertHref = (id: string) => `/alerts/${id}`

const N8nForm = v.object({
  name: N8nInstanceBody.entries.name,
  baseUrl: N8nInstanceBody.entries.baseUrl,
  apiKey: N8nInstanceBody.entries.apiKey,
})

/** The healing dashboard: overview, breakers, statistics, n8n instances; actions and approvals, rules and routes in their own files. */
export function healingPages(deps: ModuleDeps & { healing: HealingCtx }) {
  const { db, config } = deps
  const hd = deps.healing
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()

  app.route('/', rulePages(deps, hd))
  app.route('/', routePages(deps))

  // --- overview ---------------------------------------------------------------------------------

  async function live(write: boolean) {
    const at = now()
    const [read, open, halfOpen] = await Promise.all([
      readHealingNow(db, at),
      listBreakers(db, { limit: 100, state: 'OPEN' }),
      listBreakers(db, { limit: 100, state: 'HALF_OPEN' }),
    ])
    const status = statusJson(read, config.PUBLIC_URL, at)
    // The status read has the active actions already (in queue order); the tables list them newest first.
    const active = [...read.active].sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0))
    const pending = active.filter((a) => a.status === 'PENDING_APPROVAL')
    const working = active.filter((a) => a.status !== 'PENDING_APPROVAL')
    const breakers = [...open.items, ...halfOpen.items]
    return (
      <section
        id="healing-live"
        hx-get="/healing/live"
        hx-trigger={liveTrigger('healing', { every: '30s' })}
        hx-swap="outerHTML"
        aria-label="Healing now"
      >
        <div class="tiles counts">
          <div class="tile" data-count="incidents">
            <span class="label">Active incidents</span>
            <strong>{status.activeIncidents.count}</strong>
          </div>
          <div class="tile" data-count="approvals">
            <span class="label">Awaiting approval</span>
            <strong>{pending.length}</strong>
          </div>
          <div class="tile" data-count="running">
            <span class="label">Running or queued</span>
            <strong>{working.length}</strong>
          </div>
          <div class="tile" data-count="open-breakers">
            <span class="label">Open breakers</span>
            <strong>{status.breakers.open}</strong>
            <span class="muted">{status.breakers.halfOpen} half-open</span>
          </div>
          <div class="tile" data-count="last24h">
            <span class="label">Last 24 h</span>
            <strong>{status.last24h.succeeded} ok</strong>
            <span class="muted">
              {status.last24h.failed} failed · {status.last24h.skipped} skipped
            </span>
          </div>
        </div>
        <Section title="Awaiting approval" id="approvals">
          {pending.length ? (
            <ActionTable items={pending} write={write} id="pending-actions" />
          ) : (
            <Empty>No action waits for approval.</Empty>
          )}
        </Section>
        <Section title="Running and queued" id="running">
          {working.length ? (
            <ActionTable items={working} write={false} id="running-actions" />
          ) : (
            <Empty>Nothing is running.</Empty>
          )}
        </Section>
        <Section title="Active incidents" id="incidents">
          {status.activeIncidents.items.length ? (
            <ul class="plain">
              {status.activeIncidents.items.map((a) => (
                <li>
                  <span class={`pill sev-${a.severity}`}>{a.severity}</span> <a href={alertHref(a.id)}>{a.title}</a>{' '}
                  <span class="muted">
                    {a.status} since {when(Date.parse(a.startsAt!))}
                  </span>
                </li>
              ))}
            </ul>
          ) : (
            <Empty>No firing or acknowledged alert.</Empty>
          )}
        </Section>
        <Section title="Breakers not closed" id="breakers">
          {breakers.length ? (
            <BreakerTable items={breakers} write={write} />
          ) : (
            <Empty>Every circuit breaker is closed.</Empty>
          )}
          <p>
            <a href="/healing/breakers">All breakers →</a>
          </p>
        </Section>
        <Section title="Model routes" id="routes">
          {status.routes.length ? (
            <RouteRows routes={status.routes} write={write} />
          ) : (
            <Empty>No model routes yet.</Empty>
          )}
        </Section>
      </section>
    )
  }

  app.get('/healing', access('viewer'), async (c) =>
    c.html(
      <Layout title="Healing" active="/healing" principal={requirePrincipal(c)}>
        <Tabs active="/healing" admin={isAdmin(c)} />
        <div class="page-head">
          <h1>Healing</h1>
        </div>
        <p class="muted">
          What is being remediated now, what waits for a person, and where each model route points. Refreshes every 5 s.
        </p>
        {await live(canWrite(c))}
      </Layout>,
    ),
  )

  app.get('/healing/live', access('viewer'), async (c) => c.html(await live(canWrite(c))))

  // --- actions (orchestrator/action-pages.tsx) ---------------------------------------------------

  app.route('/', actionPages(deps, hd))

  // --- breakers (breakers/pages.tsx) ------------------------------------------------------------

  app.route('/', breakerPages(deps))

  // --- statistics -------------------------------------------------------------------------------

  app.get('/healing/stats', access('viewer'), validate('query', StatsQuery), async (c) => {
    const window = c.req.valid('query').window ?? '24h'
    const s = await healingStats(db, window, now())
    type Row = {
      total: number
      succeeded: number
      failed: number
      rolledBack: number
      rejected: number
      expired: number
      successRate: number | null
      mttrMs: number | null
      mttrP50Ms: number | null
    }
    const table = (id: string, what: string, rows: (Row & { label: unknown })[]) =>
      rows.length ? (
        <div class="table-wrap">
          <table class="table" id={id}>
            <thead>
              <tr>
                <th>{what}</th>
                <th>Runs</th>
                <th>Succeeded</th>
                <th>Failed</th>
                <th>Rolled back</th>
                <th>Rejected / expired</th>
                <th>Success rate</th>
                <th>MTTR (mean)</th>
                <th>MTTR (median)</th>
              </tr>
            </thead>
            <tbody>
              {rows.map((r) => (
                <tr>
                  <td>{r.label}</td>
                  <td>{r.total}</td>
                  <td>{r.succeeded}</td>
                  <td>{r.failed}</td>
                  <td>{r.rolledBack}</td>
                  <td>{r.rejected + r.expired}</td>
                  <td data-rate>{pct(r.successRate)}</td>
                  <td>{ms(r.mttrMs)}</td>
                  <td>{ms(r.mttrP50Ms)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : (
        <Empty>No finished actions in this window.</Empty>
      )
    return c.html(
      <Layout title="Healing statistics" active="/healing" principal={requirePrincipal(c)}>
        <Tabs active="/healing/stats" admin={isAdmin(c)} />
        <div class="page-head">
          <h1>Statistics</h1>
        </div>
        <nav class="tabs" aria-label="Window">
          {(['24h', '7d', '30d'] as const).map((w) => (
            <a href={`/healing/stats?window=${w}`} aria-current={w === window ? 'page' : undefined}>
              {w}
            </a>
          ))}
        </nav>
        <p class="muted">
          Finished actions created between {when(Date.parse(s.from ?? ''))} and {when(Date.parse(s.to ?? ''))}, dry runs
          left out. Success rate = succeeded ÷ (succeeded + failed + rolled back); MTTR = trigger → verified recovery of
          the succeeded ones.
        </p>
        <div class="tiles" id="stats-overall">
          <div class="tile">
            <span class="label">Runs</span>
            <strong data-total>{s.overall.total}</strong>
          </div>
          <div class="tile">
            <span class="label">Success rate</span>
            <strong data-rate>{pct(s.overall.successRate)}</strong>
          </div>
          <div class="tile">
            <span class="label">MTTR</span>
            <strong>{ms(s.overall.mttrMs)}</strong>
            <span class="muted">median {ms(s.overall.mttrP50Ms)}</span>
          </div>
          <div class="tile">
            <span class="label">Failed</span>
            <strong>{s.overall.failed}</strong>
            <span class="muted">{s.overall.rolledBack} rolled back</span>
          </div>
        </div>
        <Section title="By action type" id="by-type">
          {table(
            'stats-type',
            'Action type',
            s.byActionType.map((r) => ({ ...r, label: <code>{r.actionType}</code> })),
          )}
        </Section>
        <Section title="By rule" id="by-rule">
          {table(
            'stats-rule',
            'Rule',
            s.byRule.map((r) => ({
              ...r,
              label: r.ruleId ? <a href={`/healing/rules/${r.ruleId}`}>{r.ruleName}</a> : r.ruleName,
            })),
          )}
        </Section>
        <Section title="By component (target)" id="by-target">
          {table(
            'stats-target',
            'Target',
            s.byTarget.map((r) => ({
              ...r,
              label: (
                <a href={`/healing/actions?target=${encodeURIComponent(r.target)}`}>
                  <code>{r.target}</code>
                </a>
              ),
            })),
          )}
        </Section>
      </Layout>,
    )
  })

  // --- n8n instances (admin) --------------------------------------------------------------------

  app.get('/healing/n8n', access('admin'), async (c) => {
    const rows = (await listN8nInstances(db)).map((r) => n8nInstanceJson(deps.sealer, r))
    return c.html(
      <Layout title="n8n instances" active="/healing" principal={requirePrincipal(c)}>
        <Tabs active="/healing/n8n" admin />
        <div class="page-head">
          <h1>n8n instances</h1>
        </div>
        <p class="muted">
          The n8n action calls these through n8n's public API (retry an execution, activate or deactivate a workflow,
          run a workflow's webhook). API keys are sealed at rest and never shown again.
        </p>
        {rows.length ? (
          <div class="table-wrap">
            <table class="table" id="n8n-instances">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Base URL</th>
                  <th>API key</th>
                  <th>Added</th>
                  <th></th>
                </tr>
              </thead>
              <tbody>
                {rows.map((r) => (
                  <tr data-n8n={r.name}>
                    <td>{r.name}</td>
                    <td>
                      <code>{r.baseUrl}</code>
                    </td>
                    <td>
                      <code>{r.apiKey}</code>
                    </td>
                    <td class="nowrap">{when(Date.parse(r.createdAt ?? ''))}</td>
                    <td>
                      <button
                        class="small danger"
                        hx-post={`/healing/n8n/${r.id}/delete`}
                        hx-confirm={`Delete the n8n instance ${r.name}? Rules naming it fail until it is added again.`}
                        hx-swap="none"
                      >
                        Delete
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        ) : (
          <Empty>No n8n instances yet.</Empty>
        )}
        <Section title="Add an instance" id="new-n8n">
          <form class="comp-form" hx-post="/healing/n8n" hx-swap="none">
            <div class="row">
              <label>
                Name <input name="name" required placeholder="prod" />
              </label>
              <label>
                Base URL <input name="baseUrl" required placeholder="https://n8n.example.com" />
              </label>
              <label>
                API key <input name="apiKey" type="password" required autocomplete="off" />
              </label>
            </div>
            <button type="submit">Add instance</button>
          </form>
        </Section>
      </Layout>,
    )
  })

  app.post('/healing/n8n', access('admin'), validate('form', N8nForm), async (c) => {
    const row = await createN8nInstance(db, deps.sealer, c.req.valid('form'), now())
    await audit(db, c, { action: 'n8n_instance.created', target: row.name, summary: row.baseUrl })
    return hxRedirect(c, '/healing/n8n')
  })

  app.post('/healing/n8n/:id/delete', access('admin'), validate('param', IdParam), async (c) => {
    const row = await getN8nInstance(db, c.req.valid('param').id)
    await deleteN8nInstance(db, row.id)
    await audit(db, c, { action: 'n8n_instance.deleted', target: row.name })
    return hxRedirect(c, '/healing/n8n')
  })

  return app
}
