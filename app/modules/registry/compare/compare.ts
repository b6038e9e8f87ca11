import type { Db } from '../../../../db/client.ts'
import { toIso } from '../../../lib/time.ts'
import {
  type Bucket,
  findSeries,
  merge,
  newBucket,
  quantile,
  type ReadSeries,
  readRaw,
  scalesOf,
  stepBuckets,
} from '../../metrics/index.ts'
import { mannWhitneyU, quantileOf, type TestResult, twoProportionZ } from './stats.ts'

/** The metrics a comparison reads, each labelled `model` (the model id) and `version`. */
export const COMPARE_METRICS = {
  latency: 'llm_latency_seconds', // read in ms (the figures' unit): see `versionFigures`
  requests: 'llm_requests_total',
  errors: 'llm_errors_total',
  feedback: 'llm_feedback_total',
  tokens: 'llm_tokens_total',
  cost: 'llm_cost_usd_total',
} as const

/** Latency samples per version the rank test reads at most (an even subsample beyond). */
export const MAX_SAMPLES = 200_000

/** Chart steps, finest first: the first giving at most ~60 points over the range is used. */
const STEPS = [60_000, 300_000, 900_000, 1_800_000, 3_600_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000]
export const stepFor = (rangeMs: number) => STEPS.find((s) => rangeMs / s <= 60) ?? STEPS.at(-1)!

export type CompareQuery = { model: string; a: string; b: string; from: number; to: number }

type Window = { from: number; to: number; step: number }

/** Every step bucket of the series merged per step time (one version's series of one metric). */
async function perStep(db: Db, found: ReadSeries[], w: Window): Promise<Map<number, Bucket>> {
  const out = new Map<number, Bucket>()
  if (!found.length) return out
  const ids = found.map((s) => s.id)
  for (const buckets of (await stepBuckets(db, ids, w, scalesOf(found))).values())
    for (const [t, b] of buckets) {
      const into = out.get(t) ?? newBucket()
      merge(into, b, b.sketch)
      out.set(t, into)
    }
  return out
}

const total = (m: Map<number, Bucket>, of: 'sum' | 'count' = 'sum') => {
  let s = 0
  for (const b of m.values()) s += b[of]
  return s
}
const ratio = (x: number, n: number) => (n > 0 ? x / n : null)

/** One version's figures over the window, and its per-step values for the charts. */
async function versionFigures(db: Db, model: string, version: string, w: Window) {
  const ids = async (name: string, extra: Record<string, string> = {}) =>
    await findSeries(db, name, { model, version, ...extra })
  const [latencyIds, requestIds, errorIds, positiveIds, negativeIds, tokenIds, completionIds, costIds] =
    await Promise.all([
      // Latency in ms, the unit of the figures: the seconds the series hold times 1000.
      ids(COMPARE_METRICS.latency).then((found) => found.map((s) => ({ ...s, scale: s.scale * 1000 }))),
      ids(COMPARE_METRICS.requests),
      ids(COMPARE_METRICS.errors),
      ids(COMPARE_METRICS.feedback, { rating: 'positive' }),
      ids(COMPARE_METRICS.feedback, { rating: 'negative' }),
      ids(COMPARE_METRICS.tokens),
      ids(COMPARE_METRICS.tokens, { kind: 'completion' }),
      ids(COMPARE_METRICS.cost),
    ])
  const latency = await perStep(db, latencyIds, w)
  const requestSteps = await perStep(db, requestIds, w)
  const errorSteps = await perStep(db, errorIds, w)
  // Without an llm_requests_total series, each latency point is one request (one call, one timing).
  const countedBy = requestIds.length ? COMPARE_METRICS.requests : COMPARE_METRICS.latency
  const requestsAt = (t: number) => (requestIds.length ? (requestSteps.get(t)?.sum ?? 0) : (latency.get(t)?.count ?? 0))
  const requests = requestIds.length ? total(requestSteps) : total(latency, 'count')
  const errors = total(errorSteps)
  const positive = total(await perStep(db, positiveIds, w))
  const negative = total(await perStep(db, negativeIds, w))
  const tokens = total(await perStep(db, tokenIds, w))
  const completion = total(await perStep(db, completionIds, w))
  const cost = total(await perStep(db, costIds, w))

  const sketch = newBucket()
  for (const b of latency.values()) merge(sketch, b, b.sketch)
  const latencySeconds = sketch.sum / 1000
  const msPer = new Map(latencyIds.map((s) => [s.id, s.scale]))
  let samples = (
    await readRaw(
      db,
      latencyIds.map((s) => s.id),
      w.from,
      w.to,
    )
  ).map((p) => p.value * msPer.get(p.seriesId)!)
  const sampled = samples.length > MAX_SAMPLES
  if (sampled) {
    const stride = samples.length / MAX_SAMPLES
    samples = Array.from({ length: MAX_SAMPLES }, (_, i) => samples[Math.floor(i * stride)]!)
  }

  // Exact quantiles when every latency point of the range is raw (the usual case within raw
  // retention); the rollups' sketches (within 1 %) otherwise: a 1 % bucket hides a few ms.
  const exact = !sampled && samples.length === sketch.count
  const sorted = exact ? [...samples].sort((x, y) => x - y) : []
  const p = (q: number) => (exact ? quantileOf(sorted, q) : quantile(sketch.sketch, q))

  const steps = [...new Set([...latency.keys(), ...requestSteps.keys(), ...errorSteps.keys()])].sort((x, y) => x - y)
  return {
    figures: {
      version,
      requests,
      requestsCountedBy: countedBy,
      errors,
      errorRate: ratio(Math.min(errors, requests), requests),
      latency: {
        count: sketch.count,
        p50Ms: p(0.5),
        p95Ms: p(0.95),
        exact,
        testedSamples: samples.length,
        sampled,
      },
      tokensPerSecond: latencySeconds > 0 && completion > 0 ? completion / latencySeconds : null,
      feedback: { positive, negative, positiveRate: ratio(positive, positive + negative) },
      tokens,
      costUsd: cost,
      costPer1kTokensUsd: tokens > 0 && costIds.length ? (cost / tokens) * 1000 : null,
    },
    samples,
    series: steps.map((t) => {
      const req = requestsAt(t)
      const err = errorSteps.get(t)?.sum ?? 0
      const lat = latency.get(t)
      return {
        t: toIso(t)!,
        requests: req,
        errorRate: req > 0 ? Math.min(err, req) / req : null,
        latencyP95Ms: lat ? quantile(lat.sketch, 0.95) : null,
      }
    }),
  }
}

export type VersionFigures = Awaited<ReturnType<typeof versionFigures>>['figures']

type Row = {
  metric: string
  unit: string
  a: number | null
  b: number | null
  difference: number | null
  relative: number | null
  test: TestResult | null
}

const row = (metric: string, unit: string, a: number | null, b: number | null, test: TestResult | null = null): Row => {
  const difference = a !== null && b !== null ? b - a : null
  return {
    metric,
    unit,
    a,
    b,
    difference,
    relative: difference !== null && a ? difference / a : null,
    test,
  }
}

/**
 * Versions `a` and `b` of one model side by side over [from, to): each figure, the difference
 * (b − a), and for rates and latency whether it is larger than the noise (see stats.ts).
 */
export async function compareVersions(db: Db, q: CompareQuery) {
  const step = stepFor(q.to - q.from)
  // From a step boundary: the rollups serve whole buckets only, so an unaligned start would make
  // every part of the range read raw points (and miss what retention already dropped from them).
  const w: Window = { from: q.from - (q.from % step), to: q.to, step }
  const [a, b] = await Promise.all([versionFigures(db, q.model, q.a, w), versionFigures(db, q.model, q.b, w)])
  const fa = a.figures
  const fb = b.figures
  const latencyTest = mannWhitneyU(a.samples, b.samples)
  const errorTest = twoProportionZ(
    Math.min(fa.errors, fa.requests),
    fa.requests,
    Math.min(fb.errors, fb.requests),
    fb.requests,
  )
  const feedbackTest = twoProportionZ(
    fa.feedback.positive,
    fa.feedback.positive + fa.feedback.negative,
    fb.feedback.positive,
    fb.feedback.positive + fb.feedback.negative,
  )
  return {
    model: q.model,
    from: toIso(w.from)!,
    to: toIso(q.to)!,
    stepMs: w.step,
    versions: { a: fa, b: fb },
    comparison: [
      row('requests', 'requests', fa.requests, fb.requests),
      row('latencyP50', 'ms', fa.latency.p50Ms, fb.latency.p50Ms, latencyTest),
      row('latencyP95', 'ms', fa.latency.p95Ms, fb.latency.p95Ms, latencyTest),
      row('tokensPerSecond', 'tokens/s', fa.tokensPerSecond, fb.tokensPerSecond),
      row('positiveFeedbackRate', 'ratio', fa.feedback.positiveRate, fb.feedback.positiveRate, feedbackTest),
      row('errorRate', 'ratio', fa.errorRate, fb.errorRate, errorTest),
      row('costPer1kTokens', 'USD', fa.costPer1kTokensUsd, fb.costPer1kTokensUsd),
    ],
    series: { a: a.series, b: b.series },
  }
}

export type Comparison = Awaited<ReturnType<typeof compareVersions>>
