/**
 * Faults, the n8n poll: the server reads an n8n instance's executions (tests/helpers/fake-n8n.ts
 * behind a local proxy that can hold requests) and is killed with SIGKILL in the middle of a poll,
 * with the second page of executions never answered. After a restart on the same database the
 * next poll reads from where the last completed state left it: every execution is recorded once,
 * and each workflow's run counts match its executions (none counted twice).
 */
import { createServer, request, type ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { api, hardKill, openDbFile, restart, scalar, startFaultServer } from '../helpers/faults.ts'
import { startFakeN8n } from '../helpers/fake-n8n.ts'
import { listenLocal } from '../helpers/http.ts'
import { cliKey, killAll, until } from '../helpers/server.ts'

const API_KEY = 'n8n-faults-key'
const EXECUTIONS = 600
let n8n: Awaited<ReturnType<typeof startFakeN8n>>
let proxyUrl = ''
let holdPages = false
const held: ServerResponse[] = []
/** Forwards to the fake n8n; while `holdPages`, a request for a later page of executions is never answered. */
const proxy = createServer((req, res) => {
  if (holdPages && req.url?.startsWith('/api/v1/executions') && req.url.includes('cursor=')) {
    held.push(res)
    return
  }
  const target = new URL(req.url ?? '/', n8n.url)
  const out = request(target, { method: req.method, headers: req.headers }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers)
    answer.pipe(res)
  })
  req.pipe(out)
})

beforeAll(async () => {
  n8n = await startFakeN8n({ apiKey: API_KEY })
  n8n.addWorkflow('w1', 'Sync CRM', true)
  n8n.addWorkflow('w2', 'Inbound hook', true)
  const at = Date.now() - 3_600_000
  for (let i = 1; i <= EXECUTIONS; i++) {
    const started = at + i * 1000
    n8n.addExecution(String(i), i % 10 === 0 ? 'error' : 'success', i % 2 ? 'w1' : 'w2', {
      startedAt: new Date(started).toISOString(),
      stoppedAt: new Date(started + 500).toISOString(),
      mode: 'trigger',
    })
  }
  proxyUrl = await listenLocal(proxy)
})
afterAll(async () => {
  await killAll()
  for (const res of held) res.destroy()
  proxy.closeAllConnections()
  await new Promise((r) => proxy.close(r))
  await n8n?.close()
})

describe('the n8n poll across a hard kill', () => {
  it('records every execution once and resumes from the last completed poll', async () => {
    const first = await startFaultServer()
    const admin = api(first, await cliKey(first, 'n8n-admin', 'admin'))
    const made = await admin('POST', '/api/v1/healing/n8n-instances', {
      name: 'prod',
      baseUrl: proxyUrl,
      apiKey: API_KEY,
    })
    expect(made.status, made.text).toBe(201)
    holdPages = true
    void admin('POST', '/api/v1/n8n/health/poll', {}).catch(() => {}) // dies with the server
    await until('the poll waiting for page 2', () => (held.length ? true : undefined), 30_000)
    await hardKill(first)

    holdPages = false
    const second = await restart(first)
    const again = api(second, await cliKey(second, 'n8n-admin-2', 'admin'))
    const polled = await again('POST', '/api/v1/n8n/health/poll', {})
    expect(polled.status, polled.text).toBe(200)
    // A later poll finds nothing new and records nothing twice.
    expect((await again('POST', '/api/v1/n8n/health/poll', {})).status).toBe(200)

    const db = openDbFile(second)
    try {
      expect(await scalar(db, 'select count(*) from n8n_executions')).toBe(EXECUTIONS)
      expect(await scalar(db, 'select count(distinct id) from n8n_executions')).toBe(EXECUTIONS)
      expect(await scalar(db, 'select max(cast(id as integer)) from n8n_executions')).toBe(EXECUTIONS)
      const counted = await db.execute('select workflow_id, counts from n8n_workflows order by workflow_id')
      const total = counted.rows.reduce(
        (sum, r) =>
          sum + Object.values(JSON.parse(String(r.counts)) as Record<string, number>).reduce((a, b) => a + b, 0),
        0,
      )
      expect(total, JSON.stringify(counted.rows)).toBe(EXECUTIONS)
    } finally {
      db.close()
    }
  }, 110_000)
})
