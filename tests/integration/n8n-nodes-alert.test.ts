/**
 * The Homeostat Alert node's operations and the Homeostat Trigger's subscription lifecycle and
 * signed deliveries, run against the real app on a loopback port through the n8n context harness.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp, type TestApp } from '../helpers/app.ts'
import { startReceiver, type Receiver } from '../helpers/receiver.ts'
import {
  execute,
  failure,
  HomeostatAlert,
  HomeostatTrigger,
  serveApp,
  signatureProblem,
  triggerContexts,
} from '../helpers/n8n-harness.ts'

let t: TestApp
let server: Awaited<ReturnType<typeof serveApp>>
let rx: Receiver
let credentials: { baseUrl: string; apiKey: string }
let viewer: { headers: Record<string, string> }
const node = new HomeostatAlert()

beforeAll(async () => {
  t = await testApp()
  server = await serveApp(t)
  rx = await startReceiver()
  credentials = { baseUrl: server.url, apiKey: (await t.key('operator')).key }
  viewer = await t.key('viewer')
})
afterAll(async () => {
  await rx.close()
  await server.close()
  t.close()
})

type Alert = {
  id: string
  status: string
  severity: string
  title: string
  labels: Record<string, string>
  annotations: Record<string, string>
  fingerprint: string
  events?: { type: string }[]
}
const api = async <T = Alert>(path: string) => {
  const res = await t.app.request(path, { headers: viewer.headers })
  expect(res.status, path).toBe(200)
  return (await res.json()) as T
}
const fire = (params: Record<string, unknown>, items?: Record<string, unknown>[], continueOnFail = false) =>
  execute(node, {
    params: {
      operation: 'fire',
      severity: 'error',
      status: 'firing',
      labelsMode: 'pairs',
      labels: {},
      annotations: {},
      additionalFields: {},
      ...params,
    },
    items,
    credentials,
    continueOnFail,
  })

describe('Alert', () => {
  it('fires an alert per item with labels, annotations and a fingerprint, then resolves it by the same fingerprint', async () => {
    const items = [{ agent: 'planner' }, { agent: 'coder' }]
    const { items: out } = await fire(
      {
        title: (j: { agent: string }) => `${j.agent} failed`,
        labels: (j: { agent: string }) => ({
          pair: [
            { name: 'agent', value: j.agent },
            { name: 'team', value: 'ml' },
          ],
        }),
        annotations: { pair: [{ name: 'summary', value: 'step 3 threw' }] },
        additionalFields: (j: { agent: string }) => ({ fingerprint: `run-42/${j.agent}`, value: '3' }),
        severity: 'critical',
      },
      items,
    )
    expect(out.map((o) => [o.json.change, o.json.status, o.pairedItem])).toEqual([
      ['created', 'firing', { item: 0 }],
      ['created', 'firing', { item: 1 }],
    ])
    const stored = await api(`/api/v1/alerts/${out[0]!.json.id as string}`)
    expect(stored).toMatchObject({
      title: 'planner failed',
      severity: 'critical',
      status: 'firing',
      labels: { agent: 'planner', team: 'ml' },
      annotations: { summary: 'step 3 threw' },
      fingerprint: 'api:run-42/planner',
      value: 3,
    })

    const { items: resolved } = await fire({
      title: 'planner failed',
      status: 'resolved',
      additionalFields: { fingerprint: 'run-42/planner' },
    })
    expect(resolved[0]!.json).toMatchObject({ id: stored.id, status: 'resolved' })
    expect((await api(`/api/v1/alerts/${stored.id}`)).status).toBe('resolved')
    expect((await api(`/api/v1/alerts/${out[1]!.json.id as string}`)).status).toBe('firing')
  })

  it('takes labels as JSON and names the item and field of bad labels', async () => {
    const { items: out } = await fire(
      {
        title: 'json labels',
        labelsMode: 'json',
        labelsJson: (j: Record<string, unknown>) => JSON.stringify({ service: j.service, attempt: 2 }),
      },
      [{ service: 'rag' }],
    )
    expect((await api(`/api/v1/alerts/${out[0]!.json.id as string}`)).labels).toEqual({
      alertname: 'json labels',
      service: 'rag',
      attempt: '2',
    })
    await expect(fire({ title: 'x', labelsMode: 'json', labelsJson: '{"service": ' })).rejects.toThrow(
      'Item 0, field "Labels": is not valid JSON',
    )
    await expect(fire({ title: 'x', labels: { pair: [{ name: 'run id', value: '1' }] } }, [{}, {}])).rejects.toThrow(
      'Item 0, field "Labels": label name "run id" may hold only letters, digits and _',
    )
  })

  it('turns a refusal into an error with the server message, field and status; Continue On Fail keeps going', async () => {
    const params = { title: 'bad fingerprint', additionalFields: (j: { fp: string }) => ({ fingerprint: j.fp }) }
    const err = await failure(fire(params, [{ fp: 'has a space' }]))
    expect(err.message).toBe(
      'Homeostat: Invalid body (fingerprint: may hold letters, digits and _ . : @ / -) [HTTP 400]',
    )
    expect(err.httpCode).toBe('400')
    const { items: out } = await fire(params, [{ fp: 'has a space' }, { fp: 'fine-one' }], true)
    expect(out[0]!.json).toMatchObject({ error: err.message, httpCode: '400' })
    expect(out[1]!.json).toMatchObject({ change: 'created', fingerprint: 'api:fine-one' })
  })

  it('acknowledges, mutes, gets and resolves by alert ID', async () => {
    const { items: fired } = await fire({
      title: 'disk almost full',
      labels: { pair: [{ name: 'host', value: 'db1' }] },
    })
    const id = fired[0]!.json.id as string
    const run = (operation: string, extra: Record<string, unknown> = {}) =>
      execute(node, {
        params: { operation, alertId: (j: { id: string }) => j.id, duration: '2h', comment: 'from n8n', ...extra },
        items: [{ id }],
        credentials,
      })
    expect((await run('acknowledge')).items[0]!.json).toMatchObject({ id, status: 'acknowledged' })
    const muted = (await run('mute')).items[0]!.json
    expect(muted.matchers).toEqual(expect.arrayContaining([{ label: 'host', op: '=', value: 'db1' }]))
    expect((await api<{ items: { id: string }[] }>('/api/v1/silences')).items.map((s) => s.id)).toContain(muted.id)
    const got = (await run('get')).items[0]!.json as unknown as Alert
    expect(got.events!.map((e) => e.type)).toEqual(expect.arrayContaining(['acked', 'silenced']))
    expect((await run('resolve')).items[0]!.json).toMatchObject({ id, status: 'resolved' })
    await expect(run('mute', { duration: 'two hours' })).rejects.toThrow(
      'Item 0, field "Duration": must be a duration like 30m, 2h or 1d',
    )
    const missing = await failure(execute(node, { params: { operation: 'get', alertId: 'nope' }, credentials }))
    expect(missing.httpCode).toBe('404')
  })

  it('finds the alert by the fingerprint it was fired with (GET /api/v1/alerts?fingerprint=)', async () => {
    const { items: fired } = await fire({ title: 'by fingerprint', additionalFields: { fingerprint: 'job:7/step-2' } })
    await fire({ title: 'another one', additionalFields: { fingerprint: 'job:8/step-2' } })
    const listed = await api<{ items: Alert[] }>('/api/v1/alerts?fingerprint=api:job:7/step-2')
    expect(listed.items.map((a) => a.id)).toEqual([fired[0]!.json.id])
    expect((await api<{ items: Alert[] }>('/api/v1/alerts?fingerprint=job:7/step-2')).items).toEqual([])

    const byFingerprint = (operation: string, fingerprint: string) =>
      execute(node, { params: { operation, findBy: 'fingerprint', alertFingerprint: fingerprint }, credentials })
    expect((await byFingerprint('acknowledge', 'job:7/step-2')).items[0]!.json).toMatchObject({
      id: fired[0]!.json.id,
      status: 'acknowledged',
    })
    expect((await byFingerprint('get', 'api:job:7/step-2')).items[0]!.json).toMatchObject({ id: fired[0]!.json.id }) // as shown on the alert
    expect((await byFingerprint('resolve', 'job:7/step-2')).items[0]!.json).toMatchObject({
      id: fired[0]!.json.id,
      status: 'resolved',
    })
    await expect(byFingerprint('get', 'job:999')).rejects.toThrow(
      'Item 0, field "Fingerprint": no alert has the fingerprint "job:999"',
    )
    const tooLong = await t.app.request(`/api/v1/alerts?fingerprint=${'x'.repeat(301)}`, { headers: viewer.headers })
    expect(tooLong.status).toBe(400)
    expect(await tooLong.text()).toContain('fingerprint')
  })

  it('gets many with filters, a limit across pages or all', async () => {
    for (const n of [1, 2, 3])
      await fire({
        title: `batch alert ${n}`,
        severity: 'info',
        labels: { pair: [{ name: 'suite', value: 'getmany' }] },
      })
    const params = {
      operation: 'getMany',
      returnAll: false,
      limit: 2,
      filters: { severity: ['info'], status: ['firing'], labels: { pair: [{ name: 'suite', value: 'getmany' }] } },
    }
    const { items: two } = await execute(node, { params, credentials })
    expect(two.map((i) => i.json.title)).toEqual(['batch alert 3', 'batch alert 2'])
    const { items: all } = await execute(node, { params: { ...params, returnAll: true }, credentials })
    expect(all).toHaveLength(3)
    expect(all.every((i) => i.pairedItem?.item === 0)).toBe(true)
  })

  it('creates a silence from matchers', async () => {
    const params = {
      operation: 'createSilence',
      duration: '30m',
      comment: 'deploy window',
      matchers: { matcher: [{ label: 'service', op: '=~', value: 'rag-.*' }] },
    }
    const { items } = await execute(node, { params, credentials })
    const silence = await api<{ matchers: unknown[]; comment: string; state: string }>(
      `/api/v1/silences/${items[0]!.json.id as string}`,
    )
    expect(silence).toMatchObject({
      matchers: [{ label: 'service', op: '=~', value: 'rag-.*' }],
      comment: 'deploy window',
      state: 'active',
    })
    await expect(execute(node, { params: { ...params, matchers: {} }, credentials })).rejects.toThrow(
      'Item 0, field "Matchers": add at least one matcher',
    )
  })

  it('reads the Operator options\' values and what n8n made of the old ones ("=" and "=~" read as expressions)', async () => {
    const given = [
      ['equal', '='],
      ['notEqual', '!='],
      ['regex', '=~'],
      ['notRegex', '!~'],
      // Version 0.1.0 stored the operators; in n8n "=" arrived as "" and "=~" as "~".
      ['', '='],
      ['~', '=~'],
      ['!=', '!='],
    ]
    const { items } = await execute(node, {
      params: {
        operation: 'createSilence',
        duration: '10m',
        matchers: { matcher: given.map(([op], n) => ({ label: `l${n}`, op, value: 'v.*' })) },
      },
      credentials,
    })
    const silence = await api<{ matchers: { label: string; op: string }[] }>(
      `/api/v1/silences/${items[0]!.json.id as string}`,
    )
    expect(silence.matchers.map((m) => [m.label, m.op])).toEqual(given.map(([, op], n) => [`l${n}`, op]))
    const bad = { label: 'x', op: 'like', value: 'y' }
    await expect(
      execute(node, {
        params: { operation: 'createSilence', duration: '10m', matchers: { matcher: [bad] } },
        credentials,
      }),
    ).rejects.toThrow('Item 0, field "Matchers[0].Operator": must be one of equal, notEqual, regex, notRegex')
  })
})

describe('Trigger', () => {
  const trigger = new HomeostatTrigger()

  it('subscribes on activation, turns signed deliveries into items, refuses forged ones, unsubscribes', async () => {
    const { hook, webhook, staticData } = triggerContexts({
      params: { events: ['fired', 'resolved'], minSeverity: 'error' },
      credentials,
      webhookUrl: `${rx.url}/webhook/abc/homeostat`,
    })
    const methods = trigger.webhookMethods.default
    expect(await methods.checkExists.call(hook as never)).toBe(false)
    expect(await methods.create.call(hook as never)).toBe(true)
    expect(staticData.secret).toMatch(/^whsec_/)
    expect(await methods.checkExists.call(hook as never)).toBe(true)
    expect(await api(`/api/v1/webhooks/${staticData.subscriptionId as string}`)).toMatchObject({
      events: ['fired', 'resolved'],
      minSeverity: 'error',
    })

    const { items: fired } = await fire({
      title: 'trigger me',
      severity: 'critical',
      labels: { pair: [{ name: 'agent', value: 'planner' }] },
    })
    await fire({ title: 'too mild', severity: 'warning' })
    await t.services.notifier.run(Date.now())
    const calls = rx.on('/webhook/abc/homeostat')
    expect(calls).toHaveLength(1) // the warning is below the subscription's floor
    const call = calls[0]!
    const { ctx, response } = webhook({ body: call.body, headers: call.headers as Record<string, string> })
    const result = await trigger.webhook.call(ctx as never)
    expect(response.status).toBeUndefined()
    expect(result.workflowData![0]!.map((i) => i.json)).toEqual([
      expect.objectContaining({
        event: 'fired',
        id: fired[0]!.json.id,
        title: 'trigger me',
        severity: 'critical',
        labels: { alertname: 'trigger me', agent: 'planner' },
      }),
    ])

    const forged = webhook({
      body: call.body.replace('trigger me', 'trigger you'),
      headers: call.headers as Record<string, string>,
    })
    expect(await trigger.webhook.call(forged.ctx as never)).toEqual({ noWebhookResponse: true })
    expect(forged.response).toMatchObject({
      status: 401,
      body: { error: { message: 'Refused: the signature does not match' } },
    })
    const unsigned = webhook({ body: call.body, headers: {} })
    await trigger.webhook.call(unsigned.ctx as never)
    expect(unsigned.response.status).toBe(401)

    const subscriptionId = staticData.subscriptionId as string
    expect(await methods.delete.call(hook as never)).toBe(true)
    expect((await t.app.request(`/api/v1/webhooks/${subscriptionId}`, { headers: viewer.headers })).status).toBe(404)
    expect(staticData.subscriptionId).toBeUndefined()
    expect(await methods.checkExists.call(hook as never)).toBe(false)
  })

  it('recreates a subscription deleted on the server and ignores events it does not listen to', async () => {
    const { hook, webhook, staticData } = triggerContexts({
      params: { events: ['resolved'], minSeverity: '' },
      credentials,
      webhookUrl: `${rx.url}/webhook/def/homeostat`,
    })
    const methods = trigger.webhookMethods.default
    await methods.create.call(hook as never)
    const first = staticData.subscriptionId as string
    await t.app.request(`/api/v1/webhooks/${first}`, { method: 'DELETE', headers: (await t.key('operator')).headers })
    expect(await methods.checkExists.call(hook as never)).toBe(false)
    await methods.create.call(hook as never)
    expect(staticData.subscriptionId).not.toBe(first)
    // A fired event reaching a resolved-only trigger starts nothing.
    const body = JSON.stringify({ version: 1, id: '1', event: 'fired', alerts: [{ id: 'a', severity: 'critical' }] })
    const t0 = Math.floor(Date.now() / 1000)
    const { createHmac } = await import('node:crypto')
    const sig = `t=${t0},v1=${createHmac('sha256', staticData.secret as string)
      .update(`${t0}.${body}`)
      .digest('hex')}`
    const { ctx } = webhook({ body, headers: { 'x-homeostat-signature': sig } })
    expect((await trigger.webhook.call(ctx as never)).workflowData).toBeUndefined()
    expect(signatureProblem(staticData.secret as string, sig, body, t0 + 301)).toMatch(/more than 300 s/)
    await methods.delete.call(hook as never)
  })
})
