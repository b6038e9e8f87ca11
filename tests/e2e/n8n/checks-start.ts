/**
 * Cases both n8n suites run in `n8n start` (see checks.ts): (d) an active Homeostat Trigger, and (f)
 * the credential Test as the editor calls it, for the package loaded from a folder and installed as
 * users install it.
 */
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { expect } from 'vitest'
import { BAD_CREDENTIAL_ID, CREDENTIAL_ID, type N8nCli } from '../../helpers/n8n-cli.ts'
import { type StartedN8n, startN8n } from '../../helpers/n8n-start.ts'
import { cliKey, freePort, run, until } from '../../helpers/server.ts'
import { count, type Suite } from './checks.ts'

/**
 * (d) trigger-on-alert.json, active in the running `n8n` (activated before the start in 1.123, published
 * through the REST API in 2.x): it subscribes through /api/v1/webhooks, an alert fired through
 * Homeostat starts it, and it records a metric back.
 */
export async function checkTrigger(s: Suite, n8n: StartedN8n) {
  const operator = { Authorization: `Bearer ${await cliKey(s.server, 'op', 'operator')}` }
  // Activation subscribes the trigger's production URL through /api/v1/webhooks.
  const sub = await until(
    'the trigger subscribed',
    async () => {
      const list = (await (await s.server.fetch('/api/v1/webhooks', { headers: operator })).json()) as {
        items: { id: string; events: string[]; url: string }[]
      }
      return list.items[0]
    },
    90_000,
    500,
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n${n8n.output().slice(-4000)}`)
  })
  expect(sub.events).toEqual(['fired', 'resolved'])
  expect(sub.url).toContain(`${n8n.url}/`)

  const title = 'Vector store unreachable'
  const fired = await s.server.fetch('/api/v1/alerts', {
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
      const rows = (await s.db.execute("select labels from series where name = 'n8n_alerts_seen_total'")).rows
      return rows.length ? rows.map((r) => JSON.parse(String(r[0])) as Record<string, string>) : undefined
    },
    60_000,
    250,
  ).catch(async (e: Error) => {
    const deliveries = (
      await s.db.execute({
        sql: 'select kind, status, attempts, last_error, response from notifications where subscription_id = ?',
        args: [sub.id],
      })
    ).rows
    throw new Error(`${e.message}\ndeliveries: ${JSON.stringify(deliveries)}\n${n8n.output().slice(-4000)}`)
  })
  expect(seen).toEqual([{ alert: title, event: 'fired', severity: 'critical' }])
  // …and Homeostat's outbox recorded the delivery as sent.
  const sent = await until(
    'the delivery is marked sent',
    async () =>
      (await count(s, "select count(*) from notifications where subscription_id = ? and status = 'sent'", [sub.id])) > 0
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
      s.cli
        .savedRun('hsTriggerOnAlert')
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
}

/**
 * The editor's `/types/<kind>.json`. Retried on a dropped connection: under load n8n closed a kept-alive
 * socket just as the next request went out on it ("other side closed").
 */
const typesOf = (n8n: StartedN8n, kind: 'nodes' | 'credentials') =>
  until(
    `n8n serves /types/${kind}.json`,
    async () => {
      const res = await fetch(`${n8n.url}/types/${kind}.json`, { headers: n8n.headers })
      expect(res.status).toBe(200)
      return (await res.json()) as unknown
    },
    60_000,
    500,
  )

/** What the editor calls for the credential Test, in one n8n with the owner signed in. */
function editor(n8n: StartedN8n) {
  const test = async (id: string, data: { baseUrl: string; apiKey: string }) =>
    n8n.rest<{ status: string; message: string }>('POST', '/credentials/test', {
      credentials: { id, name: 'Homeostat', type: 'homeostatApi', data },
    })
  /** What the editor reads to show the Test button: the node types naming `testedBy` for our credential. */
  const testedBy = async (prefix: string) => {
    const types = (await typesOf(n8n, 'nodes')) as {
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
    const types = (await typesOf(n8n, 'credentials')) as {
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

/**
 * (f) The credential Test in n8n runs the nodes' testedBy method for the installed package and shows
 * Homeostat's message. `custom` is the n8n of (d), which loads the package from N8N_CUSTOM_EXTENSIONS;
 * a second `n8n start` loads it installed as users install it.
 */
export async function checkCredentialTest(s: Suite, custom: StartedN8n) {
  // 1. Loaded from N8N_CUSTOM_EXTENSIONS, n8n's CustomDirectoryLoader records no supported nodes for a
  //    credential, so its CredentialsTester never reaches a node's testedBy (the README says so).
  const folder = editor(custom)
  expect(await folder.testedBy('CUSTOM.homeostat')).toMatchObject({
    'CUSTOM.homeostatAlert': 'homeostatApiTest',
    'CUSTOM.homeostatTrigger': 'homeostatApiTest',
  })
  expect(await folder.supportedNodes()).toBeUndefined() // so the editor shows no Test button either
  expect(await folder.test(CREDENTIAL_ID, { baseUrl: s.server.url, apiKey: s.apiKey })).toEqual({
    status: 'Error',
    message: 'No testing function found for this credential.',
  })

  // 2. Installed as users install it (npm install in ~/.n8n/nodes, or the Community Nodes UI): the
  //    package in <user folder>/.n8n/nodes/node_modules, loaded by n8n's package loader.
  const installed = await installedPackageN8n(s.cli)
  try {
    const editor2 = editor(installed)
    expect(await editor2.testedBy('n8n-nodes-homeostat.')).toMatchObject({
      'n8n-nodes-homeostat.homeostatAlert': 'homeostatApiTest',
      'n8n-nodes-homeostat.homeostatHeal': 'homeostatApiTest',
      'n8n-nodes-homeostat.homeostatMetricsRecord': 'homeostatApiTest',
      'n8n-nodes-homeostat.homeostatTrigger': 'homeostatApiTest',
    })
    expect(await editor2.supportedNodes()).toEqual(
      expect.arrayContaining([
        'n8n-nodes-homeostat.homeostatAlert',
        'n8n-nodes-homeostat.homeostatHeal',
        'n8n-nodes-homeostat.homeostatMetricsRecord',
        'n8n-nodes-homeostat.homeostatTrigger',
      ]),
    )
    const good = await editor2.test(CREDENTIAL_ID, { baseUrl: s.server.url, apiKey: s.apiKey })
    expect(good).toEqual({ status: 'OK', message: expect.stringMatching(/^Signed in as hs_\w+ \(operator\)$/) })
    expect(await editor2.test(BAD_CREDENTIAL_ID, { baseUrl: s.server.url, apiKey: 'hs_not_a_real_key' })).toEqual({
      status: 'Error',
      message: 'Homeostat: API key not recognised [HTTP 401]',
    })
    // n8n's own web server is not Homeostat.
    const notHomeostat = await editor2.test(CREDENTIAL_ID, { baseUrl: installed.url, apiKey: s.apiKey })
    expect(notHomeostat.status).toBe('Error')
    expect(notHomeostat.message).toMatch(
      new RegExp(`^(No Homeostat API at ${installed.url}:|${installed.url} answered HTTP \\d+ to /api/v1/whoami)`),
    )
    const closed = `http://127.0.0.1:${await freePort()}`
    expect(await editor2.test(CREDENTIAL_ID, { baseUrl: closed, apiKey: s.apiKey })).toEqual({
      status: 'Error',
      message: expect.stringMatching(
        new RegExp(`^Could not reach Homeostat at ${closed}: connection refused \\(.*ECONNREFUSED`),
      ),
    })
    console.log(
      `credential Test in n8n ${s.cli.version} (installed package): ${good.message} | ${notHomeostat.message}`,
    )
  } finally {
    await installed.stop()
  }
}

/**
 * A second `n8n start` with its own user folder, the packed package copied into its
 * .n8n/nodes/node_modules and the credentials imported, without N8N_CUSTOM_EXTENSIONS (even an empty
 * one makes n8n scan its working directory).
 */
async function installedPackageN8n(cli: N8nCli) {
  const user2 = join(cli.work, 'user2')
  cpSync(join(cli.work, 'custom/package'), join(user2, '.n8n/nodes/node_modules/n8n-nodes-homeostat'), {
    recursive: true,
  })
  const { N8N_CUSTOM_EXTENSIONS: _custom, ...withoutCustom } = cli.env
  const env2 = { ...withoutCustom, N8N_USER_FOLDER: user2 }
  const [node, bin] = cli.bin
  const imported = await run(
    node,
    [bin, 'import:credentials', `--input=${join(cli.work, 'credentials.json')}`],
    { ...env2, ...(await cli.processEnv()) },
    180_000,
  )
  expect(imported.code, imported.stderr.slice(-2000)).toBe(0)
  return startN8n(cli, { env: env2, omit: ['N8N_CUSTOM_EXTENSIONS'], cwd: user2 })
}
