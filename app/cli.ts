/**
 * `npm run cli -- …`. Only what parsing the arguments needs is imported up front: `workflows validate`
 * on files runs before the rest of the app (database, services, every module) is loaded, so a CI job
 * validating workflows pays for the validator alone. The other commands load it below.
 */
import { parseArgs } from 'node:util'
import * as v from 'valibot'
import { validateCommand } from './cli-workflows.ts'
import { issuesToDetails } from './lib/validate.ts'

const usage = `Usage: npm run cli -- <command>

  keys create --name <name> --role <viewer|operator|admin> [--scope ingest|breakers|routes]... [--source <alert source>] [--expires-days <n>]
                                   prints only the new key
  keys list
  keys revoke <prefix-or-id>
  users create --email <email> --role <role> [--name <name>] [--password <pw>]
                                   without --password, a generated one is printed
  users reset-password --email <email> [--password <pw>]
  users list
  backups create [--target <name>]   back up now (default: the homeostat target) and verify
  backups list
  backups verify <id>
  backups drill                      restore the latest good backup into a scratch file, verify, time it
  backups restore <id|file> [--yes]  restore into DATABASE_URL; the server must be stopped; the replaced
                                     file is kept as <db>.before-restore-<time>
  workflows validate <file.json|folder>... [--json] [--strict] [--quiet] [--all-versions] [--credentials <file>]
  workflows validate --instance <name> [--json] [--strict] [--credentials <file>]
                                   checks n8n workflows; exit 1 on errors (and warnings with --strict)

Uses the same DATABASE_URL and other settings as the server.`

function fail(message: string): never {
  console.error(message)
  process.exit(2)
}

function parse<S extends v.GenericSchema>(schema: S, input: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, input)
  if (!result.success)
    fail(
      issuesToDetails(result.issues)
        .map((d) => `--${option(d.field)}: ${d.message}`)
        .join('\n'),
    )
  return result.output
}

/** The command-line option a schema field came from: `scopes.0` → `scope`, `expiresAt` → `expires-at`. */
const option = (field: string) =>
  field.startsWith('scopes') ? 'scope' : field.replace(/([A-Z])/g, '-$1').toLowerCase()

const options = {
  name: { type: 'string' },
  role: { type: 'string' },
  scope: { type: 'string', multiple: true },
  source: { type: 'string' },
  'expires-days': { type: 'string' },
  email: { type: 'string' },
  password: { type: 'string' },
  target: { type: 'string' },
  yes: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  instance: { type: 'string' },
  json: { type: 'boolean' },
  strict: { type: 'boolean' },
  quiet: { type: 'boolean' },
  'all-versions': { type: 'boolean' },
  credentials: { type: 'string' },
} as const
let parsed: ReturnType<typeof parseArgs<{ allowPositionals: true; options: typeof options }>>
try {
  parsed = parseArgs({ allowPositionals: true, options })
} catch (error) {
  // Unknown option, or an option without its value: one line naming it, then the usage.
  fail(`${error instanceof Error ? error.message : String(error)}\n\n${usage}`)
}
const { positionals, values } = parsed
const [group, command, arg] = positionals
if (values.help || !group) {
  console.log(usage)
  process.exit(values.help ? 0 : 2)
}

// Validating workflow files needs no database; it runs before boot (--instance boots on its own).
if (group === 'workflows' && command === 'validate')
  process.exit(
    await validateCommand({
      paths: positionals.slice(2),
      instance: values.instance,
      json: values.json,
      strict: values.strict,
      quiet: values.quiet,
      allVersions: values['all-versions'],
      credentials: values.credentials,
    }),
  )

const [
  { createInterface },
  { boot },
  { carryCatalog, drillFromCli, listForCli, restoreFromCli },
  { openDb },
  { runMigrations },
  { createRoot },
  { randomToken },
  { AppError },
  { writeAudit },
  {
    createApiKey,
    keySummary,
    listApiKeys,
    revokeApiKey,
    CreateKey,
    Email,
    Password,
    RoleInput,
    createUser,
    listUsers,
    updateUser,
  },
] = await Promise.all([
  import('node:readline/promises'),
  import('./boot.ts'),
  import('./modules/backups/index.ts'),
  import('../db/client.ts'),
  import('../db/migrate.ts'),
  import('./root.ts'),
  import('./lib/ids.ts'),
  import('./lib/errors.ts'),
  import('./modules/audit/index.ts'),
  import('./modules/auth/index.ts'),
])
const booted = await boot(process.env, { quiet: true })
const { db, client } = booted
const audit = (action: string, target: string, summary = '') =>
  writeAudit(db, { actor: 'cli', action, target, summary })
const table = (rows: Record<string, unknown>[]) => console.table(rows)

try {
  if (group === 'keys' && command === 'create') {
    const days = values['expires-days'] ? Number(values['expires-days']) : undefined
    if (days !== undefined && !(Number.isInteger(days) && days > 0))
      fail('--expires-days: must be a whole number of days')
    const input = parse(CreateKey, {
      name: values.name ?? '',
      role: values.role ?? '',
      scopes: values.scope ?? [],
      source: values.source,
      expiresAt: days ? Date.now() + days * 86_400_000 : undefined,
    })
    const { key, row } = await createApiKey(db, { ...input, createdBy: 'cli' })
    await audit('key.created', row.prefix, keySummary(row))
    console.log(key)
  } else if (group === 'keys' && command === 'list') {
    const { items } = await listApiKeys(db, { limit: 500 })
    table(
      items.map((k) => ({
        prefix: k.prefix,
        name: k.name,
        role: k.role,
        scopes: k.scopes.join(','),
        source: k.source ?? '',
        created: new Date(k.createdAt).toISOString(),
        lastUsed: k.lastUsedAt ? new Date(k.lastUsedAt).toISOString() : '',
        expires: k.expiresAt ? new Date(k.expiresAt).toISOString() : '',
        revoked: k.revokedAt ? new Date(k.revokedAt).toISOString() : '',
      })),
    )
  } else if (group === 'keys' && command === 'revoke') {
    if (!arg) fail('keys revoke needs the key prefix (hs_…) or id')
    const row = await revokeApiKey(db, arg)
    await audit('key.revoked', row.prefix, row.name)
    console.log(`revoked ${row.prefix}`)
  } else if (group === 'users' && command === 'create') {
    const password = values.password ?? randomToken(15)
    const input = parse(v.object({ email: Email, role: RoleInput, password: Password }), {
      email: values.email ?? '',
      role: values.role ?? '',
      password,
    })
    const user = await createUser(db, { ...input, name: values.name })
    await audit('user.created', user.email, `role ${user.role}`)
    console.log(values.password ? `created ${user.email}` : `created ${user.email} with password: ${password}`)
  } else if (group === 'users' && command === 'reset-password') {
    const password = values.password ?? randomToken(15)
    const input = parse(v.object({ email: Email, password: Password }), { email: values.email ?? '', password })
    const user = await updateUser(db, input.email, { password: input.password, unlock: true })
    await audit('user.password_reset', user.email)
    console.log(values.password ? `password reset for ${user.email}` : `new password for ${user.email}: ${password}`)
  } else if (group === 'users' && command === 'list') {
    table(
      (await listUsers(db)).map((u) => ({
        email: u.email,
        name: u.name,
        role: u.role,
        twoFactor: Boolean(u.totpEnabledAt),
      })),
    )
  } else if (group === 'backups') {
    await backupsCommand(command, arg)
  } else {
    fail(`Unknown command: ${positionals.join(' ')}\n\n${usage}`)
  }
} catch (error) {
  if (error instanceof AppError) fail(error.message)
  throw error
} finally {
  client.close()
}

/**
 * `backups …`: the same services as the server (createRoot, jobs not started), so a backup made
 * here is recorded, verified and alerted on exactly as a scheduled one.
 */
async function backupsCommand(command: string | undefined, arg: string | undefined) {
  const { services } = createRoot(booted)
  const { backups } = services
  if (command === 'create') {
    const { row, done } = await backups.trigger(values.target ?? 'homeostat', { trigger: 'cli', actor: 'cli' })
    console.log(`backup ${row.id} of ${row.targetName} started`)
    const result = await done
    if (result.status !== 'good') fail(`backup ${result.id} failed: ${result.error}`)
    console.log(`backup ${result.id} good: ${result.size} bytes at ${result.location}, in ${result.durationMs} ms`)
  } else if (command === 'list') {
    table(
      (await listForCli(backups)).map((b) => ({
        id: b.id,
        target: b.targetName,
        status: b.status,
        size: b.size,
        started: new Date(b.startedAt).toISOString(),
        location: b.location,
      })),
    )
  } else if (command === 'verify') {
    if (!arg) fail('backups verify needs a backup id')
    const { problems } = await backups.verify(arg, 'cli')
    if (problems.length) fail(`backup ${arg} does not verify: ${problems.join('; ')}`)
    console.log(`backup ${arg} verified`)
  } else if (command === 'drill') {
    const row = await drillFromCli(backups)
    if (row.status !== 'done') fail(`drill of ${row.backupId} failed: ${row.error}`)
    console.log(
      `drill of ${row.backupId}: restore takes ≈ ${Math.max(1, Math.round((row.durationMs ?? 0) / 1000))} s (${row.durationMs} ms)`,
    )
  } else if (command === 'restore') {
    if (!arg) fail('backups restore needs a backup id or a backup file')
    const result = await restoreFromCli(backups, arg, {
      confirm: async (what) => {
        console.log(what)
        if (values.yes) return true
        const rl = createInterface({ input: process.stdin, output: process.stdout })
        const answer = await rl.question('Type yes to go on: ')
        rl.close()
        return answer.trim() === 'yes'
      },
      closeDb: () => client.close(),
    })
    if (!result) fail('restore cancelled: nothing was changed')
    // The restored file, migrated, keeps the backups catalog (backups made since still exist) and says it was restored.
    const reopened = await openDb({ url: booted.config.DATABASE_URL })
    await runMigrations(reopened.db)
    await carryCatalog(reopened.db, result.catalog, result.manifest)
    await writeAudit(reopened.db, {
      actor: 'cli',
      action: 'backup.restored',
      target: result.backupId,
      summary: `old database kept as ${result.keptAs}`,
    })
    reopened.client.close()
    console.log(`restored backup ${result.backupId}; the replaced database is kept as ${result.keptAs}`)
    console.log('Start the server: pending migrations apply at start.')
    process.exit(0)
  } else {
    fail(`Unknown command: backups ${command ?? ''}\n\n${usage}`)
  }
}
