/**
 * The real server, started the way `npm start` (Bun) and `npm run start:deno` (Deno) start it, on a
 * temp file database: probes, first-run setup link, an API key made by the CLI, graceful shutdown
 * with a request in flight, a bad setting, and `npm run db:migrate`.
 */
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import { createClient } from '@libsql/client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  killAll,
  ROOT,
  runCli,
  runScript,
  startServer,
  tempData,
  type RunningServer,
  type Runtime,
} from '../helpers/server.ts'

const runtimes: Runtime[] = ['bun', 'deno']
const migrationCount = (
  JSON.parse(readFileSync(join(ROOT, 'db/migrations/meta/_journal.json'), 'utf8')) as { entries: unknown[] }
).entries.length

afterAll(killAll)

/**
 * An HTTP/1.1 request over a raw socket whose body is sent in two parts, so the test decides when
 * the request finishes. `response` resolves with the status and body once the server answers.
 */
async function splitRequest(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string>,
  body: string,
  firstBytes: number,
) {
  const socket = connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject))
  let raw = ''
  const response = new Promise<{ status: number; body: string }>((resolve, reject) => {
    const done = () => {
      const end = raw.indexOf('\r\n\r\n')
      if (end < 0) return false
      const head = raw.slice(0, end)
      const length = Number(head.match(/content-length:\s*(\d+)/i)?.[1] ?? NaN)
      const rest = raw.slice(end + 4)
      if (Number.isFinite(length) && Buffer.byteLength(rest) < length) return false
      resolve({ status: Number(head.split(' ')[1]), body: rest })
      return true
    }
    socket.setEncoding('utf8')
    socket.on('data', (d: string) => {
      raw += d
      if (done()) socket.end()
    })
    socket.on('close', () =>
      done() ? undefined : reject(new Error(`connection closed without a full response: ${JSON.stringify(raw)}`)),
    )
    socket.on('error', reject)
  })
  response.catch(() => {}) // observed by the caller
  const head = Object.entries({
    Host: `127.0.0.1:${port}`,
    'Content-Length': String(Buffer.byteLength(body)),
    Connection: 'close',
    ...headers,
  })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')
  socket.write(`${method} ${path} HTTP/1.1\r\n${head}\r\n${body.slice(0, firstBytes)}`)
  return { response, finish: () => socket.write(body.slice(firstBytes)), destroy: () => socket.destroy() }
}

describe.each(runtimes)('the server under %s', (runtime) => {
  let server: RunningServer
  let adminKey: string

  beforeAll(async () => {
    server = await startServer({ runtime })
  })

  it('prints the URL it listens on and, with no users yet, a one-time setup link', async () => {
    await server.waitForOutput(/setup\?token=/)
    expect(server.stdout()).toContain(`Homeostat ${runtime} listening on ${server.url}`)
    expect(server.stdout()).toMatch(
      new RegExp(`${server.url.replace(/[.:/]/g, '\\$&')}/setup\\?token=[A-Za-z0-9_-]{20,}`),
    )
    expect(server.stderr()).toBe('')
  })

  it('answers /ready with every check ok, and /health', async () => {
    const ready = await server.fetch('/ready')
    expect(ready.status).toBe(200)
    const body = (await ready.json()) as { status: string; checks: { name: string; ok: boolean; detail?: string }[] }
    expect(body.status).toBe('ready')
    expect(body.checks.map((c) => c.name).sort()).toEqual(['database', 'disk', 'migrations', 'scheduler'])
    for (const check of body.checks) expect(check, check.name).toMatchObject({ ok: true })
    expect(body.checks.find((c) => c.name === 'migrations')?.detail).toBe(
      `${migrationCount} of ${migrationCount} applied`,
    )

    const health = await server.fetch('/health')
    expect(health.status).toBe(200)
    expect(await health.json()).toMatchObject({ status: 'ok' })
  })

  it('the setup link shows the form once, creates the admin, and then no longer works', async () => {
    const link = new URL((await server.waitForOutput(/http:\/\/\S+\/setup\?token=\S+/))[0])
    const token = link.searchParams.get('token')!

    const form = await server.fetch(link.pathname + link.search)
    expect(form.status).toBe(200)
    const html = await form.text()
    expect(html).toContain('<form method="post" action="/setup"')
    expect(html).toContain(`value="${token}"`)

    const created = await server.fetch('/setup', {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({
        token,
        email: `admin-${runtime}@example.com`,
        name: 'Ada',
        password: 'a long enough password',
      }),
    })
    expect(created.status).toBe(303)
    expect(created.headers.get('set-cookie')).toMatch(/hs_session=[^;]+;.*HttpOnly/i)

    // Used: the link no longer shows the form, and posting it again creates nobody.
    const again = await server.fetch(link.pathname + link.search, { redirect: 'manual' })
    expect(again.status).toBe(302)
    expect(again.headers.get('location')).toBe('/login')
    const replay = await server.fetch('/setup', {
      method: 'POST',
      redirect: 'manual',
      body: new URLSearchParams({ token, email: `intruder-${runtime}@example.com`, password: 'another long password' }),
      headers: { Accept: 'application/json' },
    })
    expect(replay.status).toBeGreaterThanOrEqual(400)
    expect(replay.status).toBeLessThan(500)
    const users = await runCli(['users', 'list'], server.env)
    expect(users.stdout).toContain(`admin-${runtime}@example.com`)
    expect(users.stdout).not.toContain('intruder')
  })

  it('accepts an API key created by the CLI on GET /api/v1/whoami', async () => {
    const made = await runCli(['keys', 'create', '--name', `e2e-${runtime}`, '--role', 'admin'], server.env)
    expect(made.code, made.stderr).toBe(0)
    adminKey = made.stdout.trim()
    expect(adminKey).toMatch(/^hs_[a-z0-9]{8}_[A-Za-z0-9_-]+$/)

    const res = await server.fetch('/api/v1/whoami', { headers: { Authorization: `Bearer ${adminKey}` } })
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      kind: 'api_key',
      id: expect.any(String),
      name: adminKey.slice(0, 11),
      role: 'admin',
      scopes: [],
    })

    const viaHeader = await server.fetch('/api/v1/whoami', { headers: { 'X-API-Key': adminKey } })
    expect(viaHeader.status).toBe(200)
    const anonymous = await server.fetch('/api/v1/whoami')
    expect(anonymous.status).toBe(401)
    expect(await anonymous.json()).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } })
  })

  it('takes Prometheus deliveries through the transaction thread: repeats counted, resolved, listed', async () => {
    const alert = (endsAt: number) => ({
      labels: { alertname: `Runtime${runtime}`, instance: 'a:9100', severity: 'critical' },
      annotations: { summary: 'down' },
      startsAt: new Date(Date.now() - 1000).toISOString(),
      endsAt: new Date(endsAt).toISOString(),
    })
    const post = (body: unknown) =>
      server.fetch('/api/v2/alerts', {
        method: 'POST',
        headers: { Authorization: `Bearer ${adminKey}`, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      })
    const replies = await Promise.all(Array.from({ length: 20 }, () => post([alert(Date.now() + 300_000)])))
    expect(replies.map((r) => r.status)).toEqual(Array(20).fill(200))
    const list = async () =>
      (
        (await (
          await server.fetch(`/api/v1/alerts?source=prometheus`, { headers: { Authorization: `Bearer ${adminKey}` } })
        ).json()) as { items: { title: string; status: string; repeatCount: number }[] }
      ).items
    expect((await list()).filter((a) => a.title === `Runtime${runtime}`)).toMatchObject([
      { status: 'firing', repeatCount: 20 },
    ])
    expect((await post([alert(Date.now() - 500)])).status).toBe(200)
    expect((await list()).filter((a) => a.title === `Runtime${runtime}`)).toMatchObject([
      { status: 'resolved', repeatCount: 20 },
    ])
  })

  it('records the caller address the runtime reports in the audit log', async () => {
    const res = await server.fetch('/api/v1/audit?action=auth.setup', {
      headers: { Authorization: `Bearer ${adminKey}` },
    })
    expect(res.status).toBe(200)
    const { items } = (await res.json()) as { items: { action: string; ip: string | null; requestId: string | null }[] }
    expect(items).toHaveLength(1)
    expect(items[0]).toMatchObject({ action: 'auth.setup', ip: '127.0.0.1', requestId: expect.any(String) })
  })

  it('on SIGTERM finishes the request in flight, takes no new ones, closes and exits 0', async () => {
    const email = `late-${runtime}@example.com`
    const body = JSON.stringify({ email, role: 'viewer', password: 'a long enough password' })
    const slow = await splitRequest(
      server.port,
      'POST',
      '/api/v1/users',
      { Authorization: `Bearer ${adminKey}`, 'Content-Type': 'application/json' },
      body,
      10,
    )
    try {
      // A full round trip on another connection: by then the server has read the slow request's head.
      expect((await server.fetch('/health')).status).toBe(200)

      server.child.kill('SIGTERM')
      await server.waitForOutput(/"msg":"shutting down".*"signal":"SIGTERM"/)
      expect(server.child.exitCode, 'exited with a request still in flight').toBeNull()

      // New requests are refused (connection refused, or 503 while Deno drains).
      const fresh = await server.fetch('/health').then(
        (r) => r.status,
        (error: Error) => String(error.cause ?? error),
      )
      expect(
        fresh === 503 || /ECONNREFUSED|ECONNRESET|other side closed/.test(String(fresh)),
        `new request during shutdown got ${fresh}`,
      ).toBe(true)

      slow.finish()
      const answer = await slow.response
      expect(answer.status, answer.body).toBe(201)
      expect(JSON.parse(answer.body)).toMatchObject({ email, role: 'viewer' })
    } finally {
      slow.destroy()
    }

    expect(await server.stop('SIGTERM', 15_000)).toBe(0)
    const lines = server.stdout().trim().split('\n')
    expect(lines.at(-1)).toMatch(/"msg":"stopped"/)
    expect(server.stdout()).toMatch(/"route":"\/api\/v1\/users","status":201/)

    // The request finished before the database closed: the user is there.
    const users = await runCli(['users', 'list'], server.env)
    expect(users.stdout).toContain(email)
  })
})

describe.each(runtimes)('starting and stopping under %s', (runtime) => {
  it('SIGINT stops it cleanly: exit code 0, "stopped" logged, within 15 s', async () => {
    const server = await startServer({
      runtime,
      env: { ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: 'a long enough password' },
    })
    expect(server.stdout()).toContain('Created admin root@example.com from ADMIN_EMAIL')
    expect(server.stdout()).not.toContain('setup?token=')
    expect(await server.stop('SIGINT', 15_000)).toBe(0)
    expect(server.stdout()).toMatch(/"msg":"shutting down".*"signal":"SIGINT"/)
    expect(server.stdout()).toMatch(/"msg":"stopped"/)
  })

  it('PORT=abc stops start-up with a message naming PORT', async () => {
    const server = await startServer({ runtime, env: { PORT: 'abc' }, waitForReady: false })
    const exit = await server.waitForExit(30_000)
    expect(exit.code).not.toBe(0)
    expect(exit.code).not.toBeNull()
    expect(server.stderr()).toContain('Invalid configuration')
    expect(server.stderr()).toMatch(/PORT="abc": must be a whole number from 0 to 65535/)
    expect(server.stdout()).not.toContain('listening')
  })

  it('ADMIN_PASSWORD shorter than 12 characters is refused by name, and not echoed', async () => {
    const server = await startServer({
      runtime,
      env: { ADMIN_EMAIL: 'a@example.com', ADMIN_PASSWORD: 'short' },
      waitForReady: false,
    })
    const exit = await server.waitForExit(30_000)
    expect(exit.code).not.toBe(0)
    expect(server.stderr()).toMatch(/ADMIN_PASSWORD.*at least 12 characters/)
    expect(server.stderr()).not.toContain('short"')
  })
})

describe('npm run db:migrate', () => {
  it('applies every migration to a fresh file, and running it again changes nothing', async () => {
    const { env } = tempData()
    const first = await runScript('db:migrate', [], env)
    expect(first.code, first.stderr).toBe(0)
    expect(first.stdout.trim()).toBe(`Migrations applied: ${migrationCount} of ${migrationCount}`)

    const client = createClient({ url: env.DATABASE_URL })
    try {
      const applied = await client.execute('select count(*) as n from __drizzle_migrations')
      expect(Number(applied.rows[0]!.n)).toBe(migrationCount)
      const tables = (await client.execute("select name from sqlite_master where type = 'table'")).rows.map((r) =>
        String(r.name),
      )
      expect(tables).toEqual(
        expect.arrayContaining(['users', 'sessions', 'api_keys', 'audit_log', 'job_runs', 'job_leases']),
      )
    } finally {
      client.close()
    }

    const second = await runScript('db:migrate', [], env)
    expect(second.code, second.stderr).toBe(0)
    expect(second.stdout.trim()).toBe(`Migrations applied: ${migrationCount} of ${migrationCount}`)
  })

  it('a bad DATABASE_URL is refused by name', async () => {
    const { env } = tempData()
    const result = await runScript('db:migrate', [], { ...env, DATABASE_URL: 'postgres://nope' })
    expect(result.code).not.toBe(0)
    expect(result.stderr).toMatch(/DATABASE_URL="postgres:\/\/nope": must start with/)
  })
})
