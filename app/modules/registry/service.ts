/**
 * The registry service, made once by the composition root: the Ollama client (through the outbound
 * policy), the deploy progress of this process, and every change that touches hosts (deploy,
 * rollback, archive) or moves an alias. Routes, pages and the model-route resolver share it.
 */
import { and, eq } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { deployments, type ModelVersion } from '../../../db/schema/registry.ts'
import type { Sealer } from '../../lib/crypto.ts'
import { conflict } from '../../lib/errors.ts'
import type { Logger } from '../../lib/logger.ts'
import type { OutboundPolicy } from '../../lib/outbound.ts'
import { auditInsert } from '../audit/index.ts'
import { ollamaClient } from './hosts/ollama.ts'
import { getHost, hostHeaders, listHosts } from './hosts/store.ts'
import { getAlias, resolveAliasRef, upsertAlias } from './models/aliases.ts'
import { createDeployer, type Emit, type Who } from './models/deploy.ts'
import { createProgressHub } from './models/progress.ts'
import { getModel, getVersion, setVersionStatus, versionTag } from './models/store.ts'

export type RegistryDeps = {
  db: Db
  sealer: Sealer
  outbound: OutboundPolicy
  now?: () => number
  log?: Logger
  emit?: Emit
  /** Called after an alias moved (the model-route answer cache is dropped). */
  onAliasMoved?: () => void
}

export function createRegistry(deps: RegistryDeps) {
  const { db } = deps
  const now = () => deps.now?.() ?? Date.now()
  const ollama = ollamaClient(deps.outbound)
  const hub = createProgressHub()
  const deployer = createDeployer({ ...deps, ollama, hub, now })

  /** Starts deploying `version` of `modelId` to a host (id or name); progress follows on the hub. */
  async function deploy(modelId: string, version: string, hostRef: string, who: Who) {
    const model = await getModel(db, modelId)
    const v = await getVersion(db, modelId, version)
    const host = await getHost(db, hostRef)
    return deployer.start({ kind: 'deploy', model, version: v, host, who })
  }

  /** Makes `version` (or the one live before the current one) live again on a host. */
  async function rollback(modelId: string, hostRef: string, version: string | undefined, who: Who) {
    const model = await getModel(db, modelId)
    const host = await getHost(db, hostRef)
    const current = await deployer.live(host.id, model.id)
    if (!current) throw conflict(`Nothing of ${model.id} is live on ${host.name}: deploy a version first`)
    const target: ModelVersion | null = version
      ? await getVersion(db, model.id, version)
      : await deployer.previousLive(host.id, model.id, current.versionId)
    if (!target) throw conflict(`No earlier version of ${model.id} went live on ${host.name}: name the version`)
    if (target.id === current.versionId) throw conflict(`Version ${target.version} is already live on ${host.name}`)
    return deployer.start({ kind: 'rollback', model, version: target, host, who })
  }

  /**
   * Archives a version (refused while it is live somewhere); with `deleteFromHosts`, its tag is
   * deleted from every registered host (`/api/delete`; a host that does not have it is fine).
   */
  async function archive(modelId: string, version: string, deleteFromHosts: boolean) {
    const v = await getVersion(db, modelId, version)
    const liveOn = await db
      .select({ hostId: deployments.hostId })
      .from(deployments)
      .where(and(eq(deployments.modelId, modelId), eq(deployments.versionId, v.id)))
    if (liveOn.length) throw conflict(`Version ${version} is live on ${liveOn.length} host(s): roll back first`)
    const deleted: { host: string; deleted: boolean; error?: string }[] = []
    if (deleteFromHosts)
      for (const h of await listHosts(db)) {
        try {
          const gone = await ollama.remove(
            { url: h.url, headers: hostHeaders(deps.sealer, h) },
            versionTag(modelId, version),
          )
          deleted.push({ host: h.name, deleted: gone })
        } catch (error) {
          deleted.push({ host: h.name, deleted: false, error: String((error as Error)?.message ?? error) })
        }
      }
    const row = await setVersionStatus(db, v, 'archived', now())
    return { row, deleted }
  }

  /** Points an alias at a version (a person, or a healing action through the composition root). */
  async function moveAlias(modelId: string, alias: string, version: string, who: Who, reason = '') {
    const v = await getVersion(db, modelId, version)
    const before = await getAlias(db, modelId, alias).catch(() => null)
    const at = now()
    await db.batch([
      upsertAlias(db, { modelId, name: alias, versionId: v.id, by: who.actor, at, reason }),
      auditInsert(
        db,
        {
          ...who,
          action: 'registry.alias_moved',
          target: `${modelId}/${alias}`,
          summary: `${before?.version ?? 'new'} → ${version}${reason ? ` (${reason})` : ''}`,
        },
        at,
      ),
    ])
    deps.onAliasMoved?.()
    await deps
      .emit?.(
        'registry.alias_moved',
        { model: modelId, alias, from: before?.version ?? null, to: version, by: who.actor, reason },
        at,
      )
      .catch(() => undefined)
    return getAlias(db, modelId, alias)
  }

  /**
   * The healing action's port: `to` a version, or `previous` (the version before the one the alias
   * names now, as that version records it). Errors carry the HTTP status (404, 409).
   */
  async function moveAliasTo(ref: { modelId: string; alias: string }, to: string, actor: string, reason: string) {
    await getModel(db, ref.modelId)
    const current = await getAlias(db, ref.modelId, ref.alias)
    let target = to
    if (to === 'previous') {
      const v = await getVersion(db, ref.modelId, current.version)
      if (!v.previousVersion)
        throw conflict(
          `Version ${current.version} of ${ref.modelId} records no previous version to move ${ref.alias} to`,
        )
      target = v.previousVersion
    }
    const moved = await moveAlias(ref.modelId, ref.alias, target, { actor }, reason)
    return { from: current.version, to: moved.version }
  }

  return {
    ollama,
    moveAliasTo,
    hub,
    deploy,
    rollback,
    archive,
    moveAlias,
    live: deployer.live,
    /** For model routes: `alias:<model>/<alias>` → the version's tag now (null: not an alias, or none). */
    resolveModel: (model: string) => resolveAliasRef(db, model),
  }
}

export type Registry = ReturnType<typeof createRegistry>
