/**
 * Deploying a version to an Ollama host, rolling back, archiving, and moving aliases: every change
 * recorded (deployment history, what is live, audit) and announced (webhook subscriptions).
 *
 * Deploy: `/api/create` (progress relayed as it streams), `/api/show` to verify, `/api/copy` to the
 * stable `<model>:live` tag, then one batch records it live. A failure anywhere records the attempt
 * failed and changes nothing else: the live tag is only copied after the version verified.
 * Rollback: when the host still has the version's tag, `/api/copy` alone (seconds); otherwise create
 * it again first. Aliases on the version rolled back from move to the version made live.
 */
import { and, desc, eq, lt, ne } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
import type { Db } from '../../../../db/client.ts'
import {
  type DeploymentRecord,
  deploymentHistory,
  deployments,
  type Model,
  type ModelVersion,
  modelVersions,
  type OllamaHost,
} from '../../../../db/schema/registry.ts'
import { registryWebhookEvents } from '../../../../db/schema/notify.ts'
import type { Sealer } from '../../../lib/crypto.ts'
import { AppError, conflict } from '../../../lib/errors.ts'
import { newId } from '../../../lib/ids.ts'
import type { Logger } from '../../../lib/logger.ts'
import { toIso } from '../../../lib/time.ts'
import { auditInsert } from '../../audit/index.ts'
import { hostHeaders } from '../hosts/store.ts'
import type { OllamaClient } from '../hosts/ollama.ts'
import { aliasesOn, upsertAlias } from './aliases.ts'
import { createBody, validateModelfile } from './modelfile.ts'
import type { ProgressHub } from './progress.ts'
import { getVersionById, liveTag, modelfileRefused, versionTag } from './store.ts'

/** Who asked, for the audit rows written when the work ends (maybe after the request). */
export type Who = { actor: string; requestId?: string | null; ip?: string | null }

export { registryWebhookEvents }
/** The events registry changes send to webhook subscriptions (named with the subscriptions, in db/schema/notify.ts). */
export type RegistryEvent = (typeof registryWebhookEvents)[number]
export type Emit = (event: RegistryEvent, data: Record<string, unknown>, at: number) => Promise<void>

export type DeployerDeps = {
  db: Db
  sealer: Sealer
  ollama: OllamaClient
  hub: ProgressHub
  now: () => number
  log?: Logger
  /** Sends a registry event to webhook subscriptions (the notify outbox). */
  emit?: Emit
  /** An alias moved: model routes following aliases must be read again. */
  onAliasMoved?: () => void
}

const PROGRESS_KEPT = 30
/** A deploy still `running` after this long was cut off (a create from a pulled base takes seconds to minutes). */
const STALE_RUNNING_MS = 6 * 3_600_000

export const deploymentJson = (
  r: DeploymentRecord,
  names: { host?: string; version?: string; fromVersion?: string | null } = {},
) => ({
  id: r.id,
  kind: r.kind,
  status: r.status,
  model: r.modelId,
  host: names.host ?? r.hostId,
  hostId: r.hostId,
  version: names.version ?? r.versionId,
  fromVersion: names.fromVersion ?? null,
  method: r.method,
  progress: r.progress,
  error: r.error,
  by: r.by,
  startedAt: toIso(r.startedAt),
  finishedAt: toIso(r.finishedAt),
})

export function createDeployer(deps: DeployerDeps) {
  const { db, ollama, hub } = deps
  /** Host and model pairs with a deploy or rollback under way in this process (one at a time each). */
  const busy = new Set<string>()

  const live = async (hostId: string, modelId: string) => {
    const [row] = await db
      .select()
      .from(deployments)
      .where(and(eq(deployments.hostId, hostId), eq(deployments.modelId, modelId)))
    return row
  }

  const emit = (event: RegistryEvent, data: Record<string, unknown>, at: number) =>
    deps
      .emit?.(event, data, at)
      .catch((error) =>
        deps.log?.warn('registry event not queued', { event, error: String((error as Error)?.message ?? error) }),
      )

  /**
   * Starts a deploy or rollback: writes its history row (`running`) and runs it in the background.
   * `done` settles with the finished row; progress goes to the hub under the row's id.
   */
  async function start(opts: {
    kind: 'deploy' | 'rollback'
    model: Model
    version: ModelVersion
    host: OllamaHost
    who: Who
  }) {
    const { model, version, host } = opts
    if (version.status === 'training' || version.status === 'failed' || version.status === 'archived')
      throw conflict(
        `Version ${version.version} is ${version.status}: only a ready, deployed or deprecated version goes live`,
      )
    const checked = validateModelfile(version.modelfile)
    if (!checked.valid) throw modelfileRefused(checked.errors)
    const made = createBody(versionTag(model.id, version.version), checked.parsed)
    if ('error' in made) throw new AppError(422, 'not_deployable', made.error, { field: 'modelfile' })
    const key = `${host.id}|${model.id}`
    if (busy.has(key)) throw conflict(`A deploy or rollback of ${model.id} on ${host.name} is already under way`)
    busy.add(key)
    try {
      const now = deps.now()
      // A row left `running` by a server that stopped mid-deploy (nothing here runs it) is closed as failed.
      await db
        .update(deploymentHistory)
        .set({ status: 'failed', error: 'interrupted: the server stopped during the deploy', finishedAt: now })
        .where(
          and(
            eq(deploymentHistory.hostId, host.id),
            eq(deploymentHistory.modelId, model.id),
            eq(deploymentHistory.status, 'running'),
            lt(deploymentHistory.startedAt, now - STALE_RUNNING_MS),
          ),
        )
      const before = await live(host.id, model.id)
      const [record] = await db
        .insert(deploymentHistory)
        .values({
          id: newId(now),
          hostId: host.id,
          modelId: model.id,
          versionId: version.id,
          fromVersionId: before?.versionId ?? null,
          kind: opts.kind,
          status: 'running',
          progress: [],
          startedAt: now,
          by: opts.who.actor,
        })
        .returning()
      hub.open(record!.id)
      const fromVersion = before ? await getVersionById(db, before.versionId).catch(() => null) : null
      const done = run({ ...opts, record: record!, body: made.body, fromVersion }).finally(() => busy.delete(key))
      // The dashboard does not wait for `done`: a failure to record the outcome is logged, never unhandled.
      done.catch((error) =>
        deps.log?.error('recording a deployment failed', {
          deployment: record!.id,
          error: String((error as Error)?.message ?? error),
        }),
      )
      return { record: record!, done }
    } catch (error) {
      busy.delete(key)
      throw error
    }
  }

  async function run(o: {
    kind: 'deploy' | 'rollback'
    model: Model
    version: ModelVersion
    host: OllamaHost
    who: Who
    record: DeploymentRecord
    body: Record<string, unknown>
    fromVersion: ModelVersion | null
  }): Promise<DeploymentRecord> {
    const { model, version, host, record } = o
    const tag = versionTag(model.id, version.version)
    const target = { url: host.url, headers: hostHeaders(deps.sealer, host) }
    const lines: string[] = []
    const say = (status: string, extra: Record<string, unknown> = {}) => {
      lines.push(status)
      if (lines.length > PROGRESS_KEPT) lines.splice(0, lines.length - PROGRESS_KEPT)
      hub.emit(record.id, { type: 'status', status, ...extra })
    }
    const names = { host: host.name, version: version.version, fromVersion: o.fromVersion?.version ?? null }
    let method = 'create+copy'
    try {
      // A rollback to a version the host still has needs only the copy: that is what makes it fast.
      const onHost = o.kind === 'rollback' ? await ollama.show(target, tag) : null
      if (onHost) {
        method = 'copy'
        say(`${tag} is still on ${host.name}: copying it to ${liveTag(model.id)}`)
      } else {
        say(`creating ${tag} on ${host.name}`)
        for await (const p of ollama.create(target, o.body)) say(p.status, { ...p })
        say(`verifying ${tag}`)
        if (!(await ollama.show(target, tag))) throw new Error(`verification failed: ${host.name} does not show ${tag}`)
      }
      await ollama.copy(target, tag, liveTag(model.id))
      say(`${liveTag(model.id)} now points at ${tag}`)
      return await succeed(o, method, lines, names)
    } catch (error) {
      const message = String((error as Error)?.message ?? error).slice(0, 1000)
      return fail(o, method, lines, message, names)
    }
  }

  async function succeed(
    o: Parameters<typeof run>[0],
    method: string,
    lines: string[],
    names: { host: string; version: string; fromVersion: string | null },
  ) {
    const { model, version, host, record, who } = o
    const at = deps.now()
    // A rollback moves the aliases that named the version it replaces.
    const moved =
      o.kind === 'rollback' && o.fromVersion && o.fromVersion.id !== version.id
        ? await aliasesOn(db, model.id, [o.fromVersion.id])
        : []
    const action = o.kind === 'deploy' ? 'registry.deployed' : 'registry.rolled_back'
    const [rows] = await db.batch([
      db
        .update(deploymentHistory)
        .set({ status: 'succeeded', method, progress: lines, finishedAt: at })
        .where(eq(deploymentHistory.id, record.id))
        .returning(),
      db
        .insert(deployments)
        .values({
          hostId: host.id,
          modelId: model.id,
          versionId: version.id,
          historyId: record.id,
          since: at,
          by: who.actor,
        })
        .onConflictDoUpdate({
          target: [deployments.hostId, deployments.modelId],
          set: { versionId: version.id, historyId: record.id, since: at, by: who.actor },
        }),
      db
        .update(modelVersions)
        .set({ status: 'deployed', updatedAt: at })
        .where(and(eq(modelVersions.id, version.id), ne(modelVersions.status, 'deployed'))),
      auditInsert(
        db,
        {
          ...who,
          action,
          target: `${model.id}@${host.name}`,
          summary: `${names.fromVersion ?? 'nothing'} → ${version.version} (${method})`,
        },
        at,
      ),
      ...moved.flatMap((a) => [
        upsertAlias(db, {
          modelId: model.id,
          name: a.name,
          versionId: version.id,
          by: who.actor,
          at,
          reason: `rollback on ${host.name}`,
        }),
        auditInsert(
          db,
          {
            ...who,
            action: 'registry.alias_moved',
            target: `${model.id}/${a.name}`,
            summary: `${names.fromVersion} → ${version.version} (rollback on ${host.name})`,
          },
          at,
        ),
      ]),
    ] as [BatchItem<'sqlite'>, ...BatchItem<'sqlite'>[]])
    const done = (rows as DeploymentRecord[])[0]!
    const json = deploymentJson(done, names)
    if (moved.length) deps.onAliasMoved?.()
    await emit(action, { deployment: json }, at)
    for (const a of moved)
      await emit(
        'registry.alias_moved',
        {
          model: model.id,
          alias: a.name,
          from: names.fromVersion,
          to: version.version,
          by: who.actor,
          reason: 'rollback',
        },
        at,
      )
    hub.emit(record.id, { type: 'done', deployment: json })
    return done
  }

  async function fail(
    o: Parameters<typeof run>[0],
    method: string,
    lines: string[],
    error: string,
    names: { host: string; version: string; fromVersion: string | null },
  ) {
    const at = deps.now()
    const [rows] = await db.batch([
      db
        .update(deploymentHistory)
        .set({ status: 'failed', method, progress: lines, error, finishedAt: at })
        .where(eq(deploymentHistory.id, o.record.id))
        .returning(),
      auditInsert(
        db,
        {
          ...o.who,
          action: o.kind === 'deploy' ? 'registry.deploy_failed' : 'registry.rollback_failed',
          target: `${o.model.id}@${o.host.name}`,
          summary: `${o.version.version}: ${error}`,
        },
        at,
      ),
    ])
    const done = (rows as DeploymentRecord[])[0]!
    const json = deploymentJson(done, names)
    await emit('registry.deploy_failed', { deployment: json }, at)
    hub.emit(o.record.id, { type: 'failed', error, deployment: json })
    return done
  }

  /** The version to roll back to when none is named: the newest other version that went live on this host. */
  async function previousLive(hostId: string, modelId: string, currentVersionId: string) {
    const [row] = await db
      .select({ versionId: deploymentHistory.versionId })
      .from(deploymentHistory)
      .where(
        and(
          eq(deploymentHistory.hostId, hostId),
          eq(deploymentHistory.modelId, modelId),
          eq(deploymentHistory.status, 'succeeded'),
          ne(deploymentHistory.versionId, currentVersionId),
        ),
      )
      .orderBy(desc(deploymentHistory.startedAt), desc(deploymentHistory.id))
      .limit(1)
    return row ? getVersionById(db, row.versionId) : null
  }

  return { start, live, previousLive }
}

export type Deployer = ReturnType<typeof createDeployer>
