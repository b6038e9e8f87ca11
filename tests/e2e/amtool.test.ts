/**
 * The real `amtool` (Debian's prometheus-alertmanager 0.25) pointed at a real Homeostat server (Bun)
 * on 127.0.0.1, its key in an `--http.config.file` (Bearer for the operator, basic auth for the
 * viewer): it lists and filters Homeostat's alerts, adds, lists and expires silences, and shows the
 * status, each answer parsed by amtool's own generated client.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cliKey, freePort, killAll, run, startServer, until, type RunningServer } from '../helpers/server.ts'

const AMTOOL = process.env.AMTOOL_BIN ?? '/usr/bin/amtool'
const ALERTMANAGER = process.env.ALERTMANAGER_BIN ?? '/usr/bin/prometheus-alertmanager'

let server: RunningServer
let dir: string
let operatorConfig: string
let viewerConfig: string
let operator: Record<string, string>

/** amtool against Homeostat with one of the configs; fails with amtool's output when it exits non-zero. */
async function amtool(config: string, args: string[], expectCode = 0) {
  const result = await run(AMTOOL, [`--alertmanager.url=${server.url}`, `--http.config.file=${config}`, ...args], {
    HOME: dir,
  })
  expect(result.code, `amtool ${args.join(' ')}\n${result.stdout}\n${result.stderr}`).toBe(expectCode)
  return result
}
const json = async <T>(config: string, args: string[]) =>
  JSON.parse((await amtool(config, [...args, '-o', 'json'])).stdout) as T

type AmAlert = { labels: Record<string, string>; status: { state: string; silencedBy: string[] }; fingerprint: string }
type AmSilence = { id: string; status: { state: string }; matchers: { name: string; value: string }[]; comment: string }

async function fire(alertname: string, labels: Record<string, string>) {
  const res = await server.fetch('/api/v1/alerts', {
    method: 'POST',
    headers: { ...operator, 'Content-Type': 'application/json' },
    body: JSON.stringify({ title: alertname, severity: 'warning', status: 'firing', labels: { alertname, ...labels } }),
  })
  expect(res.status, await res.clone().text()).toBeLessThan(300)
}

beforeAll(async () => {
  if (!existsSync(AMTOOL))
    throw new Error(
      `${AMTOOL} not found: this test needs the real amtool. Install it with: apt-get install -y prometheus-alertmanager (or set AMTOOL_BIN)`,
    )
  server = await startServer({ runtime: 'bun' })
  dir = mkdtempSync(join(tmpdir(), 'homeostat-amtool-'))
  const opKey = await cliKey(server, 'amtool-operator', 'operator')
  const viewerKey = await cliKey(server, 'amtool-viewer', 'viewer')
  operator = { Authorization: `Bearer ${opKey}` }
  // amtool's --http.config.file is Prometheus's common HTTP client config (JSON is YAML).
  operatorConfig = join(dir, 'operator.yml')
  writeFileSync(operatorConfig, JSON.stringify({ authorization: { type: 'Bearer', credentials: opKey } }))
  viewerConfig = join(dir, 'viewer.yml')
  writeFileSync(viewerConfig, JSON.stringify({ basic_auth: { username: 'amtool', password: viewerKey } }))
  await fire('DiskFull', { instance: 'db-1', env: 'prod' })
  await fire('AgentDown', { instance: 'agent-7', env: 'stage' })
})

let alertmanager: ChildProcess | undefined
afterAll(async () => {
  alertmanager?.kill('SIGKILL')
  await killAll()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('amtool 0.25 against Homeostat', () => {
  it('alert query lists the open alerts (basic auth, viewer key)', async () => {
    const list = await json<AmAlert[]>(viewerConfig, ['alert', 'query'])
    expect(list.map((a) => a.labels.alertname).sort()).toEqual(['AgentDown', 'DiskFull'])
    expect(list.every((a) => a.status.state === 'active' && /^[0-9a-f]{16}$/.test(a.fingerprint))).toBe(true)
    // The simple (table) output parses the same answer.
    const text = (await amtool(viewerConfig, ['alert', 'query'])).stdout
    expect(text).toMatch(/Alertname/)
    expect(text).toMatch(/DiskFull/)
  })

  it('alert query with matchers filters by labels', async () => {
    const byName = await json<AmAlert[]>(viewerConfig, ['alert', 'query', 'alertname=DiskFull'])
    expect(byName.map((a) => a.labels.instance)).toEqual(['db-1'])
    const byRegex = await json<AmAlert[]>(viewerConfig, ['alert', 'query', 'env=~"st.*"'])
    expect(byRegex.map((a) => a.labels.alertname)).toEqual(['AgentDown'])
  })

  let silenceId = ''
  it('silence add makes a Homeostat silence that suppresses the alert', async () => {
    const out = await amtool(operatorConfig, [
      'silence',
      'add',
      'alertname=DiskFull',
      '--duration',
      '1h',
      '--comment',
      'c',
    ])
    silenceId = out.stdout.trim()
    expect(silenceId).toMatch(/^[0-9A-Z]{26}$/)
    const res = await server.fetch(`/api/v1/silences/${silenceId}`, { headers: operator })
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({
      state: 'active',
      comment: 'c',
      matchers: [{ label: 'alertname', op: '=', value: 'DiskFull' }],
    })
    const all = await json<AmAlert[]>(viewerConfig, ['alert', 'query', '--silenced'])
    const disk = all.find((a) => a.labels.alertname === 'DiskFull')!
    expect(disk.status).toMatchObject({ state: 'suppressed', silencedBy: [silenceId] })
    // amtool's default query leaves silenced alerts out.
    const shown = await json<AmAlert[]>(viewerConfig, ['alert', 'query'])
    expect(shown.map((a) => a.labels.alertname)).toEqual(['AgentDown'])
  })

  it('silence query lists it; a viewer may not add one', async () => {
    const list = await json<AmSilence[]>(viewerConfig, ['silence', 'query'])
    expect(list).toHaveLength(1)
    expect(list[0]).toMatchObject({ id: silenceId, status: { state: 'active' }, comment: 'c' })
    const refused = await amtool(
      viewerConfig,
      ['silence', 'add', 'alertname=X', '--duration', '1h', '--comment', 'c'],
      1,
    )
    expect(refused.stderr).toMatch(/403|forbidden/i)
  })

  it('silence expire ends it, and the alert is active again', async () => {
    await amtool(operatorConfig, ['silence', 'expire', silenceId])
    const res = await server.fetch(`/api/v1/silences/${silenceId}`, { headers: operator })
    expect(((await res.json()) as { state: string }).state).toBe('expired')
    expect(await json<AmSilence[]>(viewerConfig, ['silence', 'query'])).toEqual([])
    const expired = await json<AmSilence[]>(viewerConfig, ['silence', 'query', '--expired'])
    expect(expired.map((s) => s.id)).toEqual([silenceId])
    const shown = await json<AmAlert[]>(viewerConfig, ['alert', 'query'])
    expect(shown.map((a) => a.labels.alertname).sort()).toEqual(['AgentDown', 'DiskFull'])
  })

  it('cluster show reads the status', async () => {
    const out = await amtool(viewerConfig, ['cluster', 'show'])
    expect(out.stdout).toMatch(/Cluster Status:\s+disabled/)
    expect(await json(viewerConfig, ['cluster', 'show'])).toEqual({ name: 'homeostat', peers: [], status: 'disabled' })
  })

  it('config routes reads the routing tree from the status (policies and channels)', async () => {
    // A channel (never sent to here: no alert changes after it is made) and a policy routing env=prod to it.
    const admin = {
      Authorization: `Bearer ${await cliKey(server, 'amtool-admin', 'admin')}`,
      'Content-Type': 'application/json',
    }
    const ch = await server.fetch('/api/v1/channels', {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({ name: 'oncall', type: 'webhook', settings: { url: 'http://127.0.0.1:9/oncall' } }),
    })
    expect(ch.status, await ch.clone().text()).toBe(201)
    const channelId = ((await ch.json()) as { id: string }).id
    const policy = await server.fetch('/api/v1/policies', {
      method: 'POST',
      headers: admin,
      body: JSON.stringify({
        name: 'prod',
        matchers: [{ label: 'env', op: '=', value: 'prod' }],
        channelIds: [channelId],
        groupBy: ['alertname'],
      }),
    })
    expect(policy.status, await policy.clone().text()).toBe(201)
    // amtool parses config.original with Alertmanager's own config loader.
    const tree = (await amtool(viewerConfig, ['config', 'routes', 'show'])).stdout
    expect(tree).toMatch(/Routing tree:/)
    expect(tree).toMatch(/receiver: homeostat/)
    expect(tree).toMatch(/\{env="prod"\}\s+receiver: oncall/)
    const routed = await amtool(viewerConfig, ['config', 'routes', 'test', 'env=prod'])
    expect(routed.stdout.trim()).toBe('oncall')
    expect((await amtool(viewerConfig, ['config', 'routes', 'test', 'env=dev'])).stdout.trim()).toBe('homeostat')
    const receivers = await json<AmAlert & { receivers: { name: string }[] }[]>(viewerConfig, [
      'alert',
      'query',
      'env=prod',
    ])
    expect(receivers.map((a) => a.receivers)).toEqual([[{ name: 'oncall' }]])
  })

  it("reads its settings from Debian's ~/.config/prometheus/amtool.yml, as the docs show", async () => {
    mkdirSync(join(dir, '.config/prometheus'), { recursive: true })
    writeFileSync(
      join(dir, '.config/prometheus/amtool.yml'),
      JSON.stringify({ 'alertmanager.url': server.url, 'http.config.file': viewerConfig }),
    )
    const out = await run(AMTOOL, ['alert', 'query', 'alertname=AgentDown', '-o', 'json'], { HOME: dir })
    expect(out.code, out.stderr).toBe(0)
    expect((JSON.parse(out.stdout) as AmAlert[]).map((a) => a.labels.instance)).toEqual(['agent-7'])
  })

  it('gives an alert the fingerprint a real Alertmanager 0.25 gives the same labels', async () => {
    if (!existsSync(ALERTMANAGER))
      throw new Error(`${ALERTMANAGER} not found: apt-get install -y prometheus-alertmanager`)
    const amDir = join(dir, 'am')
    mkdirSync(amDir)
    writeFileSync(join(amDir, 'am.yml'), JSON.stringify({ route: { receiver: 'null' }, receivers: [{ name: 'null' }] }))
    const port = await freePort()
    // On loopback, no cluster (an empty listen address turns gossip off).
    alertmanager = spawn(
      ALERTMANAGER,
      [
        `--config.file=${join(amDir, 'am.yml')}`,
        `--storage.path=${amDir}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--cluster.listen-address=',
      ],
      { stdio: 'ignore' },
    )
    const am = `http://127.0.0.1:${port}`
    const labels = { alertname: 'DiskFull', instance: 'db-1', env: 'prod' }
    const theirs = await until(
      'Alertmanager to take the alert',
      async () => {
        await fetch(`${am}/api/v2/alerts`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify([{ labels }]),
          signal: AbortSignal.timeout(2_000),
        })
        const list = (await (
          await fetch(`${am}/api/v2/alerts`, { signal: AbortSignal.timeout(2_000) })
        ).json()) as AmAlert[]
        return list[0]?.fingerprint
      },
      30_000,
      200,
    )
    const ours = await json<AmAlert[]>(viewerConfig, ['alert', 'query', 'alertname=DiskFull'])
    expect(ours[0]!.labels).toEqual(labels)
    expect(ours[0]!.fingerprint).toBe(theirs)
  })

  it('without a key amtool is refused', async () => {
    const empty = join(dir, 'none.yml')
    writeFileSync(empty, '{}')
    const out = await amtool(empty, ['alert', 'query'], 1)
    expect(out.stderr).toMatch(/401|unauthorized/i)
  })
})
