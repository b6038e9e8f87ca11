/**
 * The n8n-nodes-homeostat package inside a real n8n 1.123.x (installed once into a cache outside
 * the repo by install-n8n.sh): the packed tarball is loaded with N8N_CUSTOM_EXTENSIONS, the example
 * workflows in ./workflows are imported and run by the n8n CLI against a real Homeostat server, and
 * each run is judged by n8n's run data and by what Homeostat stored. The Trigger runs in `n8n start`.
 * The Heal example calls a fake Ollama (switched to failing) through a model route's active target
 * and reports each outcome; the breaker opens and a healing rule fails the route over.
 * Prints the Record node's figure: items/s through a real n8n execution of 10 000 items, and the
 * number of HTTP requests Homeostat counted for it.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { createClient, type Client } from '@libsql/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFakeModelHost, type FakeModelHost } from '../../helpers/fake-model-host.ts'
import { startFakeN8n } from '../../helpers/fake-n8n.ts'
import { checkFireAndResolve, checkNodeVersions } from './checks.ts'
import { BAD_CREDENTIAL_ID, CREDENTIAL_ID, items, type N8nCli, n8nWithPackage } from '../../helpers/n8n-cli.ts'
import { cliKey, delay, freePort, killAll, run, startServer, until, type RunningServer } from '../../helpers/server.ts'

let cli: N8nCli
let work: string
let server: RunningServer
let homeostatDb: Client
let n8nEnv: Record<string, string>
let apiKey: string
let started: ChildProcess | undefined
/** The second `n8n start` of (f), loading the package as an installed community package. */
let second: ChildProcess | undefined
/** `http://127.0.0.1:<port>` of the `n8n start` begun in (d). */
let n8nUrl: string | undefined
const hosts: FakeModelHost[] = []

const n8nBin = () => cli.bin
const n8n = (args: string[], timeoutMs?: number) => cli.n8n(args, timeoutMs)
const savedRun = (workflowId: string) => cli.savedRun(workflowId)
const execute = (id: string, timeoutMs?: number) => cli.execute(id, timeoutMs)
const count = async (sql: string, args: (string | number)[] = []) =>
  Number((await homeostatDb.execute({ sql, args })).rows[0]![0])
/** Points stored for a metric: moved into `points` or still in the write inbox (a point is one series + ms). */
const pointsOf = (name: string) =>
  count(
    'select count(*) from (select series_id, ts from points union select series_id, ts from points_inbox) p join series s on s.id = p.series_id where s.name = ?',
    [name],
  )
/** POST /api/v1/metrics requests Homeostat has answered, from its own Prometheus counter. */
async function ingestRequests() {
  const res = await server.fetch('/metrics', { headers: { Authorization: `Bearer ${apiKey}` } })
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

beforeAll(async () => {
  // Homeostat, then n8n 1.123 (installed once per machine: a few minutes the first time, instant after)
  // with the package built, packed and loaded, the credentials and every example workflow imported.
  server = await startServer()
  homeostatDb = createClient({ url: server.env.DATABASE_URL! })
  apiKey = await cliKey(server, 'n8n', 'operator')
  cli = await n8nWithPackage({ major: 1, baseUrl: server.url, apiKey })
  work = cli.work
  n8nEnv = cli.env
}, 40 * 60_000)

afterAll(async () => {
  for (const child of [started, second]) {
    if (!child || child.exitCode !== null) continue
    child.kill('SIGTERM')
    await Promise.race([new Promise((r) => child.once('exit', r)), delay(15_000)])
    if (child.exitCode === null) child.kill('SIGKILL')
  }
  homeostatDb?.close()
  for (const h of hosts) await h.close()
  await killAll()
  cli?.close()
})

describe('n8n-nodes-homeostat in n8n 1.123', () => {
  it("(a) records metrics from a Code node's items", async () => {
    const result = await execute('hsRecordMetrics1')
    expect(result.status, JSON.stringify(result.data.resultData.error)).toBe('success')
    const out = items(result, 'Record duration')
    expect(out).toHaveLength(30)
    expect(out.every((i, n) => i.json.recorded === true && i.pairedItem?.item === n)).toBe(true)
    expect(out[0]!.json.labels).toEqual({ agent: 'planner', workflow: 'Homeostat: record agent run metrics' })
    expect(await pointsOf('agent_run_duration_seconds')).toBe(30)
    expect(await count("select count(*) from series where name = 'agent_run_duration_seconds'")).toBe(3)
  })

  it('(b) fires and then resolves an alert', async () => {
    await checkFireAndResolve(await execute('hsFireAndResolve'), server)
  })

  it('(h) runs Alert and Heal version 2 nodes (Resource → Operation) beside a version 1 node', async () => {
    await checkNodeVersions(await execute('hsNodeVersions1'), server)
  })

  it('(c) goes on past a wrong API key with Continue On Fail', async () => {
    const result = await execute('hsContinueOnFail')
    expect(result.status, JSON.stringify(result.data.resultData.error)).toBe('success')
    const failed = items(result, 'Record with wrong key')
    expect(failed).toHaveLength(3)
    for (const item of failed)
      expect(item.json).toMatchObject({ error: expect.stringMatching(/^Homeostat: .*\[HTTP 401\]$/), httpCode: '401' })
    expect(items(result, 'Record that it went on').map((i) => i.json.recorded)).toEqual([true, true, true])
    expect(await pointsOf('n8n_continue_on_fail_errors')).toBe(3)
    expect(await pointsOf('agent_run_duration_seconds')).toBe(30) // nothing from the wrong key
  })

  it("(e) calls an LLM through the route's active target, reports failures, and the route fails over", async () => {
    const primary = await startFakeModelHost({ models: ['llama3:8b'], mode: 'error' })
    const backup = await startFakeModelHost({ models: ['mistral:7b'] })
    hosts.push(primary, backup)
    const operator = { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' }
    const post = async (path: string, body: unknown) => {
      const res = await server.fetch(path, { method: 'POST', headers: operator, body: JSON.stringify(body) })
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

    const result = await execute('hsHealFailover01')
    expect(result.status, JSON.stringify(result.data.resultData.error)).toBe('success')
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
      (await (await server.fetch(path, { headers: operator })).json()) as Record<string, any>
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
    console.log(`Heal example: the HTTP Request node's error reported to the breaker: ${callError}`)
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
  }, 180_000)

  it("(g) the Backup node reads an n8n workflow's history and diff, rolls it back, backs up and lists", async () => {
    // The n8n instance whose workflows Homeostat keeps: a loopback stand-in of n8n's public API (the
    // real n8n 1.123 is that instance in workflow-history.test.ts); the node itself runs in the real n8n.
    const fake = await startFakeN8n({ apiKey: 'e2e-n8n-api-key' })
    try {
      const admin = { Authorization: `Bearer ${await cliKey(server, 'backup-admin', 'admin')}` }
      const operator = { Authorization: `Bearer ${apiKey}` }
      const post = async (path: string, body: unknown, headers: Record<string, string>) => {
        const res = await server.fetch(path, {
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

      const result = await execute('hsBackupHistory1')
      expect(result.status, JSON.stringify(result.data.resultData.error)).toBe('success')
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
        await count("select count(*) from workflow_versions where workflow_id = 'orders' and kind = 'rollback'"),
      ).toBe(1)
      expect(await count("select count(*) from audit_log where action = 'workflow.rolled_back'")).toBe(1)
      // A backup of Homeostat's database, waited for until verified, then listed.
      const [made] = items(result, 'Back up')
      expect(made!.json).toMatchObject({ target: 'homeostat', status: 'good', verifiedAt: expect.any(String) })
      const listed = items(result, 'List good backups')
      expect(listed.map((i) => i.json.id)).toContain(made!.json.id)
      expect(listed.every((i) => i.json.status === 'good' && i.pairedItem?.item === 0)).toBe(true)
      expect(await count("select count(*) from backups where status = 'good'")).toBe(listed.length)
    } finally {
      await fake.close()
    }
  }, 180_000)

  it('records 10 000 items in batches of 1 000 (figure: items/s and HTTP requests)', async () => {
    const before = await ingestRequests()
    const pointsBefore = await pointsOf('agent_run_duration_seconds')
    const result = await execute('hsRecordTenThous', 300_000)
    expect(result.status, JSON.stringify(result.data.resultData.error)).toBe('success')
    const out = items(result, 'Record duration')
    expect(out).toHaveLength(10_000)
    expect(out.every((i) => i.json.recorded === true)).toBe(true)
    const requests = (await ingestRequests()) - before
    expect(requests).toBe(10)
    expect((await pointsOf('agent_run_duration_seconds')) - pointsBefore).toBe(10_000)
    const ms = result.data.resultData.runData['Record duration']![0]!.executionTime
    const figure = `n8n Record node: 10000 items in ${ms} ms = ${Math.round(10_000 / (ms / 1000))} items/s, ${requests} HTTP requests to Homeostat`
    console.log(figure)
  }, 300_000)

  it('(d) an active Trigger in `n8n start` receives an alert fired through Homeostat and records a metric back', async () => {
    await n8n(['update:workflow', '--id=hsTriggerOnAlert', '--active=true'])
    const port = await freePort()
    const [node, bin] = n8nBin()
    let output = ''
    started = spawn(node, [bin, 'start'], {
      cwd: work,
      env: {
        ...process.env,
        ...n8nEnv,
        N8N_PORT: String(port),
        N8N_LISTEN_ADDRESS: '127.0.0.1',
        WEBHOOK_URL: `http://127.0.0.1:${port}/`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    started.stdout!.on('data', (d: Buffer) => (output += d.toString()))
    started.stderr!.on('data', (d: Buffer) => (output += d.toString()))
    const operator = { Authorization: `Bearer ${await cliKey(server, 'op', 'operator')}` }
    // Activation subscribes the trigger's production URL through /api/v1/webhooks.
    const sub = await until(
      'the trigger subscribed',
      async () => {
        if (started!.exitCode !== null) throw new Error(`n8n start exited\n${output}`)
        const list = (await (await server.fetch('/api/v1/webhooks', { headers: operator })).json()) as {
          items: { id: string; events: string[]; url: string }[]
        }
        return list.items[0]
      },
      90_000,
      500,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${output.slice(-4000)}`)
    })
    expect(sub.events).toEqual(['fired', 'resolved'])
    expect(sub.url).toContain(`http://127.0.0.1:${port}/`)
    await until(
      'n8n answers',
      async () => ((await fetch(`http://127.0.0.1:${port}/healthz`)).ok ? true : undefined),
      30_000,
      250,
    )
    n8nUrl = `http://127.0.0.1:${port}`

    const title = 'Vector store unreachable'
    const fired = await server.fetch('/api/v1/alerts', {
      method: 'POST',
      headers: { ...operator, 'Content-Type': 'application/json' },
      body: JSON.stringify({ title, severity: 'critical', status: 'firing', labels: { service: 'qdrant' } }),
    })
    expect(fired.status).toBe(201)
    const alertId = ((await fired.json()) as { alert: { id: string } }).alert.id

    // The workflow it started recorded a metric back into Homeostat…
    const seen = await until(
      'the triggered workflow recorded n8n_alerts_seen_total',
      async () => {
        const rows = (await homeostatDb.execute("select labels from series where name = 'n8n_alerts_seen_total'")).rows
        return rows.length ? rows.map((r) => JSON.parse(String(r[0])) as Record<string, string>) : undefined
      },
      60_000,
      250,
    ).catch(async (e: Error) => {
      const deliveries = (
        await homeostatDb.execute({
          sql: 'select kind, status, attempts, last_error, response from notifications where subscription_id = ?',
          args: [sub.id],
        })
      ).rows
      throw new Error(`${e.message}\ndeliveries: ${JSON.stringify(deliveries)}\n${output.slice(-4000)}`)
    })
    expect(seen).toEqual([{ alert: title, event: 'fired', severity: 'critical' }])
    // …and Homeostat's outbox recorded the delivery as sent.
    const sent = await until(
      'the delivery is marked sent',
      async () =>
        (await count("select count(*) from notifications where subscription_id = ? and status = 'sent'", [sub.id])) > 0
          ? true
          : undefined,
      10_000,
    )
    expect(sent).toBe(true)

    // n8n's own record of the run: a successful webhook execution with the alert as its item.
    // n8n (sqlite, no pool) marks the execution finished, then writes its data in a second statement: wait for both.
    const execution = await until(
      'n8n saved the execution',
      () =>
        savedRun('hsTriggerOnAlert')
          .then((r) => (r.data.resultData.runData['Record alert seen']?.[0]?.data ? r : undefined))
          .catch(() => undefined),
      30_000,
      250,
    )
    expect(execution).toMatchObject({ status: 'success', mode: 'webhook' })
    const runData = execution.data.resultData.runData
    expect(runData['Homeostat Trigger']![0]!.data!.main[0]![0]!.json).toMatchObject({
      event: 'fired',
      id: alertId,
      title,
      severity: 'critical',
      labels: { alertname: title, service: 'qdrant' },
    })
    expect(runData['Record alert seen']![0]!.data!.main[0]![0]!.json).toMatchObject({
      recorded: true,
      name: 'n8n_alerts_seen_total',
    })
  }, 180_000)

  it("(f) the credential Test in n8n runs the nodes' testedBy method for the installed package and shows Homeostat's message", async () => {
    // The REST calls the editor makes: set up the owner (it takes over the imported credentials), then test.
    async function owner(url: string) {
      const headers: Record<string, string> = { 'Content-Type': 'application/json', 'browser-id': 'homeostat-e2e' }
      const setup = await fetch(`${url}/rest/owner/setup`, {
        method: 'POST',
        headers,
        body: JSON.stringify({
          email: 'owner@example.com',
          firstName: 'E2e',
          lastName: 'Owner',
          password: 'Homeostat-e2e-1',
        }),
      })
      expect(setup.status, await setup.clone().text()).toBe(200)
      headers.Cookie = setup.headers
        .getSetCookie()
        .map((c) => c.split(';')[0])
        .join('; ')
      const test = async (id: string, data: { baseUrl: string; apiKey: string }) => {
        const res = await fetch(`${url}/rest/credentials/test`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ credentials: { id, name: 'Homeostat', type: 'homeostatApi', data } }),
        })
        expect(res.status, await res.clone().text()).toBe(200)
        return ((await res.json()) as { data: { status: string; message: string } }).data
      }
      /** What the editor reads to show the Test button: the node types naming `testedBy` for our credential. */
      const testedBy = async (prefix: string) => {
        const types = (await (await fetch(`${url}/types/nodes.json`, { headers })).json()) as {
          name: string
          credentials?: { name: string; testedBy?: string }[]
        }[]
        return Object.fromEntries(
          types
            .filter((t) => t.name.startsWith(prefix))
            .map((t) => [t.name, t.credentials?.find((c) => c.name === 'homeostatApi')?.testedBy]),
        )
      }
      /** The editor shows the Test button when a credential has `test` or one of its `supportedNodes` names `testedBy`. */
      const supportedNodes = async () => {
        const types = (await (await fetch(`${url}/types/credentials.json`, { headers })).json()) as {
          name: string
          test?: unknown
          supportedNodes?: string[]
        }[]
        const ours = types.find((t) => t.name === 'homeostatApi')
        expect(ours).toBeDefined()
        expect(ours!.test).toBeUndefined()
        return ours!.supportedNodes
      }
      return { test, testedBy, supportedNodes }
    }

    // 1. The n8n of (d) loads the package from N8N_CUSTOM_EXTENSIONS: n8n 1.123's CustomDirectoryLoader
    //    records no supported nodes for a credential, so its CredentialsTester never reaches a node's
    //    testedBy (the README says so).
    expect(n8nUrl, 'n8n start from (d)').toBeTruthy()
    const custom = await owner(n8nUrl!)
    expect(await custom.testedBy('CUSTOM.homeostat')).toMatchObject({
      'CUSTOM.homeostatAlert': 'homeostatApiTest',
      'CUSTOM.homeostatTrigger': 'homeostatApiTest',
    })
    expect(await custom.supportedNodes()).toBeUndefined() // so the editor shows no Test button either
    expect(await custom.test(CREDENTIAL_ID, { baseUrl: server.url, apiKey })).toEqual({
      status: 'Error',
      message: 'No testing function found for this credential.',
    })

    // 2. Installed as users install it (npm install in ~/.n8n/nodes, or the Community Nodes UI): the
    //    package in <user folder>/.n8n/nodes/node_modules, loaded by n8n's package loader.
    const user2 = join(work, 'user2')
    cpSync(join(work, 'custom/package'), join(user2, '.n8n/nodes/node_modules/n8n-nodes-homeostat'), {
      recursive: true,
    })
    // Without N8N_CUSTOM_EXTENSIONS (even an empty one makes n8n scan its working directory).
    const { N8N_CUSTOM_EXTENSIONS: _custom, ...withoutCustom } = n8nEnv
    const env2 = { ...withoutCustom, N8N_USER_FOLDER: user2 }
    const [node, bin] = n8nBin()
    const imported = await run(
      node,
      [bin, 'import:credentials', `--input=${join(work, 'credentials.json')}`],
      env2,
      120_000,
    )
    expect(imported.code, imported.stderr.slice(-2000)).toBe(0)
    const port = await freePort()
    let output = ''
    second = spawn(node, [bin, 'start'], {
      cwd: user2,
      env: { ...process.env, ...env2, N8N_PORT: String(port), N8N_LISTEN_ADDRESS: '127.0.0.1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    second.stdout!.on('data', (d: Buffer) => (output += d.toString()))
    second.stderr!.on('data', (d: Buffer) => (output += d.toString()))
    const url2 = `http://127.0.0.1:${port}`
    await until(
      'the second n8n answers',
      async () => {
        if (second!.exitCode !== null) throw new Error(`n8n start exited\n${output}`)
        // /healthz answers before the REST routes are mounted: wait for one of those.
        return (await fetch(`${url2}/rest/settings`).catch(() => undefined))?.ok ? true : undefined
      },
      90_000,
      500,
    )
    const installed = await owner(url2)
    expect(await installed.testedBy('n8n-nodes-homeostat.')).toMatchObject({
      'n8n-nodes-homeostat.homeostatAlert': 'homeostatApiTest',
      'n8n-nodes-homeostat.homeostatHeal': 'homeostatApiTest',
      'n8n-nodes-homeostat.homeostatMetricsRecord': 'homeostatApiTest',
      'n8n-nodes-homeostat.homeostatTrigger': 'homeostatApiTest',
    })
    expect(await installed.supportedNodes()).toEqual(
      expect.arrayContaining([
        'n8n-nodes-homeostat.homeostatAlert',
        'n8n-nodes-homeostat.homeostatHeal',
        'n8n-nodes-homeostat.homeostatMetricsRecord',
        'n8n-nodes-homeostat.homeostatTrigger',
      ]),
    )
    const good = await installed.test(CREDENTIAL_ID, { baseUrl: server.url, apiKey })
    expect(good).toEqual({ status: 'OK', message: expect.stringMatching(/^Signed in as hs_\w+ \(operator\)$/) })
    expect(await installed.test(BAD_CREDENTIAL_ID, { baseUrl: server.url, apiKey: 'hs_not_a_real_key' })).toEqual({
      status: 'Error',
      message: 'Homeostat: API key not recognised [HTTP 401]',
    })
    // n8n's own web server is not Homeostat.
    const notHomeostat = await installed.test(CREDENTIAL_ID, { baseUrl: url2, apiKey })
    expect(notHomeostat.status).toBe('Error')
    expect(notHomeostat.message).toMatch(
      new RegExp(`^(No Homeostat API at ${url2}:|${url2} answered HTTP \\d+ to /api/v1/whoami)`),
    )
    const closed = `http://127.0.0.1:${await freePort()}`
    expect(await installed.test(CREDENTIAL_ID, { baseUrl: closed, apiKey })).toEqual({
      status: 'Error',
      message: expect.stringMatching(
        new RegExp(`^Could not reach Homeostat at ${closed}: connection refused \\(.*ECONNREFUSED`),
      ),
    })
    console.log(`credential Test in n8n (installed package): ${good.message} | ${notHomeostat.message}`)
  }, 180_000)
})
