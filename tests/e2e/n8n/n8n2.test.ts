/**
 * n8n-nodes-homeostat inside a real n8n 2.x (2.41.1 on Node 24, the newest 2.x installable here;
 * installed once into its own cache by `install-n8n.sh 2`), beside the n8n 1.123 suite (n8n.test.ts).
 * The same packed package and example workflows: metrics from a Code node, an alert fired and
 * resolved by version 1 nodes, Continue On Fail past a wrong key, and the Alert and Heal version 2
 * nodes beside a version 1 node; each run judged by n8n's run data and by what Homeostat stored.
 * A subset of the 1.123 suite, to keep CI's time: the package code is the same for both.
 */
import { type Client, createClient } from '@libsql/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { items, type N8nCli, n8nWithPackage } from '../../helpers/n8n-cli.ts'
import { cliKey, killAll, type RunningServer, run, startServer } from '../../helpers/server.ts'
import { checkFireAndResolve, checkNodeVersions } from './checks.ts'

let cli: N8nCli
let server: RunningServer
let db: Client

beforeAll(async () => {
  server = await startServer()
  db = createClient({ url: server.env.DATABASE_URL! })
  const apiKey = await cliKey(server, 'n8n2', 'operator')
  cli = await n8nWithPackage({
    major: 2,
    baseUrl: server.url,
    apiKey,
    workflows: ['record-metrics.json', 'fire-and-resolve-alert.json', 'continue-on-fail.json', 'node-versions.json'],
  })
}, 45 * 60_000)
afterAll(async () => {
  db?.close()
  await killAll()
  cli?.close()
})

const pointsOf = async (name: string) =>
  Number(
    (
      await db.execute({
        sql: 'select count(*) from (select series_id, ts from points union select series_id, ts from points_inbox) p join series s on s.id = p.series_id where s.name = ?',
        args: [name],
      })
    ).rows[0]![0],
  )

describe('n8n-nodes-homeostat in n8n 2.x', () => {
  it('is n8n 2.x on Node 24', async () => {
    expect(cli.version).toMatch(/^2\.\d+\.\d+/)
    expect((await run(cli.bin[0], ['--version'], {})).stdout.trim()).toMatch(/^v24\./)
  })

  it("records metrics from a Code node's items", async () => {
    const result = await cli.execute('hsRecordMetrics1')
    expect(result.status, JSON.stringify(result.data.resultData.error)).toBe('success')
    const out = items(result, 'Record duration')
    expect(out).toHaveLength(30)
    expect(out.every((i, n) => i.json.recorded === true && i.pairedItem?.item === n)).toBe(true)
    expect(await pointsOf('agent_run_duration_seconds')).toBe(30)
  })

  it('fires and then resolves an alert (version 1 Alert nodes)', async () => {
    await checkFireAndResolve(await cli.execute('hsFireAndResolve'), server)
  })

  it('goes on past a wrong API key with Continue On Fail', async () => {
    const result = await cli.execute('hsContinueOnFail')
    expect(result.status, JSON.stringify(result.data.resultData.error)).toBe('success')
    const failed = items(result, 'Record with wrong key')
    expect(failed).toHaveLength(3)
    for (const item of failed)
      expect(item.json).toMatchObject({ error: expect.stringMatching(/^Homeostat: .*\[HTTP 401\]$/), httpCode: '401' })
    expect(items(result, 'Record that it went on').map((i) => i.json.recorded)).toEqual([true, true, true])
    expect(await pointsOf('n8n_continue_on_fail_errors')).toBe(3)
  })

  it('runs Alert and Heal version 2 nodes (Resource → Operation) beside a version 1 node', async () => {
    await checkNodeVersions(await cli.execute('hsNodeVersions1'), server)
  })
})
