/**
 * Issue 16: what comes back from an outbound call is shown to operators only, truncated, and never
 * stored where viewers read it: channel tests, the notifications of an alert, healing outputs.
 */
import { createServer } from 'node:http'
import { sql } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { testApp } from '../helpers/app.ts'
import { listenLocal, readBody } from '../helpers/http.ts'

// A far end that answers with a large body holding something it should not (a metadata reply, say).
const LEAK = 'LEAKED-REPLY-42'
const big = `${LEAK}${'x'.repeat(5000)}`
const server = createServer(async (req, res) => {
  await readBody(req)
  res.writeHead(req.url?.startsWith('/fail') ? 500 : 200, { 'Content-Type': 'text/plain' }).end(big)
})
const base = await listenLocal(server)

const t = await testApp()
afterAll(async () => {
  await t.services.healing.settle()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  t.close()
})
const op = await t.key('operator')
const viewer = await t.key('viewer')
const viewerPage = await t.session('viewer')
const read = async (path: string, headers: Record<string, string>) => {
  const res = await t.app.request(path, { headers })
  expect(res.status, path).toBe(200)
  return res.text()
}

describe('replies of outbound calls', () => {
  it('a channel test: operators only, truncated to 1 KB', async () => {
    const res = await t.json(
      'POST',
      '/api/v1/channels',
      { name: 'far', type: 'webhook', settings: { url: `${base}/hook` } },
      op.headers,
    )
    const { id } = (await res.json()) as { id: string }
    expect((await t.json('POST', `/api/v1/channels/${id}/test`, {}, viewer.headers)).status).toBe(403)
    const reply = (await (await t.json('POST', `/api/v1/channels/${id}/test`, {}, op.headers)).json()) as {
      response: string
    }
    expect(reply.response).toContain(LEAK)
    expect(reply.response.length).toBeLessThanOrEqual(1100)
  })

  it("an alert's notifications: the reply body is not stored, and viewers get no response", async () => {
    const ch = await t.json(
      'POST',
      '/api/v1/channels',
      { name: 'far-route', type: 'webhook', settings: { url: `${base}/routed` } },
      op.headers,
    )
    const channelId = ((await ch.json()) as { id: string }).id
    const p = await t.json(
      'POST',
      '/api/v1/policies',
      {
        name: 'replies',
        matchers: [{ label: 'case', op: '=', value: 'reply' }],
        channelIds: [channelId],
        groupWait: 0,
      },
      op.headers,
    )
    expect(p.status, await p.clone().text()).toBe(201)
    const fired = await t.json(
      'POST',
      '/api/v1/alerts',
      { title: 'reply', severity: 'error', status: 'firing', labels: { case: 'reply' } },
      op.headers,
    )
    const alert = ((await fired.json()) as { alert: { id: string } }).alert
    await t.services.notifier.run(Date.now() + 60_000)
    const rows = await t.db.all<{ status: string; response: string | null }>(
      sql`select status, response from notifications where alert_id = ${alert.id}`,
    )
    expect(rows.map((r) => r.status)).toContain('sent')
    expect(JSON.stringify(rows)).not.toContain(LEAK)
    const listed = await read(`/api/v1/alerts/${alert.id}/notifications`, viewer.headers)
    expect(listed).toContain('sent')
    expect(listed).not.toContain(LEAK)
    expect(await read(`/alerts/${alert.id}`, viewerPage.headers)).not.toContain(LEAK)
  })

  it('healing outputs: viewers get no reply, operators a truncated one; the stored copy is truncated', async () => {
    const ok = await t.json(
      'POST',
      '/api/v1/healing/actions',
      { type: 'webhook', target: 'far', params: { url: `${base}/heal` } },
      op.headers,
    )
    const failing = await t.json(
      'POST',
      '/api/v1/healing/actions',
      { type: 'webhook', target: 'far-fail', maxAttempts: 1, params: { url: `${base}/fail` } },
      op.headers,
    )
    const ids = [((await ok.json()) as { id: string }).id, ((await failing.json()) as { id: string }).id]
    await t.services.healing.tick(Date.now())
    await t.services.healing.settle()
    for (const id of ids) {
      const asViewer = await read(`/api/v1/healing/actions/${id}`, viewer.headers)
      expect(asViewer).toMatch(/"status":"(SUCCESS|FAILED)"/)
      expect(asViewer).not.toContain(LEAK)
      expect(await read(`/api/v1/healing/actions?limit=50`, viewer.headers)).not.toContain(LEAK)
      expect(await read(`/healing/actions/${id}`, viewerPage.headers)).not.toContain(LEAK)
      const asOperator = await read(`/api/v1/healing/actions/${id}`, op.headers)
      expect(asOperator).toContain(LEAK)
      const [row] = await t.db.all<{ output: string }>(sql`select output from healing_actions where id = ${id}`)
      expect(row!.output).toContain(LEAK)
      expect(row!.output.length).toBeLessThan(1600)
    }
  })
})
