/** @jsxImportSource hono/jsx */
/**
 * Backups → Targets: what is backed up, where to, when and how many are kept. Viewers see the list
 * with secrets masked; operators can start a backup of a target; admins create, change and delete
 * targets (they hold credentials and name commands). The forms post flat field names (`config.url`,
 * `destination.bucket`) that are shaped into the API's body and checked by the same schemas and the
 * same store functions, so a bad field is named the same way, and the same audit rows are written.
 */
import { Hono } from 'hono'
import * as v from 'valibot'
import type { BackupTarget } from '../../../../db/schema/backups.ts'
import { type AppEnv, actor, type ModuleDeps } from '../../../context.ts'
import { AppError } from '../../../lib/errors.ts'
import { hxRedirect } from '../../../lib/htmx.ts'
import { Empty, Layout } from '../../../lib/layout.tsx'
import { clockOf } from '../../../lib/time.ts'
import { issuesToDetails, validate } from '../../../lib/validate.ts'
import { access, canWrite, isAdmin } from '../../../middleware/access.ts'
import { requirePrincipal } from '../../../middleware/auth.ts'
import { audit } from '../../audit/index.ts'
import type { BackupCommands } from '../sources/command.ts'
import { TargetBody, TargetIdParam, TargetPatch } from './input.ts'
import {
  createTarget,
  DEFAULT_TARGET,
  deleteTarget,
  getTarget,
  listTargets,
  targetJson,
  updateTarget,
} from './store.ts'

/** A started backup, as the page needs it (the backups service is passed in: targets/ does not import it). */
type StartBackup = (target: string, actor: string) => Promise<{ id: string; targetName: string }>

const FormFields = v.record(v.string(), v.string())
type Form = v.InferOutput<typeof FormFields>

const kinds = ['homeostat', 'qdrant', 'command'] as const

const text = (f: Form, k: string) => {
  const s = f[k]?.trim()
  return s ? s : undefined
}
const int = (f: Form, k: string) => (text(f, k) === undefined ? undefined : Number(text(f, k)))

/**
 * The form's flat fields as the API's body. An empty secret field means "keep the stored one"; the
 * Qdrant settings the form does not show (`createTimeoutMs`, `keepOnServer`) keep their stored values.
 */
function bodyOf(f: Form, kind: string, before: Record<string, unknown> = {}) {
  const config =
    kind === 'qdrant'
      ? {
          ...(before.createTimeoutMs !== undefined ? { createTimeoutMs: before.createTimeoutMs } : {}),
          ...(before.keepOnServer !== undefined ? { keepOnServer: before.keepOnServer } : {}),
          url: text(f, 'config.url'),
          collection: text(f, 'config.collection'),
          apiKey: text(f, 'config.apiKey'),
          ...(f['config.removeApiKey'] ? { apiKey: null } : {}),
        }
      : kind === 'command'
        ? { command: text(f, 'config.command') }
        : {}
  const destination =
    f['destination.kind'] === 's3'
      ? {
          kind: 's3',
          endpoint: text(f, 'destination.endpoint'),
          region: text(f, 'destination.region'),
          bucket: text(f, 'destination.bucket'),
          prefix: f['destination.prefix']?.trim() ?? '',
          accessKeyId: text(f, 'destination.accessKeyId'),
          secretAccessKey: text(f, 'destination.secretAccessKey'),
          forcePathStyle: Boolean(f['destination.forcePathStyle']),
        }
      : { kind: 'local' }
  return {
    name: text(f, 'name'),
    config,
    destination,
    schedule: text(f, 'schedule'),
    retention: {
      keepLast: int(f, 'retention.keepLast'),
      daily: int(f, 'retention.daily'),
      weekly: int(f, 'retention.weekly'),
      monthly: int(f, 'retention.monthly'),
    },
    enabled: Boolean(f.enabled),
  }
}

function parse<S extends v.GenericSchema>(schema: S, value: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, value)
  if (!result.success) throw new AppError(400, 'invalid_input', 'Invalid body', issuesToDetails(result.issues))
  return result.output
}

type TargetView = ReturnType<typeof targetJson>

const sourceOf = (t: TargetView) => {
  const c = t.config as Record<string, string | undefined>
  if (t.kind === 'qdrant') return `${c.url} · ${c.collection}${c.apiKey ? ` · api key ${c.apiKey}` : ''}`
  if (t.kind === 'command') return `command ${c.command}`
  return 'this database'
}

const destinationOf = (t: TargetView) => {
  const d = t.destination as Record<string, string | boolean | undefined>
  if (d.kind !== 's3') return 'local folder'
  return `s3 ${d.endpoint} · ${d.bucket}/${d.prefix ?? ''} · key ${d.accessKeyId} · secret ${d.secretAccessKey ?? '—'}`
}

function TargetForm({ t, commands }: { t?: TargetView; commands: string[] }) {
  const c = (t?.config ?? {}) as Record<string, string | undefined>
  const d = (t?.destination ?? { kind: 'local' }) as Record<string, string | boolean | undefined>
  const kind = t?.kind ?? 'qdrant'
  const keep = 'leave empty to keep the stored one'
  return (
    <form
      class="stack card target-form"
      hx-post={t ? `/backup-targets/${t.id}/save` : '/backup-targets'}
      hx-swap="none"
      novalidate
    >
      <label>
        Name <input name="name" required maxlength={63} value={t?.name ?? ''} placeholder="vectors" />
      </label>
      {t ? (
        <p>
          Kind <strong>{t.kind}</strong>
          <input type="hidden" name="kind" value={t.kind} />
        </p>
      ) : (
        <label>
          Kind{' '}
          <select name="kind">
            {kinds.map((k) => (
              <option value={k} selected={k === kind}>
                {k}
              </option>
            ))}
          </select>
        </label>
      )}
      <fieldset class="kind-qdrant stack" data-kind="qdrant">
        <legend>Qdrant collection</legend>
        <label>
          URL <input name="config.url" value={c.url ?? ''} placeholder="http://qdrant.internal:6333" />
        </label>
        <label>
          Collection <input name="config.collection" value={c.collection ?? ''} placeholder="docs" />
        </label>
        <label>
          API key{' '}
          <input
            name="config.apiKey"
            type="password"
            autocomplete="off"
            placeholder={c.apiKey ? `${c.apiKey} (${keep}; give it again when the URL changes)` : 'optional'}
          />
        </label>
        {c.apiKey ? (
          <label class="check">
            <input type="checkbox" name="config.removeApiKey" value="1" /> Remove the stored API key
          </label>
        ) : null}
      </fieldset>
      <fieldset class="kind-command stack" data-kind="command">
        <legend>Command (from BACKUP_COMMANDS_FILE)</legend>
        {commands.length ? (
          <select name="config.command">
            {commands.map((name) => (
              <option value={name} selected={c.command === name}>
                {name}
              </option>
            ))}
          </select>
        ) : (
          <p class="muted">No commands: set BACKUP_COMMANDS_FILE on the server to list some.</p>
        )}
      </fieldset>
      <fieldset class="stack">
        <legend>Destination</legend>
        <label>
          Store in{' '}
          <select name="destination.kind">
            <option value="local" selected={d.kind !== 's3'}>
              the local folder
            </option>
            <option value="s3" selected={d.kind === 's3'}>
              S3-compatible storage
            </option>
          </select>
        </label>
        <div class="dest-s3 stack">
          <label>
            Endpoint{' '}
            <input
              name="destination.endpoint"
              value={String(d.endpoint ?? '')}
              placeholder="http://minio.internal:9000"
            />
          </label>
          <label>
            Region <input name="destination.region" value={String(d.region ?? '')} placeholder="us-east-1" />
          </label>
          <label>
            Bucket <input name="destination.bucket" value={String(d.bucket ?? '')} />
          </label>
          <label>
            Prefix <input name="destination.prefix" value={String(d.prefix ?? '')} placeholder="homeostat/" />
          </label>
          <label>
            Access key id{' '}
            <input name="destination.accessKeyId" value={String(d.accessKeyId ?? '')} autocomplete="off" />
          </label>
          <label>
            Secret access key{' '}
            <input
              name="destination.secretAccessKey"
              type="password"
              autocomplete="off"
              placeholder={
                d.secretAccessKey
                  ? `${d.secretAccessKey} (${keep}; give it again when the endpoint or bucket changes)`
                  : ''
              }
            />
          </label>
          <label class="check">
            <input type="checkbox" name="destination.forcePathStyle" value="1" checked={d.forcePathStyle === true} />{' '}
            Path style (MinIO and most self-hosted stores)
          </label>
        </div>
      </fieldset>
      <label>
        Schedule (cron, UTC) <input name="schedule" value={t?.schedule ?? '0 3 * * *'} />
      </label>
      <fieldset class="row">
        <legend>Keep</legend>
        <label>
          last <input name="retention.keepLast" type="number" min={1} value={String(t?.retention.keepLast ?? 7)} />
        </label>
        <label>
          daily <input name="retention.daily" type="number" min={0} value={String(t?.retention.daily ?? 7)} />
        </label>
        <label>
          weekly <input name="retention.weekly" type="number" min={0} value={String(t?.retention.weekly ?? 4)} />
        </label>
        <label>
          monthly <input name="retention.monthly" type="number" min={0} value={String(t?.retention.monthly ?? 6)} />
        </label>
      </fieldset>
      <label class="check">
        <input type="checkbox" name="enabled" value="1" checked={t?.enabled ?? true} /> Enabled
      </label>
      <button type="submit">{t ? 'Save' : 'Create target'}</button>
    </form>
  )
}

export function targetPages(
  deps: Pick<ModuleDeps, 'db' | 'sealer' | 'now'> & { commands: BackupCommands; start: StartBackup },
) {
  const { db, sealer } = deps
  const now = clockOf(deps)
  const store = { db, sealer, commands: deps.commands }
  const app = new Hono<AppEnv>()
  const commandNames = () => {
    try {
      return Object.keys(deps.commands() ?? {})
    } catch {
      return []
    }
  }

  app.get('/backup-targets', access('viewer'), async (c) => {
    const targets = (await listTargets(db)).map((t) => targetJson(sealer, t))
    const admin = isAdmin(c)
    const write = canWrite(c)
    return c.html(
      <Layout title="Backup targets" active="/backups" principal={requirePrincipal(c)}>
        <p>
          <a href="/backups">← Backups</a>
        </p>
        <h1>Backup targets</h1>
        {targets.length ? (
          <table class="table" id="backup-targets">
            <thead>
              <tr>
                <th>Name</th>
                <th>Kind</th>
                <th>Source</th>
                <th>Destination</th>
                <th>Schedule</th>
                <th>Keep</th>
                <th></th>
              </tr>
            </thead>
            <tbody>
              {targets.map((t) => (
                <tr>
                  <td>
                    {t.name}
                    {t.enabled ? null : <span class="badge">disabled</span>}
                  </td>
                  <td>{t.kind}</td>
                  <td class="small">{sourceOf(t)}</td>
                  <td class="small">{destinationOf(t)}</td>
                  <td>
                    <code>{t.schedule}</code>
                  </td>
                  <td class="small">
                    last {t.retention.keepLast} + {t.retention.daily}d {t.retention.weekly}w {t.retention.monthly}m
                  </td>
                  <td class="nowrap">
                    {write ? (
                      <button class="small secondary" hx-post={`/backup-targets/${t.id}/run`} hx-swap="none">
                        Back up now
                      </button>
                    ) : null}{' '}
                    {admin ? (
                      <a class="button small secondary" href={`/backup-targets/${t.id}/edit`}>
                        Edit
                      </a>
                    ) : null}{' '}
                    {admin && t.id !== DEFAULT_TARGET ? (
                      <button
                        class="small danger"
                        hx-post={`/backup-targets/${t.id}/delete`}
                        hx-confirm={`Delete the target ${t.name}? Its backups stay listed and stored.`}
                        hx-swap="none"
                      >
                        Delete
                      </button>
                    ) : null}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <Empty>No targets.</Empty>
        )}
        {admin ? (
          <>
            <h2>New target</h2>
            <TargetForm commands={commandNames()} />
          </>
        ) : null}
      </Layout>,
    )
  })

  app.get('/backup-targets/:id/edit', access('admin'), validate('param', TargetIdParam), async (c) => {
    const t = targetJson(sealer, await getTarget(db, c.req.valid('param').id))
    return c.html(
      <Layout title={`Target ${t.name}`} active="/backups" principal={requirePrincipal(c)}>
        <p>
          <a href="/backup-targets">← Backup targets</a>
        </p>
        <h1>Target {t.name}</h1>
        <TargetForm t={t} commands={commandNames()} />
      </Layout>,
    )
  })

  app.post('/backup-targets', access('admin'), validate('form', FormFields), async (c) => {
    const form = c.req.valid('form')
    const body = parse(TargetBody, { ...bodyOf(form, form.kind ?? ''), kind: form.kind })
    const row = await createTarget(store, body, now())
    await audit(db, c, {
      action: 'backup_target.created',
      target: row.name,
      summary: `${row.kind} → ${row.destinationKind}`,
    })
    return hxRedirect(c, '/backup-targets')
  })

  app.post(
    '/backup-targets/:id/save',
    access('admin'),
    validate('param', TargetIdParam),
    validate('form', FormFields),
    async (c) => {
      const before: BackupTarget = await getTarget(db, c.req.valid('param').id)
      const { name, ...rest } = bodyOf(c.req.valid('form'), before.kind, before.config)
      // The default target keeps its name, so it is not sent; the others may be renamed.
      const patch = parse(TargetPatch, before.id === DEFAULT_TARGET ? rest : { name, ...rest })
      const row = await updateTarget(store, before, patch, now())
      await audit(db, c, { action: 'backup_target.updated', target: row.name, summary: 'changed on the page' })
      return hxRedirect(c, '/backup-targets')
    },
  )

  app.post('/backup-targets/:id/delete', access('admin'), validate('param', TargetIdParam), async (c) => {
    const target = await getTarget(db, c.req.valid('param').id)
    await deleteTarget(db, target)
    await audit(db, c, { action: 'backup_target.deleted', target: target.name })
    return hxRedirect(c, '/backup-targets')
  })

  app.post('/backup-targets/:id/run', access('operator'), validate('param', TargetIdParam), async (c) => {
    const row = await deps.start(c.req.valid('param').id, actor(c))
    await audit(db, c, { action: 'backup.triggered', target: row.id, summary: row.targetName })
    return hxRedirect(c, '/backups')
  })

  return app
}
