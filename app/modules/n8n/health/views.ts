/** What the API and the pages show of workflow health: instances, workflows with rates, one workflow's detail. */
import { and, asc, desc, eq, gte, lt, sql } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import { type N8nExecutionRow, type N8nWorkflow, n8nExecutions, n8nWorkflows } from '../../../../db/schema/n8n.ts'
import { notFound } from '../../../lib/errors.ts'
import { toIso } from '../../../lib/time.ts'
import { listN8nInstances } from '../../healing/index.ts'
import { firesBetween, nextExpected, nextFire } from './expectations.ts'
import { allPollStates, runsSince } from './store.ts'

const HOUR = 3_600_000
const DAY = 24 * HOUR

export async function instancesHealth(db: Db) {
  const [instances, states, counts] = await Promise.all([
    listN8nInstances(db),
    allPollStates(db),
    db
      .select({ instanceId: n8nWorkflows.instanceId, state: n8nWorkflows.state, n: sql<number>`count(*)` })
      .from(n8nWorkflows)
      .groupBy(n8nWorkflows.instanceId, n8nWorkflows.state),
  ])
  const byId = new Map(states.map((s) => [s.instanceId, s]))
  return instances.map((i) => {
    const s = byId.get(i.id)
    const workflows: Record<string, number> = {}
    for (const c of counts) if (c.instanceId === i.id) workflows[c.state] = Number(c.n)
    return {
      id: i.id,
      name: i.name,
      baseUrl: i.baseUrl,
      reachable: s?.reachable ?? null,
      version: s?.version ?? null,
      error: s?.error ?? null,
      lastPollAt: toIso(s?.lastPollAt),
      lastOkAt: toIso(s?.lastOkAt),
      lastPollRequests: s?.lastCalls ?? 0,
      workflows,
    }
  })
}

const rate = (r: { runs: number; failures: number } | undefined) =>
  r && r.runs > 0 ? Math.round(((r.runs - r.failures) / r.runs) * 10_000) / 10_000 : null

export function workflowJson(
  w: N8nWorkflow,
  extra: {
    now: number
    graceMs: number
    day?: { runs: number; failures: number }
    week?: { runs: number; failures: number }
  },
) {
  const expected = w.active
    ? nextExpected(
        { trigger: w.trigger, expectEveryMs: w.expectEveryMs, lastRunAt: w.lastRunAt, activeSince: w.activeSince },
        extra.graceMs,
      )
    : null
  const next = w.active ? (nextFire(w.trigger, extra.now) ?? (expected ? expected.at : null)) : null
  return {
    instanceId: w.instanceId,
    workflowId: w.workflowId,
    name: w.name,
    active: w.active,
    state: w.state,
    stateReason: w.stateReason,
    trigger: { kind: w.trigger.kind, rules: w.trigger.rules.map((r) => r.label), timezone: w.trigger.timezone },
    expectEveryMs: w.expectEveryMs,
    nextExpectedAt: toIso(next),
    missedSince: toIso(w.missedSince),
    deactivatedAt: toIso(w.deactivatedAt),
    lastRunAt: toIso(w.lastRunAt),
    lastSuccessAt: toIso(w.lastSuccessAt),
    lastFailureAt: toIso(w.lastFailureAt),
    consecutiveFailures: w.consecutiveFailures,
    executions: w.counts,
    failuresByClass: w.failures,
    successRate24h: rate(extra.day),
    successRate7d: rate(extra.week),
  }
}

/** Workflows (of one instance, or all) with their 24 h and 7 d success rates, ordered by instance and name. */
export async function workflowList(
  db: Db,
  q: { instance?: string; state?: N8nWorkflow['state']; limit: number; offset: number },
  now: number,
  graceMs: number,
) {
  const where = and(
    q.instance ? eq(n8nWorkflows.instanceId, q.instance) : undefined,
    q.state ? eq(n8nWorkflows.state, q.state) : undefined,
  )
  const rows = await db
    .select()
    .from(n8nWorkflows)
    .where(where)
    .orderBy(asc(n8nWorkflows.instanceId), asc(n8nWorkflows.name), asc(n8nWorkflows.workflowId))
    .limit(q.limit + 1)
    .offset(q.offset)
  const instances = [...new Set(rows.map((r) => r.instanceId))]
  const rates = new Map<
    string,
    { day: Map<string, { runs: number; failures: number }>; week: Map<string, { runs: number; failures: number }> }
  >()
  for (const i of instances)
    rates.set(i, { day: await runsSince(db, i, now - DAY), week: await runsSince(db, i, now - 7 * DAY) })
  const items = rows.slice(0, q.limit).map((w) =>
    workflowJson(w, {
      now,
      graceMs,
      day: rates.get(w.instanceId)?.day.get(w.workflowId),
      week: rates.get(w.instanceId)?.week.get(w.workflowId),
    }),
  )
  return { items, next: rows.length > q.limit ? String(q.offset + q.limit) : null }
}

export async function getWorkflow(db: Db, instanceId: string, workflowId: string) {
  const [w] = await db
    .select()
    .from(n8nWorkflows)
    .where(and(eq(n8nWorkflows.instanceId, instanceId), eq(n8nWorkflows.workflowId, workflowId)))
  if (!w) throw notFound(`Workflow ${workflowId} of n8n instance ${instanceId}`)
  return w
}

export const executionJson = (e: N8nExecutionRow, baseUrl?: string) => ({
  id: e.id,
  status: e.status,
  mode: e.mode,
  startedAt: toIso(e.startedAt),
  stoppedAt: toIso(e.stoppedAt),
  durationMs: e.durationMs,
  retryOf: e.retryOf,
  class: e.failureClass,
  node: e.failingNode,
  nodeType: e.nodeType,
  httpCode: e.httpCode,
  message: e.message,
  ...(baseUrl
    ? { url: `${baseUrl}/workflow/${encodeURIComponent(e.workflowId)}/executions/${encodeURIComponent(e.id)}` }
    : {}),
})

/** A workflow's executions, newest first, paged by id. */
export async function executionsOf(
  db: Db,
  instanceId: string,
  workflowId: string,
  q: { status?: string; class?: string; limit: number; before?: string },
) {
  const idNum = sql<number>`cast(${n8nExecutions.id} as integer)`
  const rows = await db
    .select()
    .from(n8nExecutions)
    .where(
      and(
        eq(n8nExecutions.instanceId, instanceId),
        eq(n8nExecutions.workflowId, workflowId),
        q.status ? eq(n8nExecutions.status, q.status) : undefined,
        q.class ? sql`${n8nExecutions.failureClass} = ${q.class}` : undefined,
        q.before ? lt(idNum, Number(q.before)) : undefined,
      ),
    )
    .orderBy(desc(idNum))
    .limit(q.limit + 1)
  return { items: rows.slice(0, q.limit), next: rows.length > q.limit ? rows[q.limit - 1]!.id : null }
}

/** Duration percentiles (ms) of a workflow's finished executions since `from`. */
export async function durations(db: Db, instanceId: string, workflowId: string, from: number) {
  const rows = await db
    .select({ d: n8nExecutions.durationMs })
    .from(n8nExecutions)
    .where(
      and(
        eq(n8nExecutions.instanceId, instanceId),
        eq(n8nExecutions.workflowId, workflowId),
        gte(n8nExecutions.startedAt, from),
        sql`${n8nExecutions.durationMs} is not null`,
      ),
    )
  const ds = rows.map((r) => r.d!).sort((a, b) => a - b)
  const q = (p: number) => (ds.length ? ds[Math.min(ds.length - 1, Math.floor(p * ds.length))]! : null)
  return { count: ds.length, p50: q(0.5), p95: q(0.95), p99: q(0.99) }
}

/** The schedule's expected fires and the actual runs over [from, now], for the timeline. */
export async function timeline(db: Db, w: N8nWorkflow, from: number, now: number) {
  const runs = await db
    .select({ id: n8nExecutions.id, at: n8nExecutions.startedAt, status: n8nExecutions.status })
    .from(n8nExecutions)
    .where(
      and(
        eq(n8nExecutions.instanceId, w.instanceId),
        eq(n8nExecutions.workflowId, w.workflowId),
        gte(n8nExecutions.startedAt, from),
      ),
    )
    .orderBy(asc(n8nExecutions.startedAt))
    .limit(1000)
  return {
    from: toIso(from),
    to: toIso(now),
    expected: firesBetween(w.trigger, from, now).map((t) => toIso(t)!),
    runs: runs.map((r) => ({ id: r.id, at: toIso(r.at), status: r.status })),
  }
}

export { DAY as DAY_MS }

/** Success rate per day over the last `days` days for every workflow (for the sparklines): key instance/workflow. */
export async function dailyRates(db: Db, now: number, days = 7) {
  const from = now - days * DAY
  const bucket = sql<number>`cast((${n8nExecutions.startedAt} - ${from}) / ${DAY} as integer)`
  const rows = await db
    .select({
      instanceId: n8nExecutions.instanceId,
      workflowId: n8nExecutions.workflowId,
      b: bucket,
      runs: sql<number>`sum(case when ${n8nExecutions.status} in ('success','error','crashed','canceled') then 1 else 0 end)`,
      ok: sql<number>`sum(case when ${n8nExecutions.status} = 'success' then 1 else 0 end)`,
    })
    .from(n8nExecutions)
    .where(gte(n8nExecutions.startedAt, from))
    .groupBy(n8nExecutions.instanceId, n8nExecutions.workflowId, bucket)
  const out = new Map<string, (number | null)[]>()
  for (const r of rows) {
    const key = `${r.instanceId}/${r.workflowId}`
    const series = out.get(key) ?? Array<number | null>(days).fill(null)
    const i = Number(r.b)
    if (i >= 0 && i < days && Number(r.runs) > 0) series[i] = Number(r.ok) / Number(r.runs)
    out.set(key, series)
  }
  return out
}
