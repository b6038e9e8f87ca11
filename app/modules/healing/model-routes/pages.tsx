/** @jsxImportSource hono/jsx */
import { Hono, type Context } from 'hono'
import * as v from 'valibot'
import { actor, type AppEnv, type ModuleDeps } from '../../../context.ts'
import { AppError, badRequest, conflict, notFound, type ErrorDetail } from '../../../lib/errors.ts'
import { hxRedirect } from '../../../lib/htmx.ts'
import { Empty, Layout, when } from '../../../lib/layout.tsx'
import { validate } from '../../../lib/validate.ts'
import { access, canWrite, isAdmin } from '../../../middleware/access.ts'
import { requirePrincipal } from '../../../middleware/auth.ts'
import { audit } from '../../audit/index.ts'
import { Duration } from '../../metrics/index.ts'
import { getBreakers, targetBreakerKey } from '../breakers/breakers.ts'
import { ROUTE_NAME } from './routes.ts'
import {
  getRouteByName,
  listRoutes,
  routeEvents,
  routeJson,
  type RouteInput,
  type RouteTarget,
} from './model-routes.ts'
import type { HealingCtx } from '../types.ts'
import { dur } from '../../../lib/format.ts'
import { BreakerState, Section, Tabs } from '../views.tsx'
import { clockOf } from '../../../lib/time.ts'
import { sharesOf, weightsValid } from './weights.ts'

const NameParam = v.object({
  name: v.pipe(
    v.string(),
    v.regex(ROUTE_NAME, 'must be 1–100 letters, digits, . _ -, starting with a letter or digit'),
  ),
})
const Text = (max: number) =>
  v.optional(v.pipe(v.string('must be text'), v.maxLength(max, `must be at most ${max} characters`)))
const RouteForm = v.object({
  name: v.pipe(v.string('must be text'), v.maxLength(100, 'must be at most 100 characters')),
  description: Text(1000),
  targets: v.pipe(v.string('must be text'), v.maxLength(5000, 'must be at most 5000 characters')),
  failbackAfter: Text(20),
  probePath: Text(200),
})
const MoveForm = v.object({
  reason: Text(500),
  toIndex: v.optional(v.pipe(v.string(), v.regex(/^\d{1,2}$/, 'must be a target number'))),
})

// The API's own checks of a route body (routes.ts keeps its schema private; these say the same).
const MODEL = /^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,89}$/
const hostProblem = (s: string) => {
  if (s.length > 200 || !URL.canParse(s) || !/^https?:$/.test(new URL(s).protocol))
    return 'must be an http or https URL such as http://127.0.0.1:11434'
  const u = new URL(s)
  if (u.username || u.password || u.search || u.hash || !/^[A-Za-z0-9._:/[\]-]+$/.test(s))
    return 'must be scheme, host, port and optional path only (no credentials, query or fragment)'
  return undefined
}

/** The create form into a route: targets one per line, `model host` (or `host model`), weight optional as a third word. */
export function parseRouteForm(f: v.InferOutput<typeof RouteForm>): RouteInput {
  const errors: ErrorDetail[] = []
  const name = f.name.trim()
  if (!ROUTE_NAME.test(name))
    errors.push({ field: 'name', message: 'must be 1–100 letters, digits, . _ -, starting with a letter or digit' })
  const targets: RouteTarget[] = []
  const lines = f.targets
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
  lines.forEach((line, i) => {
    const words = line.split(/\s+/)
    const hostAt = words.findIndex((w) => /^https?:\/\//i.test(w))
    const host = hostAt >= 0 ? words[hostAt]!.replace(/\/+$/, '') : ''
    const rest = words.filter((_, j) => j !== hostAt)
    const [model = '', weight] = rest
    const problem = hostAt < 0 ? 'must name a host URL such as http://127.0.0.1:11434' : hostProblem(host)
    if (problem) errors.push({ field: `targets.${i}.host`, message: problem })
    if (!MODEL.test(model))
      errors.push({
        field: `targets.${i}.model`,
        message: 'must be 1–90 letters, digits, . _ : / @ + -, starting with a letter or digit',
      })
    if (weight !== undefined && !(/^\d{1,4}$/.test(weight) && Number(weight) <= 1000))
      errors.push({ field: `targets.${i}.weight`, message: 'must be a whole number 0–1000' })
    if (rest.length > 2) errors.push({ field: `targets.${i}`, message: 'is "model host [weight]"' })
    targets.push({ model, host, ...(weight !== undefined ? { weight: Number(weight) } : {}) })
  })
  if (!lines.length)
    errors.push({ field: 'targets', message: 'must hold at least one target, one per line: model host' })
  if (lines.length > 20) errors.push({ field: 'targets', message: 'must hold at most 20 targets' })
  if (new Set(targets.map(targetBreakerKey)).size !== targets.length)
    errors.push({ field: 'targets', message: 'must not list the same model on the same host twice' })
  if (!weightsValid(targets))
    errors.push({ field: 'targets', message: 'weights must not all be 0: give at least one target a weight above 0' })
  let failbackAfterMs: number | undefined
  if (f.failbackAfter?.trim()) {
    const r = v.safeParse(Duration, f.failbackAfter)
    if (!r.success) errors.push({ field: 'failbackAfter', message: r.issues[0]!.message })
    else if (r.output > 7 * 86_400_000) errors.push({ field: 'failbackAfter', message: 'must be at most 7 days' })
    else failbackAfterMs = r.output
  }
  const probePath = f.probePath?.trim() ?? ''
  if (!/^(\/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$/.test(probePath))
    errors.push({ field: 'probePath', message: 'must be empty or a path starting with /, such as /api/tags' })
  if (errors.length) throw badRequest('Invalid route', errors)
  return { name, description: f.description?.trim() ?? '', targets, failbackAfterMs, probePath }
}

type RouteSummary = {
  name: string
  activeIndex: number
  activeTarget: RouteTarget | null
  primary: RouteTarget | null
  failedOver: boolean
  changedAt: string | null
  changeReason: string
}

/** Routes with their active target (the overview), with failover/failback buttons for operators. */
export const RouteRows = ({ routes, write }: { routes: RouteSummary[]; write: boolean }) => (
  <div class="table-wrap">
    <table class="table" id="route-table">
      <thead>
        <tr>
          <th>Route</th>
          <th>Active target</th>
          <th class="wide">Last change</th>
          {write ? <th></th> : null}
        </tr>
      </thead>
      <tbody>
        {routes.map((r) => (
          <tr data-route={r.name} data-active={String(r.activeIndex)}>
            <td>
              <a href={`/healing/routes/${r.name}`}>{r.name}</a>
            </td>
            <td>
              {r.activeTarget ? (
                <>
                  <code>{r.activeTarget.model}</code> on <code>{r.activeTarget.host}</code>
                </>
              ) : (
                '—'
              )}{' '}
              {r.failedOver ? (
                <span class="pill sev-warning">failed over (#{r.activeIndex})</span>
              ) : (
                <span class="pill st-ok">primary</span>
              )}
            </td>
            <td class="wide small">
              {r.changedAt ? when(Date.parse(r.changedAt)) : ''} {r.changeReason}
            </td>
            {write ? (
              <td class="nowrap">
                <MoveButtons name={r.name} failedOver={r.failedOver} />
              </td>
            ) : null}
          </tr>
        ))}
      </tbody>
    </table>
  </div>
)

const MoveButtons = ({ name, failedOver }: { name: string; failedOver: boolean }) => (
  <>
    <button
      class="small secondary"
      hx-post={`/healing/routes/${name}/failover`}
      hx-confirm={`Move ${name} to its next healthy target now?`}
      hx-swap="none"
    >
      Fail over
    </button>{' '}
    {failedOver ? (
      <button
        class="small secondary"
        hx-post={`/healing/routes/${name}/failback`}
        hx-confirm={`Move ${name} back to its primary target now?`}
        hx-swap="none"
      >
        Fail back
      </button>
    ) : null}
  </>
)

/** Model routes: list with a create form, detail with targets, breakers and history, manual failover and failback. */
export function routePages(deps: ModuleDeps & { healing: HealingCtx }) {
  const { db } = deps
  const routes = deps.healing.modelRoutes
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  const back = (c: Context<AppEnv>, name: string) => {
    const from = c.req.header('hx-current-url')
    const path = from && URL.canParse(from) ? new URL(from).pathname : ''
    return hxRedirect(c, path === '/healing' || path === '/healing/routes' ? path : `/healing/routes/${name}`)
  }
  const load = async (name: string) => {
    const r = await getRouteByName(db, name)
    if (!r) throw notFound('Model route')
    return r
  }

  app.get('/healing/routes', access('viewer'), async (c) => {
    const { items } = await listRoutes(db, { limit: 500 })
    const write = canWrite(c)
    return c.html(
      <Layout title="Model routes" active="/healing" principal={requirePrincipal(c)}>
        <Tabs active="/healing/routes" admin={isAdmin(c)} />
        <div class="page-head">
          <h1>Model routes</h1>
        </div>
        <p class="muted">
          Agents and n8n read <code>GET /api/v1/model-routes/:name</code> to know which model and host to call. Failover
          moves a route to its next healthy target; failback returns it to the primary once that has been healthy for
          the route's failback time.
        </p>
        {items.length ? (
          <RouteRows
            write={write}
            routes={items.map((r) => ({
              name: r.name,
              activeIndex: r.activeIndex,
              activeTarget: r.targets[r.activeIndex] ?? null,
              primary: r.targets[0] ?? null,
              failedOver: r.activeIndex !== 0,
              changedAt: new Date(r.changedAt).toISOString(),
              changeReason: r.changeReason,
            }))}
          />
        ) : (
          <Empty>No model routes yet.</Empty>
        )}
        {write ? (
          <Section title="New route" id="new-route">
            <form class="comp-form" id="route-form" hx-post="/healing/routes" hx-swap="none">
              <div class="row">
                <label>
                  Name <input name="name" required placeholder="chat" />
                </label>
                <label>
                  Failback after <span class="muted">(healthy this long)</span>{' '}
                  <input name="failbackAfter" value="60s" />
                </label>
                <label>
                  Probe path <span class="muted">(empty: breakers only)</span>{' '}
                  <input name="probePath" placeholder="/api/tags" />
                </label>
              </div>
              <label>
                Targets{' '}
                <span class="muted">
                  (in order, one per line: <code>model host [weight]</code>, e.g.{' '}
                  <code>llama3:8b http://127.0.0.1:11434</code>)
                </span>
                <textarea name="targets" rows={3} required></textarea>
              </label>
              <label>
                Description <input name="description" />
              </label>
              <button type="submit">Create route</button>
            </form>
          </Section>
        ) : null}
      </Layout>,
    )
  })

  app.post('/healing/routes', access('operator'), validate('form', RouteForm), async (c) => {
    const r = await routes.create(parseRouteForm(c.req.valid('form')), now())
    await audit(db, c, { action: 'model_route.created', target: r.name, summary: `${r.targets.length} targets` })
    return hxRedirect(c, `/healing/routes/${r.name}`)
  })

  app.get('/healing/routes/:name', access('viewer'), validate('param', NameParam), async (c) => {
    const r = await load(c.req.valid('param').name)
    const at = now()
    const j = routeJson(r, await getBreakers(db, r.targets.map(targetBreakerKey)), at)
    const { items: events } = await routeEvents(db, r.id, { limit: 50 })
    const write = canWrite(c)
    // A weighted route splits callers over its healthy weighted targets: show each one's share now.
    const shares = j.weighted
      ? sharesOf(
          r.targets,
          j.targets.map((t) => t.healthy),
          targetBreakerKey,
        )
      : null
    return c.html(
      <Layout title={`Route ${r.name}`} active="/healing" principal={requirePrincipal(c)}>
        <Tabs active="/healing/routes" admin={isAdmin(c)} />
        <p>
          <a href="/healing/routes">← Model routes</a>
        </p>
        <div class="page-head">
          <h1>
            Route {r.name}{' '}
            {r.activeIndex ? (
              <span class="pill sev-warning">failed over</span>
            ) : (
              <span class="pill st-ok">on primary</span>
            )}
            {shares ? <span class="pill">weighted split</span> : null}
          </h1>
        </div>
        {r.description ? <p>{r.description}</p> : null}
        <div class="tiles">
          <div class="tile" id="active-target">
            <span class="label">Active target</span>
            <strong class="small">{j.active ? `${j.active.model} on ${j.active.host}` : '—'}</strong>
            <span class="muted">
              #{r.activeIndex} · version {r.version}
            </span>
          </div>
          <div class="tile">
            <span class="label">Failback after</span>
            <strong>{dur(r.failbackAfterMs) || '0'}</strong>
          </div>
          <div class="tile">
            <span class="label">Probe</span>
            <strong class="small">{r.probePath || 'none'}</strong>
          </div>
          <div class="tile">
            <span class="label">Changed</span>
            <strong class="small">{when(r.changedAt)}</strong>
            <span class="muted">{r.changeReason}</span>
          </div>
        </div>
        {write ? (
          <div class="alert-actions">
            <MoveButtons name={r.name} failedOver={r.activeIndex !== 0} />{' '}
            <button
              class="small danger"
              hx-post={`/healing/routes/${r.name}/delete`}
              hx-confirm={`Delete the route ${r.name}? Agents reading it get 404.`}
              hx-swap="none"
            >
              Delete
            </button>
          </div>
        ) : null}
        <Section title="Targets" id="targets">
          <div class="table-wrap">
            <table class="table" id="target-table">
              <thead>
                <tr>
                  <th>#</th>
                  <th>Model</th>
                  <th>Host</th>
                  {shares ? <th>Weight · share now</th> : null}
                  <th>Breaker</th>
                  <th class="wide">Last error</th>
                  {write ? <th></th> : null}
                </tr>
              </thead>
              <tbody>
                {j.targets.map((t) => (
                  <tr data-target={String(t.index)} data-active={String(t.active)}>
                    <td>
                      {t.index}
                      {t.active ? <strong> ← active</strong> : null}
                    </td>
                    <td>
                      <code>{t.model}</code>
                    </td>
                    <td>
                      <code>{t.host}</code>
                    </td>
                    {shares ? (
                      <td data-share={shares[t.index]!.toFixed(4)}>
                        {t.weight ?? '—'} ·{' '}
                        {shares[t.index]
                          ? `${(shares[t.index]! * 100).toFixed(1)} %`
                          : (t.weight ?? 0) > 0
                            ? 'out (unhealthy)'
                            : 'standby'}
                      </td>
                    ) : null}
                    <td>
                      <BreakerState state={t.breaker.state} />
                      <br />
                      <span class="muted small">{t.breaker.key}</span>
                    </td>
                    <td class="wide small">{t.breaker.lastError ?? ''}</td>
                    {write ? (
                      <td>
                        {t.active ? null : (
                          <button
                            class="small secondary"
                            hx-post={`/healing/routes/${r.name}/failback`}
                            hx-vals={JSON.stringify({ toIndex: String(t.index) })}
                            hx-confirm={`Send ${r.name}'s traffic to ${t.model} on ${t.host} now?`}
                            hx-swap="none"
                          >
                            Make active
                          </button>
                        )}
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </Section>
        <Section title="History" id="route-history">
          {events.length ? (
            <ol class="timeline">
              {events.map((e) => (
                <li data-move={`${e.fromIndex}-${e.toIndex}`}>
                  <span class="nowrap muted">{when(e.ts)}</span>{' '}
                  <strong>
                    #{e.fromIndex} → #{e.toIndex}
                  </strong>{' '}
                  <span class="muted">by {e.actor}</span>
                  <div>{e.reason}</div>
                </li>
              ))}
            </ol>
          ) : (
            <Empty>No changes since it was created.</Empty>
          )}
        </Section>
      </Layout>,
    )
  })

  app.post(
    '/healing/routes/:name/failover',
    access('operator'),
    validate('param', NameParam),
    validate('form', MoveForm),
    async (c) => {
      const { name } = c.req.valid('param')
      await load(name)
      const reason = c.req.valid('form').reason?.trim() || 'manual failover'
      const moved = await routes.failover(name, { reason: `${reason} (by ${actor(c)})`, actor: actor(c), now: now() })
      if (!moved)
        throw new AppError(
          409,
          'no_healthy_target',
          'No other target of this route is healthy (every other breaker is OPEN or HALF_OPEN)',
        )
      await audit(db, c, {
        action: 'model_route.failover',
        target: name,
        summary: `${moved.from} → ${moved.to}: ${reason}`,
      })
      return back(c, name)
    },
  )

  app.post(
    '/healing/routes/:name/failback',
    access('operator'),
    validate('param', NameParam),
    validate('form', MoveForm),
    async (c) => {
      const { name } = c.req.valid('param')
      const r = await load(name)
      const form = c.req.valid('form')
      const to = form.toIndex === undefined ? 0 : Number(form.toIndex)
      if (to >= r.targets.length)
        throw badRequest('Invalid target', [
          { field: 'toIndex', message: `must be below ${r.targets.length} (the number of targets)` },
        ])
      const reason = form.reason?.trim() || 'manual failback'
      const moved = await routes.failback(name, {
        reason: `${reason} (by ${actor(c)})`,
        actor: actor(c),
        now: now(),
        toIndex: to,
      })
      if (!moved) throw conflict(`The route is already on target ${to}`)
      await audit(db, c, {
        action: 'model_route.failback',
        target: name,
        summary: `${moved.from} → ${moved.to}: ${reason}`,
      })
      return back(c, name)
    },
  )

  app.post('/healing/routes/:name/delete', access('operator'), validate('param', NameParam), async (c) => {
    const r = await load(c.req.valid('param').name)
    await routes.remove(r.id)
    await audit(db, c, { action: 'model_route.deleted', target: r.name })
    return hxRedirect(c, '/healing/routes')
  })

  return app
}
