/**
 * Checks shared by the suites that run the example workflows in n8n 1.123 (n8n.test.ts) and in n8n 2.x
 * (n8n2.test.ts): each judges a run by n8n's run data and by what Homeostat stored.
 */
import { expect } from 'vitest'
import { items, type RunJson } from '../../helpers/n8n-cli.ts'
import { cliKey, type RunningServer } from '../../helpers/server.ts'

const ok = (result: RunJson) => expect(result.status, JSON.stringify(result.data.resultData.error)).toBe('success')

async function get<T>(server: RunningServer, path: string) {
  const res = await server.fetch(path, {
    headers: { Authorization: `Bearer ${await cliKey(server, 'viewer', 'viewer')}` },
  })
  expect(res.status, path).toBe(200)
  return (await res.json()) as T
}

/**
 * node-versions.json: Alert and Heal version 2 (Resource → Operation) beside a Heal version 1 node.
 * Its last node leaves out `resource` (the default, as n8n saves it): n8n fills it in.
 */
export async function checkNodeVersions(result: RunJson, server: RunningServer) {
  ok(result)
  const [fired] = items(result, 'Fire (v2)')
  expect(fired!.json).toMatchObject({ change: 'created', status: 'firing', severity: 'warning' })
  const [silence] = items(result, 'Silence (v2)')
  expect(silence!.json).toMatchObject({ id: expect.any(String), comment: 'node versions e2e' })
  expect(items(result, 'Report (v2)')[0]!.json).toMatchObject({ reported: 'failure', key: 'component:node-versions' })
  expect(items(result, 'Report (v1)')[0]!.json).toMatchObject({
    reported: 'success',
    window: { calls: 2, failures: 1 },
  })
  expect(items(result, 'Get (v2)')[0]!.json).toMatchObject({ id: fired!.json.id, labels: { suite: 'node-versions' } })

  const alert = await get<{ title: string; fingerprint: string }>(server, `/api/v1/alerts/${fired!.json.id as string}`)
  expect(alert).toMatchObject({ title: 'Node versions e2e', fingerprint: expect.stringMatching(/^api:node-versions-/) })
  expect(await get(server, `/api/v1/silences/${silence!.json.id as string}`)).toMatchObject({
    comment: 'node versions e2e',
    state: 'active',
    matchers: [{ label: 'suite', op: '=', value: 'node-versions' }],
  })
  expect(await get(server, `/api/v1/healing/breakers/${encodeURIComponent('component:node-versions')}`)).toMatchObject({
    window: { calls: 2, failures: 1 },
    lastError: 'from version 2',
  })
}

/** fire-and-resolve-alert.json: a version 1 Alert node fires, a second resolves the same alert. */
export async function checkFireAndResolve(result: RunJson, server: RunningServer) {
  ok(result)
  const [fired] = items(result, 'Fire alert')
  const [resolved] = items(result, 'Resolve alert')
  expect(fired!.json).toMatchObject({ change: 'created', status: 'firing', severity: 'critical' })
  expect(resolved!.json).toMatchObject({ change: 'resolved', id: fired!.json.id, status: 'resolved' })
  const alert = await get<{ status: string; events: { type: string }[] }>(
    server,
    `/api/v1/alerts/${fired!.json.id as string}`,
  )
  expect(alert).toMatchObject({
    status: 'resolved',
    labels: { pipeline: 'rag-ingest', env: 'e2e' },
    annotations: { summary: 'The loader threw on document 42' },
  })
  expect(alert.events.map((e) => e.type)).toEqual(expect.arrayContaining(['created', 'resolved']))
}
