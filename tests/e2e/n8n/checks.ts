/**
 * The cases the suites for n8n 1.123 (n8n.test.ts) and n8n 2.x (n8n2.test.ts) both run, one function
 * per case, so the two cannot drift: each runs an example workflow through `Suite.run` (`n8n execute`
 * in 1.123; a manual run in one shared `n8n start` in 2.x) and judges it by n8n's run data and by what
 * Homeostat stored. The model failover, Backup and 10 000-item cases are in checks-heal-backup.ts, the
 * cases that need `n8n start` (Trigger, credential Test) in checks-start.ts.
 */
import type { Client } from '@libsql/client'
import { expect } from 'vitest'
import { items, type N8nCli, type RunJson } from '../../helpers/n8n-cli.ts'
import { cliKey, type RunningServer } from '../../helpers/server.ts'

export type Suite = {
  server: RunningServer
  /** Homeostat's database. */
  db: Client
  /** The operator key the imported Homeostat credential holds. */
  apiKey: string
  cli: N8nCli
  /** Runs an imported example workflow and returns n8n's run JSON. */
  run(workflowId: string, timeoutMs?: number): Promise<RunJson>
}

export const ok = (result: RunJson) =>
  expect(result.status, JSON.stringify(result.data.resultData.error)).toBe('success')

export async function get<T>(server: RunningServer, path: string) {
  const res = await server.fetch(path, {
    headers: { Authorization: `Bearer ${await cliKey(server, 'viewer', 'viewer')}` },
  })
  expect(res.status, path).toBe(200)
  return (await res.json()) as T
}

export const count = async (s: Suite, sql: string, args: (string | number)[] = []) =>
  Number((await s.db.execute({ sql, args })).rows[0]![0])

/**
 * Points stored for a metric (a point is one series + ms), as its raw export lists them: the chunks and
 * the write inbox merged, which SQL over the tables cannot do (the chunks are encoded).
 */
export const pointsOf = async (s: Suite, name: string) =>
  (
    await get<unknown[]>(
      s.server,
      `/api/v1/metrics/export?format=json&name=${encodeURIComponent(name)}&from=0&to=${Date.now() + 86_400_000}`,
    )
  ).length

/** (a) record-metrics.json: 30 items from a Code node recorded, labels from expressions, one series per agent. */
export async function checkRecordMetrics(s: Suite) {
  const result = await s.run('hsRecordMetrics1')
  ok(result)
  const out = items(result, 'Record duration')
  expect(out).toHaveLength(30)
  expect(out.every((i, n) => i.json.recorded === true && i.pairedItem?.item === n)).toBe(true)
  expect(out[0]!.json.labels).toEqual({ agent: 'planner', workflow: 'Homeostat: record agent run metrics' })
  expect(await pointsOf(s, 'agent_run_duration_seconds')).toBe(30)
  expect(await count(s, "select count(*) from series where name = 'agent_run_duration_seconds'")).toBe(3)
}

/** (c) continue-on-fail.json: a wrong key fails each item with the server's 401, and the workflow goes on. */
export async function checkContinueOnFail(s: Suite) {
  const result = await s.run('hsContinueOnFail')
  ok(result)
  const failed = items(result, 'Record with wrong key')
  expect(failed).toHaveLength(3)
  for (const item of failed)
    expect(item.json).toMatchObject({ error: expect.stringMatching(/^Homeostat: .*\[HTTP 401\]$/), httpCode: '401' })
  expect(items(result, 'Record that it went on').map((i) => i.json.recorded)).toEqual([true, true, true])
  expect(await pointsOf(s, 'n8n_continue_on_fail_errors')).toBe(3)
  expect(await pointsOf(s, 'agent_run_duration_seconds')).toBe(30) // nothing from the wrong key (after (a))
}

/**
 * (h) node-versions.json: Alert and Heal version 2 (Resource → Operation) beside a Heal version 1 node.
 * Its last node leaves out `resource` (the default, as n8n saves it): n8n fills it in.
 */
export async function checkNodeVersions({ run, server }: Suite) {
  const result = await run('hsNodeVersions1')
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

/** (b) fire-and-resolve-alert.json: a version 1 Alert node fires, a second resolves the same alert. */
export async function checkFireAndResolve({ run, server }: Suite) {
  const result = await run('hsFireAndResolve')
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
