import { mkdtempSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { startFakeN8n } from '../helpers/fake-n8n.ts'
import { testApp } from '../helpers/app.ts'
import { startReceiver, verify } from '../helpers/receiver.ts'

// The allow-list file of service_restart: argv comes from here only.
const dir = mkdtempSync(join(tmpdir(), 'healing-cmds-'))
const commandsFile = join(dir, 'commands.json')
writeFileSync(
  commandsFile,
  JSON.stringify({
    commands: {
      'say-hello': {
        argv: [process.execPath, '-e', 'console.log("hello " + process.argv.length); console.error("warn")'],
        timeoutMs: 10_000,
      },
      'exit-3': { argv: [process.execPath, '-e', 'process.exit(3)'], timeoutMs: 10_000 },
      hang: { argv: [process.execPath, '-e', 'setInterval(() => {}, 1000)'], timeoutMs: 300 },
    },
  }),
)

const t = await testApp({ HEALING_COMMANDS_FILE: commandsFile })
const rx = await startReceiver()
const n8n = await startFakeN8n({ apiKey: 'n8n-secret-key' })
afterAll(async () => {
  await t.services.healing.settle()
  await rx.close()
  await n8n.close()
  t.close()
})
const admin = await t.key('admin')
const op = await t.key('operator')
const viewer = await t.key('viewer')

type Action = {
  id: string
  status: string
  reason: string | null
  error: string | null
  attempt: number
  dryRun: boolean
  output: Record<string, any>
  timeline?: { status: string; message: string }[]
}
const tick = async (at = Date.now()) => {
  const counts = await t.services.healing.tick(at)
  await t.services.healing.settle()
  return counts
}
const post = async (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  t.json('POST', '/api/v1/healing/actions', body, { ...op.headers, ...headers })
const get = async (id: string) =>
  (await (await t.app.request(`/api/v1/healing/actions/${id}`, { headers: viewer.headers })).json()) as Action
const run = async (body: Record<string, unknown>) => {
  const res = await post(body)
  expect(res.status, await res.clone().text()).toBe(201)
  const a = (await res.json()) as Action
  await tick()
  return get(a.id)
}
const errorOf = async (res: Response) =>
  ((await res.json()) as { error: { code: string; message: string; details: { field: string; message: string }[] } })
    .error

describe('webhook action', () => {
  it('calls the endpoint signed with the healing secret, and succeeds on the expected status', async () => {
    const secret = (
      (await (await t.app.request('/api/v1/healing/signing-secret', { headers: admin.headers })).json()) as {
        secret: string
      }
    ).secret
    const a = await run({
      type: 'webhook',
      target: 'api',
      params: { url: `${rx.url}/restart`, body: { service: 'api' } },
    })
    expect(a).toMatchObject({ status: 'SUCCESS', attempt: 1, output: { result: { status: 200 } } })
    const [got] = rx.on('/restart')
    expect(got!.json).toEqual({ service: 'api' })
    expect(verify(got!.headers['x-homeostat-signature'], got!.body, secret)).toBe(true)
    expect(verify(got!.headers['x-homeostat-signature'], got!.body, 'another secret')).toBe(false)
    expect(a.timeline!.map((e) => e.status)).toEqual(['PENDING', 'RUNNING', 'SUCCESS'])
    // The secret is for admins only.
    expect((await t.app.request('/api/v1/healing/signing-secret', { headers: op.headers })).status).toBe(403)
  })

  it('an unexpected status fails the attempt; retries with backoff, then FAILED and an alert from source healing', async () => {
    rx.setStatus(503)
    try {
      const res = await post({ type: 'webhook', target: 'flaky', maxAttempts: 2, params: { url: `${rx.url}/flaky` } })
      const { id } = (await res.json()) as Action
      await tick()
      let a = await get(id)
      expect(a).toMatchObject({ status: 'PENDING', attempt: 1, error: 'expected HTTP 200, got 503' })
      await tick() // not due yet: the backoff holds it
      expect(rx.on('/flaky')).toHaveLength(1)
      await tick(Date.now() + 60_000)
      a = await get(id)
      expect(a).toMatchObject({
        status: 'FAILED',
        attempt: 2,
        reason: 'failed after 2 attempts: expected HTTP 200, got 503',
      })
      expect(rx.on('/flaky')).toHaveLength(2)
      const alerts = (await (
        await t.app.request('/api/v1/alerts?source=healing', { headers: viewer.headers })
      ).json()) as { items: { title: string; source: string; labels: Record<string, string> }[] }
      expect(alerts.items.find((x) => x.labels.target === 'flaky')).toMatchObject({
        source: 'healing',
        title: 'Healing failed: webhook on flaky',
      })
    } finally {
      rx.setStatus(200)
    }
  })

  it('a timeout fails the attempt with the reason', async () => {
    // A real local server that accepts the request and never answers.
    const hang = createServer(() => undefined)
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve))
    try {
      const a = await run({
        type: 'webhook',
        target: 'slow',
        maxAttempts: 1,
        params: { url: `http://127.0.0.1:${(hang.address() as AddressInfo).port}/never`, timeoutMs: 200 },
      })
      expect(a).toMatchObject({ status: 'FAILED', reason: expect.stringContaining('timed out after 200 ms') })
    } finally {
      hang.closeAllConnections()
      hang.close()
    }
  })
})

describe('notify action and notices', () => {
  it('sends a notification through alert channels now; a failed send is retried like any action', async () => {
    const ch = (await (
      await t.json(
        'POST',
        '/api/v1/channels',
        { name: 'escalate', type: 'webhook', settings: { url: `${rx.url}/escalate` } },
        op.headers,
      )
    ).json()) as { id: string; signingSecret: string }
    const a = await run({
      type: 'notify',
      target: 'payments',
      params: {
        channelIds: [ch.id],
        title: 'Payments need a human',
        message: 'Restarts did not help',
        severity: 'critical',
      },
    })
    expect(a).toMatchObject({
      status: 'SUCCESS',
      output: { result: { results: [{ channel: 'escalate', code: 200 }] } },
    })
    const [got] = rx.on('/escalate')
    expect(got!.json).toMatchObject({
      event: 'healing.notify',
      alert: {
        title: 'Payments need a human',
        severity: 'critical',
        source: 'healing',
        annotations: { summary: 'Restarts did not help', url: `${t.config.PUBLIC_URL}/healing/actions/${a.id}` },
      },
    })
    expect(verify(got!.headers['x-homeostat-signature'], got!.body, ch.signingSecret)).toBe(true)
    rx.fail(1)
    const retried = await post({ type: 'notify', target: 'payments', params: { channelIds: [ch.id] } })
    const { id } = (await retried.json()) as Action
    await tick()
    expect(await get(id)).toMatchObject({ status: 'PENDING', attempt: 1, error: 'sending failed on escalate' })
    await tick(Date.now() + 60_000)
    expect(await get(id)).toMatchObject({ status: 'SUCCESS', attempt: 2 })
  })

  it("a run's start, success and failure are notified through the outbox when asked", async () => {
    const ch = (await (
      await t.json(
        'POST',
        '/api/v1/channels',
        { name: 'notices', type: 'webhook', settings: { url: `${rx.url}/notices` } },
        op.headers,
      )
    ).json()) as { id: string }
    const notify = { channelIds: [ch.id], on: ['start', 'success', 'failure'] }
    const ok = await run({ type: 'webhook', target: 'noticed', params: { url: `${rx.url}/noticed` }, notify })
    const bad = await run({
      type: 'webhook',
      target: 'noticed-bad',
      maxAttempts: 1,
      params: { url: `${rx.url}/noticed`, expectStatus: 204 },
      notify,
    })
    await t.services.notifier.run(Date.now())
    const events = rx
      .on('/notices')
      .map((r) => r.json as { event: string; alert: { title: string; labels: Record<string, string> } })
    expect(events.map((e) => [e.event, e.alert.title])).toEqual(
      expect.arrayContaining([
        ['healing.start', 'Healing started: webhook on noticed'],
        ['healing.success', 'Healing succeeded: webhook on noticed'],
        ['healing.start', 'Healing started: webhook on noticed-bad'],
        ['healing.failure', 'Healing failed: webhook on noticed-bad'],
      ]),
    )
    expect(events.filter((e) => e.event.startsWith('healing.'))).toHaveLength(4)
    // The failure also raised an alert, notified like any other (no policies: every channel).
    expect(events.filter((e) => e.event === 'fired').map((e) => e.alert.title)).toEqual([
      'Healing failed: webhook on noticed-bad',
    ])
    expect([ok.status, bad.status]).toEqual(['SUCCESS', 'FAILED'])
  })
})

describe('action types', () => {
  it('lists every type with what its target names and a JSON schema of its params', async () => {
    const { items } = (await (
      await t.app.request('/api/v1/healing/action-types', { headers: viewer.headers })
    ).json()) as {
      items: {
        type: string
        rollback: boolean
        target: string
        paramsSchema: { properties?: Record<string, unknown> }
      }[]
    }
    expect(items.map((i) => i.type)).toEqual([
      'model_failover',
      'webhook',
      'n8n',
      'n8n_retry',
      'service_restart',
      'notify',
      'workflow_rollback',
      'model_alias',
      'prompt_rollback',
    ])
    expect(items.find((i) => i.type === 'model_failover')).toMatchObject({ rollback: true })
    expect(items.find((i) => i.type === 'prompt_rollback')).toMatchObject({ rollback: true })
    expect(items.find((i) => i.type === 'workflow_rollback')).toMatchObject({ rollback: true })
    expect(Object.keys(items.find((i) => i.type === 'workflow_rollback')!.paramsSchema.properties!).sort()).toEqual([
      'onlyIfChangedWithin',
      'to',
      'workflowId',
    ])
    expect(Object.keys(items.find((i) => i.type === 'webhook')!.paramsSchema.properties!)).toEqual(
      expect.arrayContaining(['url', 'method', 'expectStatus', 'timeoutMs']),
    )
    expect(items.find((i) => i.type === 'service_restart')!.paramsSchema.properties).toEqual({})
  })
})

describe('the healing job', () => {
  it('is registered as `healing`, every second, and runs queued actions through the scheduler', async () => {
    const status = await t.scheduler.status()
    expect(status.jobs.find((j) => j.name === 'healing')).toMatchObject({ schedule: '* * * * * *' })
    const res = await post({ type: 'webhook', target: 'via-job', params: { url: `${rx.url}/via-job` } })
    const { id } = (await res.json()) as Action
    expect(await t.scheduler.runTick('healing', Date.now() + 1000)).toBe('ran')
    await t.services.healing.settle()
    expect((await get(id)).status).toBe('SUCCESS')
    expect(rx.on('/via-job')).toHaveLength(1)
  })
})

describe('dry run and idempotency', () => {
  it('a dry run records what would happen and calls nothing', async () => {
    const before = rx.requests.length
    const a = await run({ type: 'webhook', target: 'api', dryRun: true, params: { url: `${rx.url}/dry` } })
    expect(a).toMatchObject({
      status: 'SUCCESS',
      dryRun: true,
      output: {
        result: { dryRun: true, wouldExecute: { type: 'webhook', target: 'api', params: { url: `${rx.url}/dry` } } },
      },
    })
    expect(rx.requests.length).toBe(before)
  })

  it('a retried POST with the same Idempotency-Key returns the same action (200) and runs once', async () => {
    const body = { type: 'webhook', target: 'idem', params: { url: `${rx.url}/idem` } }
    const first = await post(body, { 'Idempotency-Key': 'abc-1' })
    expect(first.status).toBe(201)
    const again = await post(body, { 'Idempotency-Key': 'abc-1' })
    expect(again.status).toBe(200)
    const [a, b] = [(await first.json()) as Action, (await again.json()) as Action]
    expect(b.id).toBe(a.id)
    // The body key works the same way; another key is another action.
    const viaBody = await post({ ...body, idempotencyKey: 'abc-1' })
    expect(((await viaBody.json()) as Action).id).toBe(a.id)
    const other = await post(body, { 'Idempotency-Key': 'abc-2' })
    expect(other.status).toBe(201)
    await tick()
    expect(rx.on('/idem')).toHaveLength(1) // one action per target at a time: the lock holds the second back
    await tick()
    expect(rx.on('/idem')).toHaveLength(2)
  })
})

describe('bad input', () => {
  it('unknown type, missing target, bad params and unknown fields are 400s naming the field', async () => {
    let e = await errorOf(await post({ type: 'reboot_universe', target: 'x' }))
    expect(e.details).toEqual([{ field: 'type', message: 'unknown action type reboot_universe' }])
    e = await errorOf(await post({ type: 'webhook', target: 'x', params: { url: 'ftp://nope' } }))
    expect(e.details[0]).toMatchObject({ field: 'params.url' })
    e = await errorOf(await post({ type: 'webhook', target: 'x', params: { url: `${rx.url}/x`, verb: 'POST' } }))
    expect(e.details[0]).toMatchObject({ field: 'params.verb', message: 'unknown field' })
    e = await errorOf(await post({ type: 'webhook', params: {} }))
    expect(e.details[0]).toMatchObject({ field: 'target' })
    e = await errorOf(await post({ type: 'model_failover', target: 'no-such-route' }))
    expect(e.details).toEqual([{ field: 'target', message: 'no model route named no-such-route' }])
    e = await errorOf(
      await post({ type: 'n8n', target: 'nowhere', params: { operation: 'activate', workflowId: '1' } }),
    )
    expect(e.details).toEqual([{ field: 'target', message: 'no n8n instance named nowhere' }])
    e = await errorOf(await post({ type: 'n8n', target: 'nowhere', params: { operation: 'explode' } }))
    expect(e.details[0]!.field).toBe('params.operation')
    e = await errorOf(await post({ type: 'notify', target: 'x', params: { channelIds: ['missing'] } }))
    expect(e.details).toEqual([{ field: 'params.channelIds', message: 'no channel with id missing' }])
    expect(
      (await post({ type: 'webhook', target: 'x', params: { url: `${rx.url}/x` } }, { 'Idempotency-Key': '' })).status,
    ).toBe(400)
  })

  it('a viewer cannot run, approve or reject; only admins manage n8n instances', async () => {
    expect(
      (
        await t.json(
          'POST',
          '/api/v1/healing/actions',
          { type: 'webhook', target: 'x', params: { url: `${rx.url}/x` } },
          viewer.headers,
        )
      ).status,
    ).toBe(403)
    expect((await t.json('POST', '/api/v1/healing/actions/any/approve', {}, viewer.headers)).status).toBe(403)
    expect((await t.json('POST', '/api/v1/healing/actions/any/reject', {}, viewer.headers)).status).toBe(403)
    expect(
      (
        await t.json(
          'POST',
          '/api/v1/healing/n8n-instances',
          { name: 'x', baseUrl: 'http://x', apiKey: 'k' },
          op.headers,
        )
      ).status,
    ).toBe(403)
  })
})

describe('service_restart', () => {
  it('runs a command from the allow-list by name, without a shell, with output captured', async () => {
    const a = await run({ type: 'service_restart', target: 'say-hello' })
    expect(a).toMatchObject({
      status: 'SUCCESS',
      output: { result: { command: 'say-hello', exitCode: 0, timedOut: false, stdout: 'hello 1\n', stderr: 'warn\n' } },
    })
  })

  it('a command not in the list is a 400; argv can never be given through the API', async () => {
    let e = await errorOf(await post({ type: 'service_restart', target: 'rm-rf' }))
    expect(e.details[0]).toMatchObject({
      field: 'target',
      message: expect.stringContaining('rm-rf is not a command in the allow-list'),
    })
    e = await errorOf(
      await post({ type: 'service_restart', target: 'say-hello', params: { argv: ['/bin/sh', '-c', 'id'] } }),
    )
    expect(e.details[0]).toMatchObject({ field: 'params.argv', message: 'unknown field' })
  })

  it('a non-zero exit fails; a command past its timeout is killed and fails with the reason', async () => {
    const bad = await run({ type: 'service_restart', target: 'exit-3', maxAttempts: 1 })
    expect(bad).toMatchObject({ status: 'FAILED', reason: 'exit-3 exited with 3' })
    const hung = await run({ type: 'service_restart', target: 'hang', maxAttempts: 1 })
    expect(hung).toMatchObject({
      status: 'FAILED',
      reason: 'hang timed out after 300 ms and was killed',
      output: { lastFailure: { timedOut: true, signal: 'SIGTERM' } },
    })
  })

  it('is off when HEALING_COMMANDS_FILE is unset', async () => {
    const off = await testApp()
    try {
      const k = await off.key('operator')
      const e = await errorOf(
        await off.json('POST', '/api/v1/healing/actions', { type: 'service_restart', target: 'say-hello' }, k.headers),
      )
      expect(e.details).toEqual([
        { field: 'type', message: 'service_restart is off (HEALING_COMMANDS_FILE is not set)' },
      ])
    } finally {
      off.close()
    }
  })
})

describe('n8n action', () => {
  it('instances: the API key is sealed, masked in answers, never returned; names are unique; bad URLs are 400', async () => {
    const res = await t.json(
      'POST',
      '/api/v1/healing/n8n-instances',
      { name: 'main', baseUrl: `${n8n.url}/`, apiKey: 'n8n-secret-key' },
      admin.headers,
    )
    expect(res.status).toBe(201)
    const body = await res.text()
    expect(body).not.toContain('n8n-secret-key')
    expect(JSON.parse(body)).toMatchObject({
      name: 'main',
      baseUrl: n8n.url,
      apiKey: expect.stringMatching(/^n8n-•+$/),
    })
    expect(
      (
        await t.json(
          'POST',
          '/api/v1/healing/n8n-instances',
          { name: 'main', baseUrl: n8n.url, apiKey: 'x' },
          admin.headers,
        )
      ).status,
    ).toBe(409)
    const e = await errorOf(
      await t.json(
        'POST',
        '/api/v1/healing/n8n-instances',
        { name: 'other', baseUrl: 'not a url', apiKey: 'x' },
        admin.headers,
      ),
    )
    expect(e.details[0]!.field).toBe('baseUrl')
    const list = await (await t.app.request('/api/v1/healing/n8n-instances', { headers: admin.headers })).text()
    expect(list).not.toContain('n8n-secret-key')
  })

  it('retries a failed execution, activates and deactivates a workflow, runs a webhook — with X-N8N-API-KEY', async () => {
    n8n.addExecution('42', 'error', '7')
    n8n.addWorkflow('7', 'Orders')
    n8n.addWebhook('heal/orders')
    const retried = await run({
      type: 'n8n',
      target: 'main',
      params: { operation: 'retry_execution', executionId: '42' },
    })
    expect(retried).toMatchObject({
      status: 'SUCCESS',
      output: {
        result: { operation: 'retry_execution', httpStatus: 200, status: 'success', retryOf: '42', workflowId: '7' },
      },
    })
    expect(n8n.requests.at(-1)).toMatchObject({
      method: 'POST',
      path: '/api/v1/executions/42/retry',
      apiKey: 'n8n-secret-key',
    })
    expect(
      await run({ type: 'n8n', target: 'main', params: { operation: 'activate', workflowId: '7' } }),
    ).toMatchObject({ status: 'SUCCESS', output: { result: { active: true } } })
    expect(n8n.workflow('7')!.active).toBe(true)
    await run({ type: 'n8n', target: 'main', params: { operation: 'deactivate', workflowId: '7' } })
    expect(n8n.workflow('7')!.active).toBe(false)
    const hook = await run({
      type: 'n8n',
      target: 'main',
      params: { operation: 'run_webhook', webhookPath: 'heal/orders', body: { why: 'test' } },
    })
    expect(hook.status).toBe('SUCCESS')
    expect(n8n.requests.at(-1)).toMatchObject({
      method: 'POST',
      path: '/webhook/heal/orders',
      body: { why: 'test' },
      apiKey: undefined,
    })
  })

  it("n8n's refusals fail with its message; a 4xx is not retried", async () => {
    const missing = await run({
      type: 'n8n',
      target: 'main',
      params: { operation: 'retry_execution', executionId: '999' },
    })
    expect(missing).toMatchObject({ status: 'FAILED', attempt: 1, reason: 'n8n main answered HTTP 404: Not Found' })
    n8n.addExecution('43', 'success')
    const conflict = await run({
      type: 'n8n',
      target: 'main',
      params: { operation: 'retry_execution', executionId: '43' },
    })
    expect(conflict.reason).toContain('HTTP 409')
    // A wrong key (changed on our side) is a 401 from n8n.
    const inst = (
      (await (await t.app.request('/api/v1/healing/n8n-instances', { headers: admin.headers })).json()) as {
        items: { id: string }[]
      }
    ).items[0]!
    expect(
      (await t.json('PATCH', `/api/v1/healing/n8n-instances/${inst.id}`, { apiKey: 'wrong' }, admin.headers)).status,
    ).toBe(200)
    const denied = await run({ type: 'n8n', target: 'main', params: { operation: 'activate', workflowId: '7' } })
    expect(denied.reason).toContain('HTTP 401')
  })
})
