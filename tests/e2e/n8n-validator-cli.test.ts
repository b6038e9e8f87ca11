/**
 * `npm run cli -- workflows validate` as a user's CI runs it (the real CLI under Bun): exit codes,
 * the human report and --json, a folder of Homeostat's history export, and --instance against the
 * n8n stand-in on loopback, registered in a real database file.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createSealer } from '../../app/lib/crypto.ts'
import { createN8nInstance } from '../../app/modules/healing/actions/n8n-instances.ts'
import { openDb } from '../../db/client.ts'
import { runMigrations } from '../../db/migrate.ts'
import { LOOPBACK_ALLOW } from '../helpers/app.ts'
import { startFakeN8n } from '../helpers/fake-n8n.ts'
import { killAll, runCli } from '../helpers/server.ts'

const FIXTURES = join(import.meta.dirname, '../fixtures/n8n-workflows')
const E2E = join(import.meta.dirname, 'n8n/workflows')
const dir = mkdtempSync(join(tmpdir(), 'homeostat-validate-'))
const env = {
  DATABASE_URL: `file:${join(dir, 'h.db')}`,
  DATA_DIR: dir,
  SECRET_KEY: 'validator-cli-secret-key-long-enough-1',
}
afterAll(async () => {
  await killAll()
  rmSync(dir, { recursive: true, force: true })
})

const validate = (...args: string[]) => runCli(['workflows', 'validate', ...args], env, 60_000)
const json = (stdout: string) => JSON.parse(stdout) as any

describe('files and folders', () => {
  it('the real exported workflows: exit 0, one ok line each and a summary', async () => {
    const r = await validate(E2E)
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout.match(/^ok {5}/gm)).toHaveLength(6)
    expect(r.stdout).toMatch(/^6 workflows: 0 errors, 0 warnings, 0 info$/m)
  })

  it('errors: exit 1; --json gives rule, severity, node and message', async () => {
    const r = await validate(join(FIXTURES, 'broken', 'expression-missing-node.json'), '--json')
    expect(r.code).toBe(1)
    const out = json(r.stdout)
    expect(out.ok).toBe(false)
    expect(out.workflows[0].findings).toEqual([
      {
        rule: 'expression-missing-node',
        severity: 'error',
        node: 'Send to ERP',
        message: expect.stringContaining('"Renamed"'),
      },
      {
        rule: 'expression-missing-node',
        severity: 'error',
        node: 'Send to ERP',
        message: expect.stringContaining('"Old name"'),
      },
    ])
  })

  it('warnings alone: exit 0, but 1 with --strict', async () => {
    const file = join(FIXTURES, 'broken', 'orphan-node.json')
    const r = await validate(file)
    expect(r.code).toBe(0)
    expect(r.stdout).toMatch(/WARN +orphan-node +"Leftover"/)
    expect((await validate(file, '--strict')).code).toBe(1)
  })

  it('a whole folder, --quiet lists only what has findings; --credentials reads an n8n credentials export', async () => {
    const r = await validate(FIXTURES, '--quiet', '--credentials', join(FIXTURES, '..', 'n8n-credentials.json'))
    expect(r.code).toBe(1)
    expect(r.stdout).not.toMatch(/^ok/m)
    for (const rule of ['shape', 'credential-missing', 'duplicate-webhook', 'code-syntax', 'no-error-workflow'])
      expect(r.stdout).toContain(rule)
    expect(r.stdout).toMatch(/^14 workflows: 10 errors, 4 warnings, 0 info$/m)
  })

  it('a history export (<instance>/<name>-<id>/<NNNN>-<time>-<hash>.json): the latest version counts, --all-versions all', async () => {
    const repo = join(dir, 'repo')
    const folder = join(repo, 'prod', 'Orders-w1')
    mkdirSync(folder, { recursive: true })
    const { default: good } = await import(join(FIXTURES, 'clean', 'active-order-webhook.json'), {
      with: { type: 'json' },
    })
    const { default: bad } = await import(join(FIXTURES, 'broken', 'code-syntax.json'), { with: { type: 'json' } })
    const envelope = (version: number, workflow: unknown) =>
      JSON.stringify({ instance: 'prod', workflowId: 'w1', version, kind: 'pull', workflow })
    writeFileSync(join(folder, '0001-20260101T000000Z-aaaaaaaaaaaa.json'), envelope(1, bad))
    writeFileSync(join(folder, '0002-20260102T000000Z-bbbbbbbbbbbb.json'), envelope(2, good))
    const latest = await validate(repo, '--json')
    expect(latest.code, latest.stdout).toBe(0)
    expect(json(latest.stdout).workflows.map((w: any) => [w.id, w.source.split('/').at(-1)])).toEqual([
      ['w1', '0002-20260102T000000Z-bbbbbbbbbbbb.json'],
    ])
    expect((await validate(repo, '--all-versions')).code).toBe(1)
  })

  it('a file that is not JSON is an error in the report; a path that does not exist exits 2', async () => {
    const broken = join(dir, 'broken.json')
    writeFileSync(broken, '{"name": ')
    const r = await validate(broken, '--json')
    expect(r.code).toBe(1)
    expect(json(r.stdout).workflows[0].findings[0]).toMatchObject({
      rule: 'shape',
      message: expect.stringMatching(/^not JSON/),
    })
    const missing = await validate(join(dir, 'nope'))
    expect(missing.code).toBe(2)
    expect(missing.stderr).toContain('no such file or folder')
    const nothing = await validate()
    expect(nothing.code).toBe(2)
    expect(nothing.stderr).toContain('needs files or folders')
  })
})

describe('--instance', () => {
  it('reads the registered instance through its API; unknown instance or unreachable n8n exit 2', async () => {
    const KEY = 'cli-n8n-key'
    const n8n = await startFakeN8n({ apiKey: KEY })
    try {
      const { default: wf } = await import(join(FIXTURES, 'broken', 'no-error-workflow.json'), {
        with: { type: 'json' },
      })
      n8n.addWorkflow('w1', wf.name, true, wf)
      n8n.addCredentialType('httpHeaderAuth')
      const { db, client } = await openDb({ url: env.DATABASE_URL })
      await runMigrations(db)
      const sealer = createSealer(env.SECRET_KEY)
      await createN8nInstance(db, sealer, { name: 'prod', baseUrl: n8n.url, apiKey: KEY }, Date.now())
      await createN8nInstance(db, sealer, { name: 'gone', baseUrl: 'http://127.0.0.1:9', apiKey: KEY }, Date.now())
      client.close()
      const withEnv = (args: string[]) =>
        runCli(['workflows', 'validate', ...args], { ...env, OUTBOUND_ALLOW: LOOPBACK_ALLOW }, 60_000)

      const r = await withEnv(['--instance', 'prod', '--json'])
      expect(r.code, r.stderr).toBe(0)
      expect(json(r.stdout)).toMatchObject({
        ok: true,
        instance: 'prod',
        workflows: [{ source: 'prod/w1', findings: [{ rule: 'no-error-workflow', severity: 'warning' }] }],
      })
      expect((await withEnv(['--instance', 'prod', '--strict'])).code).toBe(1)
      expect(n8n.requests.every((q) => q.apiKey === KEY)).toBe(true)

      const unknown = await withEnv(['--instance', 'nope'])
      expect([unknown.code, unknown.stderr.trim()]).toEqual([2, 'n8n instance "nope" not found'])
      const gone = await withEnv(['--instance', 'gone'])
      expect(gone.code).toBe(2)
      expect(gone.stderr).toContain('n8n gone is unreachable')
      expect((await withEnv(['--instance', 'prod', E2E])).code).toBe(2)
    } finally {
      await n8n.close()
    }
  })
})
