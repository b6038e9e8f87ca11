/**
 * The healing dashboard over the real app: every page renders for a viewer; approve, reject,
 * breaker reset, failover and failback through the page forms need an operator and the session's
 * CSRF token (a viewer gets 403); forms with bad input answer 400 naming each field; the forms act
 * through the same service calls as the API (state, timeline, audit).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp, type TestApp } from '../helpers/app.ts'

let t: TestApp
let op: Record<string, string>
type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

const HOST_A = 'http://127.0.0.1:9'
const HOST_B = 'http://127.0.0.1:10'
const KEY_A = `model:${HOST_A}/llama3:8b`
const form = (fields: Record<string, string | string[]>) => {
  const p = new URLSearchParams()
  for (const [k, x] of Object.entries(fields)) for (const one of Array.isArray(x) ? x : [x]) p.append(k, one)
  return p.toString()
}
const post = (path: string, headers: Record<string, string>, fields: Record<string, string | string[]> = {}) =>
  t.app.request(path, {
    method: 'POST',
    body: form(fields),
    headers: { ...headers, 'HX-Request': 'true', 'Content-Type': 'application/x-www-form-urlencoded' },
  })
const page = async (path: string, headers: Record<string, string>) => {
  const res = await t.app.request(path, { headers })
  return { status: res.status, html: await res.text() }
}
const api = async (path: string) => (await (await t.app.request(path, { headers: op })).json()) as Json
const auditCount = async (action: string) =>
  Number(
    (await t.client.execute({ sql: 'select count(*) as n from audit_log where action = ?', args: [action] })).rows[0]!
      .n,
  )
const tick = async (at = Date.now()) => {
  const counts = await t.services.healing.tick(at)
  await t.services.healing.settle()
  return counts
}
/** Reports failures until the breaker opens, then runs a healing tick so rules fire. */
async function openBreaker(key: string) {
  for (let i = 0; i < 10; i++) {
    const r = (await (
      await t.json(
        'POST',
        `/api/v1/healing/breakers/${encodeURIComponent(key)}/report`,
        { ok: false, error: 'connection refused' },
        op,
      )
    ).json()) as Json
    if (r.state === 'OPEN') break
  }
  expect((await api(`/api/v1/healing/breakers/${encodeURIComponent(key)}`)).state).toBe('OPEN')
}
const ruleFields = (over: Record<string, string | string[]> = {}) => ({
  name: 'fail over chat',
  'trigger.type': 'breaker',
  'trigger.keyPattern': '^model:',
  actionType: 'model_failover',
  target: 'chat',
  mode: 'requires_approval',
  cooldownMs: '0',
  maxPerHour: '20',
  priority: '5',
  maxAttempts: '1',
  approvalTtlMs: '1h',
  'verification.type': 'none',
  rollbackOnFailure: 'on',
  enabled: 'on',
  ...over,
})

let pendingId = ''

beforeAll(async () => {
  t = await testApp()
  op = (await t.key('operator')).headers
})
afterAll(() => t?.close())

describe('healing pages', () => {
  it('an operator creates a route and a rule through the forms; bad input names each field', async () => {
    const s = await t.session('operator')
    const badRoute = await post('/healing/routes', s.headers, {
      name: 'chat',
      targets: `llama3:8b ftp://nowhere\n!!bad ${HOST_B}`,
      failbackAfter: 'soon',
    })
    expect(badRoute.status).toBe(400)
    const badText = await badRoute.text()
    for (const field of ['targets.0.host', 'targets.1.model', 'failbackAfter'])
      expect(badText).toContain(`<code>${field}</code>`)
    expect(badRoute.headers.get('HX-Retarget')).toBe('#flash')

    const made = await post('/healing/routes', s.headers, {
      name: 'chat',
      targets: `llama3:8b ${HOST_A}\nllama3:8b ${HOST_B}`,
      failbackAfter: '5m',
      probePath: '',
    })
    expect(made.headers.get('HX-Redirect')).toBe('/healing/routes/chat')
    const route = await api('/api/v1/model-routes/chat')
    expect(route).toMatchObject({ activeIndex: 0, failbackAfterMs: 300_000, probePath: '' })
    expect(route.targets.map((x: Json) => x.host)).toEqual([HOST_A, HOST_B])
    expect((await post('/healing/routes', s.headers, { name: 'chat', targets: `m ${HOST_A}` })).status).toBe(409)

    const badRule = await post(
      '/healing/rules',
      s.headers,
      ruleFields({
        'trigger.keyPattern': '(',
        target: '',
        params: 'not json',
        maxPerHour: 'lots',
        cooldownMs: 'a while',
      }),
    )
    expect(badRule.status).toBe(400)
    const ruleErrors = await badRule.text()
    for (const field of ['trigger.keyPattern', 'target', 'params', 'maxPerHour', 'cooldownMs'])
      expect(ruleErrors).toContain(`<code>${field}</code>`)
    const noRoute = await post('/healing/rules', s.headers, ruleFields({ target: 'no-such-route' }))
    expect(noRoute.status).toBe(400)
    expect(await noRoute.text()).toContain('no model route named no-such-route')
    const badVerify = await post(
      '/healing/rules',
      s.headers,
      ruleFields({ 'verification.type': 'http', 'verification.url': 'ftp://x' }),
    )
    expect(await badVerify.text()).toContain('<code>verification.url</code>')

    const ok = await post('/healing/rules', s.headers, ruleFields({ 'notify.on': ['failure', 'approval'] }))
    expect(ok.status).toBe(200)
    expect(ok.headers.get('HX-Redirect')).toMatch(/^\/healing\/rules\/[0-9A-Z]{26}$/)
    const rules = (await api('/api/v1/healing/rules')).items as Json[]
    expect(rules).toHaveLength(1)
    expect(rules[0]).toMatchObject({
      name: 'fail over chat',
      requiresApproval: true,
      trigger: { type: 'breaker', keyPattern: '^model:' },
      cooldownMs: 0,
      maxPerHour: 20,
      priority: 5,
      maxAttempts: 1,
      approvalTtlMs: 3_600_000,
      enabled: true,
      notify: { channelIds: [], on: ['failure', 'approval'] },
    })
    expect(await auditCount('healing_rule.created')).toBe(1)
    expect(await auditCount('model_route.created')).toBe(1)
  })

  it('a breaker opening makes an action that waits for approval; every page renders for a viewer', async () => {
    await openBreaker(KEY_A)
    expect((await tick()).triggered).toBe(1)
    const pending = (await api('/api/v1/healing/actions?status=PENDING_APPROVAL')).items as Json[]
    expect(pending).toHaveLength(1)
    pendingId = pending[0]!.id
    const ruleId = ((await api('/api/v1/healing/rules')).items as Json[])[0]!.id

    const viewer = await t.session('viewer')
    for (const path of [
      '/healing',
      '/healing/live',
      '/healing/actions',
      '/healing/actions?status=PENDING_APPROVAL&type=model_failover',
      `/healing/actions/${pendingId}`,
      `/healing/actions/${pendingId}/live`,
      '/healing/rules',
      `/healing/rules/${ruleId}`,
      '/healing/routes',
      '/healing/routes/chat',
      '/healing/breakers',
      '/healing/breakers?state=OPEN&prefix=model:',
      '/healing/stats',
      '/healing/stats?window=7d',
      '/healing/stats?window=30d',
    ]) {
      expect((await page(path, viewer.headers)).status, path).toBe(200)
    }
    const overview = (await page('/healing', viewer.headers)).html
    expect(overview).toContain('hx-trigger="live:healing from:body, every 30s"')
    expect(overview).toContain(`href="/healing/actions/${pendingId}"`)
    expect(overview).toContain(`data-breaker="${KEY_A}"`)
    expect(overview).toContain('data-route="chat"')
    expect(overview).toMatch(/data-count="approvals"><span class="label">Awaiting approval<\/span><strong>1</)
    expect(overview).not.toContain(`/healing/actions/${pendingId}/approve`) // a viewer gets no buttons
    expect(overview).not.toContain('href="/healing/n8n"')
    const detail = (await page(`/healing/actions/${pendingId}`, viewer.headers)).html
    expect(detail).toContain('data-event="PENDING_APPROVAL"')
    expect(detail).toContain('Waiting for an operator')
    expect(detail).toContain(`hx-get="/healing/actions/${pendingId}/live"`)
    const routePage = (await page('/healing/routes/chat', viewer.headers)).html
    expect(routePage).toContain('data-breaker-state="OPEN"')
    expect(routePage).toContain('connection refused')
    const rulePage = (await page(`/healing/rules/${ruleId}`, viewer.headers)).html
    expect(rulePage).toContain('value="fail over chat"')
    expect(rulePage).toContain('<option value="requires_approval" selected="">')
    expect(rulePage).not.toContain('Save rule')

    expect((await page('/healing/stats?window=1y', viewer.headers)).status).toBe(400)
    expect((await page('/healing/actions/no-such-action', viewer.headers)).status).toBe(404)
    expect((await page('/healing/routes/no-such-route', viewer.headers)).status).toBe(404)
    expect((await page('/healing/rules/no-such-rule', viewer.headers)).status).toBe(404)
    expect((await page('/healing/n8n', viewer.headers)).status).toBe(403)
    expect((await page('/healing/n8n', (await t.session('operator')).headers)).status).toBe(403)
  })

  it('refuses every write to a viewer (403) and to a session without its CSRF token, and changes nothing', async () => {
    const viewer = await t.session('viewer')
    const ruleId = ((await api('/api/v1/healing/rules')).items as Json[])[0]!.id
    const writes: [string, Record<string, string>][] = [
      [`/healing/actions/${pendingId}/approve`, {}],
      [`/healing/actions/${pendingId}/reject`, { comment: 'no' }],
      ['/healing/breakers/reset', { key: KEY_A }],
      ['/healing/routes/chat/failover', {}],
      ['/healing/routes/chat/failback', {}],
      ['/healing/routes/chat/delete', {}],
      ['/healing/routes', { name: 'other', targets: `m ${HOST_A}` }],
      ['/healing/rules', ruleFields({ name: 'other' })],
      [`/healing/rules/${ruleId}`, ruleFields({ name: 'renamed' })],
      [`/healing/rules/${ruleId}/disable`, {}],
      [`/healing/rules/${ruleId}/delete`, {}],
      ['/healing/n8n', { name: 'n', baseUrl: 'http://127.0.0.1:5678', apiKey: 'k' }],
      ['/healing/actions', { type: 'model_failover', target: 'chat' }],
    ]
    for (const [path, fields] of writes) expect((await post(path, viewer.headers, fields)).status, path).toBe(403)
    const operator = await t.session('operator')
    const noCsrf = { Cookie: operator.headers.Cookie }
    for (const [path, fields] of writes.slice(0, 5)) {
      const res = await post(path, noCsrf, fields)
      expect(res.status, path).toBe(403)
      expect(await res.text()).toContain('CSRF')
    }
    expect((await api(`/api/v1/healing/actions/${pendingId}`)).status).toBe('PENDING_APPROVAL')
    expect((await api(`/api/v1/healing/breakers/${encodeURIComponent(KEY_A)}`)).state).toBe('OPEN')
    expect((await api('/api/v1/model-routes/chat')).activeIndex).toBe(0)
    expect(((await api('/api/v1/healing/rules')).items as Json[])[0]).toMatchObject({
      name: 'fail over chat',
      enabled: true,
    })
  })

  it('the approve link asks first; approving through the page runs the action to SUCCESS', async () => {
    const s = await t.session('operator')
    const ask = (await page(`/healing/actions/${pendingId}?action=approve`, s.headers)).html
    expect(ask).toContain('id="decide-confirm"')
    expect(ask).toContain(`hx-post="/healing/actions/${pendingId}/approve"`)
    expect((await api(`/api/v1/healing/actions/${pendingId}`)).status).toBe('PENDING_APPROVAL') // the GET changed nothing
    expect((await page(`/healing/actions/${pendingId}?action=delete`, s.headers)).status).toBe(400)

    const res = await post(`/healing/actions/${pendingId}/approve`, s.headers)
    expect(res.headers.get('HX-Redirect')).toBe(`/healing/actions/${pendingId}`)
    expect((await api(`/api/v1/healing/actions/${pendingId}`)).status).toBe('PENDING')
    expect(await auditCount('healing_action.approved')).toBe(1)
    const again = await post(`/healing/actions/${pendingId}/approve`, s.headers)
    expect(again.status).toBe(409)
    expect(await again.text()).toContain('already approved')

    await tick()
    const done = await api(`/api/v1/healing/actions/${pendingId}`)
    expect(done.status).toBe('SUCCESS')
    expect((await api('/api/v1/model-routes/chat')).activeIndex).toBe(1)
    const detail = (await page(`/healing/actions/${pendingId}`, s.headers)).html
    for (const status of ['PENDING_APPROVAL', 'PENDING', 'RUNNING', 'SUCCESS'])
      expect(detail).toContain(`data-event="${status}"`)
    expect(detail).not.toContain(`hx-get="/healing/actions/${pendingId}/live"`) // final: it stops polling
    expect(detail).toContain('&quot;to&quot;: 1')
    const stats = (await page('/healing/stats', s.headers)).html
    expect(stats).toContain('model_failover')
    expect(stats).toContain('fail over chat')
    expect(stats).toMatch(/<strong data-rate="true">100%</)
  })

  it('rejects with a comment; reset, failback and failover act like the API', async () => {
    const s = await t.session('operator')
    // Back to the primary by hand, then the open breaker makes another request to reject.
    const back = await post('/healing/routes/chat/failback', s.headers)
    expect(back.headers.get('HX-Redirect')).toBe('/healing/routes/chat')
    expect((await api('/api/v1/model-routes/chat')).activeIndex).toBe(0)
    expect((await post('/healing/routes/chat/failback', s.headers)).status).toBe(409)
    expect((await post('/healing/routes/chat/failback', s.headers, { toIndex: '7' })).status).toBe(400)
    expect((await post('/healing/routes/chat/failover', s.headers, { reason: 'x'.repeat(600) })).status).toBe(400)
    // The only other target is healthy, so the page moves the route there.
    const over = await post('/healing/routes/chat/failover', s.headers, { reason: 'drill' })
    expect(over.status).toBe(200)
    const events = (await api('/api/v1/model-routes/chat/events')).items as Json[]
    expect(events[0]).toMatchObject({ from: 0, to: 1 })
    expect(events[0]!.reason).toContain('drill')
    // Back again so the next breaker opening asks again.
    await post('/healing/routes/chat/failback', s.headers)

    const reset = await post('/healing/breakers/reset', s.headers, { key: KEY_A })
    expect(reset.headers.get('HX-Redirect')).toBe('/healing/breakers')
    expect((await api(`/api/v1/healing/breakers/${encodeURIComponent(KEY_A)}`)).state).toBe('CLOSED')
    expect(await auditCount('breaker.reset')).toBe(1)
    expect((await post('/healing/breakers/reset', s.headers, { key: 'not a key' })).status).toBe(400)
    expect((await post('/healing/breakers/reset', s.headers, { key: 'model:nowhere' })).status).toBe(404)

    await openBreaker(KEY_A)
    await tick()
    const pending = (await api('/api/v1/healing/actions?status=PENDING_APPROVAL')).items as Json[]
    expect(pending).toHaveLength(1)
    const rejected = await post(`/healing/actions/${pending[0]!.id}/reject`, s.headers, { comment: 'traffic is fine' })
    expect(rejected.headers.get('HX-Redirect')).toBe(`/healing/actions/${pending[0]!.id}`)
    expect(await api(`/api/v1/healing/actions/${pending[0]!.id}`)).toMatchObject({
      status: 'REJECTED',
      reason: 'rejected: traffic is fine',
    })
    const html = (await page(`/healing/actions/${pending[0]!.id}?action=reject`, s.headers)).html
    expect(html).toContain('there is nothing to decide')
    expect(html).toContain('data-event="REJECTED"')
    expect((await post('/healing/actions/no-such-action/approve', s.headers)).status).toBe(404)
  })

  it('runs an action by hand from the actions page (a dry run changes nothing); bad input names the field', async () => {
    const s = await t.session('operator')
    expect((await page('/healing/actions', s.headers)).html).toContain('id="run-form"')
    expect((await page('/healing/actions', (await t.session('viewer')).headers)).html).not.toContain('id="run-form"')
    for (const [fields, field, text] of [
      [{ type: 'reboot_universe', target: 'chat' }, 'type', 'unknown action type'],
      [{ type: 'model_failover', target: 'nowhere' }, 'target', 'no model route named nowhere'],
      [{ type: 'model_failover', target: 'chat', params: '[1]' }, 'params', 'JSON object'],
      [{ type: 'webhook', target: 'svc', params: '{"url": "ftp://x"}' }, 'params.url', 'http'],
      [{ type: 'model_failover', target: '' }, 'target', 'must not be empty'],
    ] as const) {
      const res = await post('/healing/actions', s.headers, fields)
      expect(res.status, field).toBe(400)
      const html = await res.text()
      expect(html, field).toContain(`<code>${field}</code>`)
      expect(html, field).toContain(text)
    }
    const res = await post('/healing/actions', s.headers, {
      type: 'model_failover',
      target: 'chat',
      reason: 'drill',
      dryRun: 'on',
    })
    const id = /^\/healing\/actions\/([0-9A-Z]{26})$/.exec(res.headers.get('HX-Redirect') ?? '')?.[1]
    expect(id).toBeDefined()
    await tick()
    const a = await api(`/api/v1/healing/actions/${id}`)
    expect(a).toMatchObject({
      dryRun: true,
      status: 'SUCCESS',
      requestedBy: `user:${s.user.email}`,
      trigger: { type: 'manual', summary: 'drill' },
    })
    expect((await api('/api/v1/model-routes/chat')).activeIndex).toBe(0)
    expect((await page(`/healing/actions/${id}`, s.headers)).html).toContain('dry run')
    expect(await auditCount('healing_action.requested')).toBe(1)
  })

  it('edits, disables and enables a rule through the forms', async () => {
    const s = await t.session('operator')
    const ruleId = ((await api('/api/v1/healing/rules')).items as Json[])[0]!.id
    const bad = await post(`/healing/rules/${ruleId}`, s.headers, ruleFields({ 'trigger.type': 'sometimes' }))
    expect(bad.status).toBe(400)
    expect(await bad.text()).toContain('<code>trigger.type</code>')
    const saved = await post(
      `/healing/rules/${ruleId}`,
      s.headers,
      ruleFields({
        name: 'fail over chat fast',
        mode: 'automated',
        cooldownMs: '10m',
        'verification.type': 'breaker_closed',
        'verification.key': '{{key}}',
        'verification.afterMs': '30s',
      }),
    )
    expect(saved.headers.get('HX-Redirect')).toBe(`/healing/rules/${ruleId}`)
    expect(await api(`/api/v1/healing/rules/${ruleId}`)).toMatchObject({
      name: 'fail over chat fast',
      mode: 'automated',
      cooldownMs: 600_000,
      verification: { type: 'breaker_closed', key: '{{key}}', afterMs: 30_000 },
    })
    expect((await post(`/healing/rules/${ruleId}/disable`, s.headers)).headers.get('HX-Redirect')).toBe(
      '/healing/rules',
    )
    expect((await api(`/api/v1/healing/rules/${ruleId}`)).enabled).toBe(false)
    expect((await page('/healing/rules', s.headers)).html).toContain('data-enabled="false"')
    await post(`/healing/rules/${ruleId}/enable`, s.headers)
    expect((await api(`/api/v1/healing/rules/${ruleId}`)).enabled).toBe(true)
    expect(await auditCount('healing_rule.updated')).toBe(1)
  })

  it('simulate shows, as a fragment, what the form rule would have done; it writes nothing', async () => {
    const operator = await t.session('operator')
    const before = (await api('/api/v1/healing/actions')).items.length
    const res = await post(
      '/healing/simulate',
      operator.headers,
      ruleFields({ name: '', mode: 'automated', cooldownMs: '1h', range: '24h' }),
    )
    expect(res.status).toBe(200)
    const html = await res.text()
    expect(html).not.toContain('<html')
    // The breaker opened twice today: the first would run, the second is inside the 1 h cooldown.
    expect(html).toContain('data-triggers="2"')
    expect(html).toContain('data-outcome="would run"')
    expect(html).toContain('data-outcome="skipped: cooldown"')
    expect((await api('/api/v1/healing/actions')).items.length).toBe(before)
    const old = await post(
      '/healing/simulate',
      operator.headers,
      ruleFields({ from: '2020-01-01T00:00', to: '2020-01-02T00:00' }),
    )
    expect(await old.text()).toContain('data-triggers="0"')
    for (const [fields, field] of [
      [{ range: '1y' }, 'range'],
      [{ from: 'yesterday' }, 'from'],
      [{ from: '2020-01-02T00:00', to: '2020-01-01T00:00' }, 'to'],
      [{ from: '2020-01-01T00:00', to: '2020-03-01T00:00' }, 'from'],
      [{ 'trigger.keyPattern': '(' }, 'trigger.keyPattern'],
    ] as const) {
      const bad = await post('/healing/simulate', operator.headers, ruleFields(fields))
      expect(bad.status, field).toBe(400)
      expect(await bad.text(), field).toContain(`<code>${field}</code>`)
    }
  })

  it('an admin adds and deletes an n8n instance; its key is never shown', async () => {
    const s = await t.session('admin')
    const bad = await post('/healing/n8n', s.headers, { name: 'bad name!', baseUrl: 'nope', apiKey: '' })
    expect(bad.status).toBe(400)
    const text = await bad.text()
    for (const field of ['name', 'baseUrl', 'apiKey']) expect(text).toContain(`<code>${field}</code>`)
    const made = await post('/healing/n8n', s.headers, {
      name: 'prod',
      baseUrl: 'http://127.0.0.1:5678/',
      apiKey: 'n8n-api-key-very-secret',
    })
    expect(made.headers.get('HX-Redirect')).toBe('/healing/n8n')
    const html = (await page('/healing/n8n', s.headers)).html
    expect(html).toContain('data-n8n="prod"')
    expect(html).not.toContain('n8n-api-key-very-secret')
    expect((await page('/healing', s.headers)).html).toContain('href="/healing/n8n"')
    const id = /hx-post="\/healing\/n8n\/([^/]+)\/delete"/.exec(html)![1]!
    expect((await post(`/healing/n8n/${id}/delete`, s.headers)).headers.get('HX-Redirect')).toBe('/healing/n8n')
    expect((await page('/healing/n8n', s.headers)).html).not.toContain('data-n8n="prod"')
    expect(await auditCount('n8n_instance.deleted')).toBe(1)
  })
})
