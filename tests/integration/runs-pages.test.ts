import { eq } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { auditLog } from '../../db/schema/audit.ts'
import { roleHeaders, testApp } from '../helpers/app.ts'

type Json = Record<string, any>
const t = await testApp()
afterAll(() => t.close())
const { ingest } = await roleHeaders(t)
const viewer = await t.session('viewer')
const operator = await t.session('operator')

const put = (path: string, body: unknown) => t.json('PUT', path, body, ingest)
const post = (path: string, body: unknown) => t.json('POST', path, body, ingest)
const page = async (path: string, headers: Record<string, string> = viewer.headers) => {
  const res = await t.app.request(path, { headers })
  return { status: res.status, html: await res.text() }
}
const decide = (run: string, action: string, who = operator, extra: Record<string, string> = {}) =>
  t.app.request(`/runs/queue/${run}/decide`, {
    method: 'POST',
    body: new URLSearchParams({ action, ...extra }),
    headers: { ...who.headers, 'Content-Type': 'application/x-www-form-urlencoded', 'HX-Request': 'true' },
  })
/** Rows of the runs table, by their data-run attribute, in page order. */
const runIds = (html: string) => [...html.matchAll(/<tr data-run="([^"]+)"/g)].map((m) => m[1])

const H = 3_600_000
const now = Date.now()

// Runs the list and reports read: two teams, two roles, a failure with a class, one escalated run.
await post('/api/v1/runs/batch', {
  runs: [
    {
      id: 'multi-1',
      goal: 'fix issue 17',
      labels: { team: 'multi' },
      startedAt: now - 3 * H,
      status: 'succeeded',
      endedAt: now - 2 * H,
    },
    {
      id: 'multi-2',
      goal: 'fix issue 18',
      labels: { team: 'multi' },
      startedAt: now - 2 * H,
      status: 'failed',
      endedAt: now - H,
    },
    {
      id: 'single-1',
      goal: 'fix issue 19',
      labels: { team: 'single' },
      startedAt: now - 90 * 60_000,
      status: 'succeeded',
      endedAt: now - H,
    },
    {
      id: 'old-1',
      goal: 'last month',
      labels: { team: 'single' },
      startedAt: now - 20 * 24 * H,
      status: 'succeeded',
      endedAt: now - 20 * 24 * H + H,
    },
  ],
  tasks: [
    {
      runId: 'multi-1',
      id: 'plan',
      role: 'planner',
      title: 'plan the fix',
      status: 'succeeded',
      startedAt: now - 3 * H,
      endedAt: now - 3 * H + 60_000,
      model: 'gpt-4o',
      costUsd: 0.02,
      inputTokens: 1000,
      outputTokens: 200,
    },
    {
      runId: 'multi-1',
      id: 'code',
      role: 'coder',
      title: 'write the code',
      dependsOn: ['plan'],
      status: 'succeeded',
      startedAt: now - 3 * H + 60_000,
      endedAt: now - 2 * H,
      model: 'llama3',
      costUsd: 0.05,
    },
    {
      runId: 'multi-2',
      id: 'code',
      role: 'coder',
      status: 'failed',
      startedAt: now - 2 * H,
      endedAt: now - H,
      error: 'FAILED tests/test_app.py::test_sum - AssertionError',
      failureClass: 'test_failure',
      model: 'llama3',
    },
    {
      runId: 'single-1',
      id: 'all',
      role: 'generalist',
      status: 'succeeded',
      startedAt: now - 90 * 60_000,
      endedAt: now - H,
      model: 'gpt-4o',
      costUsd: 0.2,
    },
  ],
})

describe('the runs list', () => {
  it('lists runs newest first for a viewer, with totals, and replaces the placeholder', async () => {
    const { status, html } = await page('/runs')
    expect(status).toBe(200)
    expect(html).toContain('<h1>Runs</h1>')
    expect(html).not.toContain('Multi-agent runs as DAGs')
    expect(runIds(html)).toEqual(['single-1', 'multi-2', 'multi-1', 'old-1'])
    expect(html).toContain('href="/runs/multi-1"')
    expect(html).toContain('fix issue 17')
    expect(html).toContain('team=multi')
  })

  it('filters by status, label, role, failure class and time range', async () => {
    expect(runIds((await page('/runs?status=succeeded')).html)).toEqual(['single-1', 'multi-1', 'old-1'])
    expect(runIds((await page('/runs?label=team:multi')).html)).toEqual(['multi-2', 'multi-1'])
    expect(runIds((await page('/runs?role=planner')).html)).toEqual(['multi-1'])
    expect(runIds((await page('/runs?class=test_failure')).html)).toEqual(['multi-2'])
    expect(runIds((await page('/runs?range=24h')).html)).toEqual(['single-1', 'multi-2', 'multi-1'])
    // Empty fields of the form are no filter; the form shows what was chosen.
    const form = await page('/runs?status=&label=team%3Asingle&role=&class=&range=&from=&to=')
    expect(runIds(form.html)).toEqual(['single-1', 'old-1'])
    expect(form.html).toContain('value="team:single"')
  })

  it('pages by cursor: the next link carries on where the page ended, nothing twice', async () => {
    const first = await page('/runs?limit=2')
    expect(runIds(first.html)).toEqual(['single-1', 'multi-2'])
    const next = first.html.match(/href="([^"]+)" id="runs-next"/)?.[1]?.replaceAll('&amp;', '&')
    expect(next).toContain('cursor=')
    const second = await page(next!)
    expect(runIds(second.html)).toEqual(['multi-1', 'old-1'])
    expect(second.html).not.toContain('id="runs-next"')
  })

  it('answers a bad filter with a 400 naming the field', async () => {
    const bad = await t.app.request('/runs?status=exploded', {
      headers: { ...viewer.headers, Accept: 'application/json' },
    })
    expect(bad.status).toBe(400)
    const body = (await bad.json()) as Json
    expect(body.error.details.map((d: Json) => d.field)).toEqual(['status'])
    const label = await t.app.request('/runs?label=nocolon', {
      headers: { ...viewer.headers, Accept: 'application/json' },
    })
    expect(((await label.json()) as Json).error.details[0].field).toBe('label')
  })

  it('needs a signed-in user', async () => {
    const res = await t.app.request('/runs')
    expect([302, 401]).toContain(res.status)
  })
})

describe('the run page', () => {
  it('draws the graph (coloured by status, branches dashed, retries as attempts), the timeline and totals', async () => {
    await put('/api/v1/runs/graph-1', { goal: 'graph', startedAt: now - H })
    await post('/api/v1/runs/graph-1/tasks', {
      tasks: [
        {
          id: 'plan',
          role: 'planner',
          title: 'plan',
          status: 'succeeded',
          startedAt: now - H,
          endedAt: now - H + 1000,
          inputTokens: 1500,
          outputTokens: 500,
          costUsd: 0.25,
        },
        {
          id: 'code',
          role: 'coder',
          title: 'code',
          dependsOn: ['plan'],
          status: 'failed',
          attempt: 3,
          startedAt: now - H + 1000,
          endedAt: now - H + 5000,
          error: 'boom <script>alert(1)</script>',
          failureClass: 'test_failure',
        },
        {
          id: 'debug',
          role: 'debugger',
          title: 'debug',
          branchOf: 'code',
          depth: 1,
          status: 'running',
          startedAt: now - H + 6000,
        },
        { id: 'test', role: 'tester', title: 'test', dependsOn: ['debug'], status: 'pending' },
      ],
    })
    const { status, html } = await page('/runs/graph-1')
    expect(status).toBe(200)
    expect(html).toContain('id="run-graph"')
    expect(html).toMatch(/<g class="node rs-good" data-task="plan" data-status="succeeded">/)
    expect(html).toMatch(/<g class="node rs-bad" data-task="code" data-status="failed">/)
    expect(html).toMatch(/<g class="node rs-move" data-task="debug" data-status="running">/)
    expect(html).toContain('class="edge edge-branch" data-from="code" data-to="debug"')
    expect(html).toContain('class="edge edge-depends" data-from="plan" data-to="code"')
    expect(html).toContain('×3')
    expect(html).toContain('id="run-timeline"')
    expect(html.match(/<g class="bar /g)).toHaveLength(3)
    expect(html).toContain('1 tasks not started yet')
    expect(html).toContain('$0.25')
    expect(html).toContain('2000')
    // The error is shown escaped, never as markup.
    expect(html).not.toContain('<script>alert(1)</script>')
  })

  it("opens a task's detail: error, class, pretty-printed escaped artifacts, safe links, failed attempts", async () => {
    await put('/api/v1/runs/detail-1/tasks/t1', {
      role: 'coder',
      title: 'the task',
      status: 'running',
      input: { prompt: '<img src=x onerror=alert(1)>', n: 1 },
      output: { ok: false },
      links: [
        { name: 'full log', url: 'https://logs.example.com/run/1' },
        { name: 'sneaky', url: 'javascript:alert(1)' },
      ],
    })
    const decision = await post('/api/v1/runs/detail-1/tasks/t1/failed', { error: 'SyntaxError: invalid syntax' })
    expect(((await decision.json()) as Json).action).toBe('retry')
    const frag = await page('/runs/detail-1/tasks/t1', { ...viewer.headers, 'HX-Request': 'true' })
    expect(frag.status).toBe(200)
    expect(frag.html).toContain('id="task-detail"')
    expect(frag.html).toContain('SyntaxError: invalid syntax')
    expect(frag.html).toContain('syntax')
    expect(frag.html).toContain('&quot;prompt&quot;: &quot;&lt;img src=x onerror=alert(1)&gt;&quot;')
    expect(frag.html).not.toContain('<img src=x')
    expect(frag.html).toContain('href="https://logs.example.com/run/1"')
    expect(frag.html).not.toContain('href="javascript:')
    expect(frag.html).toContain('Failed attempts')
    // The same detail as a full page, without htmx (?task=).
    const full = await page('/runs/detail-1?task=t1')
    expect(full.html).toContain('data-task="t1" aria-label="Task t1"')
  })

  it('lists the first 200 tasks under the pictures, all of them on ?all=1; the graph always has every task', async () => {
    const tasks = Array.from({ length: 205 }, (_, i) => ({ id: `t${i}`, status: 'succeeded', startedAt: now - H + i }))
    expect((await post('/api/v1/runs/wide-1/tasks', { tasks })).status).toBe(200)
    const rows = (html: string) => html.match(/<tr data-task="/g)?.length
    const first = await page('/runs/wide-1')
    expect(first.html.match(/<g class="node /g)).toHaveLength(205)
    expect(rows(first.html)).toBe(200)
    expect(first.html).toContain('The first 200 of 205 tasks')
    expect(rows((await page('/runs/wide-1?all=1')).html)).toBe(205)
    expect((await page('/runs/wide-1?all=yes')).status).toBe(400)
  })

  it('answers 404 for an unknown run or task', async () => {
    expect((await page('/runs/nope')).status).toBe(404)
    expect((await page('/runs/detail-1/tasks/nope')).status).toBe(404)
  })
})

describe('the escalation queue', () => {
  const escalate = async (run: string) => {
    await put(`/api/v1/runs/${run}`, {
      goal: `escalate ${run}`,
      policy: { routes: { test_failure: { action: 'escalate' } } },
    })
    await put(`/api/v1/runs/${run}/tasks/code`, { role: 'coder', status: 'running' })
    const d = await post(`/api/v1/runs/${run}/tasks/code/failed`, { error: 'FAILED test_x - AssertionError' })
    expect(((await d.json()) as Json).action).toBe('escalate')
  }

  it('shows escalated runs with their failing task and class; a viewer sees no buttons and cannot act', async () => {
    await escalate('esc-1')
    const { html } = await page('/runs/queue')
    expect(html).toContain('data-run="esc-1"')
    expect(html).toContain('href="/runs/esc-1?task=code#task-detail"')
    expect(html).toContain('test_failure')
    expect(html).not.toContain('hx-post="/runs/queue/esc-1/decide"')
    expect(html).toContain('an operator decides')
    expect((await decide('esc-1', 'retry', viewer)).status).toBe(403)
    const pending = await t.app.request('/api/v1/runs/esc-1/decision', { headers: ingest })
    expect((await pending.json()) as Json).toMatchObject({ state: 'pending' })
  })

  it('an operator retries: the row shows the choice, the orchestrator reads it, it is audited', async () => {
    const before = await page('/runs/queue', operator.headers)
    expect(before.html).toContain('hx-post="/runs/queue/esc-1/decide"')
    const res = await decide('esc-1', 'retry', operator, { note: 'go on' })
    expect(res.status).toBe(200)
    const row = await res.text()
    expect(row).toContain('data-choice="retry"')
    expect(row).toContain('Retry')
    const d = (await (await t.app.request('/api/v1/runs/esc-1/decision', { headers: ingest })).json()) as Json
    expect(d).toMatchObject({ state: 'decided', status: 'running', decision: { action: 'retry', note: 'go on' } })
    const rows = await t.db.select().from(auditLog).where(eq(auditLog.target, 'esc-1'))
    expect(rows.map((r) => r.action)).toContain('run.decided')
    const after = await page('/runs/queue', operator.headers)
    expect(after.html).toContain('No run is waiting for a person.')
    expect(after.html).toMatch(/id="decided-table"[\s\S]*data-choice="retry"/)
  })

  it('refuses a second choice (409), a bad action (400 naming it), and a post without the CSRF token (403)', async () => {
    expect((await decide('esc-1', 'abort')).status).toBe(409)
    await escalate('esc-2')
    const bad = await t.app.request('/runs/queue/esc-2/decide', {
      method: 'POST',
      body: new URLSearchParams({ action: 'pray' }),
      headers: { ...operator.headers, 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
    })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as Json).error.details[0].field).toBe('action')
    const noCsrf = await t.app.request('/runs/queue/esc-2/decide', {
      method: 'POST',
      body: new URLSearchParams({ action: 'abort' }),
      headers: { Cookie: operator.headers.Cookie, 'Content-Type': 'application/x-www-form-urlencoded' },
    })
    expect(noCsrf.status).toBe(403)
    expect((await decide('esc-2', 'take_over')).status).toBe(200)
    expect((await decide('nope', 'retry')).status).toBe(404)
  })
})

describe('the reports', () => {
  it('shows success by role, model and label, durations, cost and failure classes for the period', async () => {
    const { status, html } = await page('/runs/reports?range=24h')
    expect(status).toBe(200)
    const table = (id: string) => html.match(new RegExp(`id="${id}"[\\s\\S]*?</table>`))?.[0] ?? ''
    expect(table('by-role')).toMatch(/data-key="coder"/)
    expect(table('by-role')).toMatch(/data-key="planner"[\s\S]*?100\.0%/)
    expect(table('by-model')).toMatch(/data-key="llama3"/)
    expect(table('by-label')).toMatch(/data-key="multi"><td>multi<\/td><td>2<\/td><td>1<\/td><td class="rate">50\.0%/)
    expect(table('by-label')).toMatch(/data-key="single"><td>single<\/td><td>1<\/td>/)
    // Durations per role come with the role's row (p50, p95).
    expect(table('by-role')).toMatch(/data-key="planner">(<td[^>]*>[^<]*<\/td>){6}<td>[\d.]+ (ms|s|min)<\/td>/)
    expect(table('top-classes')).toContain('data-class="test_failure"')
    expect(html).toContain('id="class-trend-data"')
    // The trend JSON is raw (parsable), in the explorer's query-result shape.
    const json = html.match(/id="class-trend-data">([^<]*)<\/script>/)?.[1]
    const trend = JSON.parse(json!) as Json
    expect(trend.series.map((s: Json) => s.labels.class)).toContain('test_failure')
    expect(html).toContain('/static/explorer-chart.js')
  })

  it('compares two labels, and this period with the one before', async () => {
    const two = await page('/runs/reports?range=24h&a=team%3Amulti&b=team%3Asingle')
    const cmp = two.html.match(/id="comparison"[\s\S]*?<\/table>/)?.[0] ?? ''
    expect(cmp).toContain('team:multi')
    expect(cmp).toContain('team:single')
    expect(cmp).toMatch(/Success rate<\/td><td>50\.0%<\/td><td>100\.0%<\/td>/)
    const periods = await page('/runs/reports?range=7d')
    expect(periods.html).toContain('the period before')
  })

  it('answers a bad period or label with a 400 naming the field', async () => {
    const res = await t.app.request('/runs/reports?range=forever&a=x', {
      headers: { ...viewer.headers, Accept: 'application/json' },
    })
    expect(res.status).toBe(400)
    const fields = ((await res.json()) as Json).error.details.map((d: Json) => d.field)
    expect(fields).toEqual(expect.arrayContaining(['range', 'a']))
  })
})
