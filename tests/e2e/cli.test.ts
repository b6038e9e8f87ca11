/**
 * The command line (`npm run cli -- …`, i.e. `bun app/cli.ts …`) against a temp file database,
 * with a real server (Bun) on the same database to show its keys work and its revocations bite.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { killAll, runCli, startServer, until, type RunningServer } from '../helpers/server.ts'

const KEY = /^hs_[a-z0-9]{8}_[A-Za-z0-9_-]+$/

let server: RunningServer
let env: Record<string, string>

beforeAll(async () => {
  server = await startServer({
    runtime: 'bun',
    env: { ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: 'root password long enough' },
  })
  env = { DATABASE_URL: server.env.DATABASE_URL!, DATA_DIR: server.env.DATA_DIR! }
})
afterAll(killAll)

const whoami = (key: string) => server.fetch('/api/v1/whoami', { headers: { Authorization: `Bearer ${key}` } })

async function signIn(email: string, password: string) {
  return server.fetch('/login', { method: 'POST', redirect: 'manual', body: new URLSearchParams({ email, password }) })
}

describe('keys', () => {
  let key: string

  it('create prints only the new key on stdout, and the key works against the server', async () => {
    const result = await runCli(['keys', 'create', '--name', 'n', '--role', 'operator', '--scope', 'ingest'], env)
    expect(result.code, result.stderr).toBe(0)
    expect(result.stderr).toBe('')
    const lines = result.stdout.split('\n').filter((l) => l !== '')
    expect(lines).toHaveLength(1)
    expect(result.stdout).toBe(`${lines[0]}\n`)
    key = lines[0]!
    expect(key).toMatch(KEY)

    const res = await whoami(key)
    expect(res.status).toBe(200)
    expect(await res.json()).toMatchObject({
      kind: 'api_key',
      name: key.slice(0, 11),
      role: 'operator',
      scopes: ['ingest'],
    })
    // Ingest-only: the key reaches no admin or viewer route.
    expect((await server.fetch('/api/v1/users', { headers: { Authorization: `Bearer ${key}` } })).status).toBe(403)
  })

  it('list shows the prefix, name, role and scope, never the key', async () => {
    const result = await runCli(['keys', 'list'], env)
    expect(result.code, result.stderr).toBe(0)
    const prefix = key.slice(0, 11)
    const row = result.stdout.split('\n').find((l) => l.includes(prefix))
    expect(row, result.stdout).toBeDefined()
    expect(row).toMatch(/\bn\b.*\boperator\b.*\bingest\b/)
    expect(result.stdout).not.toContain(key)
    expect(result.stdout).not.toContain(key.slice(12))
  })

  it('revoke <prefix> makes the key fail with 401 (another process: within the key cache time)', async () => {
    const prefix = key.slice(0, 11)
    const result = await runCli(['keys', 'revoke', prefix], env)
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout.trim()).toBe(`revoked ${prefix}`)

    // The server caches a key check for 10 s; a revocation by another process lands within that.
    const res = await until(
      'revoked key refused',
      async () => {
        const r = await whoami(key)
        return r.status === 401 ? r : undefined
      },
      20_000,
      250,
    )
    expect(await res.json()).toMatchObject({ error: { code: 'key_revoked' } })

    const listed = await runCli(['keys', 'list'], env)
    expect(listed.stdout.split('\n').find((l) => l.includes(prefix))).toMatch(/\d{4}-\d\d-\d\dT[\d:.]+Z\s*│\s*$/)
  })

  it('revoking an unknown prefix fails and says so', async () => {
    const result = await runCli(['keys', 'revoke', 'hs_unknown0'], env)
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain('API key not found')
  })

  it('writes key.created and key.revoked to the audit log with the cli as actor', async () => {
    const admin = await runCli(['keys', 'create', '--name', 'auditor', '--role', 'admin'], env)
    const res = await server.fetch('/api/v1/audit?actor=cli', {
      headers: { Authorization: `Bearer ${admin.stdout.trim()}` },
    })
    expect(res.status).toBe(200)
    const { items } = (await res.json()) as { items: { action: string; actor: string; target: string }[] }
    expect(items.map((e) => e.action)).toEqual(expect.arrayContaining(['key.created', 'key.revoked']))
    expect(items.every((e) => e.actor === 'cli')).toBe(true)
  })
})

describe('users', () => {
  let password: string

  it('create --email --role prints a generated password that signs in', async () => {
    const result = await runCli(
      ['users', 'create', '--email', 'ops@example.com', '--role', 'operator', '--name', 'Ops'],
      env,
    )
    expect(result.code, result.stderr).toBe(0)
    const m = result.stdout.trim().match(/^created ops@example\.com with password: (\S{12,})$/)
    expect(m, result.stdout).not.toBeNull()
    password = m![1]!

    const ok = await signIn('ops@example.com', password)
    expect(ok.status).toBe(303)
    expect(ok.headers.get('set-cookie')).toMatch(/hs_session=/)
  })

  it('reset-password prints a new password; the old one stops working', async () => {
    const result = await runCli(['users', 'reset-password', '--email', 'ops@example.com'], env)
    expect(result.code, result.stderr).toBe(0)
    const m = result.stdout.trim().match(/^new password for ops@example\.com: (\S{12,})$/)
    expect(m, result.stdout).not.toBeNull()
    expect(m![1]).not.toBe(password)

    expect((await signIn('ops@example.com', password)).status).toBe(401)
    expect((await signIn('ops@example.com', m![1]!)).status).toBe(303)
  })

  it('reset-password for an unknown user fails', async () => {
    const result = await runCli(['users', 'reset-password', '--email', 'nobody@example.com'], env)
    expect(result.code).not.toBe(0)
    expect(result.stderr).toMatch(/not found/i)
  })

  it('list shows the users with their roles', async () => {
    const result = await runCli(['users', 'list'], env)
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/root@example\.com.*admin/)
    expect(result.stdout).toMatch(/ops@example\.com.*operator/)
  })
})

describe('bad input exits non-zero with a message naming the option', () => {
  const cases: [string, string[], RegExp][] = [
    [
      'an unknown role',
      ['keys', 'create', '--name', 'x', '--role', 'god'],
      /--role: must be one of viewer, operator, admin/,
    ],
    ['a missing --name', ['keys', 'create', '--role', 'admin'], /--name: /],
    [
      'an unknown scope',
      ['keys', 'create', '--name', 'x', '--role', 'admin', '--scope', 'everything'],
      /--scope: must be one of ingest/,
    ],
    [
      'a bad --expires-days',
      ['keys', 'create', '--name', 'x', '--role', 'admin', '--expires-days', 'soon'],
      /--expires-days: /,
    ],
    [
      'an unknown option',
      ['keys', 'create', '--name', 'x', '--role', 'admin', '--colour', 'red'],
      /Unknown option '--colour'/,
    ],
    ['an option without its value', ['keys', 'create', '--role', 'admin', '--name'], /--name/],
    ['an unknown command', ['keys', 'rotate'], /Unknown command: keys rotate/],
    ['users create without --email', ['users', 'create', '--role', 'viewer'], /--email: /],
    ['users create with a bad email', ['users', 'create', '--email', 'not-an-email', '--role', 'viewer'], /--email: /],
    [
      'users create with a short --password',
      ['users', 'create', '--email', 'x@example.com', '--role', 'viewer', '--password', 'short'],
      /--password: /,
    ],
    ['keys revoke without a prefix', ['keys', 'revoke'], /prefix/],
  ]

  it.each(cases)('%s', async (_name, args, message) => {
    const before = await runCli(['keys', 'list'], env)
    const result = await runCli(args, env)
    expect(result.code).not.toBe(0)
    expect(result.code).not.toBeNull()
    expect(result.stderr).toMatch(message)
    expect(result.stdout).toBe('')
    expect(result.stderr).not.toMatch(/\n\s+at .*\.ts:\d+/) // a message, not a stack trace
    expect((await runCli(['keys', 'list'], env)).stdout).toBe(before.stdout) // nothing was created
  })

  it('no command prints the usage and exits non-zero; --help exits 0', async () => {
    const none = await runCli([], env)
    expect(none.code).not.toBe(0)
    expect(none.stdout + none.stderr).toContain('Usage: npm run cli')
    const help = await runCli(['--help'], env)
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('keys create --name <name>')
  })

  it('a bad DATABASE_URL is refused by name', async () => {
    const result = await runCli(['keys', 'list'], { ...env, DATABASE_URL: 'mysql://x' })
    expect(result.code).not.toBe(0)
    expect(result.stderr).toMatch(/DATABASE_URL="mysql:\/\/x": must start with/)
  })
})
