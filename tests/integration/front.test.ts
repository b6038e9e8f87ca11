/**
 * The operator's front page (`/`) and its tile fragments (`/front/tiles/:id`) against the real app
 * and database: empty states that say how to get data in, then each tile with data, the sections'
 * order, the range parameter, and who may read which tile.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backups, backupTargets } from '../../db/schema/backups.ts'
import { healingActions } from '../../db/schema/healing.ts'
import { n8nWorkflows } from '../../db/schema/n8n.ts'
import { runs } from '../../db/schema/runs.ts'
import { runRollups } from '../../app/modules/metrics/index.ts'
import { testApp, type TestApp } from '../helpers/app.ts'

type Json = Record<string, any>
type Headers = Record<string, string>
let t: TestApp
let op: Headers
let ingest: Headers
const sessions: Record<'admin' | 'operator' | 'viewer', Headers> = { admin: {}, operator: {}, viewer: {} }
const MIN = 60_000
const HOUR = 60 * MIN
const now = Date.now()

const TILES = ['alerts', 'approvals', 'escalated-runs', 'fleet', 'agents-models', 'backups', 'n8n-workflows']

const page = async (path = '/', headers: Headers = sessions.viewer) => {
  const res = await t.app.request(path, { headers })
  return { status: res.status, html: await res.text() }
}
const tile = async (id: string, headers: Headers = sessions.viewer, range = '24h') => {
  const res = await t.app.request(`/front/tiles/${id}?range=${range}`, {
    headers: { ...headers, 'HX-Request': 'true' },
  })
  return { status: res.status, html: await res.text() }
}

beforeAll(async () => {
  t = await testApp()
  op = (await t.key('operator')).headers
  ingest = (await t.key('viewer', ['ingest'])).headers
  for (const role of ['admin', 'operator', 'viewer'] as const) sessions[role] = (await t.session(role)).headers
})
afterAll(() => t.close())

describe('an empty Homeostat', () => {
  it('every tile says how to get data in, with a link to the doc that explains it', async () => {
    const docs: Record<string, string> = {
      alerts: 'alerts',
      approvals: 'healing',
      'escalated-runs': 'runs',
      fleet: 'components',
      'agents-models': 'opentelemetry',
      backups: 'backups',
      'n8n-workflows': 'n8n',
    }
    for (const id of TILES) {
      const { status, html } = await tile(id)
      expect(status, id).toBe(200)
      expect(html, id).toContain('class="empty"')
      expect(html, id).toContain(`href="/help/${docs[id]}"`)
    }
    expect((await tile('alerts')).html).toContain('Nothing firing that waits for a person.')
  })

  it('the help link shows that doc page; an unknown page is a 400 naming it', async () => {
    const ok = await page('/help/components')
    expect(ok.status).toBe(200)
    expect(ok.html).toContain('# Components')
    const bad = await t.app.request('/help/nope', { headers: { ...sessions.viewer, Accept: 'application/json' } })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as Json).error.details[0].field).toBe('page')
  })
})

describe('with data', () => {
  beforeAll(async () => {
    // Alerts: two critical, one warning, one acknowledged, one silenced-by-status resolved.
    const fire = async (title: string, severity: string) =>
      ((await (await t.json('POST', '/api/v1/alerts', { title, severity, status: 'firing' }, ingest)).json()) as Json)
        .alert
    await fire('db primary down', 'critical')
    await fire('queue stuck', 'critical')
    await fire('disk 85%', 'warning')
    const acked = await fire('cert expires soon', 'info')
    expect((await t.json('POST', `/api/v1/alerts/${acked.id}/acknowledge`, {}, op)).status).toBe(200)

    // A healing action awaiting approval and an escalated run (their own flows are tested elsewhere).
    await t.db.insert(healingActions).values({
      id: 'act-1',
      trigger: { type: 'manual' } as never,
      actionType: 'service_restart',
      target: 'planner',
      status: 'PENDING_APPROVAL',
      runAfter: now,
      requestedBy: 'rule:restart',
      createdAt: now - 5 * MIN,
      updatedAt: now - 5 * MIN,
    })
    await t.db.insert(runs).values({
      id: 'run-esc',
      goal: 'refactor billing',
      status: 'escalated',
      startedAt: now - HOUR,
      lastProgressAt: now - 10 * MIN,
      escalation: { reason: 'attempts used up', taskId: 'code', class: 'syntax', at: now - 10 * MIN },
      createdAt: now - HOUR,
      updatedAt: now - 10 * MIN,
    })

    // Components and their metrics: the planner got slower and costlier than the day before.
    const make = async (body: Json) => (await (await t.json('POST', '/api/v1/components', body, op)).json()) as Json
    const planner = await make({ name: 'fp-planner', kind: 'agent', push: { expectedIntervalSeconds: 60 } })
    const coder = await make({ name: 'fp-coder', kind: 'agent', push: { expectedIntervalSeconds: 60 } })
    await t.app.request(`/api/v1/push/${planner.push.token}?status=up`)
    await t.app.request(`/api/v1/push/${coder.push.token}?status=down&msg=stuck`)
    await t.json('POST', '/api/v1/prices', { model: 'gpt-fp', promptPer1M: 2, completionPer1M: 8 }, op)
    const planner_ = { component: 'fp-planner', model: 'gpt-fp' }
    const points: Json[] = []
    for (let h = 1; h <= 47; h++) {
      const today = h <= 24
      // On the hour's mark from `now`: the 24 h range starts on a whole hour at most 59 min before
      // now - 24 h (front/pages.tsx rangeOf), and a point put later than its mark (it was + 7 min) fell
      // into that extra hour whenever the minute of the hour was 53 or more: yesterday counted today.
      const at = now - h * HOUR
      points.push(
        { name: 'llm_latency_ms', value: today ? 400 + h : 200, ts: at, labels: planner_ },
        { name: 'llm_latency_ms', value: today ? 410 + h : 210, ts: at + 1000, labels: planner_ },
        { name: 'llm_tokens_total', value: today ? 1000 : 500, ts: at, labels: { ...planner_, kind: 'prompt' } },
        { name: 'agent_requests_total', value: today ? 10 : 5, ts: at, labels: { component: 'fp-planner' } },
        { name: 'agent_errors_total', value: 1, ts: at, labels: { component: 'fp-planner' } },
      )
    }
    points.push({ name: 'llm_errors_total', value: 2, ts: now - 2 * HOUR, labels: planner_ })
    expect((await t.json('POST', '/api/v1/metrics', { points }, op)).status).toBe(200)
    await runRollups(t.db, now)

    // Backups: one good backup of a target; n8n: one failing and one healthy workflow.
    await t.db
      .insert(backupTargets)
      .values({
        id: 'fp-target',
        name: 'fp-vectors',
        kind: 'command',
        config: {},
        destinationConfig: {},
        schedule: '0 3 * * *',
        createdAt: now - 2 * 86_400_000,
        updatedAt: now - 2 * 86_400_000,
      } as never)
      .onConflictDoNothing()
    await t.db.insert(backups).values({
      id: 'fp-b1',
      targetId: 'fp-target',
      targetName: 'fp-vectors',
      kind: 'command',
      status: 'good',
      trigger: 'schedule',
      destinationKind: 'local',
      location: 'fp/1',
      size: 2048,
      createdBy: 'system',
      startedAt: now - 3 * HOUR,
      finishedAt: now - 3 * HOUR + 1000,
    })
    const wf = { instanceId: 'n1', trigger: { kind: 'none', rules: [], timezone: null }, seenAt: now, updatedAt: now }
    await t.db.insert(n8nWorkflows).values([
      {
        ...wf,
        workflowId: 'w1',
        name: 'Invoice sync',
        active: true,
        state: 'failing',
        stateReason: '3 failures in a row',
      },
      { ...wf, workflowId: 'w2', name: 'Nightly report', active: true, state: 'healthy' },
    ] as never)
  })

  it('the first screen: what needs a person, then the fleet, agents and models, then upkeep', async () => {
    const { status, html } = await page('/', sessions.operator)
    expect(status).toBe(200)
    const at = (s: string) => html.indexOf(`data-section="${s}"`)
    expect(at('attention')).toBeGreaterThan(0)
    expect(at('attention')).toBeLessThan(at('fleet'))
    expect(at('fleet')).toBeLessThan(at('agents'))
    expect(at('agents')).toBeLessThan(at('upkeep'))
    const tiles = [...html.matchAll(/data-tile="([^"]+)"/g)].map((m) => m[1])
    expect(tiles).toEqual(TILES)
    // Each tile refreshes alone on its live topic, keeping the page's range.
    expect(html).toContain('hx-get="/front/tiles/alerts?range=24h" hx-trigger="live:alerts from:body"')
    for (const topic of ['healing', 'runs', 'components', 'metrics', 'backups', 'n8n'])
      expect(html).toContain(`hx-trigger="live:${topic} from:body"`)
    expect(html).toContain('aria-current="true">24h<')
  })

  it('alerts: firing and not acknowledged, by severity, most severe first', async () => {
    const { html } = await tile('alerts')
    expect(html.startsWith('<article class="card front-tile" id="tile-alerts"')).toBe(true)
    expect(html).not.toContain('<html')
    expect(html).toMatch(/<strong>2<\/strong> critical/)
    expect(html).toMatch(/<strong>1<\/strong> warning/)
    expect(html).not.toMatch(/<\/strong> info/)
    expect(html.indexOf('db primary down')).toBeLessThan(html.indexOf('disk 85%'))
    expect(html).not.toContain('cert expires soon') // acknowledged: counted aside, not listed
    expect(html).toContain('1 acknowledged')
  })

  it('healing approvals and escalated runs', async () => {
    const approvals = (await tile('approvals')).html
    expect(approvals).toContain('<strong>1</strong> awaiting approval')
    expect(approvals).toContain('href="/healing/actions/act-1"')
    expect(approvals).toContain('service_restart on planner')
    const esc = (await tile('escalated-runs')).html
    expect(esc).toContain('<strong>1</strong> escalated')
    expect(esc).toContain('refactor billing')
    expect(esc).toContain('attempts used up')
  })

  it('the fleet: status first, figures with a sparkline and the change against the previous day', async () => {
    const html = (await tile('fleet')).html
    expect(html).toMatch(/1 down<\/strong> · 1 up/)
    // Down first.
    expect(html.indexOf('data-component="fp-coder"')).toBeLessThan(html.indexOf('data-component="fp-planner"'))
    const planner = html.slice(html.indexOf('data-component="fp-planner"'))
    expect(planner).toContain('<svg class="sparkline"')
    expect(planner).toMatch(/<polyline points="[\d., ]+"/)
    // p95 rose from ~210 ms to ~430 ms: worse (up); errors per request fell from 1/5 to 1/10: better.
    expect(planner).toMatch(/p95<\/dt><dd>4\d\d ms <span class="delta worse"[^>]*>▲\d+%/)
    expect(planner).toMatch(/Errors<\/dt><dd>10\.00% <span class="delta good"[^>]*>▼50%/)
  })

  it('agents and models: per model and per agent, with top movers', async () => {
    const html = (await tile('agents-models')).html
    expect(html).toContain('By model (1)')
    expect(html).toContain('By agent (1)')
    expect(html).toContain('data-row="gpt-fp"')
    expect(html).toContain('data-row="fp-planner"')
    // The agent's own counters: 24 points of 10 requests today, against 23 of 5 the day before.
    const agent = html.slice(html.lastIndexOf('data-row="fp-planner"'))
    expect(agent).toMatch(/<td>240 <span class="delta[^>]*>▲109%/)
    expect(html).toContain('data-mover=')
  })

  it('backups and n8n workflows', async () => {
    const b = (await tile('backups')).html
    expect(b).toContain('data-target="fp-vectors"')
    expect(b).toContain('2.0 kB')
    expect(b).toContain('next due')
    const n = (await tile('n8n-workflows')).html
    expect(n).toContain('1 failing · 0 stopped · 0 degraded')
    expect(n).toContain('Invoice sync')
    expect(n).toContain('3 failures in a row')
    expect(n).not.toContain('Nightly report')
  })

  it('the range applies to the whole page and each fragment; a bad one is a 400 naming `range`', async () => {
    const week = await page('/?range=7d')
    expect(week.status).toBe(200)
    expect(week.html).toContain('hx-get="/front/tiles/fleet?range=7d"')
    expect(week.html).toContain('aria-current="true">7d<')
    expect((await tile('fleet', sessions.viewer, '1h')).html).toContain('range=1h')
    for (const bad of ['1d', '30d', 'soon', '']) {
      for (const path of [`/?range=${bad}`, `/front/tiles/fleet?range=${bad}`]) {
        const res = await t.app.request(path, { headers: { ...sessions.viewer, Accept: 'application/json' } })
        expect(res.status, path).toBe(400)
        expect(((await res.json()) as Json).error.details[0].field, path).toBe('range')
      }
    }
    const html400 = await page('/?range=1y')
    expect(html400.status).toBe(400)
    expect(html400.html).toContain('range')
  })

  it('an unknown tile is a 404, a malformed id a 400 naming `id`', async () => {
    expect((await tile('nope')).status).toBe(404)
    const res = await t.app.request('/front/tiles/Bad_Id!', {
      headers: { ...sessions.viewer, Accept: 'application/json' },
    })
    expect(res.status).toBe(400)
    expect(((await res.json()) as Json).error.details[0].field).toBe('id')
  })
})

describe('who may read which tile', () => {
  it('recent changes are for admins: left off the page for others, 403 as a fragment', async () => {
    const admin = await page('/', sessions.admin)
    expect(admin.html).toContain('data-tile="recent-changes"')
    expect(admin.html).toContain('alert.acknowledged')
    expect((await tile('recent-changes', sessions.admin)).status).toBe(200)
    for (const role of ['viewer', 'operator'] as const) {
      const { html } = await page('/', sessions[role])
      expect(html, role).not.toContain('data-tile="recent-changes"')
      expect(html, role).not.toContain('alert.acknowledged')
      expect((await tile('recent-changes', sessions[role])).status, role).toBe(403)
      expect((await tile('alerts', sessions[role])).status, role).toBe(200)
    }
  })

  it('a key read with its role; a key scoped to ingest only and an anonymous caller read nothing', async () => {
    const viewerKey = (await t.key('viewer')).headers
    expect((await page('/', viewerKey)).status).toBe(200)
    expect((await tile('fleet', viewerKey)).status).toBe(200)
    expect((await tile('fleet', ingest)).status).toBe(403)
    const anon = await t.app.request('/front/tiles/fleet', { headers: { Accept: 'application/json' } })
    expect(anon.status).toBe(401)
    const anonPage = await t.app.request('/', { headers: { Accept: 'text/html' } })
    expect(anonPage.status).toBe(302)
    expect(anonPage.headers.get('location')).toBe('/login?next=%2F')
  })
})

describe('Settings → System', () => {
  it('holds the infrastructure status that used to be on /: readiness, counts and the jobs', async () => {
    const { status, html } = await page('/settings/system')
    expect(status).toBe(200)
    expect(html).toContain('<h1>System</h1>')
    for (const check of ['database', 'migrations', 'scheduler']) expect(html).toContain(check)
    expect(html).toContain('<h2>Jobs</h2>')
    expect((await page('/settings')).html).toContain('href="/settings/system"')
  })
})
