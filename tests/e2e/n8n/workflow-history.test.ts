/**
 * Workflow history against a real n8n 1.123 (from the cache install-n8n.sh fills, outside the
 * repo): the owner is set up and an API key made through n8n's REST API as the editor would; a
 * workflow is created through the public API, changed twice (and moved on the canvas once), pulled
 * by Homeostat after each change; the three versions and their diff are read; version 1 is rolled
 * back and read again from n8n. All traffic stays on 127.0.0.1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type TestApp, testApp } from '../../helpers/app.ts'
import { type RealN8n, startRealN8n } from '../../helpers/real-n8n.ts'

let t: TestApp
let n8n: RealN8n

beforeAll(async () => {
  n8n = await startRealN8n({
    name: 'wfhist',
    scopes: ['workflow:create', 'workflow:read', 'workflow:update', 'workflow:list', 'workflow:activate'],
  })
  t = await testApp({ OUTBOUND_ALLOW: '127.0.0.1' })
}, 600_000)

afterAll(async () => {
  await n8n?.stop()
  t?.close()
})

describe('workflow history with n8n 1.123', () => {
  it('pulls three versions of a workflow changed twice, diffs them, rolls back and reads the result from n8n', async () => {
    const admin = await t.key('admin')
    const op = await t.key('operator')
    const added = await t.json(
      'POST',
      '/api/v1/healing/n8n-instances',
      { name: 'local', baseUrl: n8n.url, apiKey: n8n.apiKey },
      admin.headers,
    )
    expect(added.status).toBe(201)
    const instance = ((await added.json()) as { id: string }).id
    const pull = async () => {
      const res = await t.json('POST', '/api/v1/n8n/pull', { instance }, op.headers)
      expect(res.status).toBe(200)
      const [r] = ((await res.json()) as { items: any[] }).items
      expect(r.error, r.error).toBeUndefined()
      return r
    }

    const trigger = {
      name: 'Start',
      type: 'n8n-nodes-base.manualTrigger',
      typeVersion: 1,
      position: [0, 0],
      parameters: {},
    }
    const created = await n8n.api('POST', '/workflows', {
      name: 'Orders',
      nodes: [trigger],
      connections: {},
      settings: { executionOrder: 'v1' },
    })
    const id = created.id as string
    expect((await pull()).created).toBe(1)
    expect((await pull()).created).toBe(0)

    // Change 1: a Set node after the trigger.
    const v1 = await n8n.api('GET', `/workflows/${id}`)
    const setNode = {
      name: 'Set status',
      type: 'n8n-nodes-base.set',
      typeVersion: 3.4,
      position: [220, 0],
      parameters: {
        assignments: { assignments: [{ id: 'a1', name: 'status', value: 'new', type: 'string' }] },
        options: {},
      },
    }
    await n8n.api('PUT', `/workflows/${id}`, {
      name: 'Orders',
      nodes: [...v1.nodes, setNode],
      connections: { Start: { main: [[{ node: 'Set status', type: 'main', index: 0 }]] } },
      settings: { executionOrder: 'v1' },
    })
    expect((await pull()).created).toBe(1)

    // A move on the canvas: n8n saves a new versionId, Homeostat stores nothing.
    const v2 = await n8n.api('GET', `/workflows/${id}`)
    const moved = v2.nodes.map((n: any) => (n.name === 'Start' ? { ...n, position: [40, 80] } : n))
    const afterMove = await n8n.api('PUT', `/workflows/${id}`, {
      name: v2.name,
      nodes: moved,
      connections: v2.connections,
      settings: { executionOrder: 'v1' },
    })
    expect(afterMove.versionId).not.toBe(v2.versionId)
    expect((await pull()).created).toBe(0)

    // Change 2: the Set node's value.
    const cur = await n8n.api('GET', `/workflows/${id}`)
    const changed = structuredClone(cur.nodes) as any[]
    changed.find((n) => n.name === 'Set status').parameters.assignments.assignments[0].value = 'paid'
    await n8n.api('PUT', `/workflows/${id}`, {
      name: cur.name,
      nodes: changed,
      connections: cur.connections,
      settings: { executionOrder: 'v1' },
    })
    expect((await pull()).created).toBe(1)

    const get = async (path: string) => (await (await t.app.request(path, { headers: op.headers })).json()) as any
    const versions = (await get(`/api/v1/n8n/workflows/${id}/versions?instance=${instance}`)).items
    expect(versions.map((v: any) => v.version)).toEqual([3, 2, 1])
    // n8n's workflow history names who saved each version (the API key's owner).
    expect(versions[0].author).toBe('Ada Owner')

    const d12 = await get(`/api/v1/n8n/workflows/${id}/diff?instance=${instance}&from=1&to=2`)
    expect(d12.nodes.added).toEqual([{ name: 'Set status', type: 'n8n-nodes-base.set' }])
    expect(d12.connections.added).toEqual([
      { from: 'Start', type: 'main', output: 0, to: 'Set status', toType: 'main', input: 0 },
    ])
    const d23 = await get(`/api/v1/n8n/workflows/${id}/diff?instance=${instance}&from=2&to=3`)
    expect(d23.nodes.changed).toEqual([
      {
        node: 'Set status',
        changes: [{ path: 'parameters.assignments.assignments[0].value', old: 'new', new: 'paid' }],
      },
    ])

    const rb = await t.json('POST', `/api/v1/n8n/workflows/${id}/rollback?instance=${instance}`, { to: 1 }, op.headers)
    expect(rb.status, await rb.clone().text()).toBe(200)
    expect(await rb.json()).toMatchObject({ workflowId: id, restored: 1, version: 4 })
    const back = await n8n.api('GET', `/workflows/${id}`)
    expect(back.id).toBe(id)
    expect(back.nodes.map((n: any) => n.name)).toEqual(['Start'])
    expect(back.connections).toEqual({})
    // What the rollback stored is what n8n now has: the next pull stores nothing.
    expect((await pull()).created).toBe(0)
  })
})
