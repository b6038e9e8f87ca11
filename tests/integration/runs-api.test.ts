import { and, eq } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { alerts } from '../../db/schema/alerts.ts'
import { auditLog } from '../../db/schema/audit.ts'
import { runFailures } from '../../db/schema/runs.ts'
import { roleHeaders, testApp } from '../helpers/app.ts'
import { startReceiver, verify } from '../helpers/receiver.ts'

type Json = Record<string, any>
const t = await testApp()
const receiver = await startReceiver()
afterAll(async () => {
  await receiver.close()
  t.close()
})
const { op, viewer, ingest } = await roleHeaders(t)

const put = (path: string, body: unknown, headers = ingest) => t.json('PUT', path, body, headers)
const post = (path: string, body: unknown, headers = ingest) => t.json('POST', path, body, headers)
const get = async (path: string, headers = viewer) => {
  const res = await t.app.request(path, { headers })
  return { status: res.status, body: (await res.json()) as Json }
}
const fields = async (res: Response) => ((await res.json()) as Json).error.details.map((d: Json) => d.field)

describe('recording runs and tasks', () => {
  it('creates a run and a task, idempotent by id (a retried create does not duplicate)', async () => {
    const run = { goal: 'fix issue 17', requester: 'ana', labels: { team: 'multi' }, startedAt: 1_000_000 }
    expect((await put('/api/v1/runs/r-idem', run)).status).toBe(200)
    expect((await put('/api/v1/runs/r-idem', run)).status).toBe(200)
    const task = { role: 'planner', title: 'plan', status: 'running', startedAt: 1_000_100 }
    await put('/api/v1/runs/r-idem/tasks/plan', task)
    const res = await put('/api/v1/runs/r-idem/tasks/plan', task)
    expect(((await res.json()) as Json).status).toBe('running')
    const { body } = await get('/api/v1/runs/r-idem')
    expect(body).toMatchObject({ id: 'r-idem', goal: 'fix issue 17', labels: { team: 'multi' }, status: 'running' })
    expect(body.tasks).toHaveLength(1)
    expect(body.totals.tasks).toBe(1)
    const list = await get('/api/v1/runs?label=team:multi')
    expect(list.body.items.filter((r: Json) => r.id === 'r-idem')).toHaveLength(1)
  })

  it('keeps a succeeded that arrives before its running, and merges timings', async () => {
    await put('/api/v1/runs/r-ooo/tasks/t1', { status: 'succeeded', startedAt: 2_000, endedAt: 9_000 })
    const late = await put('/api/v1/runs/r-ooo/tasks/t1', { status: 'running', startedAt: 1_000, role: 'coder' })
    const task = (await late.json()) as Json
    expect(task).toMatchObject({ status: 'succeeded', role: 'coder', durationMs: 8_000 })
    expect(task.startedAt).toBe(new Date(1_000).toISOString())
    expect(task.endedAt).toBe(new Date(9_000).toISOString())
    // A task before its run: the run was created, and its own late create fills it in.
    await put('/api/v1/runs/r-ooo', { goal: 'late create', status: 'running' })
    await put('/api/v1/runs/r-ooo', { status: 'succeeded', endedAt: 10_000 })
    const late2 = await put('/api/v1/runs/r-ooo', { status: 'running' })
    expect((await late2.json()) as Json).toMatchObject({ goal: 'late create', status: 'succeeded' })
  })

  it('a new attempt restarts the lifecycle; a late report of the old attempt changes nothing', async () => {
    await put('/api/v1/runs/r-att/tasks/t', { status: 'failed', attempt: 1, error: 'boom' })
    await put('/api/v1/runs/r-att/tasks/t', { status: 'running', attempt: 2 })
    const res = await put('/api/v1/runs/r-att/tasks/t', { status: 'succeeded', attempt: 1 })
    expect((await res.json()) as Json).toMatchObject({ status: 'running', attempt: 2 })
  })

  it('a batch is accepted whole or rejected whole, naming the bad items by index and field', async () => {
    const bad = await post('/api/v1/runs/r-batch/tasks', {
      tasks: [
        { id: 'a', status: 'running' },
        { id: 'b', status: 'done' },
        { id: 'c', inputTokens: -1 },
      ],
    })
    expect(bad.status).toBe(400)
    expect(await fields(bad)).toEqual(['tasks.1.status', 'tasks.2.inputTokens'])
    expect((await get('/api/v1/runs/r-batch')).status).toBe(404)
    const ok = await post('/api/v1/runs/r-batch/tasks', {
      tasks: [
        { id: 'a', role: 'planner', status: 'succeeded' },
        { id: 'b', role: 'coder', dependsOn: ['a'], parentId: 'a', status: 'running' },
      ],
    })
    expect(ok.status).toBe(200)
    // Retried whole: still two tasks.
    await post('/api/v1/runs/r-batch/tasks', { tasks: [{ id: 'a' }, { id: 'b' }] })
    const { body } = await get('/api/v1/runs/r-batch')
    expect(body.tasks.map((x: Json) => [x.id, x.status])).toEqual([
      ['a', 'succeeded'],
      ['b', 'running'],
    ])
    const multi = await post('/api/v1/runs/batch', {
      runs: [
        { id: 'r-m1', goal: 'one' },
        { id: 'r-m2', status: 'finished' },
      ],
      tasks: [{ runId: 'r-m1', id: 'x' }],
    })
    expect(multi.status).toBe(400)
    expect(await fields(multi)).toEqual(['runs.1.status'])
    expect((await get('/api/v1/runs/r-m1')).status).toBe(404)
  })

  it('caps inline artifacts with a 400 naming the field; links carry large ones', async () => {
    const big = { log: 'x'.repeat(20_000) }
    const res = await put('/api/v1/runs/r-art/tasks/t', { output: big })
    expect(res.status).toBe(400)
    const detail = ((await res.json()) as Json).error.details[0]
    expect(detail.field).toBe('output')
    expect(detail.message).toMatch(/bytes of JSON; at most 16384/)
    const ok = await put('/api/v1/runs/r-art/tasks/t', {
      input: { prompt: 'hi' },
      output: { ok: true },
      links: [{ name: 'log', url: 'https://example.com/log.txt', size: 20_000 }],
    })
    expect((await ok.json()) as Json).toMatchObject({ input: { prompt: 'hi' }, links: [{ name: 'log' }] })
  })

  it('derives cost from tokens through the price table and keeps run totals current', async () => {
    await t.json('POST', '/api/v1/prices', { model: 'run-model', promptPer1M: 2, completionPer1M: 10 }, op)
    await post('/api/v1/runs/r-cost/tasks', {
      tasks: [
        { id: 'a', model: 'run-model', inputTokens: 1_000_000, outputTokens: 100_000 },
        { id: 'b', model: 'run-model', inputTokens: 500_000, costUsd: 0.25 },
      ],
    })
    // Tokens grow later: the derived cost follows; the given one stays.
    await put('/api/v1/runs/r-cost/tasks/a', { outputTokens: 200_000 })
    await put('/api/v1/runs/r-cost/tasks/b', { inputTokens: 900_000 })
    const { body } = await get('/api/v1/runs/r-cost')
    expect(body.tasks.map((x: Json) => x.costUsd)).toEqual([4, 0.25])
    expect(body.totals).toMatchObject({ costUsd: 4.25, inputTokens: 1_900_000, outputTokens: 200_000, tasks: 2 })
  })

  it('lists with filters and cursor pagination', async () => {
    for (let i = 0; i < 5; i++)
      await put(`/api/v1/runs/r-list-${i}`, {
        startedAt: 5_000_000 + i,
        labels: { team: i % 2 ? 'single' : 'pair' },
        status: i === 4 ? 'failed' : 'running',
      })
    await put('/api/v1/runs/r-list-1/tasks/t', { role: 'tester', status: 'failed', error: 'FAILED tests/x.py::y' })
    const page1 = await get('/api/v1/runs?from=5000000&to=5000010&limit=2')
    expect(page1.body.items.map((r: Json) => r.id)).toEqual(['r-list-4', 'r-list-3'])
    const page2 = await get(`/api/v1/runs?from=5000000&to=5000010&limit=2&cursor=${page1.body.next}`)
    expect(page2.body.items.map((r: Json) => r.id)).toEqual(['r-list-2', 'r-list-1'])
    const page3 = await get(`/api/v1/runs?from=5000000&to=5000010&limit=2&cursor=${page2.body.next}`)
    expect(page3.body).toMatchObject({ items: [{ id: 'r-list-0' }], next: null })
    expect((await get('/api/v1/runs?label=team:single&from=5000000')).body.items.map((r: Json) => r.id)).toEqual([
      'r-list-3',
      'r-list-1',
    ])
    expect((await get('/api/v1/runs?status=failed&from=5000000')).body.items.map((r: Json) => r.id)).toEqual([
      'r-list-4',
    ])
    expect((await get('/api/v1/runs?role=tester')).body.items.map((r: Json) => r.id)).toEqual(['r-list-1'])
    expect((await get('/api/v1/runs?class=test_failure')).body.items.map((r: Json) => r.id)).toEqual(['r-list-1'])
    const bad = await get('/api/v1/runs?status=done&label=nope&cursor=x')
    expect(bad.status).toBe(400)
    expect(bad.body.error.details.map((d: Json) => d.field).sort()).toEqual(['cursor', 'label', 'status'])
  })

  it('names bad fields, refuses unknown ones, and 404s unknown runs and tasks', async () => {
    const res = await put('/api/v1/runs/r-bad', { status: 'done', startedAt: 'yesterday', colour: 'red' })
    expect(res.status).toBe(400)
    expect((await fields(res)).sort()).toEqual(['colour', 'startedAt', 'status'])
    expect((await put('/api/v1/runs/bad id!', {})).status).toBe(400)
    expect((await get('/api/v1/runs/nope')).status).toBe(404)
    expect((await get('/api/v1/runs/r-idem/tasks/nope')).status).toBe(404)
    const text = await t.app.request('/api/v1/runs/r-x', { method: 'PUT', body: '{}', headers: ingest })
    expect(text.status).toBe(415)
  })
})

describe('access', () => {
  it('viewers read; operators and ingest keys write; a viewer without scope cannot write', async () => {
    expect((await put('/api/v1/runs/r-rbac', { goal: 'x' }, viewer)).status).toBe(403)
    expect((await put('/api/v1/runs/r-rbac', { goal: 'x' }, op)).status).toBe(200)
    expect((await put('/api/v1/runs/r-rbac/tasks/t', { role: 'coder' }, ingest)).status).toBe(200)
    expect((await get('/api/v1/runs/r-rbac', viewer)).status).toBe(200)
    // The ingest key reaches only ingest routes: not reads, not a person's choice.
    expect((await get('/api/v1/runs/r-rbac', ingest)).status).toBe(403)
    expect((await post('/api/v1/runs/r-rbac/decision', { action: 'abort' }, ingest)).status).toBe(403)
    expect((await post('/api/v1/runs/r-rbac/decision', { action: 'abort' }, viewer)).status).toBe(403)
    expect((await t.json('PUT', '/api/v1/run-policies/default', { maxAttempts: 2 }, viewer)).status).toBe(403)
    expect((await t.app.request('/api/v1/runs/r-rbac')).status).toBe(401)
  })

  it('audits a signed-in person’s writes, not an agent key’s', async () => {
    const s = await t.session('operator')
    const res = await t.json('PUT', '/api/v1/runs/r-audit', { goal: 'by hand' }, s.headers)
    expect(res.status).toBe(200)
    await put('/api/v1/runs/r-audit-key', { goal: 'by agent' })
    const rows = await t.db.select().from(auditLog).where(eq(auditLog.action, 'run.recorded'))
    expect(rows.map((r) => r.target)).toEqual(['r-audit'])
  })
})

describe('failures and decisions', () => {
  const fail = (run: string, task: string, body: Json) => post(`/api/v1/runs/${run}/tasks/${task}/failed`, body)

  it('retries a syntax error, then escalates when the attempts are used up', async () => {
    await put('/api/v1/runs/r-retry', { labels: { team: 'multi' } })
    await put('/api/v1/runs/r-retry/tasks/code', { role: 'coder', status: 'running' })
    const first = (await (
      await fail('r-retry', 'code', { error: '  File "app.py", line 3\n    def f(\nSyntaxError: invalid syntax' })
    ).json()) as Json
    expect(first).toMatchObject({ action: 'retry', class: 'syntax', attempt: 2, role: 'coder', delayMs: 0 })
    // The same report again: the same answer, no second attempt counted.
    const again = (await (
      await fail('r-retry', 'code', {
        error: '  File "app.py", line 3\n    def f(\nSyntaxError: invalid syntax',
        attempt: 1,
      })
    ).json()) as Json
    expect(again).toEqual(first)
    const rows = await t.db.select().from(runFailures).where(eq(runFailures.runId, 'r-retry'))
    expect(rows).toHaveLength(1)
    await put('/api/v1/runs/r-retry/tasks/code', { status: 'running', attempt: 2 })
    expect(
      (await (await fail('r-retry', 'code', { error: 'SyntaxError: x', attempt: 2 })).json()) as Json,
    ).toMatchObject({
      action: 'retry',
      attempt: 3,
    })
    const last = (await (await fail('r-retry', 'code', { error: 'SyntaxError: x', attempt: 3 })).json()) as Json
    expect(last).toMatchObject({ action: 'escalate', class: 'syntax' })
    expect(last.reason).toMatch(/attempt 3 of 3/)
    const { body } = await get('/api/v1/runs/r-retry')
    expect(body.status).toBe('escalated')
    expect(body.escalation).toMatchObject({ taskId: 'code', class: 'syntax', pending: true })
    expect(body.tasks[0]).toMatchObject({ status: 'escalated', attempt: 3, failureClass: 'syntax' })
  })

  it('branches a test failure to the debugger one level deeper, then escalates past the max depth', async () => {
    await put('/api/v1/runs/r-branch/tasks/test', { role: 'tester', status: 'running', depth: 0 })
    const pytest = [
      '============================= FAILURES =============================',
      '___________________________ test_add ___________________________',
      '    def test_add():',
      '>       assert add(1, 2) == 4',
      'E       assert 3 == 4',
      'FAILED tests/test_math.py::test_add - assert 3 == 4',
      '========================= 1 failed, 3 passed in 0.12s =========================',
    ].join('\n')
    const d = (await (await fail('r-branch', 'test', { error: pytest })).json()) as Json
    expect(d).toMatchObject({
      action: 'branch',
      class: 'test_failure',
      task: { id: 'test~debugger', role: 'debugger', depth: 1, branchOf: 'test' },
    })
    const { body } = await get('/api/v1/runs/r-branch')
    expect(body.tasks.find((x: Json) => x.id === 'test~debugger')).toMatchObject({
      status: 'pending',
      branchOf: 'test',
      depth: 1,
      role: 'debugger',
    })
    await put('/api/v1/runs/r-branch/tasks/deep', { role: 'tester', depth: 2, status: 'running' })
    const deep = (await (await fail('r-branch', 'deep', { error: pytest })).json()) as Json
    expect(deep.action).toBe('escalate')
    expect(deep.reason).toMatch(/depth 3, beyond the maximum 2/)
  })

  it('escalates over budget; the alert fires, subscribers hear it, a person decides, the orchestrator reads it', async () => {
    const sub = await t.json(
      'POST',
      '/api/v1/webhooks',
      { url: `${receiver.url}/hook`, events: ['run.escalated', 'run.decided'] },
      op,
    )
    expect(sub.status).toBe(201)
    const { secret } = (await sub.json()) as Json
    await put('/api/v1/runs/r-esc', { goal: 'expensive' })
    await put('/api/v1/runs/r-esc/tasks/plan', { role: 'planner', costUsd: 1.5, status: 'running' })
    const d = (await (await fail('r-esc', 'plan', { error: 'HTTP 429 Too Many Requests' })).json()) as Json
    expect(d).toMatchObject({ action: 'escalate', class: 'rate_limit' })
    expect(d.reason).toMatch(/budget is \$1/)
    const firing = await t.db
      .select()
      .from(alerts)
      .where(and(eq(alerts.source, 'runs'), eq(alerts.status, 'firing')))
    const alert = firing.find((a) => a.labels.run === 'r-esc')
    expect(alert!.labels).toMatchObject({ alertname: 'run_escalated', run: 'r-esc' })
    expect(alert!.annotations).toMatchObject({ task: 'plan', class: 'rate_limit' })
    expect((await get('/api/v1/run-escalations')).body.items.map((r: Json) => r.id)).toContain('r-esc')
    expect((await get('/api/v1/runs/r-esc/decision', ingest)).body).toMatchObject({ state: 'pending' })

    const person = await t.session('operator')
    const chosen = await t.json(
      'POST',
      '/api/v1/runs/r-esc/decision',
      { action: 'abort', note: 'too costly' },
      person.headers,
    )
    expect(chosen.status).toBe(200)
    expect((await chosen.json()) as Json).toMatchObject({ status: 'aborted', decision: { action: 'abort' } })
    // Decided once: a second choice is a conflict.
    expect((await post('/api/v1/runs/r-esc/decision', { action: 'retry' }, op)).status).toBe(409)
    expect((await get('/api/v1/runs/r-esc/decision', ingest)).body).toMatchObject({
      state: 'decided',
      decision: { action: 'abort', note: 'too costly' },
    })
    const [after] = await t.db.select().from(alerts).where(eq(alerts.id, alert!.id))
    expect(after!.status).toBe('resolved')
    const audited = await t.db.select().from(auditLog).where(eq(auditLog.action, 'run.decided'))
    expect(audited.map((r) => r.target)).toEqual(['r-esc'])

    await t.services.notifier.run(Date.now())
    const hooks = receiver.on('/hook')
    expect(hooks.map((h) => (h.json as Json).event)).toEqual(['run.escalated', 'run.decided'])
    expect((hooks[1]!.json as Json).data).toMatchObject({ run: 'r-esc', action: 'abort', note: 'too costly' })
    for (const h of hooks) expect(verify(h.headers['x-homeostat-signature'], h.body, secret)).toBe(true)
  })

  it('a choice on a run that does not wait is a conflict; bad choices name the field', async () => {
    await put('/api/v1/runs/r-nowait', {})
    expect((await post('/api/v1/runs/r-nowait/decision', { action: 'retry' }, op)).status).toBe(409)
    const bad = await post('/api/v1/runs/r-nowait/decision', { action: 'pray' }, op)
    expect(await fields(bad)).toEqual(['action'])
    expect((await post('/api/v1/runs/nope/decision', { action: 'retry' }, op)).status).toBe(404)
    expect((await get('/api/v1/runs/r-nowait/decision', ingest)).body.state).toBe('none')
  })

  it('a failure about a task (and run) not recorded yet records both, and answers', async () => {
    const d = (await (
      await fail('r-unseen', 'ghost', { error: 'ModuleNotFoundError: No module named x' })
    ).json()) as Json
    expect(d).toMatchObject({ action: 'retry', class: 'dependency', attempt: 2, runId: 'r-unseen', taskId: 'ghost' })
    const { body } = await get('/api/v1/runs/r-unseen')
    expect(body.tasks).toMatchObject([{ id: 'ghost', status: 'failed', failureClass: 'dependency' }])
    const again = (await (await fail('r-unseen', 'ghost', { error: 'other text', attempt: 1 })).json()) as Json
    expect(again).toEqual(d)
  })

  it('a failure report with a bad body names the fields', async () => {
    const res = await fail('r-retry', 'code', { error: 5, attempt: 0, class: 'oops' })
    expect(res.status).toBe(400)
    expect((await fields(res)).sort()).toEqual(['attempt', 'class', 'error'])
  })
})

const TRACE = 'Traceback (most recent call last):\n  File "run.py", line 9, in <module>\nRuntimeError: sandbox lost'

describe('policies and classification rules', () => {
  it('sets policies per label and per run; the run policy wins; the decision follows', async () => {
    const bad = await t.json(
      'PUT',
      '/api/v1/run-policies/label:team=solo',
      { maxAttempts: 0, routes: { nope: { action: 'retry' } } },
      op,
    )
    expect(bad.status).toBe(400)
    expect((await fields(bad)).sort()).toEqual(['maxAttempts', 'routes'])
    const branchNoRole = await t.json(
      'PUT',
      '/api/v1/run-policies/default',
      { routes: { syntax: { action: 'branch' } } },
      op,
    )
    expect(await fields(branchNoRole)).toEqual(['routes.syntax.role'])
    expect((await t.json('PUT', '/api/v1/run-policies/bogus', {}, op)).status).toBe(400)
    const set = await t.json(
      'PUT',
      '/api/v1/run-policies/label:team=solo',
      { maxAttempts: 1, routes: { timeout: { action: 'escalate' } } },
      op,
    )
    expect(set.status).toBe(200)
    await put('/api/v1/runs/r-pol', { labels: { team: 'solo' }, policy: { budgetCostUsd: 5 } })
    const eff = (await get('/api/v1/runs/r-pol/policy')).body
    expect(eff).toMatchObject({
      maxAttempts: 1,
      maxDepth: 2,
      budgetCostUsd: 5,
      routes: { timeout: { action: 'escalate' } },
    })
    const d = (await (
      await post('/api/v1/runs/r-pol/tasks/t/failed', { error: 'Error: Timeout of 5000ms exceeded' })
    ).json()) as Json
    expect(d).toMatchObject({ action: 'escalate', class: 'timeout' })
    const listed = (await get('/api/v1/run-policies')).body
    expect(listed.defaults.maxAttempts).toBe(3)
    expect(listed.items.map((p: Json) => p.scope)).toEqual(['label:team=solo'])
    const audited = await t.db.select().from(auditLog).where(eq(auditLog.action, 'run.policy.set'))
    expect(audited.map((r) => r.target)).toEqual(['label:team=solo'])
    expect(
      (await t.app.request('/api/v1/run-policies/label:team=solo', { method: 'DELETE', headers: op })).status,
    ).toBe(204)
    expect((await get('/api/v1/runs/r-pol/policy')).body.maxAttempts).toBe(3)
  })

  it('user rules extend the classifier (RE2, validated), first match wins', async () => {
    const bad = await t.json('POST', '/api/v1/run-class-rules', { name: 'x', pattern: '(a', class: 'nope' }, op)
    expect(bad.status).toBe(400)
    expect((await fields(bad)).sort()).toEqual(['class', 'pattern'])
    const noCondition = await t.json('POST', '/api/v1/run-class-rules', { name: 'x', class: 'tool_error' }, op)
    expect(await fields(noCondition)).toEqual(['pattern'])
    const rule = await t.json(
      'POST',
      '/api/v1/run-class-rules',
      { name: 'flaky sandbox', pattern: 'sandbox (lost|gone)', class: 'tool_error', position: 1 },
      op,
    )
    expect(rule.status).toBe(201)
    const d = (await (await post('/api/v1/runs/r-rule/tasks/t/failed', { error: TRACE })).json()) as Json
    expect(d.class).toBe('tool_error')
    const { id } = (await rule.json()) as Json
    expect((await t.app.request(`/api/v1/run-class-rules/${id}`, { method: 'DELETE', headers: viewer })).status).toBe(
      403,
    )
    expect((await t.app.request(`/api/v1/run-class-rules/${id}`, { method: 'DELETE', headers: op })).status).toBe(204)
    const d2 = (await (await post('/api/v1/runs/r-rule/tasks/t2/failed', { error: TRACE })).json()) as Json
    expect(d2.class).toBe('runtime_error')
  })
})
