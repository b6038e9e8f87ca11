/**
 * `prompt_rollback` by a healing rule, end to end through the real app: prompt_score points in →
 * the "Prompt performance drop" alert rule fires → the "prompt-performance-drop" healing template's
 * rule runs → the production label moves back → its verification (the restored version's scores
 * since the move) succeeds, or, when the scores do not recover, the label is moved back again.
 */
import { moveInbox } from '../../app/modules/metrics/inbox.ts'
import { eq } from 'drizzle-orm'
import { afterAll, describe, expect, it } from 'vitest'
import { auditLog } from '../../db/schema/audit.ts'
import { testApp } from '../helpers/app.ts'

const t = await testApp()
afterAll(async () => {
  await t.services.healing.settle()
  t.close()
})
const op = await t.key('operator')
const viewer = await t.key('viewer')
const ingest = await t.key('viewer', ['ingest'])

type Action = {
  id: string
  status: string
  target: string
  reason: string | null
  output: Record<string, any>
  timeline?: { status: string; message: string }[]
}

const tick = async (at: number) => {
  await t.services.healing.tick(at)
  await t.services.healing.settle()
}
const score = async (prompt: string, version: number, values: number[], ts: number) => {
  const points = values.map((value, i) => ({
    name: 'prompt_score',
    labels: { prompt, version: String(version) },
    value,
    ts: ts + i,
  }))
  const res = await t.json('POST', '/api/v1/metrics', { points }, ingest.headers)
  expect(res.status, await res.clone().text()).toBe(200)
  // Reads see points once the inbox mover has run; move them now rather than race its timer.
  await moveInbox(t.db)
}
const production = async (name: string) =>
  ((await (await t.app.request(`/api/v1/prompts/${name}`, { headers: viewer.headers })).json()) as { version: number })
    .version
const actionsOf = async (ruleId: string) =>
  (
    (await (
      await t.app.request(`/api/v1/healing/actions?rule=${ruleId}&limit=500`, { headers: viewer.headers })
    ).json()) as { items: Action[] }
  ).items
const detail = async (id: string) =>
  (await (await t.app.request(`/api/v1/healing/actions/${id}`, { headers: viewer.headers })).json()) as Action

async function promptWithTwoVersions(name: string) {
  expect((await t.json('POST', '/api/v1/prompts', { name }, op.headers)).status).toBe(201)
  for (const [template, label] of [
    ['Help {{customer}}.', 'production'],
    ['Help {{customer}}, quickly.', 'production'],
  ] as const) {
    const res = await t.json(
      'POST',
      `/api/v1/prompts/${name}/versions`,
      { template, variables: ['customer'], label },
      op.headers,
    )
    expect(res.status).toBe(201)
  }
  expect(await production(name)).toBe(2)
}

// The alert rule from the "Prompt performance drop" template, as a user adds it.
const templates = (await (await t.app.request('/api/v1/alert-rule-templates', { headers: op.headers })).json()) as {
  items: { id: string; rule: Record<string, unknown> }[]
}
const alertRule = templates.items.find((x) => x.id === 'prompt-performance-drop')!.rule
expect((await t.json('POST', '/api/v1/alert-rules', alertRule, op.headers)).status).toBe(201)
t.services.alerts.invalidateRules()

// The healing rule from its healing template: every prompt, verified within a minute.
const made = await t.json(
  'POST',
  '/api/v1/healing/rule-templates/prompt-performance-drop',
  { verifyWithinMs: 60_000 },
  op.headers,
)
expect(made.status, await made.clone().text()).toBe(201)
const rule = (await made.json()) as { id: string; actionType: string; target: string; params: Record<string, unknown> }

describe('prompt_rollback from the prompt performance drop template', () => {
  it('the template makes a prompt_rollback rule on the alert’s prompt and version', () => {
    expect(rule).toMatchObject({
      actionType: 'prompt_rollback',
      target: '{{prompt}}',
      params: { label: 'production', to: 'previous', ifVersion: '{{version}}' },
    })
  })

  it('score drop → alert → label moved back → verified when the restored version scores well', async () => {
    await promptWithTwoVersions('support')
    // Alerts are stamped to the second: evaluated a second on, so the alert is after the rule.
    const T = Date.now() + 1000
    await score('support', 2, [0.2, 0.3, 0.25], T - 5000)
    await t.services.alerts.evaluateAll(T)
    await tick(T)
    expect(await production('support')).toBe(1)
    const [a] = await actionsOf(rule.id)
    expect(a).toMatchObject({ target: 'support', status: 'VERIFYING' })
    expect(a!.output.result).toMatchObject({ label: 'production', from: 2, to: 1 })
    // Still verifying: no score of version 1 since the move yet.
    await tick(T + 2000)
    expect((await detail(a!.id)).status).toBe('VERIFYING')
    await score('support', 1, [0.9, 0.85, 0.95], T + 2500)
    await tick(T + 4000)
    const done = await detail(a!.id)
    expect(done.status).toBe('SUCCESS')
    expect(done.output.verification.passed).toMatchObject({ version: 1, samples: 3 })
    expect(await production('support')).toBe(1)
    const audit = await t.db.select().from(auditLog).where(eq(auditLog.action, 'prompt.rolled_back'))
    expect(audit.map((r) => [r.actor.startsWith('healing:'), r.target])).toEqual([[true, 'support:production']])
  })

  it('undoes the rollback (label back) when the restored version does not recover within the window', async () => {
    await promptWithTwoVersions('faq')
    const T = Date.now() + 1000
    await score('faq', 2, [0.1, 0.2, 0.1], T - 5000)
    await t.services.alerts.evaluateAll(T)
    await tick(T)
    expect(await production('faq')).toBe(1)
    const a = (await actionsOf(rule.id)).find((x) => x.target === 'faq')!
    expect(a.status).toBe('VERIFYING')
    await score('faq', 1, [0.3, 0.4, 0.2, 0.3], T + 1000)
    await tick(T + 3000)
    expect((await detail(a.id)).status).toBe('VERIFYING')
    // Past the minute: rolled back, the label where it was.
    await tick(T + 62_000)
    const done = await detail(a.id)
    expect(done.status).toBe('ROLLED_BACK')
    expect(done.output.rollback).toMatchObject({ label: 'production', from: 1, to: 2 })
    expect(await production('faq')).toBe(2)
    const history = (await (await t.app.request('/api/v1/prompts/faq/labels', { headers: viewer.headers })).json()) as {
      history: { from: number | null; to: number; actor: string }[]
    }
    expect(history.history.slice(0, 2).map((h) => [h.from, h.to, h.actor.startsWith('healing:')])).toEqual([
      [1, 2, true],
      [2, 1, true],
    ])
  })

  it('moves nothing when the alert is about a version the label no longer points at', async () => {
    // faq's production is back on 2; its version 1 scored low above (stamped up to 2 s ahead), so an
    // alert about version 1 fires now.
    const T = Date.now() + 5000
    const before = new Set((await actionsOf(rule.id)).map((a) => a.id))
    await t.services.alerts.evaluateAll(T)
    await tick(T)
    const fresh = (await actionsOf(rule.id)).filter((a) => !before.has(a.id))
    expect(fresh.map((a) => a.target)).toEqual(['faq'])
    expect(fresh[0]!.output.result.skipped).toBe('the label production points at version 2, not 1')
    expect(await production('faq')).toBe(2)
  })

  it('refuses a manual prompt_rollback on a prompt or label that does not exist, naming the field', async () => {
    const res = await t.json(
      'POST',
      '/api/v1/healing/actions',
      { type: 'prompt_rollback', target: 'nope', params: {} },
      op.headers,
    )
    expect(res.status).toBe(400)
    const body = (await res.json()) as { error: { details: { field: string }[] } }
    expect(body.error.details.map((d) => d.field)).toEqual(['target'])
    const params = await t.json(
      'POST',
      '/api/v1/healing/actions',
      { type: 'prompt_rollback', target: 'support', params: { to: 'latest' } },
      op.headers,
    )
    expect(params.status).toBe(400)
    expect(
      ((await params.json()) as { error: { details: { field: string }[] } }).error.details.map((d) => d.field),
    ).toEqual(['params.to'])
  })
})
