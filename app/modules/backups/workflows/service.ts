/**
 * Workflow history: pulls every registered n8n instance's workflows and stores a version when the
 * normalised content changed; diffs two versions; rolls a workflow back in n8n. Made once by the
 * composition root (`createWorkflowHistory`); routes, pages and the pull job call it.
 */
import type { Db } from '../../../../db/client.ts'
import type { N8nInstance } from '../../../../db/schema/healing.ts'
import type { NewWorkflowVersion, WorkflowVersion } from '../../../../db/schema/workflow-versions.ts'
import type { Sealer } from '../../../lib/crypto.ts'
import { AppError, conflict, notFound } from '../../../lib/errors.ts'
import { newId } from '../../../lib/ids.ts'
import type { Logger } from '../../../lib/logger.ts'
import type { OutboundPolicy } from '../../../lib/outbound.ts'
import { getN8nInstance, listN8nInstances, openN8nApiKey } from '../../healing/index.ts'
import { diffWorkflows } from './diff.ts'
import { N8nApiError, type N8nClient, n8nClient } from '../../n8n/index.ts'
import { contentHash, contentOf } from './normalise.ts'
import { rollbackBody } from './put-body.ts'
import { contentAad, getVersion, insertVersions, latestOf, latestVersion, openContent } from './store.ts'

export type WorkflowHistoryDeps = {
  db: Db
  sealer: Sealer
  outbound: OutboundPolicy
  log: Logger
  /** Count canvas moves as changes (WORKFLOW_HISTORY_POSITIONS). */
  positions: boolean
  maxRps: number
  /** First backoff after a 429/5xx (default 1 s; tests pass a few ms). */
  backoffMs?: number
  retries?: number
  sleep?: (ms: number) => Promise<void>
}

export type InstancePull = {
  instance: { id: string; name: string }
  workflows: number
  created: number
  unchanged: number
  /** Workflows stored before that n8n no longer lists (deleted there). */
  missing: number
  calls: number
  error?: string
}

const ms = (v: unknown) => {
  const t = typeof v === 'string' ? Date.parse(v) : Number.NaN
  return Number.isFinite(t) ? t : null
}
const str = (v: unknown) => (typeof v === 'string' && v ? v : null)

/** The current version as a rollback's guard sees it. */
export type RollbackHead = {
  version: number
  kind: WorkflowVersion['kind']
  restoredVersion: number | null
  /** When it was saved (n8n's updatedAt; else when Homeostat stored it), ms. */
  changedAt: number
}

/** What a rollback did: put `restored` back (as version `version`), or nothing, when the guard said `skipped`. */
export type RollbackResult =
  | { instance: string; workflowId: string; restored: number; replaced: number; version: number; active: boolean }
  | {
      instance: string
      workflowId: string
      recreatedFrom: string
      restored: number
      version: number
      active: boolean
    }
  | { instance: string; workflowId: string; skipped: string; version: number }

/** The audit summary of a rollback (the API's and healing's rows say the same). */
export const rollbackSummary = (r: RollbackResult) =>
  'skipped' in r
    ? `not rolled back: ${r.skipped}`
    : `to version ${r.restored} (now version ${r.version}${'recreatedFrom' in r ? `, re-created as ${r.workflowId}` : ''})`

/** The AppError a failed n8n call becomes: unreachable is 502 with its own code, so callers can tell. */
function n8nError(error: unknown): never {
  if (error instanceof N8nApiError)
    throw new AppError(502, error.status === null ? 'n8n_unreachable' : 'n8n_error', error.message)
  throw error
}

export function createWorkflowHistory(deps: WorkflowHistoryDeps) {
  const { db, sealer } = deps
  const opts = { positions: deps.positions }

  const clientFor = (instance: N8nInstance) =>
    n8nClient(
      { name: instance.name, baseUrl: instance.baseUrl, apiKey: openN8nApiKey(sealer, instance) },
      {
        outbound: deps.outbound,
        maxRps: deps.maxRps,
        backoffMs: deps.backoffMs ?? 1000,
        retries: deps.retries ?? 4,
        sleep: deps.sleep,
      },
    )

  /** A version row for `raw` (n8n's workflow JSON), its content sealed to the row's key. */
  function versionRow(
    instanceId: string,
    raw: Record<string, unknown>,
    seq: number,
    extra: { author: string; kind: WorkflowVersion['kind']; restoredSeq?: number | null; now: number },
  ): NewWorkflowVersion {
    const content = contentOf(raw)
    const workflowId = String(raw.id)
    return {
      id: newId(extra.now),
      instanceId,
      workflowId,
      seq,
      name: content.name,
      active: content.active,
      hash: contentHash(content, opts),
      content: sealer.seal(JSON.stringify(content), contentAad({ instanceId, workflowId, seq })),
      nodeCount: content.nodes.length,
      n8nVersionId: str(raw.versionId),
      author: extra.author,
      kind: extra.kind,
      restoredSeq: extra.restoredSeq ?? null,
      changedAt: ms(raw.updatedAt),
      createdAt: extra.now,
    }
  }

  /**
   * Who saved this state, when n8n tells: the active version's authors come with the list; for
   * another version, a changed workflow costs one more call (n8n's workflow history). A workflow
   * seen for the first time costs none, so the first pull of a large instance stays cheap.
   */
  async function authorOf(client: N8nClient, raw: Record<string, unknown>, known: boolean) {
    const versionId = str(raw.versionId)
    const active = raw.activeVersion as { versionId?: unknown; authors?: unknown } | null | undefined
    if (versionId && active?.versionId === versionId && str(active.authors)) return String(active.authors)
    if (known && versionId) {
      try {
        return (await client.authors(String(raw.id), versionId)) ?? 'unknown'
      } catch {
        return 'unknown' // the version itself is what matters; who made it is a nicety
      }
    }
    return 'unknown'
  }

  async function pullInstance(instance: N8nInstance, now: number): Promise<InstancePull> {
    const result: InstancePull = {
      instance: { id: instance.id, name: instance.name },
      workflows: 0,
      created: 0,
      unchanged: 0,
      missing: 0,
      calls: 0,
    }
    const client = clientFor(instance)
    try {
      const latest = await latestOf(db, instance.id)
      const seen = new Set<string>()
      const rows: NewWorkflowVersion[] = []
      for await (const raw of client.workflows()) {
        if (raw.id === undefined || raw.id === null) continue
        const id = String(raw.id)
        seen.add(id)
        result.workflows++
        const before = latest.get(id)
        if (before?.hash === contentHash(contentOf(raw), opts)) {
          result.unchanged++
          continue
        }
        const author = await authorOf(client, raw, before !== undefined)
        rows.push(versionRow(instance.id, raw, (before?.seq ?? 0) + 1, { author, kind: 'pull', now }))
      }
      await insertVersions(db, rows)
      result.created = rows.length
      result.missing = [...latest.keys()].filter((id) => !seen.has(id)).length
    } catch (error) {
      result.error = error instanceof Error ? error.message : String(error)
      deps.log.warn('workflow pull failed', { instance: instance.name, error: result.error })
    }
    result.calls = client.calls()
    return result
  }

  /** Pulls every instance (or one), one after the other; an instance that fails does not stop the others. */
  async function pull(now: number, instanceId?: string): Promise<InstancePull[]> {
    const instances = instanceId ? [await getN8nInstance(db, instanceId)] : await listN8nInstances(db)
    const out: InstancePull[] = []
    for (const instance of instances) out.push(await pullInstance(instance, now))
    return out
  }

  async function version(instanceId: string, workflowId: string, seq: number) {
    const row = await getVersion(db, instanceId, workflowId, seq)
    if (!row) throw notFound(`Version ${seq} of workflow ${workflowId}`)
    return row
  }

  async function diff(instanceId: string, workflowId: string, from: number, to: number) {
    const [a, b] = [await version(instanceId, workflowId, from), await version(instanceId, workflowId, to)]
    return diffWorkflows(openContent(sealer, a), openContent(sealer, b), opts)
  }

  /**
   * Puts version `to` back into n8n. The workflow keeps its id and its active state (n8n 1.x takes
   * an active workflow off and on around an update; it is activated again if it came back
   * inactive). What n8n holds now is stored first when it differs from the latest version, so a
   * change made since the last pull is not lost, and "previous" counts it: a bad version saved in
   * n8n a minute ago is the one rolled back from, even before the pull job has seen it. A workflow
   * deleted in n8n is created again only with `recreate` (n8n then gives it a new id).
   *
   * `guard` sees the current version (after that sync) and may call the rollback off by returning
   * why: the answer is then `{skipped}` and n8n is not written (healing's `workflow_rollback` uses it
   * for "only if it changed within …" without a second read of n8n).
   */
  async function rollback(
    instanceId: string,
    workflowId: string,
    input: { to: number | 'previous'; recreate?: boolean; guard?: (head: RollbackHead) => string | null },
    actor: string,
    now: number,
  ): Promise<RollbackResult> {
    const instance = await getN8nInstance(db, instanceId)
    const latest = await latestVersion(db, instanceId, workflowId)
    if (!latest) throw notFound(`Workflow ${workflowId} of n8n ${instance.name}`)
    const noneBefore = (head: number) => conflict(`Workflow ${workflowId} has no version before ${head}`)
    // A version number is checked before n8n is called: a typo costs no request.
    if (input.to !== 'previous') await version(instanceId, workflowId, input.to)
    const client = clientFor(instance)
    const current = await client.workflow(workflowId).catch(n8nError)

    if (!current) {
      const seq = input.to === 'previous' ? latest.seq - 1 : input.to
      if (seq < 1) throw noneBefore(latest.seq)
      if (!input.recreate)
        throw new AppError(
          409,
          'workflow_deleted',
          `Workflow ${workflowId} no longer exists in n8n ${instance.name}; send "recreate": true to create version ${seq} again (n8n gives it a new id)`,
        )
      return recreate(client, instanceId, workflowId, await version(instanceId, workflowId, seq), actor, now)
    }

    let head = latest
    if (contentHash(contentOf(current), opts) !== latest.hash) {
      const author = await authorOf(client, current, true)
      const row = versionRow(instanceId, current, latest.seq + 1, { author, kind: 'pull', now })
      await insertVersions(db, [row])
      head = (await latestVersion(db, instanceId, workflowId))!
    }
    const skipped = input.guard?.({
      version: head.seq,
      kind: head.kind,
      restoredVersion: head.restoredSeq,
      // n8n's own time of the save when it gives one (the pull that stored it may be minutes later).
      changedAt: ms(current.updatedAt) ?? head.changedAt ?? head.createdAt,
    })
    if (skipped) return { instance: instance.name, workflowId, skipped, version: head.seq }
    const seq = input.to === 'previous' ? head.seq - 1 : input.to
    if (seq < 1) throw noneBefore(head.seq)
    const content = openContent(sealer, await version(instanceId, workflowId, seq))
    const wasActive = current.active === true
    await client.update(workflowId, rollbackBody(content)).catch(n8nError)
    let after = await client.workflow(workflowId).catch(n8nError)
    if (!after) throw new AppError(502, 'n8n_error', `Workflow ${workflowId} disappeared from n8n during the rollback`)
    if (wasActive && after.active !== true) {
      await client.activate(workflowId).catch(n8nError)
      after = (await client.workflow(workflowId).catch(n8nError)) ?? after
    }
    const row = versionRow(instanceId, after, head.seq + 1, { author: actor, kind: 'rollback', restoredSeq: seq, now })
    await insertVersions(db, [row])
    return {
      instance: instance.name,
      workflowId,
      restored: seq,
      replaced: head.seq,
      version: row.seq,
      active: after.active === true,
    }
  }

  async function recreate(
    client: N8nClient,
    instanceId: string,
    oldId: string,
    target: WorkflowVersion,
    actor: string,
    now: number,
  ) {
    const content = openContent(sealer, target)
    const created = await client.create(rollbackBody(content)).catch(n8nError)
    const newWorkflowId = String(created.id)
    let after = created
    if (target.active) {
      await client.activate(newWorkflowId).catch(n8nError)
      after = (await client.workflow(newWorkflowId).catch(n8nError)) ?? created
    }
    const prior = await latestVersion(db, instanceId, newWorkflowId)
    const row = versionRow(instanceId, after, (prior?.seq ?? 0) + 1, {
      author: actor,
      kind: 'recreate',
      restoredSeq: target.seq,
      now,
    })
    await insertVersions(db, [row])
    return {
      instance: (await getN8nInstance(db, instanceId)).name,
      workflowId: newWorkflowId,
      recreatedFrom: oldId,
      restored: target.seq,
      version: row.seq,
      active: after.active === true,
    }
  }

  return { pull, version, diff, rollback, positions: deps.positions }
}

export type WorkflowHistory = ReturnType<typeof createWorkflowHistory>
