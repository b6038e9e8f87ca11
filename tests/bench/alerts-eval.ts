/**
 * The bench's rule-evaluation figure, run with Bun (as the server runs) on a database of its own:
 * seeds EVAL_SERIES series (default 10 000: the query data set's names and labels, dataset.ts)
 * with one point a minute over the last EVAL_MINUTES (default 30) through the real store, builds
 * the 1m rollups as the rollup job would have, creates EVAL_RULES rules (default 1 000) through the
 * rules service (`createRule`, the same checks as the API), then times the evaluator's
 * `evaluateAll` at one fixed `now`: the first cycle (which creates the breaching rules' alerts),
 * then EVAL_CYCLES more (default 3: repeats of the same alerts, the steady state).
 *
 *   DATABASE_URL=file:/tmp/x/homeostat.db DATA_DIR=/tmp/x node_modules/.bin/bun tests/bench/alerts-eval.ts
 * Prints one JSON line of figures.
 */
import { sql } from 'drizzle-orm'
import { boot } from '../../app/boot.ts'
import { createOutboundPolicy } from '../../app/lib/outbound.ts'
import { createRule } from '../../app/modules/alerts/rules/rules.ts'
import { byMetric, cycleReader, evaluateRule } from '../../app/modules/alerts/rules/evaluate.ts'
import { alertRules } from '../../db/schema/alerts.ts'
import type { RuleInput } from '../../app/modules/alerts/schema.ts'
import { createAlerts } from '../../app/modules/alerts/index.ts'
import { createNotifier } from '../../app/modules/notify/notifier.ts'
import { runRollups } from '../../app/modules/metrics/rollup.ts'
import { createMetricStore, type Sample } from '../../app/modules/metrics/store.ts'
import { AGENT_METRICS, seriesOf } from './dataset.ts'

const SERIES = Number(process.env.EVAL_SERIES ?? 10_000)
const RULES = Number(process.env.EVAL_RULES ?? 1000)
const MINUTES = Number(process.env.EVAL_MINUTES ?? 30)
const CYCLES = Number(process.env.EVAL_CYCLES ?? 3)
const MINUTE = 60_000

/** Rule i of the set: mostly thresholds (various aggregations and matchers), and some of every other kind. */
function ruleOf(i: number, metrics: string[]): RuleInput {
  const metric = metrics[i % metrics.length]!
  const host = metric.startsWith('host_')
  const name = `bench rule ${String(i).padStart(4, '0')}`
  const kind = i % 20
  if (kind === 0 && !host)
    return {
      name,
      kind: 'ratio',
      metric: 'agent_errors_total',
      params: { denominator: 'agent_requests_total' },
      by: ['component'],
      window: 5 * MINUTE,
      comparator: '>',
      value: 0.05,
    }
  if (kind === 1)
    return {
      name,
      kind: 'change',
      metric,
      by: host ? ['instance'] : ['component'],
      window: 5 * MINUTE,
      comparator: '>',
      value: 150,
      params: { compareTo: 'previous' },
    }
  if (kind === 2) return { name, kind: 'absence', metric, params: { minutes: 5 } }
  if (kind === 3) return { name, kind: 'anomaly', metric, window: 30 * MINUTE, params: { step: MINUTE, zScore: 4 } }
  const aggs = ['avg', 'max', 'p95', 'last', 'min'] as const
  // Values are uniform in [0, 1000): a few groups in a hundred breach (as in a healthy fleet).
  const agg = aggs[i % aggs.length]!
  const limit = { avg: 800, max: 999, p95: 998, last: 990, min: 700 }[agg]
  const matchers = i % 3 === 0 && host ? [{ label: 'instance', op: '=~' as const, value: `host-0[0-4].*` }] : []
  return {
    name,
    kind: 'threshold',
    metric,
    matchers,
    by: host ? ['instance'] : ['component'],
    agg,
    window: 5 * MINUTE,
    comparator: '>',
    value: limit,
    severity: i % 7 === 0 ? 'critical' : 'warning',
  }
}

async function main() {
  const { db, client, config, sealer } = await boot(process.env, { quiet: true })
  const store = createMetricStore(db)
  const now = Date.now() - (Date.now() % MINUTE)
  let state = 0x2545f491
  const random = () => {
    state = (state * 1_103_515_245 + 12_345) & 0x7fffffff
    return state / 0x7fffffff
  }
  const t0 = performance.now()
  let batch: Sample[] = []
  let written = 0
  for (let m = MINUTES; m >= 1; m--) {
    for (let i = 0; i < SERIES; i++) {
      const s = seriesOf(i)
      batch.push({
        name: s.name,
        labels: s.labels,
        value: Math.floor(random() * 1000),
        ts: now - m * MINUTE + (i % 50) * 1000,
      })
      if (batch.length >= 10_000) {
        await store.write(batch, batch[0]!.ts + 59_000)
        written += batch.length
        batch = []
      }
    }
  }
  if (batch.length) await store.write(batch, batch[0]!.ts + 59_000)
  written += batch.length
  await db.run(sql`update series set last_seen_at = ${now}`)
  const seedSeconds = (performance.now() - t0) / 1000
  for (let runs = 0; runs < 50; runs++) {
    const r = await runRollups(db, now)
    if (r.steps === 0 && r.rebuilt === 0) break
  }
  const metrics = [...new Set(Array.from({ length: SERIES }, (_, i) => seriesOf(i).name))]
  for (let i = 0; i < RULES; i++) await createRule(db, ruleOf(i, metrics.length ? metrics : [...AGENT_METRICS]), now)

  // Evaluation is measured, not sending: the outbox is written, nothing is sent between ticks.
  const { outboxHook } = createNotifier({
    db,
    sealer,
    config: { ...config, JOBS_ENABLED: false },
    outbound: createOutboundPolicy(config),
  })
  const evaluator = createAlerts({ db, hooks: [outboxHook] })
  const cycles: { seconds: number; changes: number; failed: number }[] = []
  for (let c = 0; c <= CYCLES; c++) {
    const t = performance.now()
    const r = await evaluator.evaluateAll(now + 30_000)
    cycles.push({ seconds: (performance.now() - t) / 1000, changes: r.changes, failed: r.failed })
  }
  // The same rules read (shared per metric, as a cycle does) and computed only, no alert reads or
  // writes: where a cycle's time goes.
  const all = await db.select().from(alertRules)
  const tr = performance.now()
  const reader = cycleReader(db, all, now + 30_000)
  for (const rule of byMetric(all)) await evaluateRule(db, rule, now + 30_000, reader)
  const readSeconds = (performance.now() - tr) / 1000
  const counts = (
    await client.execute(
      "select (select count(*) from alert_rules) as rules, (select count(*) from alerts where status = 'firing') as firing, (select count(*) from series) as series",
    )
  ).rows[0]!
  client.close()
  console.log(
    JSON.stringify({
      points: written,
      seedSeconds,
      rules: Number(counts.rules),
      series: Number(counts.series),
      firing: Number(counts.firing),
      cycles,
      readSeconds,
    }),
  )
}

if (import.meta.main) await main()
