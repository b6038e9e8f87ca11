/**
 * The n8n-nodes-homeostat package inside a real n8n 1.123.x (installed once into a cache outside
 * the repo by install-n8n.sh): the packed tarball is loaded with N8N_CUSTOM_EXTENSIONS, the example
 * workflows in ./workflows are imported and each is run by `n8n execute` against a real Homeostat
 * server; the Trigger and the credential Test run in `n8n start`. The cases are shared with the n8n
 * 2.x suite (n8n2.test.ts) through checks*.ts. Prints the Record node's figure: items/s through a real
 * n8n execution of 10 000 items, and the number of HTTP requests Homeostat counted for it.
 */
import { type Client, createClient } from '@libsql/client'
import { afterAll, beforeAll, describe } from 'vitest'
import { type N8nCli, n8nWithPackage } from '../../helpers/n8n-cli.ts'
import { type StartedN8n, startN8n } from '../../helpers/n8n-start.ts'
import { cliKey, killAll, type RunningServer, startServer } from '../../helpers/server.ts'
import { n8nCases } from './cases.ts'
import type { Suite } from './checks.ts'

let cli: N8nCli
let server: RunningServer
let db: Client
let suite: Suite
/** The `n8n start` begun in (d), shared with (f); stopped after all. */
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
  n8nCases(
    () => suite,
    async () => {
      // n8n 1.x: activated in the database, so `n8n start` starts its trigger (and subscribes) at boot.
      await cli.n8n(['update:workflow', '--id=hsTriggerOnAlert', '--active=true'])
      started = await startN8n(cli)
      return started
    },
  )
})
