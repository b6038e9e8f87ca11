// The metrics module's public face: other modules, the composition root and jobs import only this.
export {
  bucketMeans,
  plan,
  quantileByComponent,
  quantileByLabel,
  type Segment,
  sumsByComponent,
  sumsByLabel,
  watermarks,
} from './by-label.ts'
export { readRaw, readRuns, type RawPoint, startInboxMover } from './inbox.ts'
export { convertLegacyPoints, convertTextSketches, packMinuteRows } from './legacy.ts'
export { createOtlpMetrics, type OtlpMetrics } from './otlp/receiver.ts'
export { otlpMetricsRoutes } from './otlp/routes.ts'
export { metricsPages } from './pages.tsx'
export { metricsQueryRoutes } from './query-routes.ts'
export {
  type Aggregation,
  aggregations,
  type Bucket,
  findSeries,
  groupSeries,
  listSeries,
  merge,
  newBucket,
  type ReadSeries,
  scalesOf,
  stepBuckets,
  valueOf,
} from './query.ts'
export { metricKindsRoutes } from './kinds-routes.ts'
export { BUILT_IN_KINDS, KINDS, type Kind, kindOf, kindsOf } from './kinds.ts'
export { currentName, RENAMED, type Renamed, storedNames, withAliases } from './names.ts'
export { purgeExpired, type RetentionDays } from './retention.ts'
export { runRollups } from './rollup.ts'
export { matchers, metricsRoutes } from './routes.ts'
export { Duration, DurationBetween, LABEL_NAME, Labels, MetricName } from './schema.ts'
export { addValue, emptySketch, mergeInto, quantile, scaleSketch, type Sketch } from './sketch.ts'
export {
  canonicalLabels,
  createMetricStore,
  type Derive,
  fingerprintOf,
  type MetricStore,
  type Sample,
  type SampleColumns,
  sampleNames,
} from './store.ts'
export { metricsTiles } from './tiles.tsx'
export { COLLECT_EVERY_SAMPLES, collectingEvery } from './collect.ts'
