/**
 * Runs rules: every tick of the `alert-evaluation` job, and shortly after ingest writes a metric
 * a rule watches. Turns what a rule finds into alert reports, honouring `for` and `keepFiringFor`.
 */
import { and, eq, isNotNull, ne } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import { alertRules, alerts, type Alert, type AlertRule, storedAlert } from '../../../../db/schema/alerts.ts'
import type { Logger } from '../../../lib/logger.ts'
import { type MetricStore, sampleNames, withAliases } from '../../metrics/index.ts'
import { byMetric, cycleReader, evaluateRule, type Candidate } from './evaluate.ts'
import { ruleFingerprint, type AlertReport, type ReportResult } from '../lifecycle/lifecycle.ts'
import { renderTemplate } from './templates.ts'

/** What an open alert of a rule becomes now; null when it stays as it is. Pure. */
export function decide(
  existing: Alert | undefined,
  holds: boolean,
  rule: Pick<AlertRule, 'forMs' | 'keepFiringForMs'>,
  now: number,
): 'pending' | 'firing' | 'resolved' | null {
  const open = existing && existing.status !== 'resolved' ? existing : undefined
  if (holds) {
    if (!open) return rule.forMs > 0 ? 'pending' : 'firing'
    if (open.status === 'pending') return now - open.activeAt >= rule.forMs ? 'firing' : 'pending'
    return 'firing' // a repeat: value and last seen move on
  }
  if (!open) return null
  if (open.status === 'pending') return 'resolved'
  return now - open.lastSeenAt >= rule.keepFiringForMs ? 'resolved' : null
}

/** The labels of a rule's alert: alertname, the rule's labels, then the label set's own. */
export const alertLabels = (rule: Pick<AlertRule, 'name' | 'labels'>, labels: Record<string, string>) => ({
  alertname: rule.name,
  ...rule.labels,
  ...labels,
})

export function annotationsFor(rule: AlertRule, c: Pick<Candidate, 'labels' | 'value'>) {
  const ctx = {
    value: c.value,
    labels: alertLabels(rule, c.labels),
    rule: { name: rule.name, metric: rule.metric, severity: rule.severity, kind: rule.kind, value: rule.value },
  }
  const summary = renderTemplate(rule.summary, ctx)
  const description = renderTemplate(rule.description, ctx)
  return {
    title: summary || rule.name,
    annotations: {
      ...(summary ? { summary } : {}),
      ...(description ? { description } : {}),
      ...(rule.runbookUrl ? { runbookUrl: rule.runbookUrl } : {}),
    },
  }
}

/** The reports for what a rule found now, given its open alerts: firing, pending, repeats and resolutions. Pure. */
export function ruleReports(rule: AlertRule, candidates: Candidate[], open: Alert[], now: number): AlertReport[] {
  const byFp = new Map(open.map((a) => [a.fingerprint, a]))
  const seen = new Set<string>()
  const reports: AlertReport[] = []
  for (const c of candidates) {
    if (!c.holds) continue
    const fingerprint = ruleFingerprint(rule.id, c.labels)
    seen.add(fingerprint)
    const state = decide(byFp.get(fingerprint), true, rule, now)
    if (!state) continue
    const labels = alertLabels(rule, c.labels)
    reports.push({
      fingerprint,
      source: 'rule',
      ruleId: rule.id,
      state,
      severity: rule.severity,
      labels,
      value: c.value,
      actor: `rule:${rule.name}`,
      quietRepeat: true,
      ...annotationsFor(rule, c),
    })
  }
  for (const a of open) {
    if (seen.has(a.fingerprint)) continue
    if (decide(a, false, rule, now) !== 'resolved') continue
    reports.push({
      fingerprint: a.fingerprint,
      source: 'rule',
      ruleId: rule.id,
      state: 'resolved',
      severity: a.severity,
      title: a.title,
      labels: a.labels,
      annotations: a.annotations,
      actor: `rule:${rule.name}`,
    })
  }
  return reports
}

/** How many of a rule's reports changed something (a resolution always counts). */
const changesOf = (reports: AlertReport[], results: ReportResult[]) =>
  results.filter((r, i) => reports[i]!.state === 'resolved' || (r.change !== 'repeated' && r.change !== 'none')).length

/** How the rules report what they find: one delivery, through the alerts service's group commit. */
export type ReportMany = (reports: AlertReport[], at: number) => Promise<ReportResult[]>

export type RuleRunner = ReturnType<typeof createRuleRunner>

/**
 * Evaluates rules one run at a time (job ticks and ingest triggers never overlap). Ingest triggers
 * are debounced: metric names collect for `debounceMs`, then the rules watching them run once.
 * The runner keeps no alert state: it reads the rules' open alerts and reports what it finds
 * through `reportMany` (the alerts service's), like any other source.
 */
export function createRuleRunner(deps: { db: Db; log?: Logger; reportMany: ReportMany; debounceMs?: number }) {
  const log = deps.log
  let chain: Promise<unknown> = Promise.resolve()
  let watched: { names: Set<string>; at: number } | null = null
  let waiting = new Set<string>()
  let timer: ReturnType<typeof setTimeout> | null = null

  const one = <T>(run: () => Promise<T>): Promise<T> => {
    const next = chain.then(run, run)
    chain = next.catch(() => undefined)
    return next
  }

  /**
   * One read of the rules' open alerts, each metric's data read once for all the rules over it
   * (`cycleReader`), and each rule's reports one delivery: the deliveries of rules evaluated
   * meanwhile commit together (the intake's group commit), a failing one alone.
   */
  async function runRules(rules: AlertRule[], now: number) {
    let changes = 0
    let failed = 0
    const fail = (rule: AlertRule, error: unknown) => {
      failed++
      log?.error('alert rule evaluation failed', { rule: rule.name, error: String((error as Error)?.message ?? error) })
    }
    const open = new Map<string, Alert[]>()
    if (rules.length)
      for (const a of await deps.db
        .select(storedAlert)
        .from(alerts)
        .where(and(isNotNull(alerts.ruleId), ne(alerts.status, 'resolved'))))
        open.get(a.ruleId!)?.push(a) ?? open.set(a.ruleId!, [a])
    const reader = cycleReader(deps.db, rules, now)
    const applying: Promise<void>[] = []
    for (const rule of byMetric(rules)) {
      try {
        const candidates = await evaluateRule(deps.db, rule, now, reader)
        const reports = ruleReports(rule, candidates, open.get(rule.id) ?? [], now)
        if (reports.length)
          applying.push(
            deps.reportMany(reports, now).then(
              (results) => void (changes += changesOf(reports, results)),
              (error) => fail(rule, error),
            ),
          )
      } catch (error) {
        fail(rule, error)
      }
    }
    await Promise.all(applying)
    return { rules: rules.length, changes, failed }
  }

  const enabledRules = () => deps.db.select().from(alertRules).where(eq(alertRules.enabled, true))

  /** Every enabled rule, at `now` (whole seconds). */
  const evaluateAll = (now: number) =>
    one(async () => {
      const rules = await enabledRules()
      watched = {
        names: new Set(rules.flatMap((r) => [r.metric, ...(r.params.denominator ? [r.params.denominator] : [])])),
        at: now,
      }
      return runRules(rules, now - (now % 1000))
    })

  /** The rules watching any of these metrics, now. */
  const evaluateNow = (names: Set<string>, now = Date.now()) =>
    one(async () => {
      const rules = (await enabledRules()).filter(
        (r) => names.has(r.metric) || (r.params.denominator !== undefined && names.has(r.params.denominator)),
      )
      return runRules(rules, now)
    })

  async function isWatched(name: string) {
    if (!watched || Date.now() - watched.at > 15_000) {
      const rules = await enabledRules()
      watched = {
        names: new Set(rules.flatMap((r) => [r.metric, ...(r.params.denominator ? [r.params.denominator] : [])])),
        at: Date.now(),
      }
    }
    return watched.names.has(name)
  }

  /** After ingest: fire-and-forget, never throws, never delays the caller. */
  function evaluateRulesFor(names: Iterable<string>) {
    for (const n of names) waiting.add(n)
    if (timer) return
    timer = setTimeout(() => {
      timer = null
      const batch = waiting
      waiting = new Set()
      void (async () => {
        const relevant = new Set<string>()
        for (const n of batch) if (await isWatched(n)) relevant.add(n)
        if (relevant.size) await evaluateNow(relevant)
      })().catch((error) =>
        log?.error('alert evaluation after ingest failed', { error: String((error as Error)?.message ?? error) }),
      )
    }, deps.debounceMs ?? 100)
    timer.unref?.()
  }

  /** Forget the cached list of watched metrics (a rule changed). */
  const invalidate = () => void (watched = null)

  return { evaluateAll, evaluateNow, evaluateRulesFor, invalidate }
}

/**
 * A metric store that, after each committed write, asks for the rules watching the written
 * metrics to run (debounced, in the background). Ingest never waits for or fails on it.
 * Token counts also stand for the llm_cost_usd_total points derived from them in the same write, and a
 * renamed metric's write wakes the rules on either of its names (metrics/names.ts).
 */
export function watchIngest(store: MetricStore, evaluateRulesFor: (names: Iterable<string>) => void): MetricStore {
  return {
    ...store,
    write: async (samples, now) => {
      const result = await store.write(samples, now)
      try {
        const names = sampleNames(samples)
        if (names.has('llm_tokens_total')) names.add('llm_cost_usd_total')
        evaluateRulesFor(withAliases(names))
      } catch {
        // never fails the write
      }
      return result
    },
  }
}
