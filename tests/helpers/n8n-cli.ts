/**
 * A real n8n (1.123.x on Node 22, or 2.x on Node 24; installed once into a cache outside the repo by
 * tests/e2e/n8n/install-n8n.sh) with n8n-nodes-homeostat loaded as users get it: built, packed with
 * npm, unpacked into a folder given as N8N_CUSTOM_EXTENSIONS. Homeostat credentials (a good key and a
 * wrong one) and the example workflows are imported with n8n's CLI; `execute` runs one with
 * `n8n execute --rawOutput` and returns n8n's run JSON.
 */
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from '@libsql/client'
import { expect } from 'vitest'
import { freePort, ROOT, run } from './server.ts'

export const N8N_E2E = join(ROOT, 'tests/e2e/n8n')
const PACKAGE = join(ROOT, 'n8n-nodes')
export const CREDENTIAL_ID = 'homeostatCredential1'
export const BAD_CREDENTIAL_ID = 'homeostatBadKey1'

export type Item = { json: Record<string, unknown>; pairedItem?: { item: number } }
export type NodeRun = { executionTime: number; data?: { main: Item[][] }; error?: { message: string } }
export type RunJson = {
  status: string
  data: { resultData: { error?: { message: string }; runData: Record<string, NodeRun[]> } }
}
export type N8nMajor = 1 | 2

/** The items a node put on its first output in the run. */
export const items = (runJson: RunJson, node: string) => runJson.data.resultData.runData[node]?.[0]?.data?.main[0] ?? []

/** Installs n8n of this major version (and its Node) into the cache if needed; returns the cache folder. */
export async function installN8n(major: N8nMajor) {
  const install = await run(
    'bash',
    [join(N8N_E2E, 'install-n8n.sh'), String(major)],
    { N8N_CACHE_DIR: process.env.N8N_CACHE_DIR ?? '', N8N2_CACHE_DIR: process.env.N8N2_CACHE_DIR ?? '' },
    40 * 60_000,
  )
  if (install.code !== 0) throw new Error(`install-n8n.sh ${major} failed\n${install.stderr.slice(-4000)}`)
  return install.stdout.trim().split('\n').pop()!
}

export type N8nCli = {
  major: N8nMajor
  cache: string
  /** The temporary folder: custom/ (the unpacked package), user/ (n8n's user folder), workflows/, credentials.json. */
  work: string
  env: Record<string, string>
  /** [node, n8n's bin] to spawn `n8n start` or other commands. */
  bin: readonly [string, string]
  n8n(args: string[], timeoutMs?: number): Promise<{ code: number | null; stdout: string; stderr: string }>
  execute(id: string, timeoutMs?: number): Promise<RunJson>
  /** The last finished run of a workflow as n8n saved it in its database. */
  savedRun(workflowId: string): Promise<RunJson & { mode: string; id: number }>
  /** One execution as n8n saved it (any status), or undefined while it has no saved data. */
  savedExecution(executionId: number): Promise<(RunJson & { mode: string; id: number }) | undefined>
  /**
   * Settings each n8n process needs for itself: n8n 2.x starts a task broker for its runners in every
   * process (`n8n execute` too) on port 5679 unless told another, so two at once would collide.
   */
  processEnv(): Promise<Record<string, string>>
  version: string
  close(): void
}

/**
 * n8n of this major version with the package loaded, its credentials pointing at `baseUrl`, and the
 * example workflows imported (all of tests/e2e/n8n/workflows, or only the files named).
 */
export async function n8nWithPackage(opts: {
  major: N8nMajor
  baseUrl: string
  apiKey: string
  workflows?: string[]
}): Promise<N8nCli> {
  const cache = await installN8n(opts.major)
  const work = mkdtempSync(join(tmpdir(), `homeostat-n8n${opts.major}-e2e-`))
  try {
    // The package as users get it: build, npm pack, unpack the tarball into a custom extensions folder.
    const build = await run('npm', ['run', 'build', '--prefix', PACKAGE], {}, 240_000)
    if (build.code !== 0) throw new Error(`n8n-nodes build failed\n${build.stdout.slice(-3000)}\n${build.stderr}`)
    const pack = await run('npm', ['pack', PACKAGE, '--ignore-scripts', '--pack-destination', work], {}, 60_000)
    if (pack.code !== 0) throw new Error(`npm pack failed\n${pack.stderr}`)
    const tarball = join(work, pack.stdout.trim().split('\n').pop()!)
    mkdirSync(join(work, 'custom'))
    const untar = await run('tar', ['-xzf', tarball, '-C', join(work, 'custom')], {})
    expect(untar.code).toBe(0)
    const packed = JSON.parse(readFileSync(join(work, 'custom/package/package.json'), 'utf8')) as {
      n8n: { nodes: string[]; credentials: string[] }
    }
    for (const file of [...packed.n8n.nodes, ...packed.n8n.credentials])
      expect(readdirSync(join(work, 'custom/package', file, '..'))).toContain(file.split('/').pop())

    const env: Record<string, string> = {
      // vitest sets NODE_ENV=test, under which n8n refuses to load nodes.
      NODE_ENV: 'production',
      N8N_USER_FOLDER: join(work, 'user'),
      N8N_DIAGNOSTICS_ENABLED: 'false',
      N8N_RUNNERS_ENABLED: 'false',
      N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS: 'false',
      N8N_CUSTOM_EXTENSIONS: join(work, 'custom'),
      N8N_ENCRYPTION_KEY: 'homeostat-e2e-encryption-key',
      // n8n 1.123's default expression engine ('vm') made the 10 000-item run about 5 times slower here.
      N8N_EXPRESSION_ENGINE: 'legacy',
      N8N_VERSION_NOTIFICATIONS_ENABLED: 'false',
      N8N_PERSONALIZATION_ENABLED: 'false',
      N8N_HIRING_BANNER_ENABLED: 'false',
      // n8n 2.x pings its database every 2 s and, after 3 pings slower than 5 s, answers every REST call
      // 503 "Database is not ready!" until one is fast again: on a loaded machine the local SQLite file
      // is slow, not gone.
      ...(opts.major === 2 ? { DB_PING_TIMEOUT_MS: '60000', DB_PING_MAX_FAILURES_BEFORE_RECOVERY: '20' } : {}),
    }
    const bin = [join(cache, 'node_modules/node/bin/node'), join(cache, 'node_modules/n8n/bin/n8n')] as const
    const processEnv = async (): Promise<Record<string, string>> =>
      opts.major === 2 ? { N8N_RUNNERS_BROKER_PORT: String(await freePort()) } : {}
    // A loaded machine (load 25 on 2 cores) took over 2 minutes for one n8n 2.x `import:credentials`.
    const n8n = async (args: string[], timeoutMs = 300_000) => {
      const r = await run(bin[0], [bin[1], ...args], { ...env, ...(await processEnv()) }, timeoutMs)
      if (r.code !== 0)
        throw new Error(`n8n ${args.join(' ')} exited ${r.code}\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`)
      return r
    }
    /** Saved executions, newest first: `where` picks them (a parameterised SQL condition on `e`). */
    const saved = async (where: string, args: (string | number)[]) => {
      const n8nDb = createClient({ url: `file:${join(work, 'user/.n8n/database.sqlite')}` })
      try {
        const [row] = (
          await n8nDb.execute({
            sql: `select e.id, e.status, e.mode, d.data from execution_entity e join execution_data d on d.executionId = e.id where ${where} order by e.id desc limit 1`,
            args,
          })
        ).rows
        if (!row) return undefined
        // Run data is stored with `flatted`.
        const flatted = createRequire(join(cache, 'node_modules/n8n/package.json'))('flatted') as {
          parse: (s: string) => RunJson['data']
        }
        return {
          id: Number(row.id),
          status: String(row.status),
          mode: String(row.mode),
          data: flatted.parse(String(row.data)),
        }
      } finally {
        n8nDb.close()
      }
    }
    const savedRun = async (workflowId: string) => {
      const run = await saved('e.workflowId = ? and e.finished = 1', [workflowId])
      if (!run) throw new Error(`n8n saved no finished run of ${workflowId}`)
      return run
    }
    const savedExecution = (executionId: number) => saved('e.id = ?', [executionId])
    /**
     * `n8n execute --rawOutput`: the run's JSON (n8n may log lines before it). n8n can exit before a
     * very large output (10 000 items) is flushed to the pipe: then the run as n8n saved it is used.
     */
    const execute = async (id: string, timeoutMs?: number): Promise<RunJson> => {
      const r = await n8n(['execute', `--id=${id}`, '--rawOutput'], timeoutMs)
      const start = r.stdout.indexOf('{\n')
      const end = r.stdout.lastIndexOf('\n}')
      try {
        if (start >= 0 && end > start) return JSON.parse(r.stdout.slice(start, end + 2)) as RunJson
      } catch {
        // cut short: read it back from n8n's database below
      }
      const last = await savedRun(id)
      expect(last.mode).toBe('cli')
      return last
    }

    // Plain credentials: n8n encrypts them with N8N_ENCRYPTION_KEY on import.
    writeFileSync(
      join(work, 'credentials.json'),
      JSON.stringify([
        {
          id: CREDENTIAL_ID,
          name: 'Homeostat account',
          type: 'homeostatApi',
          data: { baseUrl: opts.baseUrl, apiKey: opts.apiKey },
        },
        {
          id: BAD_CREDENTIAL_ID,
          name: 'Homeostat (wrong key)',
          type: 'homeostatApi',
          data: { baseUrl: opts.baseUrl, apiKey: 'hs_not_a_real_key' },
        },
      ]),
    )
    await n8n(['import:credentials', `--input=${join(work, 'credentials.json')}`])
    mkdirSync(join(work, 'workflows'))
    for (const file of opts.workflows ?? readdirSync(join(N8N_E2E, 'workflows')))
      cpSync(join(N8N_E2E, 'workflows', file), join(work, 'workflows', file))
    await n8n(['import:workflow', '--separate', `--input=${join(work, 'workflows')}`])
    const version = (await n8n(['--version'])).stdout.trim().split('\n').pop()!
    return {
      major: opts.major,
      cache,
      work,
      env,
      bin,
      n8n,
      execute,
      savedRun,
      savedExecution,
      processEnv,
      version,
      close: () => rmSync(work, { recursive: true, force: true }),
    }
  } catch (error) {
    rmSync(work, { recursive: true, force: true })
    throw error
  }
}
