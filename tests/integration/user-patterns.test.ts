import { afterAll, describe, expect, it } from 'vitest'
import { testApp } from '../helpers/app.ts'

/**
 * Patterns users type cannot freeze the server (issue 16): they run on a linear-time engine, the
 * endpoints that evaluate them are for operators, and the silence form reads what its help says.
 * A backtracking engine fails the timed tests by timing out; none of them measures time itself.
 */
const t = await testApp()
afterAll(() => t.close())
const op = await t.key('operator')
const viewer = await t.key('viewer')
const ingest = await t.key('operator', ['ingest'])
const opSession = await t.session('operator')
const viewerSession = await t.session('viewer')

const json = (path: string, body: unknown, headers = op.headers) => t.json('POST', path, body, headers)
const form = (path: string, headers: Record<string, string>, fields: Record<string, string>) =>
  t.app.request(path, {
    method: 'POST',
    body: new URLSearchParams(fields).toString(),
    headers: { ...headers, 'HX-Request': 'true', 'Content-Type': 'application/x-www-form-urlencoded' },
  })

// Twenty open alerts whose agent is 40–60 `a`s and a `!`: `(a+)+` backtracks 2^n ways on each.
for (let i = 0; i < 20; i++) {
  const res = await json(
    '/api/v1/alerts',
    {
      title: `evil ${i}`,
      severity: 'warning',
      status: 'firing',
      labels: { agent: `${'a'.repeat(40 + i)}!`, case: 'patterns' },
    },
    ingest.headers,
  )
  if (res.status >= 300) throw new Error(await res.text())
}

const evil = [{ label: 'agent', op: '=~', value: '(a+)+' }]
const ruleDraft = {
  name: 'patterns',
  kind: 'threshold',
  metric: 'patterns_metric',
  comparator: '>',
  value: 1,
  matchers: [{ label: 'agent', op: '=~', value: '(a+)+' }],
}

describe('user regexes run in linear time', () => {
  it('a silence preview with agent=~"(a+)+" over twenty pathological labels answers', { timeout: 5000 }, async () => {
    const res = await json('/api/v1/silences/preview', { matchers: evil })
    expect(res.status, await res.clone().text()).toBe(200)
    expect(((await res.json()) as { count: number }).count).toBe(0)
  })

  it('the page preview of the same pattern answers', { timeout: 5000 }, async () => {
    const res = await form('/alerts/silences/preview', opSession.headers, { matchers: 'agent=~"(a+)+"' })
    expect(res.status, await res.clone().text()).toBe(200)
  })
})

describe('preview and test endpoints are for operators', () => {
  it('a viewer gets 403 on each; an operator is let through', async () => {
    const saved = await json('/api/v1/alert-rules', ruleDraft)
    expect(saved.status, await saved.clone().text()).toBe(201)
    const ruleId = ((await saved.json()) as { id: string }).id

    const api: [string, unknown, number][] = [
      ['/api/v1/silences/preview', { matchers: evil }, 200],
      ['/api/v1/alert-rules/test', ruleDraft, 200],
      [`/api/v1/alert-rules/${ruleId}/test`, {}, 200],
      // An unknown rule: past the access check, the simulation finds nothing to run.
      ['/api/v1/healing/simulate', { ruleId: 'no-such', from: Date.now() - 60_000 }, 404],
    ]
    for (const [path, body, status] of api) {
      expect((await json(path, body, viewer.headers)).status, `viewer ${path}`).toBe(403)
      const res = await json(path, body, op.headers)
      expect(res.status, `operator ${path}: ${await res.clone().text()}`).toBe(status)
    }

    const pages: [string, Record<string, string>][] = [
      ['/alerts/silences/preview', { matchers: 'agent=~"(a+)+"' }],
      ['/alerts/rules/test', { name: 'p', kind: 'threshold', metric: 'patterns_metric', comparator: '>', value: '1' }],
      [`/alerts/rules/${ruleId}/test`, {}],
      ['/healing/simulate', { name: 'p' }],
    ]
    for (const [path, fields] of pages) {
      expect((await form(path, viewerSession.headers, fields)).status, `viewer ${path}`).toBe(403)
      const res = await form(path, opSession.headers, fields)
      expect(res.status, `operator ${path}`).not.toBe(403)
      expect(res.status, `operator ${path}`).toBeLessThan(500)
    }
  })
})

describe('the silence form', () => {
  const silenceOf = async (matchers: string) => {
    const before = (
      (await (await t.app.request('/api/v1/silences', { headers: op.headers })).json()) as {
        items: { id: string }[]
      }
    ).items.map((s) => s.id)
    const res = await form('/alerts/silences', opSession.headers, { matchers, duration: '1h', comment: 'patterns' })
    const after = (
      (await (await t.app.request('/api/v1/silences', { headers: op.headers })).json()) as {
        items: { id: string; matchers: unknown[] }[]
      }
    ).items
    return { res, created: after.filter((s) => !before.includes(s.id)) }
  }

  it('reads matchers separated by commas as its help says', async () => {
    const { res, created } = await silenceOf('env="prod", agent="x"')
    expect(res.status, await res.clone().text()).toBeLessThan(400)
    expect(created).toHaveLength(1)
    expect(created[0]!.matchers).toEqual([
      { label: 'env', op: '=', value: 'prod' },
      { label: 'agent', op: '=', value: 'x' },
    ])
  })

  it('keeps a comma inside quotes in its value', async () => {
    const { res, created } = await silenceOf('msg="a, b"')
    expect(res.status, await res.clone().text()).toBeLessThan(400)
    expect(created[0]!.matchers).toEqual([{ label: 'msg', op: '=', value: 'a, b' }])
  })

  it('refuses what it cannot parse with a 400 naming the field', async () => {
    for (const matchers of ['env="prod", just words', 'msg="unclosed', 'env="prod", =x']) {
      const { res, created } = await silenceOf(matchers)
      expect(res.status, matchers).toBe(400)
      const body = await res.text()
      expect(body, matchers).toContain('matchers')
      expect(body, matchers).toContain('is not label=')
      expect(created).toEqual([])
    }
  })
})
