// The runs module's public face: other modules, the composition root and jobs import only this.
export { createRuns, type Runs, type RunsDeps } from './service.ts'
export { runsRoutes } from './routes.ts'
export { runPolicyRoutes } from './policy-routes.ts'
export { runsPages } from './pages/index.tsx'
export { runReportRoutes } from './report-routes.ts'
export { watchRuns } from './watch.ts'
export type { RunWrite, TaskWrite, BatchResult } from './write.ts'
export { classify, classifyBuiltIn, type Attributes, type FailureFacts } from './classify.ts'
export { FEW_TASKS, runJson, SCAN_WINDOW, taskJson } from './read.ts'
export {
  ARTIFACT_MAX_BYTES,
  BATCH_MAX,
  BatchBody,
  FailureBody,
  PolicyInput,
  RunBody,
  RunWithId,
  TaskBatchBody,
  TaskBody,
  TaskWithId,
  TaskWithRun,
} from './input.ts'
export { createOtlpIntake, type OtlpIntake } from './otlp/intake.ts'
export { otlpRoutes } from './otlp/routes.ts'
export { runsTiles } from './tiles.tsx'
