/**
 * Cases both n8n suites run (see checks.ts): (e) the Heal node's model failover, (g) the Backup node,
 * and the Record node's 10 000 items with its figure.
 */
import { expect } from 'vitest'
import { startFakeModelHost } from '../../helpers/fake-model-host.ts'
import { startFakeN8n } from '../../helpers/fake-n8n.ts'
import { items } from '../../helpers/n8n-cli.ts'
import { cliKey, until } from '../../helpers/server.ts'
import { count, ok, pointsOf, type Suite } from './checks.ts'

/** POST /api/v1/metrics requests Homeostat has answered, from its own Prometheus counter. */
async function ingestRequests(s: Suite) {
  const res = await s.server.fetch('/metrics', { headers: { Authorization: `Bearer ${s.apiKey}` } })
  expect(res.status).toBe(200)
  const text = await res.text()
  return text
    .split('\n')
    .filter(
      (l) =>
        l.startsWith('homeostat_http_requests_total{') &&
        l.includes('method="POST"') &&
        l.includes('route="/api/v1/metrics"'),
    )
    .reduce((sum, l) => sum + Number(l.split(' ').pop()), 0)
}

/**
 * (e) heal-failover.json: the Heal node gets a model route's active target, the HTTP Request node calls
 * it (a fake Ollama switched to failing) and Report Result reports each outcome; the breaker opens and
 * a healing rule fails the route over to the backup.
 */
export async function checkHealFailover(s: Suite) {
  const primary = await startFakeModelHost({ models: ['llama3:8b'], mode: 'error' })
  const backup = await startFakeModelHost({ models: ['mistral:7b'] })
  try {
    const operator = { Authorization: `Bearer ${s.apiKey}`, 'Content-Type': 'application/json' }
    const post = async (path: string, body: unknown) => {
      const res = await s.server.fetch(path, { method: 'POST', headers: operator, body: JSON.stringify(body) })
      expect(res.status, await res.clone().text()).toBe(201)
      return (await res.json()) as Record<string, any>
    }
    // No probePath: only the outcomes n8n reports move the breaker.
    const route = await post('/api/v1/model-routes', {
      name: 'llm-chat',
      targets: [
        { model: 'llama3:8b', host: primary.url },
        { model: 'mistral:7b', host: backup.url },
      ],
      probePath: '',
    })
    const primaryKey = route.targets[0].breaker.key as string
    await post('/api/v1/healing/rules', {
      name: 'fail over llm-chat',
      trigger: { type: 'breaker', keyPattern: '^model:' },
      actionType: 'model_failover',
      target: 'llm-chat',
      cooldownMs: 0,
      maxPerHour: 100,
    })

    const result = await s.run('hsHealFailover01')
    ok(result)
    expect(items(result, 'Get route')[0]!.json).toMatchObject({
      route: 'llm-chat',
      model: 'llama3:8b',
      host: primary.url,
      index: 0,
      breakerKey: primaryKey,
    })
    const calls = items(result, 'Call the model')
    expect(calls).toHaveLength(5)
    for (const call of calls) expect(call.json.error).toBeTruthy()
    expect(primary.counts.failed).toBe(5)
    const reports = items(result, 'Report result')
    expect(reports.map((r) => [r.json.reported, r.pairedItem?.item])).toEqual(
      [0, 1, 2, 3, 4].map((n) => ['failure', n]),
    )
    expect(reports.map((r) => r.json.state)).toEqual(['CLOSED', 'CLOSED', 'OPEN', 'OPEN', 'OPEN'])
    expect(reports[2]!.json.transition).toEqual({ from: 'CLOSED', to: 'OPEN' })

    // Homeostat: the breaker is open, and the healing rule moved the route to the backup.
    const get = async (path: string) =>
      (await (await s.server.fetch(path, { headers: operator })).json()) as Record<string, any>
    const moved = await until(
      'the route failed over',
      async () => {
        const r = await get('/api/v1/model-routes/llm-chat')
        return r.activeIndex === 1 ? r : undefined
      },
      30_000,
      200,
    )
    expect(moved).toMatchObject({
      active: { model: 'mistral:7b', host: backup.url },
      targets: [{ breaker: { state: 'OPEN' }, healthy: false }, { healthy: true }],
    })
    const breaker = await get(`/api/v1/healing/breakers/${encodeURIComponent(primaryKey)}`)
    // Reports made while it is OPEN (4th and 5th) do not enter the window.
    expect(breaker).toMatchObject({
      state: 'OPEN',
      openCount: 1,
      window: { calls: 3, failures: 3 },
      events: [{ from: 'CLOSED', to: 'OPEN' }],
    })
    const callError = (calls[2]!.json.error as { message?: string }).message || 'the model call failed'
    expect(reports[2]!.json.lastError).toBe(callError)
    console.log(
      `n8n ${s.cli.version}, Heal example: the HTTP Request node's error reported to the breaker: ${callError}`,
    )
    const actions = await until(
      'the failover action finished',
      async () => {
        const list = await get('/api/v1/healing/actions?type=model_failover&target=llm-chat')
        return list.items.length &&
          list.items.every((a: { status: string }) => ['SUCCESS', 'FAILED', 'SKIPPED'].includes(a.status))
          ? list
          : undefined
      },
      30_000,
      200,
    )
    expect(actions.items).toEqual([
      expect.objectContaining({
        status: 'SUCCESS',
        trigger: expect.objectContaining({ type: 'breaker' }),
        output: expect.objectContaining({ result: { from: 0, to: 1 } }),
      }),
    ])
    expect(backup.counts.failed).toBe(0)
  } finally {
    await primary.close()
    await backup.close()
  }
}

/**
 * (g) backup-workflow-history.json: the Backup node reads an n8n workflow's history and diff, rolls it
 * back, backs up Homeostat and lists the good backups.
 */
export async function checkBackupHistory(s: Suite) {
  // The n8n instance whose workflows Homeostat keeps: a loopback stand-in of n8n's public API (the
  // real n8n 1.123 is that instance in workflow-history.test.ts); the node itself runs in the real n8n.
  const fake = await startFakeN8n({ apiKey: 'e2e-n8n-api-key' })
  try {
    const admin = { Authorization: `Bearer ${await cliKey(s.server, 'backup-admin', 'admin')}` }
    const operator = { Authorization: `Bearer ${s.apiKey}` }
    const post = async (path: string, body: unknown, headers: Record<string, string>) => {
      const res = await s.server.fetch(path, {
        method: 'POST',
        headers: { ...headers, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      })
      expect(res.status, await res.clone().text()).toBeLessThan(300)
      return (await res.json()) as Record<string, any>
    }
    const instance = await post(
      '/api/v1/healing/n8n-instances',
      { name: 'e2e-n8n', baseUrl: fake.url, apiKey: 'e2e-n8n-api-key' },
      admin,
    )
    fake.addWorkflow('orders', 'Orders', true)
    await post('/api/v1/n8n/pull', { instance: instance.id }, operator)
    fake.editWorkflow('orders', (w) => void (w.nodes[0]!.parameters = { note: 'a bad change' }))
    await post('/api/v1/n8n/pull', { instance: instance.id }, operator)

    const result = await s.run('hsBackupHistory1')
    ok(result)
    const [history] = items(result, 'Workflow history')
    expect(history!.json).toMatchObject({ instance: instance.id, workflowId: 'orders', latestVersion: 2 })
    expect((history!.json.versions as { version: number }[]).map((v) => v.version)).toEqual([2, 1])
    expect(history!.json.diff).toMatchObject({ from: 1, to: 2, same: false })
    expect(JSON.stringify(history!.json.diff)).toContain('a bad change')
    const [rolled] = items(result, 'Roll back')
    expect(rolled!.json).toMatchObject({ workflowId: 'orders', restored: 1, replaced: 2, version: 3, active: true })
    expect(rolled!.pairedItem).toEqual({ item: 0 })
    const [missing] = items(result, 'Roll back to a missing version')
    expect(missing!.json).toMatchObject({
      error: 'Homeostat: Version 99 of workflow orders not found [HTTP 404]',
      httpCode: '404',
    })
    const [after] = items(result, 'History after')
    expect(after!.json.versions).toEqual([
      expect.objectContaining({ version: 3, kind: 'rollback', restoredVersion: 1 }),
    ])
    // n8n got version 1 back, same id, still active; Homeostat stored it and audited it.
    expect(fake.workflow('orders')).toMatchObject({
      active: true,
      nodes: [expect.objectContaining({ parameters: {} })],
    })
    expect(
      await count(s, "select count(*) from workflow_versions where workflow_id = 'orders' and kind = 'rollback'"),
    ).toBe(1)
    expect(await count(s, "select count(*) from audit_log where action = 'workflow.rolled_back'")).toBe(1)
    // A backup of Homeostat's database, waited for until verified, then listed.
    const [made] = items(result, 'Back up')
    expect(made!.json).toMatchObject({ target: 'homeostat', status: 'good', verifiedAt: expect.any(String) })
    const listed = items(result, 'List good backups')
    expect(listed.map((i) => i.json.id)).toContain(made!.json.id)
    expect(listed.every((i) => i.json.status === 'good' && i.pairedItem?.item === 0)).toBe(true)
    expect(await count(s, "select count(*) from backups where status = 'good'")).toBe(listed.length)
  } finally {
    await fake.close()
  }
}

/** record-10000-items.json: 10 000 items in batches of 1 000; returns the figure (items/s, HTTP requests). */
export async function checkTenThousand(s: Suite) {
  const before = await ingestRequests(s)
  const pointsBefore = await pointsOf(s, 'agent_run_duration_seconds')
  const result = await s.run('hsRecordTenThous', 300_000)
  ok(result)
  const out = items(result, 'Record duration')
  expect(out).toHaveLength(10_000)
  expect(out.every((i) => i.json.recorded === true)).toBe(true)
  const requests = (await ingestRequests(s)) - before
  expect(requests).toBe(10)
  expect((await pointsOf(s, 'agent_run_duration_seconds')) - pointsBefore).toBe(10_000)
  const ms = result.data.resultData.runData['Record duration']![0]!.executionTime
  const figure = `n8n ${s.cli.version} Record node: 10000 items in ${ms} ms = ${Math.round(10_000 / (ms / 1000))} items/s, ${requests} HTTP requests to Homeostat`
  console.log(figure)
}
