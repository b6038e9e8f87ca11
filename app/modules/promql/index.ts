// The Prometheus query API's public face: the routes, and the parser and evaluator for tests and other modules.
export { type Expr, parsePromql, PromError } from './ast.ts'
export { evaluate, type RawSeries, type Source, type Value } from './eval.ts'
export { bucketQuantile, extrapolatedRate, instantRate, quantileOf } from './functions.ts'
export { promqlRoutes } from './routes.ts'
