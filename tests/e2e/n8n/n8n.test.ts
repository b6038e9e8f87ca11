/**
 * The n8n-nodes-homeostat package inside a real n8n 1.123.x (installed once into a cache outside
 * the repo by install-n8n.sh): the packed tarball is loaded with N8N_CUSTOM_EXTENSIONS, the example
 * workflows in ./workflows are imported and each is run by `n8n execute` against a real Homeostat
 * server; the Trigger and the credential Test run in `n8n start`. The cases are shared with the n8n
 * 2.x suite (n8n2.test.ts) through checks*.ts. Prints the Record node's figure: items/s through a real
 * n8n execution of 10 000 items, and the number of HTTP requests Homeostat counted for it.
 */
import { type Client, createClient } from '@libsql/client'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { type N8nCli, n8nWithPackage } from '../../helpers/n8n-cli.ts'
import { type StartedN8n, startN8n } from '../../helpers/n8n-start.ts'
import { cliKey, killAll, type RunningServer, startServer } from '../../helpers/server.ts'
import {
  checkContinueOnFail,
  checkFireAndResolve,
  checkNodeVersions,
  checkRecordMetrics,
  type Suite,
} from './checks.ts'
import { checkBackupHistory, checkHealFailover, checkTenThousand } from './checks-heal-backup.ts'
import { checkCredentialTest, checkTrigger } from './checks-start.ts'

let cli: N8nCli
let server: RunningServer
let db: Client
let suite: Suite
/** The `n8n start` begun in (d), shared with (f). */
let started: StartedN8n | undefined

beforeAll(async () => {
  // Homeostat, then n8n 1.123 (installed once per machine: a few minutes the first time, instant after)
  // with the package built, packed and loaded, the credentials and every example workflow imported.
  server = await startServer()
  db = createClient({ url: server.env.DATABASE_URL! })
  const apiKey = await cliKey(server, 'n8n', 'operator')
  cli = await n8nWithPackage({ major: 1, baseUrl: server.url, apiKey })
  suite = { server, db, apiKey, cli, run: (id, timeoutMs) => cli.execute(id, timeoutMs) }
}, 40 * 60_000)

afterAll(async () => {
  await started?.stop()
  db?.close()
  await killAll()
  cli?.close()
})

describe('n8n-nodes-homeostat in n8n 1.123', () => {
  it("(a) records metrics from a Code node's items", () => checkRecordMetrics(suite))

  it('(b) fires and then resolves an alert', () => checkFireAndResolve(suite))

  it('(h) runs Alert and Heal version 2 nodes (Resource → Operation) beside a version 1 node', () =>
    checkNodeVersions(suite))

  it('(c) goes on past a wrong API key with Continue On Fail', () => checkContinueOnFail(suite))

  it(
    "(e) calls an LLM through the route's active target, reports failures, and the route fails over",
    () => checkHealFailover(suite),
    180_000,
  )

  it(
    "(g) the Backup node reads an n8n workflow's history and diff, rolls it back, backs up and lists",
    () => checkBackupHistory(suite),
    180_000,
  )

  it('records 10 000 items in batches of 1 000 (figure: items/s and HTTP requests)', async () => {
    await checkTenThousand(suite)
  }, 300_000)

  it('(d) an active Trigger in `n8n start` receives an alert fired through Homeostat and records a metric back', async () => {
    // n8n 1.x: activated in the database, so `n8n start` starts its trigger (and subscribes) at boot.
    await cli.n8n(['update:workflow', '--id=hsTriggerOnAlert', '--active=true'])
    started = await startN8n(cli)
    await checkTrigger(suite, started)
  }, 300_000)

  it("(f) the credential Test in n8n runs the nodes' testedBy method for the installed package and shows Homeostat's message", async () => {
    if (!started) throw new Error('needs the n8n start of (d)')
    await checkCredentialTest(suite, started)
  }, 300_000)
})
