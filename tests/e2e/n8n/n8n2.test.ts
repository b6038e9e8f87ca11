/**
 * n8n-nodes-homeostat inside a real n8n 2.x (2.41.1 on Node 24, the newest 2.x installable here;
 * installed once into its own cache by `install-n8n.sh 2`): every case of the n8n 1.123 suite
 * (n8n.test.ts), through the same functions (checks*.ts), the same packed package and example workflows.
 * Each `n8n execute` boots a whole n8n 2.x (task broker and runner included), so here one `n8n start`
 * is shared by every case: the workflows run as the editor runs them (`POST /rest/workflows/:id/run`),
 * their results read back from n8n's database; the Trigger's workflow is published in the running n8n
 * (docs/n8n-nodes.md#n8n-versions lists what differs from 1.123).
 */
import { type Client, createClient } from '@libsql/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type N8nCli, n8nWithPackage } from '../../helpers/n8n-cli.ts'
import { type StartedN8n, startN8n } from '../../helpers/n8n-start.ts'
import { cliKey, killAll, type RunningServer, run, startServer } from '../../helpers/server.ts'
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
let n8n: StartedN8n

beforeAll(async () => {
  server = await startServer()
  db = createClient({ url: server.env.DATABASE_URL! })
  const apiKey = await cliKey(server, 'n8n2', 'operator')
  cli = await n8nWithPackage({ major: 2, baseUrl: server.url, apiKey })
  n8n = await startN8n(cli)
  suite = { server, db, apiKey, cli, run: (id, timeoutMs) => n8n.run(id, timeoutMs) }
}, 45 * 60_000)
afterAll(async () => {
  await n8n?.stop()
  db?.close()
  await killAll()
  cli?.close()
})

describe('n8n-nodes-homeostat in n8n 2.x', () => {
  it('is n8n 2.x on Node 24', async () => {
    expect(cli.version).toMatch(/^2\.\d+\.\d+/)
    expect((await run(cli.bin[0], ['--version'], {})).stdout.trim()).toMatch(/^v24\./)
  })

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
    // n8n 2.x: published in the running n8n, which starts its trigger (and subscribes) at once.
    await n8n.publish('hsTriggerOnAlert')
    await checkTrigger(suite, n8n)
  }, 300_000)

  it(
    "(f) the credential Test in n8n runs the nodes' testedBy method for the installed package and shows Homeostat's message",
    () => checkCredentialTest(suite, n8n),
    300_000,
  )
})
