/**
 * The runs dashboard in a real browser against the real server (Bun): an orchestrator records a run
 * through the API, the run page draws its graph and timeline and a click on a task opens its detail;
 * then a failure escalates another run, it shows in the queue, a click on Retry records the choice,
 * and the orchestrator's GET /api/v1/runs/:id/decision returns it. Screenshots land in
 * tests/e2e/screenshots/runs-*.png.
 */
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closeAll, screenshot, startSignedIn, watchProblems } from '../helpers/browser.ts'
import { cliKey, type RunningServer } from '../helpers/server.ts'

type Json = Record<string, any>
let server: RunningServer
let browser: Browser
let page: Page
let key = ''
const problems: string[] = []

const api = async (method: string, path: string, body?: unknown) => {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  })
  return { status: res.status, body: (await res.json()) as Json }
}

beforeAll(async () => {
  ;({ server, browser, page } = await startSignedIn())
  // The orchestrator's key: a viewer with the ingest scope.
  key = await cliKey(server, 'orchestrator', 'viewer', ['ingest'])
  watchProblems(page, problems, [])
}, 120_000)

afterAll(async () => {
  await closeAll(browser)
})

describe('the run page', () => {
  it('draws the graph and the timeline, and a click on a task opens its detail', async () => {
    const t0 = Date.now() - 600_000
    expect(
      (await api('PUT', '/api/v1/runs/e2e-run', { goal: 'fix issue 20', labels: { team: 'multi' }, startedAt: t0 }))
        .status,
    ).toBe(200)
    const tasks = [
      { id: 'plan', role: 'planner', title: 'plan the fix', status: 'succeeded', startedAt: t0, endedAt: t0 + 30_000 },
      {
        id: 'code',
        role: 'coder',
        title: 'write the fix',
        dependsOn: ['plan'],
        status: 'failed',
        attempt: 2,
        startedAt: t0 + 30_000,
        endedAt: t0 + 200_000,
        error: 'AssertionError: expected 4, got 3',
        failureClass: 'test_failure',
        output: { diff: '+ return a + b', files: ['app.py'] },
      },
      {
        id: 'debug',
        role: 'debugger',
        title: 'find the bug',
        branchOf: 'code',
        depth: 1,
        status: 'succeeded',
        startedAt: t0 + 210_000,
        endedAt: t0 + 300_000,
      },
      {
        id: 'test',
        role: 'tester',
        title: 'run the tests',
        dependsOn: ['debug'],
        status: 'running',
        startedAt: t0 + 310_000,
      },
    ]
    expect((await api('POST', '/api/v1/runs/e2e-run/tasks', { tasks })).status).toBe(200)

    await page.goto(`${server.url}/runs`)
    await Promise.all([
      page.waitForURL(`${server.url}/runs/e2e-run`),
      page.getByRole('link', { name: 'e2e-run' }).click(),
    ])
    const graph = page.locator('#run-graph')
    await graph.waitFor()
    expect(await graph.locator('g.node').count()).toBe(4)
    expect(await graph.locator('g.node[data-task="code"]').getAttribute('class')).toContain('rs-bad')
    expect(await graph.locator('path.edge-branch').count()).toBe(1)
    // The branch edge is drawn dashed, as the legend says.
    const dash = await graph.locator('path.edge-branch').evaluate((el) => getComputedStyle(el).strokeDasharray)
    expect(dash).not.toBe('none')
    const box = await graph.locator('g.node[data-task="debug"] rect').boundingBox()
    const codeBox = await graph.locator('g.node[data-task="code"] rect').boundingBox()
    expect(box!.x).toBeGreaterThan(codeBox!.x) // a branch sits right of the task it branches from
    expect(await page.locator('#run-timeline g.bar').count()).toBe(4)
    const bar = await page.locator('#run-timeline g.bar[data-task="plan"] rect').boundingBox()
    expect(bar!.width).toBeGreaterThan(0)

    await graph.locator('g.node[data-task="code"]').click()
    const detail = page.locator('#task-detail[data-task="code"]')
    await detail.waitFor()
    expect(page.url()).toBe(`${server.url}/runs/e2e-run`) // swapped in place by htmx, no page load
    const text = await detail.innerText()
    expect(text).toContain('AssertionError: expected 4, got 3')
    expect(text).toContain('test_failure')
    expect(text).toContain('"diff": "+ return a + b"')
    await screenshot(page, 'runs-run-page')
  })
})

describe('the escalation flow', () => {
  it('an escalated run waits in the queue; Retry is recorded and the orchestrator reads it', async () => {
    await api('PUT', '/api/v1/runs/e2e-esc', {
      goal: 'needs a person',
      policy: { routes: { syntax: { action: 'escalate' } } },
    })
    await api('PUT', '/api/v1/runs/e2e-esc/tasks/code', { role: 'coder', status: 'running' })
    const failed = await api('POST', '/api/v1/runs/e2e-esc/tasks/code/failed', { error: 'SyntaxError: invalid syntax' })
    expect(failed.body).toMatchObject({ action: 'escalate', class: 'syntax' })
    expect((await api('GET', '/api/v1/runs/e2e-esc/decision')).body.state).toBe('pending')

    await page.goto(`${server.url}/runs/queue`)
    const row = page.locator('#queue-table tr[data-run="e2e-esc"]')
    expect(await row.innerText()).toContain('syntax')
    await screenshot(page, 'runs-queue')
    await row.getByRole('button', { name: 'Retry' }).click()
    await page.locator('tr[data-run="e2e-esc"] [data-choice="retry"]').waitFor()

    const decision = await api('GET', '/api/v1/runs/e2e-esc/decision')
    expect(decision.body).toMatchObject({ state: 'decided', status: 'running', decision: { action: 'retry' } })
    expect(decision.body.decision.by).toContain('admin@example.com')
    await page.reload()
    expect(await page.locator('#queue-table').count()).toBe(0)
    expect(await page.locator('#decided-table tr[data-run="e2e-esc"]').innerText()).toContain('Retry')
  })

  it('the reports page draws the failure trend with the chart', async () => {
    await page.goto(`${server.url}/runs/reports?range=24h`)
    await page.locator('#class-trend[data-state="drawn"]').waitFor()
    expect(await page.locator('#class-trend canvas').count()).toBeGreaterThan(0)
    expect(await page.locator('#top-classes').innerText()).toContain('syntax')
    await screenshot(page, 'runs-reports')
    expect(problems).toEqual([])
  })
})
