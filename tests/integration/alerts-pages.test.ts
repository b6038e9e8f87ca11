/**
 * The alerts dashboard pages over the real app: they render for a viewer, operator-only actions
 * are refused to a viewer, the Slack "ack link" (`?action=acknowledge`) changes nothing on GET,
 * and the forms act through the same service calls as the API (state, audit).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp, type TestApp } from '../helpers/app.ts'

let t: TestApp
let op: Record<string, string>
let alertId = ''
type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString()
const post = (path: string, headers: Record<string, string>, fields: Record<string, string> = {}) =>
  t.app.request(path, {
    method: 'POST',
    body: form(fields),
    headers: { ...headers, 'HX-Request': 'true', 'Content-Type': 'application/x-www-form-urlencoded' },
  })
const api = async (path: string) => (await (await t.app.request(path, { headers: op })).json()) as Json
const auditCount = async (action: string) =>
  Number(
    (await t.client.execute({ sql: 'select count(*) as n from audit_log where action = ?', args: [action] })).rows[0]!
      .n,
  )

beforeAll(async () => {
  t = await testApp()
  op = (await t.key('operator')).headers
  const res = await t.json(
    'POST',
    '/api/v1/alerts',
    {
      title: 'Checkout agent down',
      severity: 'critical',
      status: 'firing',
      labels: { component: 'checkout', env: 'prod' },
      annotations: { runbook: 'https://wiki.example.com/checkout' },
    },
    op,
  )
  expect(res.status).toBe(201)
  alertId = ((await res.json()) as Json).alert.id
})
afterAll(() => t?.close())

describe('alerts pages', () => {
  it('render for a viewer, without the operator controls', async () => {
    const s = await t.session('viewer')
    for (const path of [
      '/alerts',
      '/alerts/list?status=firing&severity=critical&q=env%3Dprod',
      `/alerts/${alertId}`,
      '/alerts/silences',
      '/alerts/rules',
      '/alerts/channels',
      '/alerts/policies',
    ]) {
      const res = await t.app.request(path, { headers: s.headers })
      expect(res.status, path).toBe(200)
    }
    const list = await (await t.app.request('/alerts', { headers: s.headers })).text()
    expect(list).toContain('Checkout agent down')
    expect(list).toContain('hx-trigger="live:alerts from:body, every 10s"')
    expect(list).toContain(`href="/alerts/${alertId}"`)
    expect(list).toMatch(/data-count="firing"><span class="label">firing<\/span><strong>1</)
    const filtered = await (await t.app.request('/alerts/list?q=env%3Ddev', { headers: s.headers })).text()
    expect(filtered).not.toContain('Checkout agent down')
    const detail = await (await t.app.request(`/alerts/${alertId}`, { headers: s.headers })).text()
    expect(detail).toContain('component=checkout')
    expect(detail).toContain('https://wiki.example.com/checkout')
    expect(detail).toContain('data-event="created"')
    expect(detail).not.toContain('id="alert-actions"')
    expect((await t.app.request('/alerts/list?status=bogus', { headers: s.headers })).status).toBe(400)
    expect((await t.app.request('/alerts/no-such-alert', { headers: s.headers })).status).toBe(404)
  })

  it('refuse operator actions to a viewer (403) and change nothing', async () => {
    const s = await t.session('viewer')
    for (const [path, fields] of [
      [`/alerts/actions/${alertId}/acknowledge`, {}],
      [`/alerts/actions/${alertId}/resolve`, {}],
      [`/alerts/actions/${alertId}/mute`, { duration: '1h' }],
      ['/alerts/silences', { matchers: 'env="prod"', duration: '1h' }],
      ['/alerts/rules', { name: 'x', kind: 'threshold', metric: 'up', comparator: '<', value: '1' }],
      ['/alerts/channels', { name: 'x', type: 'n8n', url: 'http://127.0.0.1:9/hook' }],
      ['/alerts/policies', { name: 'x' }],
    ] as const) {
      expect((await post(path, s.headers, fields)).status, path).toBe(403)
    }
    expect((await api(`/api/v1/alerts/${alertId}`)).status).toBe('firing')
    expect((await api('/api/v1/silences')).items).toHaveLength(0)
    expect((await api('/api/v1/alert-rules')).items).toHaveLength(0)
  })

  it('?action=acknowledge asks for a confirmation and does not act on GET', async () => {
    const s = await t.session('operator')
    const html = await (await t.app.request(`/alerts/${alertId}?action=acknowledge`, { headers: s.headers })).text()
    expect(html).toContain('id="ack-confirm"')
    expect(html).toContain(`hx-post="/alerts/actions/${alertId}/acknowledge"`)
    const after = await api(`/api/v1/alerts/${alertId}`)
    expect(after.status).toBe('firing')
    expect(after.events.map((e: Json) => e.type)).not.toContain('acked')
    const viewer = await (
      await t.app.request(`/alerts/${alertId}?action=acknowledge`, { headers: (await t.session('viewer')).headers })
    ).text()
    expect(viewer).toContain('Only an operator can acknowledge')
    expect((await t.app.request(`/alerts/${alertId}?action=delete`, { headers: s.headers })).status).toBe(400)
  })

  it('acknowledge, mute, silence with preview, and resolve act like the API and are audited', async () => {
    const s = await t.session('operator')
    const ack = await post(`/alerts/actions/${alertId}/acknowledge`, s.headers)
    expect(ack.headers.get('HX-Redirect')).toBe(`/alerts/${alertId}`)
    expect((await api(`/api/v1/alerts/${alertId}`)).status).toBe('acknowledged')
    expect(await auditCount('alert.acknowledged')).toBe(1)
    expect((await post(`/alerts/actions/${alertId}/acknowledge`, s.headers)).status).toBe(409)

    const preview = await (
      await post('/alerts/silences/preview', s.headers, { matchers: 'component="checkout"\nenv=~"prod|staging"' })
    ).text()
    expect(preview).toContain('data-preview-count="1"')
    const badPreview = await post('/alerts/silences/preview', s.headers, { matchers: 'env=~"("' })
    expect(badPreview.status).toBe(400)
    expect(await badPreview.text()).toContain('matchers.0.value')

    const bad = await post('/alerts/silences', s.headers, { matchers: 'nonsense', duration: '1h' })
    expect(bad.status).toBe(400)
    expect(await bad.text()).toContain('matchers')
    const made = await post('/alerts/silences', s.headers, {
      matchers: 'component="checkout"',
      duration: '2h',
      comment: 'deploy',
    })
    expect(made.headers.get('HX-Redirect')).toBe('/alerts/silences')
    expect((await api(`/api/v1/alerts/${alertId}`)).silenced).toBe(true)
    const silences = (await api('/api/v1/silences')).items as Json[]
    expect(silences).toHaveLength(1)
    expect(silences[0]).toMatchObject({ comment: 'deploy', state: 'active' })
    expect((await post(`/alerts/silences/${silences[0]!.id}/expire`, s.headers)).headers.get('HX-Redirect')).toBe(
      '/alerts/silences',
    )
    expect((await api(`/api/v1/alerts/${alertId}`)).silenced).toBe(false)
    expect((await post(`/alerts/actions/${alertId}/mute`, s.headers, { duration: '1h' })).status).toBe(200)
    expect((await post(`/alerts/actions/${alertId}/mute`, s.headers, { duration: '3y' })).status).toBe(400)
    const recurring = await post('/alerts/silences', s.headers, {
      matchers: 'env="prod"',
      duration: '2h',
      cron: '0 2 * * 6',
      timezone: 'Europe/Berlin',
      comment: 'weekly',
    })
    expect(recurring.status).toBe(200)
    expect(((await api('/api/v1/silences')).items as Json[]).find((x) => x.comment === 'weekly')).toMatchObject({
      recurring: true,
      cron: '0 2 * * 6',
      timezone: 'Europe/Berlin',
      duration: 7_200_000,
    })
    const badCron = await post('/alerts/silences', s.headers, {
      matchers: 'env="prod"',
      duration: '2h',
      cron: 'every tuesday',
    })
    expect(badCron.status).toBe(400)
    expect(await badCron.text()).toContain('<code>cron</code>')
    expect(await auditCount('silence.created')).toBe(3)
    expect(await auditCount('silence.expired')).toBe(1)

    const silencePage = await (
      await t.app.request(`/alerts/silences?matchers=${encodeURIComponent('component="checkout"')}&from=${alertId}`, {
        headers: s.headers,
      })
    ).text()
    expect(silencePage).toContain('component=&quot;checkout&quot;')

    expect((await post(`/alerts/actions/${alertId}/resolve`, s.headers)).status).toBe(200)
    const done = await api(`/api/v1/alerts/${alertId}`)
    expect(done.status).toBe('resolved')
    expect(done.events.map((e: Json) => e.type)).toEqual(
      expect.arrayContaining(['created', 'fired', 'acked', 'silenced', 'resolved']),
    )
  })

  it('rules: a template prefills the form, test now previews, create and disable', async () => {
    const s = await t.session('operator')
    const page = await (await t.app.request('/alerts/rules?template=high-error-rate', { headers: s.headers })).text()
    expect(page).toContain('value="agent_errors_total"')
    expect(page).toContain('agent_requests_total')
    const fields = {
      name: 'Low score',
      kind: 'threshold',
      metric: 'prompt_score',
      agg: 'avg',
      window: '1h',
      comparator: '<',
      value: '0.7',
      severity: 'warning',
      by: 'prompt',
      for: '0s',
      keepFiringFor: '0s',
    }
    const bad = await post('/alerts/rules/test', s.headers, { ...fields, window: '-5m' })
    expect(bad.status).toBe(400)
    expect(await bad.text()).toContain('<code>window</code>')
    const badRegex = await post('/alerts/rules', s.headers, { ...fields, matchers: 'env=~"("' })
    expect(badRegex.status).toBe(400)
    expect(await badRegex.text()).toContain('matchers.0.value')
    const tested = await post('/alerts/rules/test', s.headers, fields)
    expect(tested.status).toBe(200)
    expect(await tested.text()).toContain('data-results="0"')
    const created = await post('/alerts/rules', s.headers, fields)
    expect(created.status).toBe(200)
    const rule = ((await api('/api/v1/alert-rules')).items as Json[])[0]!
    expect(rule).toMatchObject({
      name: 'Low score',
      metric: 'prompt_score',
      window: 3_600_000,
      value: 0.7,
      by: ['prompt'],
    })
    expect((await post(`/alerts/rules/${rule.id}/disable`, s.headers)).status).toBe(200)
    expect((await api(`/api/v1/alert-rules/${rule.id}`)).enabled).toBe(false)
    expect((await post(`/alerts/rules/${rule.id}/delete`, s.headers)).headers.get('HX-Redirect')).toBe('/alerts/rules')
    expect((await api('/api/v1/alert-rules')).items).toHaveLength(0)
    expect(await auditCount('alert_rule.deleted')).toBe(1)
    expect(await auditCount('alert_rule.created')).toBe(1)
    expect(await auditCount('alert_rule.disabled')).toBe(1)
  })

  it('channels and policies: create through the forms (secrets masked), send a test', async () => {
    const s = await t.session('operator')
    const bad = await post('/alerts/channels', s.headers, { name: 'hook', type: 'webhook', url: 'ftp://x' })
    expect(bad.status).toBe(400)
    expect(await bad.text()).toContain('settings.url')
    const createdHtml = await (
      await post('/alerts/channels', s.headers, {
        name: 'hook',
        type: 'webhook',
        url: 'http://127.0.0.1:9/secret-path',
        headers: 'X-Team: ops',
      })
    ).text()
    expect(createdHtml).toMatch(/id="signing-secret">whsec_[\w-]+</) // a signed channel's secret, shown once
    const slack = await post('/alerts/channels', s.headers, {
      name: 'team-slack',
      type: 'slack',
      webhookUrl: 'http://127.0.0.1:9/services/T0/B0/x',
    })
    expect(slack.headers.get('HX-Redirect')).toBe('/alerts/channels')
    const page = await (await t.app.request('/alerts/channels', { headers: s.headers })).text()
    expect(page).toContain('data-channel="hook"')
    expect(page).not.toContain('secret-path')
    expect(page).not.toContain('whsec_')
    const ch = ((await api('/api/v1/channels')).items as Json[]).find((x) => x.name === 'hook')!
    const other = ((await api('/api/v1/channels')).items as Json[]).find((x) => x.name === 'team-slack')!
    expect(ch.settings.headers).toBeDefined()
    expect((await post(`/alerts/channels/${other.id}/delete`, s.headers)).headers.get('HX-Redirect')).toBe(
      '/alerts/channels',
    )
    expect(((await api('/api/v1/channels')).items as Json[]).map((x) => x.name)).toEqual(['hook'])
    const test = await (await post(`/alerts/channels/${ch.id}/test`, s.headers)).text()
    expect(test).toContain('data-test-result="failed"')
    expect(
      (
        await post('/alerts/policies', s.headers, {
          name: 'critical',
          matchers: 'severity="critical"',
          [`ch_${ch.id}`]: 'on',
          groupWait: '30s',
          repeatInterval: '4h',
          sendResolved: 'on',
        })
      ).status,
    ).toBe(200)
    expect(((await api('/api/v1/policies')).items as Json[])[0]).toMatchObject({
      name: 'critical',
      channelIds: [ch.id],
      matchers: [{ label: 'severity', op: '=', value: 'critical' }],
    })
    expect(await (await t.app.request('/alerts/policies', { headers: s.headers })).text()).toContain(
      'data-policy="critical"',
    )

    // A critical alert is routed to the channel; its failed delivery shows on the alert and is retried by hand.
    const fired = await t.json(
      'POST',
      '/api/v1/alerts',
      { title: 'Search down', severity: 'critical', status: 'firing', labels: { component: 'search' } },
      op,
    )
    const id = ((await fired.json()) as Json).alert.id as string
    await t.services.notifier.run(Date.now() + 60_000)
    const detail = await (await t.app.request(`/alerts/${id}`, { headers: s.headers })).text()
    expect(detail).toContain('data-notification="failed"')
    expect(detail).toContain('data-event="notified"')
    expect(detail).toContain('via hook')
    const nid = ((await api(`/api/v1/alerts/${id}/notifications`)).items as Json[])[0]!.id as number
    expect((await post(`/alerts/notifications/${nid}/retry`, (await t.session('viewer')).headers)).status).toBe(403)
    expect((await post(`/alerts/notifications/${nid}/retry`, s.headers)).headers.get('HX-Redirect')).toBe(
      `/alerts/${id}`,
    )
    expect(await auditCount('notification.retried')).toBe(1)

    const policy = ((await api('/api/v1/policies')).items as Json[])[0]!
    expect((await post(`/alerts/policies/${policy.id}/delete`, s.headers)).status).toBe(200)
    expect((await api('/api/v1/policies')).items).toHaveLength(0)
    expect(await auditCount('policy.deleted')).toBe(1)
  })
})
