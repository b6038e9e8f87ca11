/**
 * Alertmanager's API v2 for the tools operators already run (amtool, karma, Grafana's Alertmanager
 * data source): alerts, groups, silences, status and receivers, read from and written to Homeostat's
 * own alerts and silences. A silence made here is a Homeostat silence (the dashboard and /api/v1 show
 * it) and the reverse. `POST /api/v2/alerts` (Prometheus's intake) stays in alerts/receivers.
 * Readers need viewer, silence changes operator; the key comes as Bearer or as a basic-auth password.
 */
import { Hono } from 'hono'
import type { LabelMatcher } from '../../../db/schema/alerts.ts'
import type { Silence } from '../../../db/schema/notify.ts'
import { actor, type AppEnv, type ModuleDeps } from '../../context.ts'
import { badRequest, type ErrorDetail } from '../../lib/errors.ts'
import { anchored, compileMatchers, parseMatchers, regexProblem } from '../../lib/matchers.ts'
import { describe } from '../../lib/route-meta.ts'
import { clockOf, toIso } from '../../lib/time.ts'
import { validate } from '../../lib/validate.ts'
import { access } from '../../middleware/access.ts'
import type { AlertsService } from '../alerts/index.ts'
import { audit } from '../audit/index.ts'
import type { Notifier } from '../notify/index.ts'
import { VERSION } from '../system/index.ts'
import { AlertsQuery, GroupsQuery, PostableSilence, SilenceIdParam, SilencesQuery } from './input.ts'
import { createReceivers } from './receivers.ts'
import { gettableAlert, gettableSilence, toHomeostatMatcher, type GettableAlert } from './shapes.ts'

const OPEN = ['pending', 'firing', 'acknowledged'] as const
/** How many open alerts one read returns at most (Alertmanager has no paging; this bounds a reply). */
const MAX_ALERTS = 10_000
const MAX_SILENCES = 5_000
const ALERTMANAGER_API_VERSION = '0.25.0'

type Deps = ModuleDeps & { alerts: AlertsService; notifier: Notifier }

/** `filter` strings (`alertname="X"`, `env=~"prod|stage"`) as matchers; 400 naming `filter`. */
function filterMatchers(filters: string[]): LabelMatcher[] {
  const errors: ErrorDetail[] = []
  const list = filters.flatMap((f) => parseMatchers(f.replace(/^\{(.*)\}$/s, '$1'), 'filter', errors))
  for (const m of list) {
    const problem = m.op === '=~' || m.op === '!~' ? regexProblem(m.value) : undefined
    if (problem) errors.push({ field: 'filter', message: `${m.label}${m.op}"${m.value}": ${problem}` })
  }
  if (errors.length) throw badRequest('Invalid query', errors)
  return list
}

function receiverTest(pattern: string | undefined): (names: string[]) => boolean {
  if (pattern === undefined) return () => true
  const problem = regexProblem(pattern)
  if (problem) throw badRequest('Invalid query', [{ field: 'receiver', message: problem }])
  const re = anchored(pattern)
  return (names) => names.some((n) => re.test(n))
}

const describeMatchers = (list: LabelMatcher[]) => list.map((m) => `${m.label}${m.op}"${m.value}"`).join(', ')

export function alertmanagerApiRoutes(deps: Deps) {
  const { db, alerts: service } = deps
  const { silences } = service
  const now = clockOf(deps)
  const startedAt = now()
  const receivers = createReceivers({ db, routing: deps.notifier.delivery.routing })
  const app = new Hono<AppEnv>()
  const tags = ['alertmanager-api']
  // As the /api/v1 silence routes: apply a change to open alerts now; the job catches up on failure.
  const apply = (at: number) =>
    service
      .refreshSilenced(at)
      .catch((error) =>
        deps.log.error('applying silences failed', { error: String((error as Error)?.message ?? error) }),
      )

  async function silencesInForce(at: number) {
    return (await silences.list({ limit: MAX_SILENCES, state: ['active'] }, at)).items
  }

  /** The open alerts as gettableAlerts (with their silences and receivers), sorted by fingerprint. */
  async function openAlerts(at: number) {
    const inForce = await silencesInForce(at)
    const route = await receivers.forAlerts()
    const out: { view: GettableAlert; routes: ReturnType<typeof route> }[] = []
    let cursor: string | undefined
    do {
      const page = await service.list({ limit: 500, status: [...OPEN], cursor })
      for (const alert of page.items) {
        const routes = route(alert.labels)
        const silencedBy = silences.windows.matchingSilences(alert.labels, inForce, at).map((s) => s.id)
        const names = [...new Set(routes.flatMap((r) => r.receivers))]
        out.push({ view: gettableAlert({ alert, silencedBy, receivers: names }, deps.config.PUBLIC_URL), routes })
      }
      cursor = page.next ?? undefined
    } while (cursor && out.length < MAX_ALERTS)
    return out.slice(0, MAX_ALERTS).sort((a, b) => (a.view.fingerprint < b.view.fingerprint ? -1 : 1))
  }

  type Flags = { active: boolean; silenced: boolean; inhibited: boolean; unprocessed?: boolean }
  /** Alertmanager's own filter order: state flags, then receiver regex, then label matchers. */
  function keep(q: Flags & { filter: string[]; receiver?: string }) {
    const labelsMatch = compileMatchers(filterMatchers(q.filter))
    const receiverMatch = receiverTest(q.receiver)
    return (a: GettableAlert) => {
      const { state, silencedBy, inhibitedBy } = a.status
      if (!q.active && state === 'active') return false
      if (q.unprocessed === false && state === 'unprocessed') return false
      if (!q.silenced && silencedBy.length) return false
      if (!q.inhibited && inhibitedBy.length) return false
      return receiverMatch(a.receivers.map((r) => r.name)) && labelsMatch(a.labels)
    }
  }

  app.get(
    '/api/v2/alerts',
    access('viewer'),
    describe('Alertmanager v2: open alerts (filter, active, silenced, inhibited, unprocessed, receiver)', tags),
    validate('query', AlertsQuery),
    async (c) => {
      const wanted = keep(c.req.valid('query'))
      const list = await openAlerts(now())
      return c.json(list.map((a) => a.view).filter(wanted))
    },
  )

  app.get(
    '/api/v2/alerts/groups',
    access('viewer'),
    describe('Alertmanager v2: open alerts grouped by policy (group_by labels) and receiver', tags),
    validate('query', GroupsQuery),
    async (c) => {
      const wanted = keep(c.req.valid('query'))
      const receiverMatch = receiverTest(c.req.valid('query').receiver)
      const groups = new Map<
        string,
        { labels: Record<string, string>; receiver: { name: string }; alerts: GettableAlert[] }
      >()
      for (const { view, routes } of await openAlerts(now())) {
        if (!wanted(view)) continue
        for (const r of routes) {
          const labels = Object.fromEntries(r.groupBy.map((l) => [l, view.labels[l] ?? '']))
          for (const name of r.receivers) {
            if (!receiverMatch([name])) continue
            const key = `${r.policyId}\u0000${name}\u0000${JSON.stringify(labels)}`
            const group = groups.get(key) ?? { labels, receiver: { name }, alerts: [] }
            group.alerts.push(view)
            groups.set(key, group)
          }
        }
      }
      return c.json([...groups.values()])
    },
  )

  const silenceView = (s: Silence, at: number) => {
    const state = silences.windows.silenceState(s, at)
    return gettableSilence(s, state, s.cron ? silences.windows.nextWindow(s, at) : null)
  }

  app.get(
    '/api/v2/silences',
    access('viewer'),
    describe("Alertmanager v2: every silence (filter: matchers the silence's own matchers satisfy)", tags),
    validate('query', SilencesQuery),
    async (c) => {
      // As Alertmanager: a silence passes when its matchers, read as labels, satisfy every filter.
      const test = compileMatchers(filterMatchers(c.req.valid('query').filter))
      const at = now()
      const { items } = await silences.list({ limit: MAX_SILENCES }, at)
      const list = items.filter((s) => test(Object.fromEntries(s.matchers.map((m) => [m.label, m.value]))))
      return c.json(list.map((s) => silenceView(s, at)))
    },
  )

  app.post(
    '/api/v2/silences',
    access('operator'),
    describe('Alertmanager v2: create a silence, or replace one (with its id): answers {silenceID}', tags),
    validate('json', PostableSilence),
    async (c) => {
      const body = c.req.valid('json')
      const at = now()
      const old = body.id ? await silences.get(body.id) : undefined
      const matchers = body.matchers.map(toHomeostatMatcher)
      // The new silence first: a refused update leaves the old one in force.
      const row = await silences.create(
        { matchers, startsAt: body.startsAt, endsAt: body.endsAt, comment: body.comment },
        actor(c),
        at,
      )
      await audit(db, c, {
        action: 'silence.created',
        target: row.id,
        summary: `${describeMatchers(row.matchers)} (Alertmanager API, createdBy "${body.createdBy.slice(0, 100)}"${
          old ? `, replaces ${old.id}` : ''
        })`,
      })
      if (old && silences.windows.silenceState(old, at) !== 'expired') {
        await silences.expire(old.id, at)
        await audit(db, c, {
          action: 'silence.expired',
          target: old.id,
          summary: `${describeMatchers(old.matchers)} (replaced by ${row.id})`,
        })
      }
      await apply(at)
      return c.json({ silenceID: row.id })
    },
  )

  app.get(
    '/api/v2/silence/:id',
    access('viewer'),
    describe('Alertmanager v2: one silence', tags),
    validate('param', SilenceIdParam),
    async (c) => c.json(silenceView(await silences.get(c.req.valid('param').id), now())),
  )

  app.delete(
    '/api/v2/silence/:id',
    access('operator'),
    describe('Alertmanager v2: expire a silence now (it stays listed as expired)', tags),
    validate('param', SilenceIdParam),
    async (c) => {
      const at = now()
      const row = await silences.expire(c.req.valid('param').id, at)
      await audit(db, c, { action: 'silence.expired', target: row.id, summary: describeMatchers(row.matchers) })
      await apply(at)
      return c.body(null, 200)
    },
  )

  app.get(
    '/api/v2/receivers',
    access('viewer'),
    describe('Alertmanager v2: receivers (one per notification channel, and "homeostat")', tags),
    async (c) => c.json((await receivers.names()).map((name) => ({ name }))),
  )

  app.get(
    '/api/v2/status',
    access('viewer'),
    describe('Alertmanager v2: status (no gossip cluster; the routing tree as Alertmanager config)', tags),
    async (c) =>
      c.json({
        // Several Homeostat instances share one database rather than gossiping: no cluster to show.
        cluster: { name: 'homeostat', status: 'disabled', peers: [] },
        // The Alertmanager release whose API this follows (tested with its amtool): karma picks its
        // client by this version (it needs >= 0.17.0). Homeostat's own version is the revision.
        versionInfo: {
          version: ALERTMANAGER_API_VERSION,
          revision: `homeostat-${VERSION}`,
          branch: 'homeostat',
          buildUser: 'homeostat',
          buildDate: '',
          goVersion: 'none',
        },
        config: { original: await receivers.configYaml() },
        uptime: toIso(startedAt),
      }),
  )

  return app
}
