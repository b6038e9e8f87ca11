/**
 * The Metrics Record node's "Record run step" operation: its real `execute` against the real app on
 * a loopback port, through the n8n context harness. A small agent team reports its tasks; the run
 * page then shows them; a failure answers the policy's decision; bad input names the field.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { testApp, type TestApp } from '../helpers/app.ts'
import { execute, failure, HomeostatMetricsRecord, serveApp } from '../helpers/n8n-harness.ts'

type Json = Record<string, any>
let t: TestApp
let server: Awaited<ReturnType<typeof serveApp>>
let credentials: { baseUrl: string; apiKey: string }
let viewerKey: Record<string, string>
const node = new HomeostatMetricsRecord()

beforeAll(async () => {
  t = await testApp()
  server = await serveApp(t)
  // An agent's key: a viewer with the ingest scope, as docs/runs.md suggests.
  credentials = { baseUrl: `${server.url}/`, apiKey: (await t.key('viewer', ['ingest'])).key }
  viewerKey = (await t.key('viewer')).headers
})
afterAll(async () => {
  await server.close()
  t.close()
})

const step = (extra: Record<string, unknown>) => ({ operation: 'runStep', runId: 'n8n-run-1', ...extra })
const getRun = async (id: string) =>
  (await (await t.app.request(`/api/v1/runs/${id}`, { headers: viewerKey })).json()) as Json

describe('Record run step', () => {
  it('starts and finishes tasks with role, title, dependencies, model and tokens, one call per item', async () => {
    const started = await execute(node, {
      params: step({
        step: 'start',
        taskId: (j: Json) => j.id,
        role: (j: Json) => j.role,
        title: (j: Json) => j.title,
        runStepOptions: (j: Json) =>
          j.after ? { dependsOn: j.after, goal: 'ship issue 20' } : { goal: 'ship issue 20' },
      }),
      items: [
        { id: 'plan', role: 'planner', title: 'plan the work' },
        { id: 'code', role: 'coder', title: 'write it', after: 'plan' },
      ],
      credentials,
    })
    expect(started.items).toHaveLength(2)
    expect(started.items[1]).toMatchObject({
      json: { step: 'start', task: { id: 'code', role: 'coder', status: 'running', dependsOn: ['plan'] } },
      pairedItem: { item: 1 },
    })
    expect(started.sent.map((s) => `${s.method} ${s.url.replace(server.url, '')}`)).toEqual([
      'PUT /api/v1/runs/n8n-run-1',
      'PUT /api/v1/runs/n8n-run-1/tasks/plan',
      'PUT /api/v1/runs/n8n-run-1',
      'PUT /api/v1/runs/n8n-run-1/tasks/code',
    ])
    const finished = await execute(node, {
      params: step({
        step: 'finish',
        taskId: 'plan',
        status: 'succeeded',
        runStepOptions: { model: 'gpt-4o', inputTokens: 1200, outputTokens: 300, costUsd: 0.01 },
      }),
      credentials,
    })
    expect(finished.items[0]!.json).toMatchObject({
      step: 'finish',
      task: { id: 'plan', status: 'succeeded', model: 'gpt-4o', inputTokens: 1200, outputTokens: 300, costUsd: 0.01 },
    })
    const run = await getRun('n8n-run-1')
    expect(run).toMatchObject({ goal: 'ship issue 20', totals: { tasks: 2, inputTokens: 1200, costUsd: 0.01 } })
    expect(run.tasks.find((x: Json) => x.id === 'plan').durationMs).toBeGreaterThanOrEqual(0)
    // The dashboard draws what the node reported.
    const session = await t.session('viewer')
    const page = await (await t.app.request('/runs/n8n-run-1', { headers: session.headers })).text()
    expect(page).toMatch(/data-task="plan" data-status="succeeded"/)
    expect(page).toMatch(/data-task="code" data-status="running"/)
  })

  it("a failed finish reports the failure and outputs the policy's decision for the workflow to route on", async () => {
    const out = await execute(node, {
      params: step({
        step: 'finish',
        taskId: 'code',
        status: 'failed',
        error: 'FAILED tests/test_sum.py::test_sum - AssertionError: 3 != 4',
        runStepOptions: { model: 'llama3', inputTokens: 500 },
      }),
      credentials,
    })
    expect(out.items[0]!.json).toMatchObject({
      step: 'finish',
      decision: { runId: 'n8n-run-1', taskId: 'code', class: 'test_failure', action: 'branch' },
    })
    const run = await getRun('n8n-run-1')
    expect(run.tasks.find((x: Json) => x.id === 'code')).toMatchObject({
      status: 'failed',
      failureClass: 'test_failure',
      model: 'llama3',
    })
  })

  it('names the item and field of bad input before sending anything; Continue On Fail keeps the other items', async () => {
    const bad = await failure(execute(node, { params: step({ step: 'start', taskId: 'has space' }), credentials }))
    expect(bad.message).toBe('Item 0, field "Task ID": must be 1-200 letters, digits or _ . : @ ~ -, got "has space"')
    const tokens = await failure(
      execute(node, {
        params: step({ step: 'finish', taskId: 'x', status: 'succeeded', runStepOptions: { inputTokens: -3 } }),
        credentials,
      }),
    )
    expect(tokens.message).toBe('Item 0, field "Input Tokens": must be a whole number of at least 0, got -3')
    const noError = await failure(
      execute(node, { params: step({ step: 'finish', taskId: 'x', status: 'failed', error: '' }), credentials }),
    )
    expect(noError.message).toContain('field "Error"')
    const mixed = await execute(node, {
      params: step({ step: 'start', taskId: (j: Json) => j.id, role: (j: Json) => j.role }),
      items: [
        { id: 'ok-1', role: 'tester' },
        { id: 'ok-2', role: 'bad role!' },
      ],
      credentials,
      continueOnFail: true,
    })
    expect(mixed.items[0]!.json).toMatchObject({ task: { id: 'ok-1', role: 'tester' } })
    expect(mixed.items[1]).toEqual({
      json: { error: 'Item 1, field "Role": must be 1-100 letters, digits or _ . -, got "bad role!"' },
      pairedItem: { item: 1 },
    })
    expect(mixed.sent).toHaveLength(1)
  })

  it("passes on the server's refusal: a key without the right gets the server's message", async () => {
    const viewerOnly = { baseUrl: `${server.url}/`, apiKey: (await t.key('viewer')).key }
    const err = await failure(
      execute(node, { params: step({ step: 'start', taskId: 'denied' }), credentials: viewerOnly }),
    )
    expect(err.httpCode).toBe('403')
    expect((await getRun('n8n-run-1')).tasks.map((x: Json) => x.id)).not.toContain('denied')
  })
})
