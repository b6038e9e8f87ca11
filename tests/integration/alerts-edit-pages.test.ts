/**
 * The alerts dashboard's edit forms over the real app: rules (kind-specific fields instead of raw
 * JSON), channels (secrets masked, kept when left blank), policies (several escalation steps) and
 * webhook subscriptions. Each form: the happy path, bad input named per field, a viewer refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp, type TestApp } from '../helpers/app.ts'

let t: TestApp
let op: Record<string, string>
let s: { headers: Record<string, string> }
let viewer: { headers: Record<string, string> }
type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString()
const post = (path: string, headers: Record<string, string>, fields: Record<string, string> = {}) =>
  t.app.request(path, {
    method: 'POST',
    body: form(fields),
    headers: { ...headers, 'HX-Request': 'true', 'Content-Type': 'application/x-www-form-urlencoded' },
  })
const api = async (path: string) => (await (await t.app.request(path, { headers: op })).json()) as Json
const page = async (path: string, headers = s.headers) => (await t.app.request(path, { headers })).text()
const auditCount = async (action: string) =>
  Number(
    (await t.client.execute({ sql: 'select count(*) as n from audit_log where action = ?', args: [action] })).rows[0]!
      .n,
  )

beforeAll(async () => {
  t = await testApp()
  op = (await t.key('operator')).headers
  s = await t.session('operator')
  viewer = await t.session('viewer')
})
afterAll(() => t?.close())

const base = {
  name: 'Errors',
  kind: 'ratio',
  metric: 'agent_errors_total',
  agg: 'sum',
  window: '5m',
  comparator: '>',
  value: '0.05',
  severity: 'error',
  for: '0s',
  keepFiringFor: '0s',
}

describe('rule form: kind fields and edit', () => {
  let id = ''
  it('takes each kind its own fields, and names a bad one', async () => {
    const created = await post('/alerts/rules', s.headers, {
      ...base,
      p_denominator: 'agent_requests_total',
      p_denominatorMatchers: 'env="prod"',
      p_minutes: 'ignored: not this kind',
    })
    expect(created.status, await created.clone().text()).toBe(200)
    const rule = ((await api('/api/v1/alert-rules')).items as Json[])[0]!
    id = rule.id
    // Not only a #fragment: from /alerts/rules that would jump within the page instead of reloading it.
    expect(created.headers.get('HX-Redirect')).toBe(`/alerts/rules?created=${id}#rule-${id}`)
    expect(rule.params).toEqual({
      denominator: 'agent_requests_total',
      denominatorMatchers: [{ label: 'env', op: '=', value: 'prod' }],
    })
    const badDenominator = await post('/alerts/rules/test', s.headers, {
      ...base,
      name: 'x',
      p_denominator: 'not a metric!',
    })
    expect(badDenominator.status).toBe(400)
    expect(await badDenominator.text()).toContain('<code>params.denominator</code>')
    const badMinutes = await post('/alerts/rules/test', s.headers, {
      ...base,
      kind: 'absence',
      comparator: '',
      value: '',
      p_minutes: 'soon',
    })
    expect(badMinutes.status).toBe(400)
    const minutesHtml = await badMinutes.text()
    expect(minutesHtml).toContain('<code>params.minutes</code>')
    // Beside the field too (out of band), and every other field's slot emptied.
    expect(minutesHtml).toMatch(/id="err-p_minutes" hx-swap-oob="true" data-error="true">must be a number</)
    expect(minutesHtml).toMatch(/id="err-window" hx-swap-oob="true"><\/small>/)
    expect(badMinutes.headers.get('HX-Retarget')).toBe('#flash')
    const badZ = await post('/alerts/rules/test', s.headers, {
      ...base,
      kind: 'anomaly',
      comparator: '',
      value: '',
      p_zScore: '0.1',
      p_step: '1m',
      p_direction: 'sideways',
    })
    expect(badZ.status).toBe(400)
    const text = await badZ.text()
    expect(text).toContain('<code>params.zScore</code>')
    expect(text).toContain('<code>params.direction</code>')
    const change = await post('/alerts/rules/test', s.headers, {
      ...base,
      name: 'c',
      kind: 'change',
      p_compareTo: 'baseline',
      p_baseline: '1d',
      p_unit: 'percent',
      value: '50',
    })
    expect(change.status, await change.clone().text()).toBe(200)
  })

  it('edits a saved rule through the same form, prefilled; a viewer gets no form and a 403', async () => {
    const html = await page(`/alerts/rules?edit=${id}`)
    expect(html).toContain(`hx-post="/alerts/rules/${id}/edit"`)
    expect(html).toContain('name="p_denominator" value="agent_requests_total"')
    expect(html).toContain('env=&quot;prod&quot;')
    expect(await page(`/alerts/rules?edit=${id}`, viewer.headers)).not.toContain('/edit"')
    expect((await post(`/alerts/rules/${id}/edit`, viewer.headers, { ...base, name: 'Hijacked' })).status).toBe(403)

    const bad = await post(`/alerts/rules/${id}/edit`, s.headers, {
      ...base,
      window: 'soon',
      p_denominator: 'agent_requests_total',
    })
    expect(bad.status).toBe(400)
    expect(await bad.text()).toContain('<code>window</code>')
    const ok = await post(`/alerts/rules/${id}/edit`, s.headers, {
      ...base,
      name: 'Error ratio',
      value: '0.1',
      p_denominator: 'agent_requests_total',
      description: '',
    })
    expect(ok.headers.get('HX-Redirect')).toBe(`/alerts/rules#rule-${id}`)
    const after = await api(`/api/v1/alert-rules/${id}`)
    expect(after).toMatchObject({
      name: 'Error ratio',
      value: 0.1,
      params: { denominator: 'agent_requests_total' },
      enabled: true,
    })
    expect(after.params.denominatorMatchers).toBeUndefined() // cleared in the form: cleared on the rule
    expect(await auditCount('alert_rule.updated')).toBe(1)
    expect((await post('/alerts/rules/nope/edit', s.headers, base)).status).toBe(404)
  })

  it('enable/disable answer with the row itself, swapped in place', async () => {
    const off = await post(`/alerts/rules/${id}/disable`, s.headers)
    expect(off.status).toBe(200)
    expect(off.headers.get('HX-Redirect')).toBeNull()
    const row = await off.text()
    expect(row).toMatch(new RegExp(`^<tr id="rule-${id}"[^>]*data-enabled="false"`))
    expect(row).toContain(`hx-post="/alerts/rules/${id}/enable"`)
    expect((await api(`/api/v1/alert-rules/${id}`)).enabled).toBe(false)
    expect(await (await post(`/alerts/rules/${id}/enable`, s.headers)).text()).toContain('data-enabled="true"')
    expect((await post(`/alerts/rules/${id}/disable`, viewer.headers)).status).toBe(403)
    expect((await api(`/api/v1/alert-rules/${id}`)).enabled).toBe(true)
  })
})

describe('channel edit', () => {
  it('shows secrets masked, keeps them when left blank, replaces them when given', async () => {
    const made = await t.json(
      'POST',
      '/api/v1/channels',
      {
        name: 'pd',
        type: 'pagerduty',
        settings: { routingKey: 'R0UTINGKEY-very-secret', baseUrl: 'http://127.0.0.1:9/pd' },
      },
      op,
    )
    expect(made.status).toBe(201)
    const id = ((await made.json()) as Json).id as string
    const html = await page(`/alerts/channels?edit=${id}`)
    expect(html).toContain(`hx-post="/alerts/channels/${id}/edit"`)
    expect(html).not.toContain('R0UTINGKEY-very-secret')
    expect(html).toContain('value="http://127.0.0.1:9/pd"') // not a secret: prefilled
    expect(await page(`/alerts/channels?edit=${id}`, viewer.headers)).not.toContain('/edit"')
    expect((await post(`/alerts/channels/${id}/edit`, viewer.headers, { name: 'x', enabled: 'on' })).status).toBe(403)

    const bad = await post(`/alerts/channels/${id}/edit`, s.headers, {
      name: 'pd',
      enabled: 'on',
      routingKey: 'NEWKEY-123456',
      baseUrl: 'ftp://nope',
    })
    expect(bad.status).toBe(400)
    expect(await bad.text()).toContain('settings.baseUrl')
    // A new destination with the secret left blank is refused: the stored key must not follow it.
    const moved = await post(`/alerts/channels/${id}/edit`, s.headers, {
      name: 'pager',
      routingKey: '',
      baseUrl: 'http://127.0.0.1:9/pd2',
    })
    expect(moved.status).toBe(400)
    expect(await moved.text()).toContain('settings.routingKey')
    const kept = await post(`/alerts/channels/${id}/edit`, s.headers, {
      name: 'pager',
      routingKey: '',
      baseUrl: 'http://127.0.0.1:9/pd',
    }) // enabled unticked
    expect(kept.headers.get('HX-Redirect')).toBe('/alerts/channels')
    const row = (await t.client.execute({ sql: 'select * from channels where id = ?', args: [id] })).rows[0]!
    const open = JSON.parse(t.sealer.open(String(row.secrets), `channels:${id}:secrets`)) as Json
    expect(open.routingKey).toBe('R0UTINGKEY-very-secret')
    const shown = await api(`/api/v1/channels/${id}`)
    expect(shown).toMatchObject({ name: 'pager', enabled: false, settings: { baseUrl: 'http://127.0.0.1:9/pd' } })
    await post(`/alerts/channels/${id}/edit`, s.headers, {
      name: 'pager',
      enabled: 'on',
      routingKey: 'NEWKEY-123456',
      baseUrl: '',
    })
    const again = (await t.client.execute({ sql: 'select * from channels where id = ?', args: [id] })).rows[0]!
    expect((JSON.parse(t.sealer.open(String(again.secrets), `channels:${id}:secrets`)) as Json).routingKey).toBe(
      'NEWKEY-123456',
    )
    expect((await api(`/api/v1/channels/${id}`)).settings.baseUrl).toBeUndefined()
    expect(await auditCount('channel.updated')).toBe(2)
  })
})

describe('policy form with several escalation steps', () => {
  it('creates and edits a policy with two steps, removes one; names bad steps; viewer refused', async () => {
    const ids: string[] = []
    for (const name of ['first', 'second']) {
      const r = await t.json(
        'POST',
        '/api/v1/channels',
        { name, type: 'n8n', settings: { url: `http://127.0.0.1:9/${name}` } },
        op,
      )
      ids.push(((await r.json()) as Json).id)
    }
    const [a, b] = ids as [string, string]
    expect(await page('/alerts/policies')).toContain('name="esc_after_1"')
    const fields = {
      name: 'crit',
      matchers: 'severity="critical"',
      [`ch_${a}`]: 'on',
      groupWait: '30s',
      groupInterval: '5m',
      repeatInterval: '4h',
      sendResolved: 'on',
      esc_after_0: '10m',
      [`esc_0_${a}`]: 'on',
      esc_after_1: '30m',
      [`esc_1_${b}`]: 'on',
    }
    expect((await post('/alerts/policies', viewer.headers, fields)).status).toBe(403)
    const bad = await post('/alerts/policies', s.headers, { ...fields, esc_after_1: 'later' })
    expect(bad.status).toBe(400)
    expect(await bad.text()).toContain('escalations.1.after')
    expect((await post('/alerts/policies', s.headers, fields)).headers.get('HX-Redirect')).toBe('/alerts/policies')
    const p = ((await api('/api/v1/policies')).items as Json[])[0]!
    expect(p.escalations).toEqual([
      { afterMs: 600_000, channelIds: [a] },
      { afterMs: 1_800_000, channelIds: [b] },
    ])

    const html = await page(`/alerts/policies?edit=${p.id}`)
    expect(html).toContain(`hx-post="/alerts/policies/${p.id}/edit"`)
    expect(html).toContain('name="esc_after_1" value="30m"')
    expect(html).toContain('name="esc_after_2"') // a blank row to add a step
    expect((await post(`/alerts/policies/${p.id}/edit`, viewer.headers, fields)).status).toBe(403)
    const edited = await post(`/alerts/policies/${p.id}/edit`, s.headers, {
      ...fields,
      hasEnabled: '1',
      enabled: 'on',
      esc_remove_0: 'on',
      esc_after_2: '1h',
      [`esc_2_${a}`]: 'on',
      [`esc_2_${b}`]: 'on',
    })
    expect(edited.headers.get('HX-Redirect')).toBe('/alerts/policies')
    const after = await api(`/api/v1/policies/${p.id}`)
    expect(after.escalations).toEqual([
      { afterMs: 1_800_000, channelIds: [b] },
      { afterMs: 3_600_000, channelIds: [a, b] },
    ])
    expect(after.enabled).toBe(true)
    await post(`/alerts/policies/${p.id}/edit`, s.headers, { ...fields, hasEnabled: '1' })
    expect((await api(`/api/v1/policies/${p.id}`)).enabled).toBe(false)
    expect(await auditCount('policy.updated')).toBe(2)
  })
})

describe('webhook subscriptions page', () => {
  it('lists, creates (secret shown once), names bad input, deletes; a viewer only reads', async () => {
    expect(await page('/alerts/webhooks')).toContain('No webhook subscriptions')
    const fields = {
      url: 'http://127.0.0.1:9/webhook/abc-secret-path',
      ev_fired: 'on',
      ev_resolved: 'on',
      minSeverity: 'error',
    }
    expect((await post('/alerts/webhooks', viewer.headers, fields)).status).toBe(403)
    const bad = await post('/alerts/webhooks', s.headers, { url: 'ftp://x', minSeverity: 'loud' })
    expect(bad.status).toBe(400)
    const badText = await bad.text()
    for (const field of ['url', 'events', 'minSeverity']) expect(badText).toContain(`<code>${field}</code>`)
    const made = await (await post('/alerts/webhooks', s.headers, fields)).text()
    expect(made).toMatch(/id="webhook-secret">whsec_[\w-]+</)
    const sub = ((await api('/api/v1/webhooks')).items as Json[])[0]!
    expect(sub).toMatchObject({ events: ['fired', 'resolved'], minSeverity: 'error' })
    const list = await page('/alerts/webhooks', viewer.headers)
    expect(list).toContain(`data-webhook="${sub.id}"`)
    expect(list).not.toContain('abc-secret-path')
    expect(list).not.toContain('whsec_')
    expect(list).not.toContain('/delete"')
    expect((await post(`/alerts/webhooks/${sub.id}/delete`, viewer.headers)).status).toBe(403)
    expect((await post(`/alerts/webhooks/${sub.id}/delete`, s.headers)).headers.get('HX-Redirect')).toBe(
      '/alerts/webhooks',
    )
    expect((await api('/api/v1/webhooks')).items).toHaveLength(0)
    expect(await auditCount('webhook.subscribed')).toBe(1)
    expect(await auditCount('webhook.unsubscribed')).toBe(1)
  })
})
