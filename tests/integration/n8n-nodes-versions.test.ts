/**
 * Version 2 of the Heal and Alert nodes (Resource, then Operation) next to version 1 (one flat
 * Operation list of seven). The parameter layout is resolved by n8n's own
 * NodeHelpers.getNodeParameters (the n8n-workflow the package builds against), as the editor and the
 * executor resolve it for a node of each typeVersion: saved version 1 workflows must see exactly their
 * old parameters. Version 2's operations then run against the real app on a loopback port through the
 * n8n context harness.
 */
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type * as Workflow from '../../n8n-nodes/node_modules/n8n-workflow/dist/esm/index.d.ts'
import { RESOURCES as ALERT_RESOURCES } from '../../n8n-nodes/nodes/HomeostatAlert/operations.ts'
import { RESOURCES } from '../../n8n-nodes/nodes/HomeostatHeal/description.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import { execute, failure, HomeostatAlert, HomeostatHeal, serveApp } from '../helpers/n8n-harness.ts'
import { ROOT } from '../helpers/server.ts'

type Json = Record<string, any>
const { NodeHelpers } = createRequire(join(ROOT, 'n8n-nodes/package.json'))('n8n-workflow') as typeof Workflow
const node = new HomeostatHeal()
const { description } = node
type Description = typeof description

/** The parameters n8n shows (with their values or defaults) for a node of this version and these values. */
const shownFor = (d: Description) => (typeVersion: number, values: Json) =>
  NodeHelpers.getNodeParameters(d.properties, values, true, false, { typeVersion }, d) as Json
const shown = shownFor(description)
const operationsOf = (d: Description, version: number, resource?: string) =>
  d.properties
    .filter(
      (p) =>
        p.name === 'operation' &&
        (p.displayOptions?.show?.['@version'] as number[] | undefined)?.includes(version) &&
        (resource === undefined || (p.displayOptions?.show?.resource as string[] | undefined)?.includes(resource)),
    )
    .flatMap((p) => (p.options as { value: string }[]).map((o) => o.value))
const v1Operations = () => operationsOf(description, 1)

/**
 * Every version 1 operation is under exactly one version 2 resource, a resource offers only its own
 * operations (at most `max`), and each shows the same fields in both versions.
 */
function sameFieldsInBothVersions(d: Description, resources: Record<string, readonly string[]>, max: number) {
  const show = shownFor(d)
  const filed = Object.values(resources).flat()
  expect([...filed].sort()).toEqual([...operationsOf(d, 1)].sort())
  expect(new Set(filed).size).toBe(filed.length)
  for (const [resource, operations] of Object.entries(resources)) {
    expect(operations.length).toBeLessThanOrEqual(max)
    expect(operationsOf(d, 2, resource)).toEqual(operations)
    for (const operation of operations) {
      const { resource: r, ...rest } = show(2, { resource, operation })
      expect(r, `${resource}/${operation}`).toBe(resource)
      expect(rest, `${resource}/${operation}`).toEqual(show(1, { operation }))
    }
  }
}

describe('Heal: the parameters of versions 1 and 2', () => {
  it('is one node type with versions 1 and 2, new nodes getting 2', () => {
    expect(description.version).toEqual([1, 2])
    expect(description.defaultVersion).toBe(2)
  })

  it('version 1 keeps its flat Operation list and default: no Resource, the same values as before', () => {
    expect(v1Operations()).toEqual([
      'approve',
      'getAction',
      'getPrompt',
      'getRoute',
      'reject',
      'reportResult',
      'runAction',
    ])
    // A saved version 1 node with the default operation stores no `operation` at all.
    const fresh = shown(1, {})
    expect(fresh).toMatchObject({ operation: 'getRoute', route: '', callerKey: '' })
    expect(fresh).not.toHaveProperty('resource')
    const run = shown(1, { operation: 'runAction', actionType: 'webhook', target: 'api' })
    expect(Object.keys(run).sort()).toEqual(
      ['operation', 'actionType', 'target', 'params', 'dryRun', 'additionalFields'].sort(),
    )
    expect(run).toMatchObject({ actionType: 'webhook', target: 'api' })
  })

  it('version 2 files every version 1 operation under one resource, at most five per list, with the same fields', () => {
    sameFieldsInBothVersions(description, RESOURCES, 5)
  })

  it('a new version 2 node opens on Model Route → Get Active Target', () => {
    expect(shown(2, {})).toMatchObject({ resource: 'modelRoute', operation: 'getRoute', route: '' })
  })
})

describe('Alert: the parameters of versions 1 and 2', () => {
  const alert = new HomeostatAlert().description
  const show = shownFor(alert)

  it('version 1 keeps its flat list and Fire as the default; version 2 opens on Alert → Fire', () => {
    expect(alert.version).toEqual([1, 2])
    expect(alert.defaultVersion).toBe(2)
    expect(operationsOf(alert, 1)).toEqual([
      'acknowledge',
      'createSilence',
      'fire',
      'get',
      'getMany',
      'mute',
      'resolve',
    ])
    const v1 = show(1, {})
    expect(v1).toMatchObject({ operation: 'fire', title: '' })
    expect(v1).not.toHaveProperty('resource')
    const { resource, ...v2 } = show(2, {})
    expect(resource).toBe('alert')
    expect(v2).toEqual(v1)
  })

  it('version 2 files Create Silence under Silence and the rest under Alert, with the same fields', () => {
    // Six under Alert: n8n nodes group by resource, and the lint's limit of five is for a node without any.
    sameFieldsInBothVersions(alert, ALERT_RESOURCES, 6)
    expect(ALERT_RESOURCES.silence).toEqual(['createSilence'])
  })
})

describe('Heal and Alert version 2 against the real app', () => {
  let t: TestApp
  let server: Awaited<ReturnType<typeof serveApp>>
  let credentials: { baseUrl: string; apiKey: string }
  let viewer: { headers: Record<string, string> }
  const heal = (params: Record<string, unknown>, items?: Json[], continueOnFail = false) =>
    execute(node, { params, items, credentials, continueOnFail, typeVersion: 2 })
  const alertNode = new HomeostatAlert()
  const alert = (params: Record<string, unknown>, items?: Json[], continueOnFail = false) =>
    execute(alertNode, { params, items, credentials, continueOnFail, typeVersion: 2 })

  beforeAll(async () => {
    t = await testApp()
    server = await serveApp(t)
    const operator = await t.key('operator')
    credentials = { baseUrl: server.url, apiKey: operator.key }
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
  })
  afterAll(async () => {
    await t.services.healing.settle()
    await server.close()
    t.close()
  })
  const api = async (path: string) => {
    const res = await t.app.request(path, { headers: viewer.headers })
    expect(res.status, path).toBe(200)
    return (await res.json()) as Json
  }

  it('Model Route → Get Active Target answers as version 1 Get Route does', async () => {
    const { items: v2 } = await heal({ resource: 'modelRoute', operation: 'getRoute', route: 'chat' })
    const { items: v1 } = await execute(node, { params: { operation: 'getRoute', route: 'chat' }, credentials })
    expect(v2).toEqual(v1)
    expect(v2[0]!.json).toMatchObject({ route: 'chat', model: 'llama3:8b', index: 0 })
  })

  it('Healing Action → Run (dry run) and Get; Circuit Breaker → Report Result; each stored by Homeostat', async () => {
    const { items: run } = await heal({
      resource: 'action',
      operation: 'runAction',
      actionType: 'model_failover',
      target: 'chat',
      params: '{}',
      dryRun: true,
      additionalFields: { reason: 'v2 node' },
    })
    expect(run[0]!.json).toMatchObject({ actionType: 'model_failover', target: 'chat', dryRun: true })
    const id = run[0]!.json.id as string
    expect(await api(`/api/v1/healing/actions/${id}`)).toMatchObject({ trigger: { summary: 'v2 node' } })
    const { items: got } = await heal({ resource: 'action', operation: 'getAction', actionId: id })
    expect(got[0]!.json).toMatchObject({ id, timeline: expect.any(Array) })

    const key = 'component:v2-node'
    const { items: reported } = await heal({
      resource: 'breaker',
      operation: 'reportResult',
      breakerKey: key,
      result: 'failure',
      error: 'boom',
    })
    expect(reported[0]!.json).toMatchObject({ reported: 'failure', key, state: 'CLOSED' })
    expect(await api(`/api/v1/healing/breakers/${encodeURIComponent(key)}`)).toMatchObject({
      window: { calls: 1, failures: 1 },
      lastError: 'boom',
    })
  })

  it("Prompt → Get names the server's 404 for a prompt that does not exist", async () => {
    const missing = await failure(heal({ resource: 'prompt', operation: 'getPrompt', prompt: 'nope' }))
    expect(missing.httpCode).toBe('404')
    expect(missing.message).toMatch(/^Homeostat: .*\[HTTP 404\]$/)
  })

  it('refuses an operation that is not under the chosen resource, naming both, before any request', async () => {
    const before = (await api('/api/v1/healing/actions')).items.length
    const wrong = heal({ resource: 'prompt', operation: 'runAction', actionType: 'webhook', target: 'api' })
    await expect(wrong).rejects.toThrow(
      'Item 0, field "Operation": "runAction" is not an operation of resource "prompt"',
    )
    await expect(heal({ resource: 'nope', operation: 'getRoute', route: 'chat' })).rejects.toThrow(
      'Item 0, field "Operation": "getRoute" is not an operation of resource "nope"',
    )
    const { items, sent } = await heal({ resource: 'breaker', operation: 'getAction', actionId: 'x' }, [{}, {}], true)
    expect(items.map((i) => [i.json.error, i.pairedItem])).toEqual([
      [expect.stringContaining('"getAction" is not an operation of resource "breaker"'), { item: 0 }],
      [expect.stringContaining('"getAction" is not an operation of resource "breaker"'), { item: 1 }],
    ])
    expect(sent).toEqual([])
    expect((await api('/api/v1/healing/actions')).items).toHaveLength(before)
  })

  it('Alert → Fire and Get, Silence → Create: stored by Homeostat as version 1 would store them', async () => {
    const { items: fired } = await alert({
      resource: 'alert',
      operation: 'fire',
      title: 'v2 alert',
      severity: 'warning',
      status: 'firing',
      labelsMode: 'pairs',
      labels: { pair: [{ name: 'suite', value: 'versions' }] },
      annotations: {},
      additionalFields: { fingerprint: 'versions/one' },
    })
    expect(fired[0]!.json).toMatchObject({ change: 'created', status: 'firing' })
    const id = fired[0]!.json.id as string
    expect(await api(`/api/v1/alerts/${id}`)).toMatchObject({
      title: 'v2 alert',
      labels: { suite: 'versions' },
      fingerprint: 'api:versions/one',
    })
    const { items: got } = await alert({ resource: 'alert', operation: 'get', alertId: id })
    expect(got[0]!.json).toMatchObject({ id, title: 'v2 alert' })

    const { items: silenced } = await alert({
      resource: 'silence',
      operation: 'createSilence',
      duration: '30m',
      comment: 'v2 silence',
      matchers: { matcher: [{ label: 'suite', op: '=', value: 'versions' }] },
    })
    expect(await api(`/api/v1/silences/${silenced[0]!.json.id as string}`)).toMatchObject({
      comment: 'v2 silence',
      state: 'active',
    })
  })

  it('Alert refuses Fire under Silence before any request; Continue On Fail makes it an error item', async () => {
    const before = (await api('/api/v1/alerts?limit=500')).items.length
    await expect(alert({ resource: 'silence', operation: 'fire', title: 'never' })).rejects.toThrow(
      'Item 0, field "Operation": "fire" is not an operation of resource "silence"',
    )
    const { items, sent } = await alert({ resource: 'silence', operation: 'fire', title: 'never' }, [{}], true)
    expect(items).toEqual([
      {
        json: { error: expect.stringContaining('"fire" is not an operation of resource "silence"') },
        pairedItem: { item: 0 },
      },
    ])
    expect(sent).toEqual([])
    expect((await api('/api/v1/alerts?limit=500')).items).toHaveLength(before)
  })
})
