/**
 * Workflow health: made once by the composition root (`createWorkflowHealth`); the poll job, the
 * routes and the pages call it. A poll of an instance lists its workflows (active state, trigger),
 * reads its new executions (read.ts), classifies the new failures from their data (each fetched
 * once, at most `classifyPerPoll` a poll), counts them into metrics, works out each workflow's
 * state, and raises or resolves its alerts (alerts.ts) on changes only.
 */
import type { Db } from '../../../../db/client.ts'
import type { N8nInstance } from '../../../../db/schema/healing.ts'
import type { FailureClass, N8nExecutionRow, N8nWorkflow, NewN8nWorkflow } from '../../../../db/schema/n8n.ts'
import type { Sealer } from '../../../lib/crypto.ts'
import type { Logger } from '../../../lib/logger.ts'
import type { OutboundPolicy } from '../../../lib/outbound.ts'
import type { AlertReport, AlertsService } from '../../alerts/index.ts'
import { getN8nInstance, listN8nInstances, openN8nApiKey } from '../../healing/index.ts'
import type { MetricStore, Sample } from '../../metrics/index.ts'
import { N8nApiError, type N8nClient, type N8nExecution, n8nClient } from '../api/client.ts'
import { deactivatedReport, failureLabels, failureReport, missedReport, unreachableReport } from './alerts.ts'
import { classify } from './classify.ts'
import { missedRun } from './expectations.ts'
import { readExecutions } from './read.ts'
import { FAILED, stateOf, UNFINISHED } from './state.ts'
import {
  compiledRules,
  pollStateOf,
  pruneExecutions,
  runsSince,
  unclassified,
  workflowsOf,
  writePoll,
} from './store.ts'
import { triggerOf } from './triggers.ts'

export type WorkflowHealthDeps = {
  db: Db
  sealer: Sealer
  outbound: OutboundPolicy
  log: Logger
  alerts: Pick<AlertsService, 'reportMany' | 'labelsFingerprint'>
  metrics: Pick<MetricStore, 'write'>
  maxRps: number
  /** Cap of the grace window after an expected run (N8N_SCHEDULE_GRACE_SECONDS, in ms). */
  graceMs: number
  failingAfter: number
  degradedRate: number
  defaultTimezone: string
  retentionDays: number
  classifyPerPoll?: number
  pageSize?: number
  backoffMs?: number
  retries?: number
  sleep?: (ms: number) => Promise<void>
  /** Told the ids of workflows whose health state changed (the live feed: the n8n page refreshes). */
  changed?: (workflowIds: string[]) => void
}

export type InstancePoll = {
  instance: { id: string; name: string }
  reachable: boolean
  workflows: number
  executions: number
  classified: number
  calls: number
  error?: string
}

const HOUR = 3_600_000
const DAY = 24 * HOUR
const VERSION_EVERY_MS = HOUR
const MESSAGE_MAX = 500

export function createWorkflowHealth(deps: WorkflowHealthDeps) {
  const { db } = deps
  const fp = deps.alerts.labelsFingerprint
  const classifyPerPoll = deps.classifyPerPoll ?? 100

  const clientFor = (instance: N8nInstance) =>
    n8nClient(
      { name: instance.name, baseUrl: instance.baseUrl, apiKey: openN8nApiKey(deps.sealer, instance) },
      {
        outbound: deps.outbound,
        maxRps: deps.maxRps,
        backoffMs: deps.backoffMs ?? 1000,
        retries: deps.retries ?? 3,
        sleep: deps.sleep,
      },
    )

  /** Workflow rows as n8n lists them now, merged with what was stored; deactivations noted. */
  async function syncWorkflows(client: N8nClient, instance: N8nInstance, known: Map<string, N8nWorkflow>, now: number) {
    const rows = new Map<string, N8nWorkflow>()
    const nodeTypes = new Map<string, Map<string, string>>()
    const reports: AlertReport[] = []
    for await (const raw of client.workflows()) {
      if (raw.id === undefined || raw.id === null) continue
      const id = String(raw.id)
      const before = known.get(id)
      const active = raw.active === true
      const name = typeof raw.name === 'string' ? raw.name : id
      const types = new Map<string, string>()
      for (const n of Array.isArray(raw.nodes) ? raw.nodes : [])
        if (n && typeof n.name === 'string' && typeof n.type === 'string') types.set(n.name, n.type)
      nodeTypes.set(id, types)
      const w = { instance: instance.name, workflowId: id, name }
      let deactivatedAt = before?.deactivatedAt ?? null
      if (before?.active && !active) {
        deactivatedAt = now
        reports.push(deactivatedReport(fp, w, true))
      } else if (active && deactivatedAt !== null) {
        deactivatedAt = null
        reports.push(deactivatedReport(fp, w, false))
      }
      rows.set(id, {
        instanceId: instance.id,
        workflowId: id,
        name,
        active,
        activeSince: active ? (before?.active ? before.activeSince : now) : null,
        trigger: triggerOf(raw.nodes, raw.settings, deps.defaultTimezone),
        state: before?.state ?? 'unknown',
        stateReason: before?.stateReason ?? null,
        lastRunAt: before?.lastRunAt ?? null,
        lastSuccessAt: before?.lastSuccessAt ?? null,
        lastFailureAt: before?.lastFailureAt ?? null,
        consecutiveFailures: before?.consecutiveFailures ?? 0,
        counts: { ...(before?.counts ?? {}) },
        failures: { ...(before?.failures ?? {}) },
        expectEveryMs: before?.expectEveryMs ?? null,
        missedSince: before?.missedSince ?? null,
        deactivatedAt,
        openFailures: [...(before?.openFailures ?? [])],
        seenAt: now,
        updatedAt: now,
      })
    }
    return { rows, nodeTypes, reports }
  }

  /** Classifies failed executions (newest first), fetching each one's data once. */
  async function classifyAll(
    client: N8nClient,
    failed: N8nExecutionRow[],
    nodeTypes: Map<string, Map<string, string>>,
  ): Promise<number> {
    const rules = await compiledRules(db)
    let n = 0
    for (const row of failed.slice(0, classifyPerPoll)) {
      let data: Record<string, unknown> | null = null
      try {
        data = await client.execution(row.id)
      } catch (error) {
        row.message = `could not read the execution: ${(error as Error).message}`.slice(0, MESSAGE_MAX)
      }
      const types = nodeTypes.get(row.workflowId)
      const c = data
        ? classify({ ...data, status: row.status }, rules, (node) => types?.get(node) ?? null)
        : { failureClass: 'unknown' as const, node: null, nodeType: null, httpCode: null, message: row.message }
      Object.assign(row, {
        failureClass: c.failureClass,
        failingNode: c.node,
        nodeType: c.nodeType,
        httpCode: c.httpCode,
        message: c.message,
      })
      n++
    }
    return n
  }

  async function pollInstance(instance: N8nInstance, now: number): Promise<InstancePoll> {
    const state = await pollStateOf(db, instance.id)
    const known = await workflowsOf(db, instance.id)
    // What the page showed before this poll: a poll that changes none of it announces nothing.
    const before = { reachable: state.reachable, states: new Map([...known].map(([id, w]) => [id, w.state])) }
    const client = clientFor(instance)
    const result: InstancePoll = {
      instance: { id: instance.id, name: instance.name },
      reachable: true,
      workflows: 0,
      executions: 0,
      classified: 0,
      calls: 0,
    }
    const reports: AlertReport[] = []
    let write: { executions: N8nExecutionRow[]; workflows: N8nWorkflow[]; gone: string[] }
    let samples: Sample[] = []
    try {
      const synced = await syncWorkflows(client, instance, known, now)
      const { rows, nodeTypes } = synced
      result.workflows = rows.size
      // Once an hour, whether n8n told it or not (1.123 does not: asking each poll would cost a request each time).
      if ((state.versionCheckedAt ?? 0) < now - VERSION_EVERY_MS) {
        state.version = (await client.version().catch(() => null)) ?? state.version
        state.versionCheckedAt = now
      }
      const read = await readExecutions(client, state, now, {
        pageSize: deps.pageSize ?? 250,
        backfillFrom: now - 7 * DAY,
        pendingMaxAgeMs: HOUR,
        maxPending: 1000,
      })
      const execRows = read.items.map((e) => executionRow(instance.id, e, now))
      const failed = execRows.filter((r) => FAILED.has(r.status)).sort((a, b) => Number(b.id) - Number(a.id))
      const backlog = failed.length < classifyPerPoll ? await unclassified(db, instance.id, classifyPerPoll) : []
      const older = backlog.filter((b) => !failed.some((f) => f.id === b.id))
      result.classified = await classifyAll(client, [...failed, ...older], nodeTypes)
      result.executions = execRows.length
      // Everything n8n had to tell was read: from here on the poll only writes.
      reports.push(...synced.reports)
      samples = countRuns(instance, rows, execRows, reports, now)
      state.watermark = read.watermark
      state.pending = read.pending
      await judge(instance, rows, reports, now, true)
      const gone = [...known.keys()].filter((id) => !rows.has(id))
      for (const id of gone) resolveAll(instance, known.get(id)!, reports)
      if (state.reachable === false) reports.push(unreachableReport(fp, instance.name, false))
      state.reachable = true
      state.error = null
      state.lastOkAt = now
      write = {
        executions: [...execRows, ...older.filter((b) => b.failureClass !== null)],
        workflows: [...rows.values()],
        gone,
      }
    } catch (error) {
      // Only n8n's answers (or their absence) make an instance unreachable; anything else is a fault here.
      if (!(error instanceof N8nApiError)) throw error
      const message = error.message
      result.reachable = false
      result.error = message
      deps.log.warn('n8n poll failed', { instance: instance.name, error: message })
      if (state.reachable !== false) reports.push(unreachableReport(fp, instance.name, true, message))
      state.reachable = false
      state.error = message.slice(0, MESSAGE_MAX)
      // Nothing is known about the workflows while the instance cannot be read.
      const rows = new Map([...known].map(([id, w]) => [id, { ...w, updatedAt: now }]))
      await judge(instance, rows, reports, now, false)
      write = { executions: [], workflows: [...rows.values()], gone: [] }
    }
    state.lastPollAt = now
    state.lastCalls = client.calls()
    result.calls = client.calls()
    await writePoll(db, { ...write, state })
    const moved = write.workflows.filter((w) => before.states.get(w.workflowId) !== w.state).map((w) => w.workflowId)
    if (moved.length || write.gone.length || before.reachable !== state.reachable)
      deps.changed?.([...moved, ...write.gone])
    await writeMetrics(samples, now)
    if (reports.length) await deps.alerts.reportMany(reports, now)
    return result
  }

  /** Counts new final executions into the workflow rows (in id order) and the alerts; returns the metric samples. */
  function countRuns(
    instance: N8nInstance,
    rows: Map<string, N8nWorkflow>,
    execRows: N8nExecutionRow[],
    reports: AlertReport[],
    now: number,
  ): Sample[] {
    const samples: Sample[] = []
    const touched = new Set<string>()
    const sorted = [...execRows].sort((a, b) => Number(a.id) - Number(b.id))
    const openBefore = new Map([...rows].map(([id, w]) => [id, [...w.openFailures]]))
    for (const e of sorted) {
      const w = rows.get(e.workflowId)
      if (!w || UNFINISHED.has(e.status)) continue
      touched.add(e.workflowId)
      w.counts[e.status] = (w.counts[e.status] ?? 0) + 1
      const at = e.startedAt ?? now
      w.lastRunAt = Math.max(w.lastRunAt ?? 0, at)
      const labels = { instance: instance.name, workflow: w.name, workflow_id: w.workflowId }
      if (e.durationMs !== null && e.stoppedAt !== null)
        samples.push({ name: 'n8n_workflow_duration_seconds', labels, value: e.durationMs / 1000, ts: e.stoppedAt })
      if (FAILED.has(e.status)) {
        const cls: FailureClass = e.failureClass ?? 'unknown'
        w.failures[cls] = (w.failures[cls] ?? 0) + 1
        w.lastFailureAt = Math.max(w.lastFailureAt ?? 0, at)
        w.consecutiveFailures++
        const l = failureLabels({ instance: instance.name, workflowId: w.workflowId, name: w.name }, cls, e.failingNode)
        if (!w.openFailures.some((o) => fp(o, 'homeostat:') === fp(l, 'homeostat:'))) w.openFailures.push(l)
        samples.push({
          name: 'n8n_workflow_failures_total',
          labels: { ...labels, class: cls },
          value: w.failures[cls]!,
          ts: now,
        })
      } else if (e.status === 'success') {
        w.lastSuccessAt = Math.max(w.lastSuccessAt ?? 0, at)
        w.consecutiveFailures = 0
        w.openFailures = []
      }
    }
    for (const id of touched) {
      const w = rows.get(id)!
      for (const [status, value] of Object.entries(w.counts))
        samples.push({
          name: 'n8n_workflow_executions_total',
          labels: { instance: instance.name, workflow: w.name, workflow_id: w.workflowId, status },
          value,
          ts: now,
        })
      // Alerts on the net change of this poll: a failure fixed by a success in the same poll raises nothing.
      const before = openBefore.get(id) ?? []
      const had = new Set(before.map((l) => fp(l, 'homeostat:')))
      const after = new Set(w.openFailures.map((l) => fp(l, 'homeostat:')))
      const failedHere = sorted.filter((e) => e.workflowId === id && FAILED.has(e.status))
      for (const l of w.openFailures) {
        if (had.has(fp(l, 'homeostat:'))) continue
        // The latest failed execution of this class and node: `execution_id` is what a healing rule retries.
        const last =
          failedHere
            .filter((e) => (e.failureClass ?? 'unknown') === l.class && (e.failingNode ?? '') === l.node)
            .at(-1) ?? failedHere.at(-1)
        const annotations: Record<string, string> = last
          ? { ...(last.message ? { summary: last.message } : {}), execution: last.id, execution_id: last.id }
          : {}
        reports.push(failureReport(fp, l, true, annotations))
      }
      for (const l of before) if (!after.has(fp(l, 'homeostat:'))) reports.push(failureReport(fp, l, false))
    }
    return samples
  }

  /** States and missed-schedule alerts of an instance's workflows after a poll. */
  async function judge(
    instance: N8nInstance,
    rows: Map<string, N8nWorkflow>,
    reports: AlertReport[],
    now: number,
    reachable: boolean,
  ) {
    const day = reachable ? await runsSince(db, instance.id, now - DAY) : new Map()
    for (const w of rows.values()) {
      const ref = { instance: instance.name, workflowId: w.workflowId, name: w.name }
      let missed = w.missedSince !== null
      if (reachable) {
        const m = w.active
          ? missedRun(
              {
                trigger: w.trigger,
                expectEveryMs: w.expectEveryMs,
                lastRunAt: w.lastRunAt,
                activeSince: w.activeSince,
              },
              now,
              deps.graceMs,
            )
          : null
        missed = m !== null
        if (m && w.missedSince === null) {
          w.missedSince = m.at
          reports.push(
            missedReport(fp, ref, true, {
              summary: `No execution since ${new Date(m.at).toISOString()}, when one was expected (${m.label}; grace ${Math.round(m.graceMs / 1000)} s)`,
            }),
          )
        } else if (!m && w.missedSince !== null) {
          w.missedSince = null
          reports.push(missedReport(fp, ref, false))
        }
      }
      const r = day.get(w.workflowId) ?? { runs: 0, failures: 0 }
      const s = stateOf(
        {
          reachable,
          active: w.active,
          missed,
          consecutiveFailures: w.consecutiveFailures,
          runs24h: r.runs,
          failures24h: r.failures,
        },
        { failingAfter: deps.failingAfter, degradedRate: deps.degradedRate },
      )
      w.state = s.state
      w.stateReason = s.reason
    }
  }

  /** A workflow gone from n8n: its open alerts resolve. */
  function resolveAll(instance: N8nInstance, w: N8nWorkflow, reports: AlertReport[]) {
    const ref = { instance: instance.name, workflowId: w.workflowId, name: w.name }
    for (const l of w.openFailures) reports.push(failureReport(fp, l, false))
    if (w.missedSince !== null) reports.push(missedReport(fp, ref, false))
    if (w.deactivatedAt !== null) reports.push(deactivatedReport(fp, ref, false))
  }

  async function writeMetrics(samples: Sample[], now: number) {
    if (!samples.length) return
    try {
      await deps.metrics.write(samples, now)
    } catch (error) {
      // A full series limit must not stop health tracking; the alerts and states still work.
      deps.log.warn('n8n metrics not written', { error: (error as Error).message })
    }
  }

  /** Polls every instance (or one), one after the other; one that fails does not stop the others. */
  async function poll(now: number, instanceId?: string): Promise<InstancePoll[]> {
    const instances = instanceId ? [await getN8nInstance(db, instanceId)] : await listN8nInstances(db)
    const out: InstancePoll[] = []
    for (const instance of instances) {
      try {
        out.push(await pollInstance(instance, now))
      } catch (error) {
        // A fault of ours with one instance (its key sealed with another SECRET_KEY, a write refused)
        // is logged and reported; the other instances are still polled.
        const message = error instanceof Error ? error.message : String(error)
        deps.log.error('n8n poll of an instance failed', { instance: instance.name, error: message })
        out.push({
          instance: { id: instance.id, name: instance.name },
          reachable: false,
          workflows: 0,
          executions: 0,
          classified: 0,
          calls: 0,
          error: message,
        })
      }
    }
    await pruneExecutions(db, now - deps.retentionDays * DAY)
    return out
  }

  return { poll, graceMs: deps.graceMs, defaultTimezone: deps.defaultTimezone }
}

function executionRow(instanceId: string, e: N8nExecution, now: number): N8nExecutionRow {
  return {
    instanceId,
    id: e.id,
    workflowId: e.workflowId,
    status: e.status,
    mode: e.mode,
    startedAt: e.startedAt,
    stoppedAt: e.stoppedAt,
    durationMs: e.startedAt !== null && e.stoppedAt !== null ? Math.max(0, e.stoppedAt - e.startedAt) : null,
    retryOf: e.retryOf,
    failureClass: null,
    failingNode: null,
    nodeType: null,
    httpCode: null,
    message: null,
    seenAt: now,
  }
}

export type WorkflowHealth = ReturnType<typeof createWorkflowHealth>
export type { NewN8nWorkflow }
