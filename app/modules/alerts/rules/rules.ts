import { and, desc, eq, inArray, lt, ne } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import { alertRules, alerts, type AlertRule, type RuleParams, storedAlert } from '../../../../db/schema/alerts.ts'
import { series } from '../../../../db/schema/metrics.ts'
import { storedNames, withAliases } from '../../metrics/index.ts'
import { isUniqueViolation } from '../../../lib/db-errors.ts'
import { badRequest, conflict, notFound, type ErrorDetail } from '../../../lib/errors.ts'
import { newId } from '../../../lib/ids.ts'
import { page } from '../../../lib/pagination.ts'
import { toIso } from '../../../lib/time.ts'
import { evaluateRule, type RuleSpec } from './evaluate.ts'
import { regexProblem } from '../../../lib/matchers.ts'
import { alertLabels, annotationsFor, decide } from './runner.ts'
import { ruleFingerprint } from '../lifecycle/lifecycle.ts'
import type { RuleInput, RulePatchInput } from '../schema.ts'
import { templateProblem } from './templates.ts'

type Row = Omit<AlertRule, 'id' | 'createdAt' | 'updatedAt'>

const DEFAULT_WINDOW = 5 * 60_000

/** A rule as the API takes it (durations in ms), from a stored row: GET → PATCH round-trips. */
export function ruleJson(r: AlertRule) {
  const { baselineMs, stepMs, ...params } = r.params
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    metric: r.metric,
    matchers: r.matchers,
    by: r.by,
    agg: r.agg,
    window: r.windowMs,
    comparator: r.comparator,
    value: r.value,
    params: {
      ...params,
      ...(baselineMs !== undefined ? { baseline: baselineMs } : {}),
      ...(stepMs !== undefined ? { step: stepMs } : {}),
    },
    for: r.forMs,
    keepFiringFor: r.keepFiringForMs,
    severity: r.severity,
    labels: r.labels,
    summary: r.summary,
    description: r.description,
    runbookUrl: r.runbookUrl,
    enabled: r.enabled,
    createdAt: toIso(r.createdAt),
    updatedAt: toIso(r.updatedAt),
  }
}

/** The stored form of an API rule (defaults filled in). */
export function toRow(input: RuleInput): Row {
  const { baseline, step, ...params } = input.params ?? {}
  const p: RuleParams = {
    ...params,
    ...(baseline !== undefined ? { baselineMs: baseline } : {}),
    ...(step !== undefined ? { stepMs: step } : {}),
  }
  return {
    name: input.name,
    kind: input.kind,
    metric: input.metric,
    matchers: input.matchers ?? [],
    by: input.by ?? [],
    agg: input.agg ?? (input.kind === 'absence' ? 'count' : 'avg'),
    windowMs: input.window ?? (input.kind === 'absence' ? (p.minutes ?? 5) * 60_000 : DEFAULT_WINDOW),
    comparator: input.comparator ?? null,
    value: input.value ?? null,
    params: p,
    forMs: input.for ?? 0,
    keepFiringForMs: input.keepFiringFor ?? 0,
    severity: input.severity ?? 'warning',
    labels: input.labels ?? {},
    summary: input.summary ?? '',
    description: input.description ?? '',
    runbookUrl: input.runbookUrl ?? null,
    enabled: input.enabled ?? true,
  }
}

/** What is wrong with a rule beyond its field shapes: kind needs, regexes, templates. */
export function ruleProblems(r: Row): ErrorDetail[] {
  const out: ErrorDetail[] = []
  const needsCompare = r.kind === 'threshold' || r.kind === 'ratio' || r.kind === 'change'
  if (needsCompare && r.comparator === null)
    out.push({ field: 'comparator', message: `is required for a ${r.kind} rule` })
  if (needsCompare && r.value === null) out.push({ field: 'value', message: `is required for a ${r.kind} rule` })
  if (r.kind === 'ratio' && !r.params.denominator)
    out.push({ field: 'params.denominator', message: 'is required for a ratio rule (the metric to divide by)' })
  if (r.kind === 'absence' && r.params.minutes === undefined)
    out.push({ field: 'params.minutes', message: 'is required for an absence rule (minutes without data)' })
  if (r.kind === 'anomaly') {
    const step = r.params.stepMs ?? 60_000
    if (r.windowMs < 5 * step)
      out.push({ field: 'window', message: `must hold at least 5 steps of ${step} ms for an anomaly rule` })
  }
  if (r.kind === 'change' && r.params.compareTo === 'baseline' && (r.params.baselineMs ?? 86_400_000) < r.windowMs)
    out.push({ field: 'params.baseline', message: 'must be at least the window' })
  const regexes = (list: Row['matchers'], field: string) =>
    list.forEach((m, i) => {
      const problem = m.op === '=~' || m.op === '!~' ? regexProblem(m.value) : undefined
      if (problem) out.push({ field: `${field}.${i}.value`, message: problem })
    })
  regexes(r.matchers, 'matchers')
  regexes(r.params.denominatorMatchers ?? [], 'params.denominatorMatchers')
  for (const field of ['summary', 'description'] as const) {
    const problem = templateProblem(r[field])
    if (problem) out.push({ field, message: problem })
  }
  return out
}

export function checkRule(r: Row) {
  const problems = ruleProblems(r)
  if (problems.length) throw badRequest('Invalid rule', problems)
}

/** Metrics a rule reads that have no series yet: allowed (they may come later), but worth a warning. */
export async function ruleWarnings(db: Db, r: Pick<Row, 'metric' | 'params'>) {
  const names = [r.metric, ...(r.params.denominator ? [r.params.denominator] : [])]
  // A renamed metric's series may be stored under either name (metrics/names.ts).
  const stored = [...withAliases(names)]
  const known = new Set(
    (await db.selectDistinct({ name: series.name }).from(series).where(inArray(series.name, stored))).map(
      (s) => s.name,
    ),
  )
  return names
    .filter((n) => !storedNames(n).some((s) => known.has(s.name)))
    .map((n) => `metric ${n} has no series yet; the rule will match once it is written`)
}

const uniqueName = (error: unknown) => isUniqueViolation(error, 'alert_rules.name')

export async function createRule(db: Db, input: RuleInput, now: number) {
  const row = toRow(input)
  checkRule(row)
  try {
    const [created] = await db
      .insert(alertRules)
      .values({ ...row, id: newId(now), createdAt: now, updatedAt: now })
      .returning()
    return created!
  } catch (error) {
    if (uniqueName(error)) throw conflict(`A rule named ${row.name} already exists`)
    throw error
  }
}

export async function getRule(db: Db, id: string) {
  const [row] = await db.select().from(alertRules).where(eq(alertRules.id, id))
  if (!row) throw notFound('Alert rule')
  return row
}

/** A stored rule with a patch applied, checked as a whole. */
export function patched(before: AlertRule, patch: RulePatchInput): Row {
  const current = ruleJson(before)
  const merged = { ...current, ...patch, params: patch.params ?? current.params } as RuleInput
  return toRow({ ...merged, comparator: merged.comparator ?? undefined, value: merged.value ?? undefined })
}

export async function updateRule(db: Db, before: AlertRule, patch: RulePatchInput, now: number) {
  const row = patched(before, patch)
  checkRule(row)
  try {
    const [updated] = await db
      .update(alertRules)
      .set({ ...row, updatedAt: now })
      .where(eq(alertRules.id, before.id))
      .returning()
    return updated!
  } catch (error) {
    if (uniqueName(error)) throw conflict(`A rule named ${row.name} already exists`)
    throw error
  }
}

export async function setEnabled(db: Db, id: string, enabled: boolean, now: number) {
  const [row] = await db.update(alertRules).set({ enabled, updatedAt: now }).where(eq(alertRules.id, id)).returning()
  if (!row) throw notFound('Alert rule')
  return row
}

export async function deleteRule(db: Db, id: string) {
  const [row] = await db.delete(alertRules).where(eq(alertRules.id, id)).returning()
  if (!row) throw notFound('Alert rule')
  return row
}

export async function listRules(
  db: Db,
  q: { limit: number; cursor?: string; kind?: AlertRule['kind']; enabled?: boolean },
) {
  const rows = await db
    .select()
    .from(alertRules)
    .where(
      and(
        q.kind ? eq(alertRules.kind, q.kind) : undefined,
        q.enabled !== undefined ? eq(alertRules.enabled, q.enabled) : undefined,
        q.cursor ? lt(alertRules.id, q.cursor) : undefined,
      ),
    )
    .orderBy(desc(alertRules.id))
    .limit(q.limit + 1)
  return page(rows, q.limit, (r) => r.id)
}

/**
 * What a rule finds now, without writing anything: per label set its value, whether the
 * condition holds, and the state its alert would be in (respecting `for` against stored alerts).
 */
export async function previewRule(db: Db, rule: AlertRule, now: number) {
  const candidates = await evaluateRule(db, rule as RuleSpec, now)
  const open = rule.id
    ? await db
        .select(storedAlert)
        .from(alerts)
        .where(and(eq(alerts.ruleId, rule.id), ne(alerts.status, 'resolved')))
    : []
  const byFp = new Map(open.map((a) => [a.fingerprint, a]))
  return candidates.map((c) => {
    const existing = rule.id ? byFp.get(ruleFingerprint(rule.id, c.labels)) : undefined
    const state = c.holds
      ? decide(existing, true, rule, now)!
      : existing
        ? (decide(existing, false, rule, now) ?? existing.status)
        : 'ok'
    const { title, annotations } = annotationsFor(rule, c)
    return { labels: alertLabels(rule, c.labels), value: c.value, breaching: c.holds, state, title, annotations }
  })
}

/** An unsaved rule, shaped as a stored one for a preview. */
export const draftRule = (input: RuleInput, now: number): AlertRule => {
  const row = toRow(input)
  checkRule(row)
  return { ...row, id: '', createdAt: now, updatedAt: now }
}
