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
import { n8nCases } from './cases.ts'
import type { Suite } from './checks.ts'

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

  n8nCases(
    () => suite,
    async () => {
      // n8n 2.x: published in the running n8n, which starts its trigger (and subscribes) at once.
      await n8n.publish('hsTriggerOnAlert')
      return n8n
    },
  )
})
