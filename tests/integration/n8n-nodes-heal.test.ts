/**
 * The Homeostat Heal node's operations (Run Action, Get Action, Approve, Reject, Get Route, Report
 * Result) and its action-type list, run against the real app on a loopback port through the n8n
 * context harness; each checked by what Homeostat stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp, type TestApp } from '../helpers/app.ts'
import { execute, executeContext, failure, HomeostatHeal, serveApp } from '../helpers/n8n-harness.ts'

type Json = Record<string, any>
let t: TestApp
let server: Awaited<ReturnType<typeof serveApp>>
let credentials: { baseUrl: string; apiKey: string }
let viewer: { headers: Record<string, string> }
let operator: { headers: Record<string, string> }
const node = new HomeostatHeal()

beforeAll(async () => {
  t = await testApp()
  server = await serveApp(t)
  operator = await t.key('operator')
  credentials = { baseUrl: server.url, apiKey: (await t.key('operator')).key }
  viewer = await t.key('viewer')
  const route = await t.json(
    'POST',
    '/api/v1/model-routes',
    {
      name: 'chat',
      targets: [
        { model: 'llama3:8b', host: 'http://127.0.0.1:9/ollama' },
        { model: 'mistral:7b', host: 'http://127.0.0.1:10' },
      ],
    },
    operator.headers,
  )
  expect(route.status, await route.clone().text()).toBe(201)
  const standby = await t.json(
    'POST',
    '/api/v1/model-routes',
    {
      name: 'standby',
      targets: [
        { model: 'a', host: 'http://127.0.0.1:11' },
        { model: 'b', host: 'http://127.0.0.1:12' },
      ],
    },
    operator.headers,
  )
  expect(standby.status).toBe(201)
})
afterAll(async () => {
  await t.services.healing.settle()
  await server.close()
  t.close()
})

const api = async (path: string, status = 200) => {
  const res = await t.app.request(path, { headers: viewer.headers })
  expect(res.status, path).toBe(status)
  return (await res.json()) as Json
}
const heal = (params: Record<string, unknown>, items?: Json[], continueOnFail = false) =>
  execute(node, { params, items, credentials, continueOnFail })
const runAction = (params: Record<string, unknown>, items?: Json[], continueOnFail = false) =>
  heal(
    {
      operation: 'runAction',
      actionType: 'model_failover',
      target: 'chat',
      params: '{}',
      dryRun: true,
      additionalFields: {},
      ...params,
    },
    items,
    continueOnFail,
  )

describe('Heal: action types', () => {
  it("lists the server's action types for the Action Type option", async () => {
    const ctx = executeContext({ params: {}, credentials })
    const options = await node.methods.loadOptions.getActionTypes.call(ctx as never)
    expect(options.map((o) => o.value)).toEqual(
      expect.arrayContaining(['model_failover', 'webhook', 'notify', 'n8n', 'service_restart']),
    )
    expect(options.find((o) => o.value === 'model_failover')!.description).toContain('Target: a model route name')
  })
})

describe('Heal: Run Action, Get Action, Approve, Reject', () => {
  it('runs an action per item (dry run, params from JSON), stores it, and an idempotency key gives the same action back', async () => {
    const { items: out } = await runAction(
      {
        params: (j: Json) => JSON.stringify({ reason: `from n8n ${j.note as string}` }),
        additionalFields: (j: Json) => ({ reason: `n8n run ${j.note}`, idempotencyKey: `key-${j.note}` }),
      },
      [{ note: 'a' }, { note: 'b' }],
    )
    expect(out.map((o) => [o.json.actionType, o.json.target, o.json.dryRun, o.pairedItem])).toEqual([
      ['model_failover', 'chat', true, { item: 0 }],
      ['model_failover', 'chat', true, { item: 1 }],
    ])
    const stored = await api(`/api/v1/healing/actions/${out[0]!.json.id as string}`)
    expect(stored).toMatchObject({
      actionType: 'model_failover',
      target: 'chat',
      dryRun: true,
      params: { reason: 'from n8n a' },
      trigger: { type: 'manual', summary: 'n8n run a' },
    })
    expect(stored.requestedBy).toBeTruthy()

    const { items: again } = await runAction({ additionalFields: { idempotencyKey: 'key-a' } })
    expect(again[0]!.json.id).toBe(out[0]!.json.id)
    const list = await api('/api/v1/healing/actions?target=chat&type=model_failover')
    expect(list.items.filter((a: Json) => a.id === out[0]!.json.id)).toHaveLength(1)
    expect(list.items.filter((a: Json) => a.dryRun)).toHaveLength(2)

    const { items: got } = await heal({ operation: 'getAction', actionId: (j: Json) => j.id }, [
      { id: out[1]!.json.id },
    ])
    expect(got[0]!.json).toMatchObject({
      id: out[1]!.json.id,
      actionType: 'model_failover',
      timeline: expect.any(Array),
    })
    expect((got[0]!.json.timeline as Json[]).length).toBeGreaterThan(0)
  })

  it("approves and rejects actions waiting for approval; deciding twice is the server's 409", async () => {
    const { items: pending } = await runAction(
      { target: 'standby', dryRun: false, additionalFields: { requiresApproval: true } },
      [{}, {}],
    )
    expect(pending.map((p) => p.json.status)).toEqual(['PENDING_APPROVAL', 'PENDING_APPROVAL'])
    const [toApprove, toReject] = pending.map((p) => p.json.id as string)

    const { items: approved } = await heal({ operation: 'approve', actionId: toApprove })
    expect(approved[0]!.json).toMatchObject({ id: toApprove, decidedBy: expect.any(String) })
    expect(approved[0]!.json.status).not.toBe('PENDING_APPROVAL')
    const storedApproved = await api(`/api/v1/healing/actions/${toApprove}`)
    expect(storedApproved.decidedAt).toBeTruthy()
    expect(storedApproved.timeline.map((e: Json) => e.message)).toContain('approved')

    const { items: rejected } = await heal({
      operation: 'reject',
      actionId: toReject,
      rejectReason: 'not during the demo',
    })
    expect(rejected[0]!.json).toMatchObject({
      id: toReject,
      status: 'REJECTED',
      reason: 'rejected: not during the demo',
    })
    expect(await api(`/api/v1/healing/actions/${toReject}`)).toMatchObject({
      status: 'REJECTED',
      reason: 'rejected: not during the demo',
    })

    const twice = await failure(heal({ operation: 'approve', actionId: toReject }))
    expect(twice.httpCode).toBe('409')
    expect(twice.message).toMatch(/^Homeostat: The action was already rejected by .*\[HTTP 409\]$/)
    const missing = await failure(heal({ operation: 'getAction', actionId: 'no-such-action' }))
    expect(missing.httpCode).toBe('404')
    await expect(heal({ operation: 'approve', actionId: '  ' })).rejects.toThrow('Item 0, field "Action ID": is empty')
  })

  it('names the bad input: unknown type (server 400), params that are not JSON, params the type refuses', async () => {
    const unknown = await failure(runAction({ actionType: 'reboot_universe' }))
    expect(unknown.message).toBe('Homeostat: type: unknown action type reboot_universe [HTTP 400]')
    expect(unknown.httpCode).toBe('400')
    expect(unknown.context.itemIndex).toBe(0)

    await expect(runAction({ params: '{"url": ' }, [{}])).rejects.toThrow('Item 0, field "Params": is not valid JSON')
    await expect(runAction({ params: '[1, 2]' })).rejects.toThrow(
      'Item 0, field "Params": must be a JSON object, got [1,2]',
    )
    await expect(runAction({ target: '' })).rejects.toThrow('Item 0, field "Target": is empty')

    const refused = await failure(
      runAction({ actionType: 'webhook', target: 'api', params: '{"url": "not a url"}', dryRun: false }),
    )
    expect(refused.httpCode).toBe('400')
    expect(refused.message).toMatch(/^Homeostat: .*params\.url: .*\[HTTP 400\]$/)
    expect((await api('/api/v1/healing/actions?type=webhook')).items).toEqual([])
  })

  it('with Continue On Fail a bad item becomes an error item and the others are run', async () => {
    const items = [{ params: '{"oops"' }, { params: '{}' }, { params: '{}', type: 'nope' }]
    const { items: out } = await runAction(
      { actionType: (j: Json) => j.type ?? 'model_failover', params: (j: Json) => j.params },
      items,
      true,
    )
    expect(out).toHaveLength(3)
    expect(out[0]!.json).toEqual({ error: expect.stringContaining('Item 0, field "Params": is not valid JSON') })
    expect(out[1]!.json).toMatchObject({ actionType: 'model_failover', dryRun: true })
    expect(out[2]!.json).toMatchObject({
      error: 'Homeostat: type: unknown action type nope [HTTP 400]',
      httpCode: '400',
    })
    expect(out.map((o) => o.pairedItem)).toEqual([{ item: 0 }, { item: 1 }, { item: 2 }])
  })
})

describe('Heal: Get Route and Report Result', () => {
  it('gets the active target of a route as one item (model, host, index, version, breaker key)', async () => {
    const { items: out } = await heal({ operation: 'getRoute', route: (j: Json) => j.route }, [{ route: 'chat' }])
    expect(out).toEqual([
      {
        json: expect.objectContaining({
          route: 'chat',
          model: 'llama3:8b',
          host: 'http://127.0.0.1:9/ollama',
          index: 0,
          version: expect.any(Number),
          breakerKey: 'model:http://127.0.0.1:9/ollama/llama3:8b',
          activeOpen: false,
        }),
        pairedItem: { item: 0 },
      },
    ])
    const missing = await failure(heal({ operation: 'getRoute', route: 'nope' }))
    expect(missing.message).toBe('Homeostat: Model route not found [HTTP 404]')
    await expect(heal({ operation: 'getRoute', route: 'has space' })).rejects.toThrow(
      'Item 0, field "Route Name": "has space" is not a route name',
    )
  })

  it("gets a weighted route's target for a caller key, the same one the API gives that caller", async () => {
    const created = await t.json(
      'POST',
      '/api/v1/model-routes',
      {
        name: 'canary-node',
        targets: [
          { model: 'stable:1', host: 'http://127.0.0.1:9/a', weight: 50 },
          { model: 'canary:2', host: 'http://127.0.0.1:9/b', weight: 50 },
        ],
      },
      operator.headers,
    )
    expect(created.status).toBe(201)
    const callers = Array.from({ length: 12 }, (_, n) => ({ user: `user-${n}` }))
    const { items: out } = await heal(
      { operation: 'getRoute', route: 'canary-node', callerKey: (j: Json) => j.user },
      callers,
    )
    for (const [n, item] of out.entries()) {
      const answer = await api(`/api/v1/model-routes/canary-node?key=user-${n}`)
      expect(item.json).toMatchObject({ route: 'canary-node', weighted: true, model: answer.active.model })
    }
    // The caller key reaches the route: these twelve keys hash onto both targets of the 50/50 split.
    expect(new Set(out.map((o) => o.json.model))).toEqual(new Set(['stable:1', 'canary:2']))
  })

  it('reports failures until the breaker opens, then a success; the breaker stores each outcome', async () => {
    const key = 'model:http://127.0.0.1:9/ollama/llama3:8b'
    const items = [
      { ok: true },
      { ok: false, error: 'HTTP 500 model runner stopped' },
      { ok: false, error: 'timeout' },
      { ok: false, error: { code: 'ECONNREFUSED' } },
    ]
    const { items: out } = await heal(
      {
        operation: 'reportResult',
        breakerKey: key,
        result: (j: Json) => (j.ok ? 'success' : 'failure'),
        error: (j: Json) => j.error ?? '',
      },
      items,
    )
    expect(out.map((o) => [o.json.reported, o.json.state])).toEqual([
      ['success', 'CLOSED'],
      ['failure', 'CLOSED'],
      ['failure', 'CLOSED'],
      ['failure', 'OPEN'],
    ])
    expect(out[3]!.json.transition).toEqual({ from: 'CLOSED', to: 'OPEN' })
    const breaker = await api(`/api/v1/healing/breakers/${encodeURIComponent(key)}`)
    expect(breaker).toMatchObject({
      state: 'OPEN',
      window: { calls: 4, failures: 3 },
      lastError: '{"code":"ECONNREFUSED"}',
      events: [{ from: 'CLOSED', to: 'OPEN' }],
    })
    // The route's answer shows it: Get Route reads the breaker state of the active target.
    const { items: route } = await heal({ operation: 'getRoute', route: 'chat' })
    expect(route[0]!.json).toMatchObject({ breakerState: 'OPEN', activeOpen: true })

    const { items: ok } = await heal({ operation: 'reportResult', breakerKey: 'component:rag-api', result: true })
    expect(ok[0]!.json).toMatchObject({
      reported: 'success',
      key: 'component:rag-api',
      state: 'CLOSED',
      window: { calls: 1, failures: 0 },
    })
  })

  it('names a bad breaker key or result per item; Continue On Fail reports the rest', async () => {
    await expect(heal({ operation: 'reportResult', breakerKey: 'no kind here', result: 'failure' })).rejects.toThrow(
      'Item 0, field "Breaker Key": "no kind here" must be <kind>:<name>',
    )
    await expect(heal({ operation: 'reportResult', breakerKey: 'component:x', result: 'maybe' })).rejects.toThrow(
      'Item 0, field "Result": must be success or failure (or true/false), got "maybe"',
    )
    const { items: out } = await heal(
      { operation: 'reportResult', breakerKey: (j: Json) => j.key, result: 'failure', error: 'boom' },
      [{ key: 'component:cof' }, { key: 'bad key' }, { key: 'component:cof' }],
      true,
    )
    expect(out.map((o) => o.json.error ?? o.json.reported)).toEqual([
      'failure',
      expect.stringContaining('Item 1, field "Breaker Key"'),
      'failure',
    ])
    expect(await api(`/api/v1/healing/breakers/${encodeURIComponent('component:cof')}`)).toMatchObject({
      window: { calls: 2, failures: 2 },
      lastError: 'boom',
    })
  })
})
