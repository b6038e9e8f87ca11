import { toJsonSchema } from '@valibot/to-json-schema'
import * as v from 'valibot'
import { afterAll, describe, expect, it } from 'vitest'
import { routeTable, type RouteInfo } from '../../app/lib/route-meta.ts'
import { testApp } from '../helpers/app.ts'

const LIMIT = 4096
const t = await testApp({ BODY_LIMIT_BYTES: String(LIMIT), INGEST_BODY_LIMIT_BYTES: String(LIMIT) })
afterAll(() => t.close())

const admin = await t.key('admin')
const victimUser = await t.user('operator', 'victim@example.com')
const victimKey = (await (
  await t.json('POST', '/api/v1/keys', { name: 'victim', role: 'viewer' }, admin.headers)
).json()) as { id: string }
await t.login(victimUser.email) // a session row, so the sessions table is not empty

const WRITE = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])
const writeRoutes = routeTable(t.app).filter((r) => WRITE.has(r.method))

const SQL = "'; DROP TABLE users; --"
const SCRIPT = '<script>alert(1)</script>'
const HUGE = 'x'.repeat(3000) // over every field limit, under the body limit

/**
 * A valid body for each route that validates one, so that "valid but for one thing" cases prove
 * the one thing is refused. Routes added later get a generated body when the generator can make
 * one their own schema accepts.
 */
const samples: Record<string, Record<string, unknown>> = {
  'POST /api/v1/users': { email: 'fuzz@example.com', name: 'Fuzz', role: 'viewer', password: 'a long enough password' },
  'PATCH /api/v1/users/:id': { name: 'Renamed' },
  'POST /api/v1/keys': { name: 'fuzz', role: 'viewer' },
  'POST /api/v1/me/password': { currentPassword: 'x', newPassword: 'a long enough password' },
  'POST /api/v1/me/2fa/enable': { code: '123456' },
  'POST /api/v1/me/2fa/disable': { password: 'x' },
  'POST /login': { email: 'victim@example.com', password: 'wrong password' },
  'POST /login/2fa': { ticket: 'x', code: '123456' },
  'POST /setup': { token: 'x', email: 'fuzz@example.com', password: 'a long enough password' },
  'POST /settings/users': { email: 'fuzz@example.com', role: 'viewer', password: 'a long enough password' },
  'PATCH /settings/users/:id': { role: 'viewer' },
  'POST /settings/keys': { name: 'fuzz', role: 'viewer' },
  'POST /settings/security/2fa/enable': { code: '123456' },
  'POST /settings/security/2fa/disable': { password: 'x' },
  'POST /settings/security/password': { currentPassword: 'x', newPassword: 'a long enough password' },
  'POST /api/v1/silences': { matchers: [{ label: 'agent', op: '=', value: 'fuzz' }], duration: '1h' },
  'POST /api/v1/silences/preview': { matchers: [{ label: 'agent', op: '=', value: 'fuzz' }] },
  'POST /api/v1/alerts/:id/mute': { duration: '1h' },
  'PUT /api/v1/silences/:id/public': { title: 'Fuzz maintenance' },
  'POST /alerts/silences/:id/public': { title: 'Fuzz maintenance' },
  'POST /api/v1/status-pages': { slug: 'fuzz', title: 'Fuzz status' },
  'PATCH /api/v1/status-pages/:id': { title: 'Renamed' },
  'POST /api/v1/status-pages/:id/incidents': { title: 'Fuzz incident', message: 'Looking into it' },
  'PATCH /api/v1/status-incidents/:id': { title: 'Renamed' },
  'POST /api/v1/status-incidents/:id/updates': { status: 'monitoring', message: 'A fix is out' },
  'POST /status-pages': { slug: 'fuzz', title: 'Fuzz status' },
  'POST /status-pages/:id': { slug: 'fuzz', title: 'Fuzz status' },
  'POST /status-incidents': { pageId: 'no-such-page', title: 'Fuzz incident', message: 'Looking into it' },
  'POST /status-incidents/:id/updates': { status: 'monitoring', message: 'A fix is out' },
  'POST /api/v2/silences': {
    matchers: [{ name: 'agent', value: 'fuzz', isRegex: false }],
    startsAt: '2026-01-01T00:00:00Z',
    endsAt: '2099-01-01T00:00:00Z',
    createdBy: 'fuzz',
    comment: 'fuzz',
  },
  'POST /api/v1/hooks/alertmanager': {
    version: '4',
    status: 'firing',
    alerts: [{ status: 'firing', labels: { alertname: 'Fuzz' } }],
  },
  'POST /api/v1/hooks/grafana': { status: 'firing', alerts: [{ status: 'firing', labels: { alertname: 'Fuzz' } }] },
  // Prometheus posts a JSON array (Alertmanager API v2), not an object.
  'POST /api/v2/alerts': [{ labels: { alertname: 'Fuzz' } }] as unknown as Record<string, unknown>,
  'POST /api/v1/webhooks': { url: 'https://example.com/hook', events: ['fired'] },
  'PUT /api/v1/n8n/health/workflows/:id/expectation': { every: '1h' },
  'POST /api/v1/n8n/failure-rules': { name: 'fuzz', pattern: 'quota', class: 'rate_limit' },
  'PATCH /api/v1/n8n/failure-rules/:id': { class: 'timeout' },
  'POST /api/v1/healing/rules': {
    name: 'fuzz',
    trigger: { type: 'alert' },
    actionType: 'webhook',
    target: 'fuzz',
    params: { url: 'https://example.com/hook' },
  },
  'POST /api/v1/healing/actions': { type: 'webhook', target: 'fuzz', params: { url: 'https://example.com/hook' } },
  'POST /api/v1/healing/simulate': { ruleId: 'no-such-rule', from: '2026-01-01T00:00:00Z' },
  'POST /api/v1/healing/n8n-instances': { name: 'fuzz', baseUrl: 'https://n8n.example.com', apiKey: 'fuzz-key' },
  'POST /api/v1/healing/breakers/:key/report': { ok: false, error: 'fuzz' },
  'PATCH /api/v1/healing/breakers/:key': { failureRate: 0.5, baseBackoffMs: 1000 },
  'POST /api/v1/model-routes': {
    name: 'fuzz-route',
    targets: [{ model: 'llama3:8b', host: 'http://127.0.0.1:11434' }],
    probePath: '/api/tags',
  },
  'PATCH /api/v1/model-routes/:name': { description: 'fuzz' },
  'POST /api/v1/model-routes/:name/failover': { reason: 'fuzz' },
  'POST /api/v1/model-routes/:name/failback': { reason: 'fuzz', toIndex: 0 },
  'POST /api/v1/prompts': { name: 'fuzz-prompt', description: 'fuzz' },
  'POST /api/v1/prompts/:name/versions': { template: 'Hello {{customer}}', variables: ['customer'], note: 'fuzz' },
  'PUT /api/v1/prompts/:name/labels/:label': { version: 1, reason: 'fuzz' },
  'POST /api/v1/prompts/:name/rollback': { label: 'production', reason: 'fuzz' },
  'POST /prompts': { name: 'fuzz-page-prompt' },
  'POST /prompts/:name/labels': { label: 'production', version: '1' },
  'POST /prompts/:name/versions': { template: 'Hello', note: 'fuzz' },
  'POST /healing/breakers/reset': { key: 'model:fuzz' },
  'POST /healing/n8n': { name: 'fuzz', baseUrl: 'http://127.0.0.1:5678', apiKey: 'fuzz-key' },
  'POST /backups/workflows/rollback': { instance: 'no-such-instance', id: 'w1', to: '1' },
  'POST /api/v1/backup-targets': { name: 'fuzz-target', kind: 'homeostat' },
  'POST /backups/run': { target: 'homeostat' },
  'POST /api/v1/n8n/workflows/validate': { workflows: [{ name: 'fuzz', nodes: [], connections: {} }] },
  'POST /api/v1/models': { id: 'fuzz-model', baseModel: 'qwen2.5:7b' },
  'PATCH /api/v1/models/:id': { notes: 'fuzz' },
  'POST /api/v1/models/validate': { modelfile: 'FROM qwen2.5:7b' },
  'POST /api/v1/models/:id/versions': { version: '1.0.0', modelfile: 'FROM qwen2.5:7b' },
  'POST /api/v1/models/:id/versions/:version/status': { status: 'deprecated' },
  'POST /api/v1/models/:id/versions/:version/deploy': { host: 'fuzz-host' },
  'POST /api/v1/models/:id/rollback': { host: 'fuzz-host' },
  'PUT /api/v1/models/:id/aliases/:alias': { version: '1.0.0' },
  'POST /api/v1/ollama-hosts': { name: 'fuzz-host', url: 'http://127.0.0.1:11434' },
  'PATCH /api/v1/ollama-hosts/:id': { url: 'http://127.0.0.1:11434' },
  'POST /models/:id/deploy': { host: 'fuzz-host', version: '1.0.0' },
  'POST /models/:id/rollback': { host: 'fuzz-host' },
  'POST /models/:id/aliases': { alias: 'production', version: '1.0.0' },
  'PUT /api/v1/runs/:id': { goal: 'fuzz', labels: { team: 'fuzz' }, status: 'running' },
  'POST /api/v1/runs': { id: 'fuzz-run', goal: 'fuzz' },
  'POST /api/v1/runs/batch': { runs: [{ id: 'fuzz-run' }], tasks: [{ runId: 'fuzz-run', id: 'fuzz-task' }] },
  'PUT /api/v1/runs/:id/tasks/:task': { role: 'coder', status: 'running', inputTokens: 1 },
  'POST /api/v1/runs/:id/tasks': { tasks: [{ id: 'fuzz-task', role: 'coder' }] },
  'POST /api/v1/runs/:id/tasks/:task/failed': { error: 'SyntaxError: fuzz' },
  'POST /api/v1/runs/:id/decision': { action: 'abort' },
  'PUT /api/v1/run-policies/:scope': { maxAttempts: 2 },
  'POST /api/v1/run-class-rules': { name: 'fuzz', pattern: 'fuzz', class: 'tool_error' },
}

type Js = {
  type?: string | string[]
  properties?: Record<string, Js>
  required?: string[]
  enum?: unknown[]
  const?: unknown
  format?: string
  minLength?: number
  minimum?: number
  anyOf?: Js[]
}
function generate(js: Js, asText: boolean): unknown {
  if (js.const !== undefined) return js.const
  if (js.enum) return js.enum[0]
  if (js.anyOf) return generate(js.anyOf[0]!, asText)
  const type = Array.isArray(js.type) ? js.type[0] : js.type
  if (type === 'object')
    return Object.fromEntries((js.required ?? []).map((k) => [k, generate(js.properties?.[k] ?? {}, asText)]))
  if (type === 'number' || type === 'integer') return asText ? String(js.minimum ?? 1) : (js.minimum ?? 1)
  if (type === 'boolean') return asText ? 'true' : true
  if (type === 'array') return []
  if (js.format === 'email') return 'fuzz@example.com'
  return 'a'.repeat(Math.max(js.minLength ?? 1, 12))
}

const bodyInput = (r: RouteInfo) => r.inputs.find((i) => i.target === 'json' || i.target === 'form')
function sampleFor(r: RouteInfo): Record<string, unknown> | undefined {
  const input = bodyInput(r)
  if (!input) return undefined
  const sample =
    samples[`${r.method} ${r.path}`] ??
    (generate(toJsonSchema(input.schema, { errorMode: 'ignore' }) as Js, input.target === 'form') as Record<
      string,
      unknown
    >)
  return v.safeParse(input.schema, sample).success ? sample : undefined
}
const fieldsOf = (r: RouteInfo) =>
  Object.keys((toJsonSchema(bodyInput(r)!.schema, { errorMode: 'ignore' }) as Js).properties ?? {})

/** Real ids where a body is under test (so only the body can be the reason for a refusal); else `id`. */
function pathWith(r: RouteInfo, id?: string): string {
  return r.path.replace(
    /:(\w+)/g,
    () => id ?? (r.path.includes('/users/') ? victimUser.id : r.path.includes('/keys/') ? victimKey.id : 'no-such-id'),
  )
}

type Case = { name: string; path?: string; body?: BodyInit; type?: string; headers?: Record<string, string> }
const form = (o: Record<string, unknown>) =>
  new URLSearchParams(Object.entries(o).map(([k, x]) => [k, String(x)])).toString()

/** Routes whose path ids are the client's own (create-or-update by id, out-of-order reports of runs). */
const CLIENT_IDS = new Set([
  'PUT /api/v1/runs/:id',
  'PUT /api/v1/runs/:id/tasks/:task',
  'POST /api/v1/runs/:id/tasks',
  'POST /api/v1/runs/:id/tasks/:task/failed',
])

/** Fields whose limit is above HUGE on purpose: a failure's error text is a whole traceback (≤ 20,000). */
const LONG_TEXT = new Set(['POST /api/v1/runs/:id/tasks/:task/failed error'])

function casesFor(r: RouteInfo): Case[] {
  const input = bodyInput(r)
  const sample = sampleFor(r)
  const cases: Case[] = []
  const big = 'a'.repeat(LIMIT * 2)
  if (r.path.includes(':')) {
    // With a valid body where the route takes one, so the id is the only thing wrong.
    const body = input && sample ? enc(input.target, sample) : {}
    for (const bad of [SQL, SCRIPT, 'x'.repeat(300), '../../etc/passwd', '%00', 'no-such-id']) {
      // An id the client chooses names a row to create: an unknown one is not bad input there.
      if (bad === 'no-such-id' && CLIENT_IDS.has(`${r.method} ${r.path}`)) continue
      cases.push({ name: `bad id ${bad.slice(0, 20)}`, path: pathWith(r, encodeURIComponent(bad)), ...body })
    }
  }
  if (!input) {
    cases.push({ name: 'unexpected JSON body', body: '{"x":', type: 'application/json' })
    cases.push({ name: 'body over the limit', body: big, type: 'application/json' })
    return cases
  }
  const fields = fieldsOf(r)
  const everyField = (value: unknown) => Object.fromEntries(fields.map((f) => [f, value]))
  cases.push({
    name: 'body over the limit (Content-Length)',
    body: big,
    type: input.target === 'json' ? 'application/json' : 'application/x-www-form-urlencoded',
    headers: { 'Content-Length': String(big.length) },
  })
  cases.push({
    name: 'body over the limit (streamed)',
    body: new Blob([big]).stream(),
    type: input.target === 'json' ? 'application/json' : 'application/x-www-form-urlencoded',
  })
  cases.push({ name: 'SQL in every field', ...enc(input.target, everyField(SQL)) })
  cases.push({ name: 'script in every field', ...enc(input.target, everyField(SCRIPT)) })
  cases.push({ name: 'huge string in every field', ...enc(input.target, everyField(HUGE)) })
  cases.push({
    name: 'empty body',
    body: '',
    type: input.target === 'json' ? 'application/json' : 'application/x-www-form-urlencoded',
  })
  if (input.target === 'json') {
    cases.push({ name: 'malformed JSON', body: '{"name": ', type: 'application/json' })
    cases.push({ name: 'JSON with a trailing comma', body: '{"a":1,}', type: 'application/json' })
    for (const scalar of ['null', '42', '"text"', 'true', '[]'])
      cases.push({ name: `body is ${scalar}`, body: scalar, type: 'application/json' })
    cases.push({
      name: 'wrong types in every field',
      body: JSON.stringify(everyField({ nested: [1, 2] })),
      type: 'application/json',
    })
    cases.push({ name: 'numbers in every field', body: JSON.stringify(everyField(12345)), type: 'application/json' })
    if (sample) {
      cases.push({ name: 'array instead of object', body: JSON.stringify([sample]), type: 'application/json' })
      cases.push({
        name: 'unknown extra field',
        body: JSON.stringify({ ...sample, isAdmin: true }),
        type: 'application/json',
      })
      cases.push({
        name: 'prototype pollution key',
        body: `{"__proto__":{"role":"admin"},${JSON.stringify(sample).slice(1)}`,
        type: 'application/json',
      })
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml', ''])
        cases.push({ name: `Content-Type ${type || 'missing'}`, body: JSON.stringify(sample), type })
    }
  } else {
    cases.push({
      name: 'malformed multipart',
      body: '--zzz\r\nContent-Disposition: form-data; name="email"\r\n\r\nnope',
      type: 'multipart/form-data; boundary=zzz',
    })
    cases.push({ name: 'multipart without boundary', body: 'garbage', type: 'multipart/form-data' })
    cases.push({
      name: 'repeated fields',
      body: fields.map((f) => `${f}=a&${f}=b`).join('&'),
      type: 'application/x-www-form-urlencoded',
    })
    if (sample)
      for (const type of ['application/json', 'text/plain', ''])
        cases.push({
          name: `Content-Type ${type || 'missing'}`,
          body: type === 'application/json' ? JSON.stringify(sample) : form(sample),
          type,
        })
    // Unknown fields are not refused on forms by design: they carry _csrf and browser extras.
  }
  if (sample) {
    for (const [field, value] of Object.entries(sample)) {
      if (typeof value !== 'string') continue
      if (!LONG_TEXT.has(`${r.method} ${r.path} ${field}`))
        cases.push({ name: `huge ${field}, rest valid`, ...enc(input.target, { ...sample, [field]: HUGE }) })
      cases.push({
        name: `${field} as a number, rest valid`,
        ...enc(input.target, { ...sample, [field]: input.target === 'json' ? 7 : '' }),
      })
    }
  }
  return cases
}
function enc(target: string, o: Record<string, unknown>): Pick<Case, 'body' | 'type'> {
  return target === 'json'
    ? { body: JSON.stringify(o), type: 'application/json' }
    : { body: form(o), type: 'application/x-www-form-urlencoded' }
}

/** Every table but audit_log, without the columns a read legitimately touches. */
async function snapshot() {
  const ignored: Record<string, string[]> = { api_keys: ['last_used_at'], sessions: ['last_seen_at', 'expires_at'] }
  const tables = await t.client.execute(
    "select name from sqlite_master where type = 'table' and name <> 'audit_log' order by name",
  )
  const out: Record<string, string[]> = {}
  for (const { name } of tables.rows as unknown as { name: string }[]) {
    const res = await t.client.execute(`select * from "${name}"`)
    out[name] = res.rows
      .map((row) =>
        Object.fromEntries(
          res.columns.map((col, i) => [col, row[i]]).filter(([col]) => !ignored[name]?.includes(col as string)),
        ),
      )
      .filter((row) => !(name === 'sqlite_sequence' && row.name === 'audit_log')) // audit rows move its counter
      .map((row) => JSON.stringify(row))
      .sort()
  }
  return out
}

// Routes whose answer to an API key is a success by design, whatever the body: they read none.
const noInputSuccess: Record<string, string> = {
  'POST /logout': 'signs out; an API key has no session, so it answers 303',
  'POST /backups/workflows/pull': 'the Pull now button posts no fields: an empty form pulls every instance',
  'POST /n8n/poll': 'the Poll now button posts no fields: an empty form polls every instance',
}

describe('the fuzz covers every write route', () => {
  it('finds the write routes and a valid sample for each body they validate', () => {
    expect(writeRoutes.length).toBeGreaterThan(10)
    const missing = writeRoutes.filter((r) => bodyInput(r) && !sampleFor(r)).map((r) => `${r.method} ${r.path}`)
    expect(missing).toEqual([])
  })
})

describe.each(writeRoutes.map((r) => [`${r.method} ${r.path}`, r] as const))('%s', (name, route) => {
  it('refuses bad input with a 4xx and leaves the database unchanged', async () => {
    const before = await snapshot()
    const wrong: string[] = []
    for (const c of casesFor(route)) {
      const headers: Record<string, string> = { ...admin.headers, ...c.headers }
      if (c.type) headers['Content-Type'] = c.type
      const init: RequestInit & { duplex?: 'half' } = {
        method: route.method,
        headers,
        body: c.body,
        ...(c.body instanceof ReadableStream ? { duplex: 'half' } : {}),
      }
      const res = await t.app.request(c.path ?? pathWith(route, bodyInput(route) ? undefined : 'no-such-id'), init)
      const ok = noInputSuccess[name] && !c.path ? res.status < 500 : res.status >= 400 && res.status < 500
      if (!ok) wrong.push(`${c.name}: ${res.status} ${(await res.text()).slice(0, 200)}`)
      else await res.body?.cancel()
    }
    expect(wrong).toEqual([])
    expect(await snapshot()).toEqual(before)
  })
})

describe('what the fuzz refusals say', () => {
  it('an unknown field is named', async () => {
    const res = await t.json('POST', '/api/v1/keys', { name: 'k', role: 'viewer', isAdmin: true }, admin.headers)
    expect(res.status).toBe(400)
    expect(
      ((await res.json()) as { error: { details: { field: string; message: string }[] } }).error.details,
    ).toContainEqual({ field: 'isAdmin', message: 'unknown field' })
  })

  it('SQL and script text in a field that takes any text is stored as text and rendered escaped', async () => {
    const res = await t.json('POST', '/api/v1/keys', { name: `${SQL}${SCRIPT}`, role: 'viewer' }, admin.headers)
    expect(res.status).toBe(201)
    const { id } = (await res.json()) as { id: string }
    const stored = await t.client.execute({ sql: 'select name from api_keys where id = ?', args: [id] })
    expect(stored.rows[0]?.name).toBe(`${SQL}${SCRIPT}`)
    expect((await t.client.execute('select count(*) as n from users')).rows[0]?.n).toBeGreaterThan(0)
    const page = await (
      await t.app.request('/settings/keys', { headers: { ...admin.headers, Accept: 'text/html' } })
    ).text()
    expect(page).not.toContain(SCRIPT)
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
  })
})
