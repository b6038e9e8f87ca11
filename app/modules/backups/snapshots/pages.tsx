/** @jsxImportSource hono/jsx */
/**
 * The Backups page: the status panel (last good, next due, size, retention, "restore takes ≈ N s"),
 * the list with verify and restore, the restore requests waiting for a second admin, and the
 * trigger and drill buttons. It calls the same service as the API, with the same roles and audit rows.
 */
import { Hono } from 'hono'
import type { Backup, BackupRestore } from '../../../../db/schema/backups.ts'
import { type AppEnv, actor } from '../../../context.ts'
import { hxRedirect } from '../../../lib/htmx.ts'
import { Empty, Layout, liveTrigger, when } from '../../../lib/layout.tsx'
import { validate } from '../../../lib/validate.ts'
import { access, canWrite, isAdmin } from '../../../middleware/access.ts'
import { requirePrincipal } from '../../../middleware/auth.ts'
import { audit } from '../../audit/index.ts'
import { BackupIdParam, TriggerForm } from './input.ts'
import { listBackups, listRestores } from './queries.ts'
import { actingAs, restoredSummary } from './routes.ts'
import type { BackupsService } from './service.ts'
import { restoreEstimateSeconds } from './status.ts'

export const bytes = (n: number | null | undefined) => {
  if (n == null) return '—'
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return `${v.toFixed(i ? 1 : 0)} ${units[i]}`
}

type Status = Awaited<ReturnType<BackupsService['status']>>

function StatusPanel({ s }: { s: Status }) {
  const main = s.targets.find((t) => t.target.id === 'homeostat') ?? s.targets[0]
  const estimate = restoreEstimateSeconds(s)
  return (
    <div class="tiles" id="backup-status">
      <div class={`tile ${main?.lastGood && !main.missed ? 'ok' : 'bad'}`}>
        <span class="label">Last good</span>
        <strong>{when(main?.lastGood?.startedAt)}</strong>
        <span class="muted">{main?.missed ? 'overdue: older than twice the interval' : ''}</span>
      </div>
      <div class="tile">
        <span class="label">Next due</span>
        <strong>{when(main?.nextDue)}</strong>
        <span class="muted">{main?.target.schedule}</span>
      </div>
      <div class="tile">
        <span class="label">Size</span>
        <strong>{bytes(main?.lastGood?.size)}</strong>
        <span class="muted">
          {bytes(main?.storedBytes)} stored in {main?.goodCount ?? 0}
        </span>
      </div>
      <div class="tile">
        <span class="label">Retention</span>
        <strong>last {main?.target.keepLast}</strong>
        <span class="muted">
          + {main?.target.keepDaily} daily, {main?.target.keepWeekly} weekly, {main?.target.keepMonthly} monthly
        </span>
      </div>
      <div class="tile">
        <span class="label">Restore</span>
        <strong>{estimate === null ? 'no drill yet' : `restore takes ≈ ${estimate} s`}</strong>
        <span class="muted">{s.lastDrill ? `drill ${when(s.lastDrill.createdAt)}` : ''}</span>
      </div>
      <div class="tile">
        <span class="label">Encryption</span>
        <strong>{s.encryption}</strong>
      </div>
    </div>
  )
}

function BackupRows({ items, write, admin }: { items: Backup[]; write: boolean; admin: boolean }) {
  if (!items.length) return <Empty>No backups yet.</Empty>
  return (
    <table class="table">
      <thead>
        <tr>
          <th>Started</th>
          <th>Target</th>
          <th>Status</th>
          <th>Size</th>
          <th>Took</th>
          <th>Verified</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        {items.map((b) => (
          <tr>
            <td>
              <a href={`/api/v1/backups/${b.id}`}>{when(b.startedAt)}</a>
            </td>
            <td>{b.targetName}</td>
            <td>
              <span class={`badge ${b.status === 'good' ? 'ok' : b.status === 'failed' ? 'bad' : ''}`}>{b.status}</span>
              {b.status === 'running' && b.phase ? (
                <div class="small muted backup-progress">
                  {b.phase}
                  {b.bytesDone ? ` · ${bytes(b.bytesDone)}` : ''}
                </div>
              ) : null}
              {b.error ? <div class="small muted">{b.error.slice(0, 200)}</div> : null}
            </td>
            <td>{bytes(b.size)}</td>
            <td>{b.durationMs != null ? `${(b.durationMs / 1000).toFixed(1)} s` : '…'}</td>
            <td>{when(b.verifiedAt)}</td>
            <td>
              {b.status === 'good' && write ? (
                <button class="small secondary" hx-post={`/backups/${b.id}/verify`} hx-swap="none">
                  Verify
                </button>
              ) : null}{' '}
              {b.status === 'good' && admin ? (
                <>
                  <a class="button small secondary" href={`/api/v1/backups/${b.id}/download`}>
                    Download
                  </a>{' '}
                  <button
                    class="small danger"
                    hx-post={`/backups/${b.id}/restore`}
                    hx-confirm="Ask to restore this backup into the running server? A second admin must approve; the current database is kept aside."
                    hx-swap="none"
                  >
                    Restore…
                  </button>
                </>
              ) : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

function Requests({ items, admin, me }: { items: BackupRestore[]; admin: boolean; me: string }) {
  if (!items.length) return <Empty>No restores or drills yet.</Empty>
  return (
    <table class="table">
      <thead>
        <tr>
          <th>When</th>
          <th>Kind</th>
          <th>Backup</th>
          <th>Status</th>
          <th>Asked by</th>
          <th>Approved by</th>
          <th>Took</th>
          <th></th>
        </tr>
      </thead>
      <tbody>
        {items.map((r) => (
          <tr>
            <td>{when(r.createdAt)}</td>
            <td>{r.kind}</td>
            <td>{r.backupId}</td>
            <td>
              {r.status}
              {r.error ? <div class="small muted">{r.error.slice(0, 200)}</div> : null}
              {r.keptAs ? <div class="small muted">old database kept as {r.keptAs}</div> : null}
            </td>
            <td>{r.requestedByName}</td>
            <td>{r.approvedByName ?? '—'}</td>
            <td>
              {r.durationMs != null
                ? `${(r.durationMs / 1000).toFixed(1)} s`
                : r.status === 'running' && r.bytesDone
                  ? `${bytes(r.bytesDone)} put back`
                  : ''}
            </td>
            <td>
              {r.status === 'pending' && admin && r.requestedBy !== me ? (
                <>
                  <button
                    class="small danger"
                    hx-post={`/backup-restores/${r.id}/approve`}
                    hx-confirm="Approve: the running server's database is replaced by this backup now. Continue?"
                    hx-swap="none"
                  >
                    Approve
                  </button>{' '}
                  <button class="small secondary" hx-post={`/backup-restores/${r.id}/reject`} hx-swap="none">
                    Reject
                  </button>
                </>
              ) : r.status === 'pending' ? (
                <span class="small muted">waiting for a second admin</span>
              ) : null}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

export function snapshotPages(deps: { backups: BackupsService }) {
  const { backups } = deps
  const { db } = backups.ctx
  const app = new Hono<AppEnv>()

  const body = async (c: Parameters<typeof canWrite>[0]) => {
    const [s, list, restores] = await Promise.all([
      backups.status(),
      listBackups(db, { limit: 50 }),
      listRestores(db, 20),
    ])
    const admin = isAdmin(c)
    // A backup starting or finishing comes by the live feed; a running one's progress (bytes, steps)
    // is followed every 2 s while it runs, and a slow poll catches another instance's work.
    const busy = list.items.some((b) => b.status === 'running') || restores.some((r) => r.status === 'running')
    return (
      <div
        id="backups-live"
        hx-get="/backups/live"
        hx-trigger={liveTrigger('backups', { every: busy ? '2s' : '60s' })}
        hx-swap="outerHTML"
      >
        <StatusPanel s={s} />
        <h2>Backups</h2>
        <BackupRows items={list.items} write={canWrite(c)} admin={admin} />
        <h2>Restores and drills</h2>
        <Requests items={restores} admin={admin} me={admin ? actingAs(c).id : ''} />
      </div>
    )
  }

  app.get('/backups', access('viewer'), async (c) =>
    c.html(
      <Layout title="Backups" active="/backups" principal={requirePrincipal(c)}>
        <h1>Backups</h1>
        <p>
          Snapshots of Homeostat's database and of the stores around it below; what is backed up, where to and when is
          under <a href="/backup-targets">Targets</a>; the n8n workflows' versions, diffs and rollbacks are under{' '}
          <a href="/backups/workflows">Workflow history</a>.
        </p>
        {canWrite(c) ? (
          <p>
            <button hx-post="/backups/run" hx-vals='{"target":"homeostat"}' hx-swap="none">
              Back up now
            </button>{' '}
            <button class="secondary" hx-post="/backups/drill" hx-swap="none">
              Run a restore drill
            </button>
          </p>
        ) : null}
        {await body(c)}
      </Layout>,
    ),
  )

  app.get('/backups/live', access('viewer'), async (c) => c.html(await body(c)))

  app.post('/backups/run', access('operator'), validate('form', TriggerForm), async (c) => {
    const { row } = await backups.trigger(c.req.valid('form').target, { trigger: 'manual', actor: actor(c) })
    await audit(db, c, { action: 'backup.triggered', target: row.id, summary: row.targetName })
    return hxRedirect(c, '/backups')
  })

  app.post('/backups/drill', access('operator'), async (c) => {
    await backups.runDrill(actingAs(c))
    return hxRedirect(c, '/backups')
  })

  app.post('/backups/:id/verify', access('operator'), validate('param', BackupIdParam), async (c) => {
    const { backup, problems } = await backups.verify(c.req.valid('param').id, actor(c))
    await audit(db, c, {
      action: problems.length ? 'backup.verify_failed' : 'backup.verify_requested',
      target: backup.id,
      summary: problems.length ? problems.join('; ').slice(0, 500) : 'ok',
    })
    return hxRedirect(c, '/backups')
  })

  app.post('/backups/:id/restore', access('admin'), validate('param', BackupIdParam), async (c) => {
    const row = await backups.requestRestore(c.req.valid('param').id, actingAs(c), '')
    await audit(db, c, { action: 'backup.restore_requested', target: row.backupId, summary: `request ${row.id}` })
    return hxRedirect(c, '/backups')
  })

  app.post('/backup-restores/:id/approve', access('admin'), validate('param', BackupIdParam), async (c) => {
    const id = c.req.valid('param').id
    const { restore } = await backups.approveRestore(id, actingAs(c))
    await audit(db, c, {
      action: 'backup.restored',
      target: restore.backupId,
      summary: restoredSummary(id, restore),
    })
    return hxRedirect(c, '/backups')
  })

  app.post('/backup-restores/:id/reject', access('admin'), validate('param', BackupIdParam), async (c) => {
    const row = await backups.rejectRestore(c.req.valid('param').id, actingAs(c))
    await audit(db, c, { action: 'backup.restore_rejected', target: row.backupId, summary: `request ${row.id}` })
    return hxRedirect(c, '/backups')
  })

  return app
}
