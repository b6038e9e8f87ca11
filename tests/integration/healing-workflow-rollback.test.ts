/**
 * The `workflow_rollback` healing action: a rule on a workflow's failure alert rolls the workflow
 * back in a (fake, loopback) n8n through the backups module's workflow history — only when the
 * current version is new, never twice in a row — with its audit row, its timeline, dry runs, its
 * own rollback after a failed verification, and the refusals.
 */
import { and, eq } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { auditLog } from '../../db/schema/audit.ts'
import { testApp } from '../helpers/app.ts'
import { startFakeN8n } from '../helpers/fake-n8n.ts'
import { startReceiver } from '../helpers/receiver.ts'

const KEY = 'n8n-key-for-rollback-tests'
const t = await testApp({ WORKFLOW_PULL_MAX_RPS: '100' })
// Saves stamped a minute ago (one second apart): "new" for a 30 minute window.
const n8n = await startFakeN8n({ apiKey: KEY, startAt: Date.now() - 60_000 })
// Saves stamped on 2026-01-01: long ago for any window.
const stale = await startFakeN8n({ apiKey: KEY })
const rx = await startReceiver()
afterAll(async () => {
  await t.services.healing.settle()
  await n8n.close()
  await stale.close()
  await rx.close()
  t.close()
})
const admin = await t.key('admin')
const op = await t.key('operator')
const viewer = await t.key('viewer')

type Action = {
  id: string
  status: string
  reason: string | null
  attempt: number
  dryRun: boolean
  output: Record<string, any>
  timeline?: { status: string; message: string; actor: string }[]
}
type ErrorOut = { error: { code: string; message: string; details: { field: string; message: string }[] } }

async function addInstance(name: string, baseUrl: string) {
  const res = await t.json('POST', '/api/v1/healing/n8n-instances', { name, baseUrl, apiKey: KEY }, admin.headers)
  expect(res.status).toBe(201)
  return ((await res.json()) as { id: string }).id
}
const prod = await addInstance('prod', n8n.url)
const old = await addInstance('old', stale.url)

const tick = async (at = Date.now()) => {
  const counts = await t.services.healing.tick(at)
  await t.services.healing.settle()
  return counts
}
const pull = async (instance: string) => {
  const res = await t.json('POST', '/api/v1/n8n/pull', { instance }, op.headers)
  expect(res.status).toBe(200)
}
const get = async (id: string) =>
  (await (await t.app.request(`/api/v1/healing/actions/${id}`, { headers: viewer.headers })).json()) as Action
const actionsOf = async (ruleId: string) =>
  (
    (await (
      await t.app.request(`/api/v1/healing/actions?rule=${ruleId}&limit=500`, { headers: viewer.headers })
    ).json()) as { items: Action[] }
  ).items
const versions = async (instance: string, id: string) =>
  (
    (await (
      await t.app.request(`/api/v1/n8n/workflows/${id}/versions?instance=${instance}`, { headers: viewer.headers })
    ).json()) as { items: { version: number; kind: string; restoredVersion: number | null; author: string }[] }
  ).items
const manual = async (body: Record<string, unknown>) => {
  const res = await t.json('POST', '/api/v1/healing/actions', { type: 'workflow_rollback', ...body }, op.headers)
  expect(res.status, await res.clone().text()).toBe(201)
  return (await res.json()) as Action
}
const fire = async (labels: Record<string, string>) => {
  const res = await t.json(
    'POST',
    '/api/v1/alerts',
    { title: 'workflow failure rate jumped', severity: 'error', status: 'firing', labels },
    op.headers,
  )
  expect(res.status, await res.clone().text()).toBeLessThan(300)
}
const puts = (fake: typeof n8n, id: string) =>
  fake.requests.filter((r) => r.method === 'PUT' && r.path === `/api/v1/workflows/${id}`)
const httpNode = (url: string) => ({
  id: 'http',
  name: 'HTTP',
  type: 'n8n-nodes-base.httpRequest',
  typeVersion: 4,
  position: [200, 0],
  parameters: { url },
})

describe('workflow_rollback from a rule', () => {
  it('rolls a workflow back when its failure alert fires right after a new version; audit, history, timeline', async () => {
    n8n.addWorkflow('orders', 'Orders', true, { nodes: [httpNode('https://api.example.com/v1')] })
    await pull(prod)
    // A bad version saved in n8n that no pull has seen yet: "previous" is counted from it.
    n8n.editWorkflow('orders', (w) => void (w.nodes[0]!.parameters = { url: 'https://api.example.com/v2-broken' }))
    const res = await t.json(
      'POST',
      '/api/v1/healing/rules',
      {
        name: 'roll back a failing new version',
        trigger: { type: 'alert', matchers: [{ label: 'case', op: '=', value: 'wf-failure-rate' }] },
        actionType: 'workflow_rollback',
        target: 'prod',
        params: { workflowId: '{{workflow_id}}', onlyIfChangedWithin: '30m' },
        cooldownMs: 0,
      },
      op.headers,
    )
    expect(res.status, await res.clone().text()).toBe(201)
    const rule = (await res.json()) as { id: string }
    await tick() // the watermark starts here
    await fire({ case: 'wf-failure-rate', workflow_id: 'orders' })
    await tick()
    const [a] = await actionsOf(rule.id)
    const done = await get(a!.id)
    expect(done).toMatchObject({
      status: 'SUCCESS',
      output: {
        result: { instance: 'prod', workflowId: 'orders', restored: 1, replaced: 2, version: 3, active: true },
      },
    })
    expect(done.timeline!.map((e) => e.status)).toEqual(['PENDING', 'RUNNING', 'SUCCESS'])
    expect(n8n.workflow('orders')!.nodes[0]!.parameters).toEqual({ url: 'https://api.example.com/v1' })
    expect(n8n.workflow('orders')!.active).toBe(true)
    expect((await versions(prod, 'orders')).map((v) => [v.version, v.kind, v.restoredVersion, v.author])).toEqual([
      [3, 'rollback', 1, `healing:${a!.id}`],
      [2, 'pull', null, 'Ada Lovelace'],
      [1, 'pull', null, 'Ada Lovelace'],
    ])
    const [row] = await t.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.action, 'workflow.rolled_back'), eq(auditLog.target, 'prod/orders')))
    expect(row).toMatchObject({ actor: `healing:${a!.id}` })
    expect(row!.summary).toMatch(/^to version 1 \(now version 3\) by healing action .*: alert fired: workflow failure/)

    // The rule fires again: the current version is the rollback itself, so nothing is put back.
    await fire({ case: 'wf-failure-rate', workflow_id: 'orders', again: 'yes' })
    await tick()
    const second = (await actionsOf(rule.id)).find((x) => x.id !== a!.id)!
    expect(await get(second.id)).toMatchObject({
      status: 'SUCCESS',
      output: { result: { skipped: 'version 3 is already a rollback (to version 1); not rolling back again' } },
    })
    expect(puts(n8n, 'orders')).toHaveLength(1)
    expect(await versions(prod, 'orders')).toHaveLength(3)
  })

  it('onlyIfChangedWithin: an old version is not rolled back; n8n is not written', async () => {
    stale.addWorkflow('billing', 'Billing')
    await pull(old)
    stale.editWorkflow('billing', (w) => void (w.name = 'Billing v2'))
    const a = await manual({ target: 'old', params: { workflowId: 'billing', onlyIfChangedWithin: 3_600_000 } })
    await tick()
    const done = await get(a.id)
    expect(done.status).toBe('SUCCESS')
    expect(done.output.result.skipped).toMatch(
      /^version 2 was saved \d+ d ago, not within 1 h \(onlyIfChangedWithin\)$/,
    )
    expect(puts(stale, 'billing')).toHaveLength(0)
    // Without the window it goes back to an explicit version.
    const b = await manual({ target: 'old', params: { workflowId: 'billing', to: 1 } })
    await tick()
    expect(await get(b.id)).toMatchObject({ status: 'SUCCESS', output: { result: { restored: 1, version: 3 } } })
    expect(stale.workflow('billing')!.name).toBe('Billing')
  })

  it('a dry run records what would happen and calls nothing', async () => {
    const before = n8n.requests.length
    const a = await manual({ target: 'prod', params: { workflowId: 'orders', to: 2 }, dryRun: true })
    await tick()
    expect(await get(a.id)).toMatchObject({
      status: 'SUCCESS',
      dryRun: true,
      output: {
        result: { dryRun: true, wouldExecute: { type: 'workflow_rollback', target: 'prod', params: { to: 2 } } },
      },
    })
    expect(n8n.requests.length).toBe(before)
    expect(await versions(prod, 'orders')).toHaveLength(3)
  })

  it('a failed verification puts back the version it replaced (ROLLED_BACK)', async () => {
    n8n.addWorkflow('sync', 'Sync', false, { nodes: [httpNode('https://a.example.com')] })
    await pull(prod)
    n8n.editWorkflow('sync', (w) => void (w.nodes[0]!.parameters = { url: 'https://b.example.com' }))
    await pull(prod)
    rx.setStatus(500)
    try {
      const a = await manual({
        target: 'prod',
        params: { workflowId: 'sync' },
        verification: { type: 'http', url: `${rx.url}/verify-sync`, afterMs: 0, timeoutMs: 1000 },
      })
      const now = Date.now()
      await tick(now)
      expect(await get(a.id)).toMatchObject({ status: 'VERIFYING', output: { result: { restored: 1, replaced: 2 } } })
      expect(n8n.workflow('sync')!.nodes[0]!.parameters).toEqual({ url: 'https://a.example.com' })
      await tick(now + 5000)
      const done = await get(a.id)
      expect(done).toMatchObject({ status: 'ROLLED_BACK', output: { rollback: { restored: 2, version: 4 } } })
      expect(n8n.workflow('sync')!.nodes[0]!.parameters).toEqual({ url: 'https://b.example.com' })
      expect((await versions(prod, 'sync')).map((v) => [v.version, v.kind, v.restoredVersion])).toEqual([
        [4, 'rollback', 2],
        [3, 'rollback', 1],
        [2, 'pull', null],
        [1, 'pull', null],
      ])
    } finally {
      rx.setStatus(200)
    }
  })
})

describe('workflow_rollback refusals', () => {
  it('names bad params and targets (400); a rule cannot take the instance from a label', async () => {
    const post = (body: Record<string, unknown>) =>
      t.json('POST', '/api/v1/healing/actions', { type: 'workflow_rollback', ...body }, op.headers)
    let res = await post({ target: 'nowhere', params: { workflowId: 'orders' } })
    expect(res.status).toBe(400)
    expect(((await res.json()) as ErrorOut).error.details).toEqual([
      { field: 'target', message: 'no n8n instance named nowhere' },
    ])
    res = await post({
      target: 'prod',
      params: { workflowId: '../x', to: 'latest', onlyIfChangedWithin: '5 minutes', extra: 1 },
    })
    expect(res.status).toBe(400)
    const fields = ((await res.json()) as ErrorOut).error.details.map((d) => d.field).sort()
    expect(fields).toEqual(['params.extra', 'params.onlyIfChangedWithin', 'params.to', 'params.workflowId'])
    res = await post({ target: 'prod', params: { workflowId: 'orders', onlyIfChangedWithin: '31d' } })
    expect(((await res.json()) as ErrorOut).error.details.map((d) => d.field)).toEqual(['params.onlyIfChangedWithin'])
    res = await t.json(
      'POST',
      '/api/v1/healing/rules',
      {
        name: 'instance from a label',
        trigger: { type: 'alert', matchers: [{ label: 'case', op: '=', value: 'x' }] },
        actionType: 'workflow_rollback',
        target: '{{instance}}',
        params: { workflowId: '{{workflow_id}}' },
      },
      op.headers,
    )
    expect(res.status).toBe(400)
    expect(((await res.json()) as ErrorOut).error.details).toContainEqual({
      field: 'target',
      message: 'must be literal for workflow_rollback (labels cannot choose it)',
    })
    const viewerRun = await t.json(
      'POST',
      '/api/v1/healing/actions',
      { type: 'workflow_rollback', target: 'prod', params: { workflowId: 'orders' } },
      viewer.headers,
    )
    expect(viewerRun.status).toBe(403)
  })

  it('a workflow without history, or with no version before, fails at once; an unreachable n8n is retried', async () => {
    const unknown = await manual({ target: 'prod', params: { workflowId: 'never-pulled' } })
    await tick()
    expect(await get(unknown.id)).toMatchObject({
      status: 'FAILED',
      attempt: 1,
      reason: 'n8n prod: Workflow never-pulled of n8n prod not found',
    })
    n8n.addWorkflow('single', 'Single')
    await pull(prod)
    const first = await manual({ target: 'prod', params: { workflowId: 'single' } })
    await tick()
    expect(await get(first.id)).toMatchObject({
      status: 'FAILED',
      attempt: 1,
      reason: 'n8n prod: Workflow single has no version before 1',
    })
    n8n.deleteWorkflow('single')
    const deleted = await manual({ target: 'prod', params: { workflowId: 'single', to: 1 } })
    await tick()
    expect((await get(deleted.id)).reason).toMatch(/^n8n prod: Workflow single no longer exists in n8n prod/)

    // The instance moves to an address where nothing listens: a 502 the next attempt may not see.
    const moved = await t.json(
      'PATCH',
      `/api/v1/healing/n8n-instances/${old}`,
      { baseUrl: 'http://127.0.0.1:9', apiKey: KEY },
      admin.headers,
    )
    expect(moved.status).toBe(200)
    const down = await manual({ target: 'old', params: { workflowId: 'billing' } })
    await tick()
    const retried = await get(down.id)
    expect(retried).toMatchObject({ status: 'PENDING', attempt: 1 })
    expect(retried.timeline!.at(-1)!.message).toMatch(/^attempt 1 failed: n8n old: .*; retry at /)
  })
})
