import { hours } from '../app/lib/time.ts'
import type { JobDef } from '../app/lib/scheduler.ts'
import type { OtlpIntake } from '../app/modules/runs/index.ts'

/**
 * The OTLP intake keeps each span (run_spans) only to put a trace together while its exports arrive,
 * which takes seconds to minutes; a day is far more than an exporter's retries. Runs and tasks stay.
 */
export const OTLP_SPANS_KEEP_MS = hours(24)

/** Hourly: forgets the OTLP intake's spans received more than a day ago (docs/runs.md#opentelemetry). */
export const otlpSpansPurgeJob = (intake: OtlpIntake): JobDef => ({
  name: 'otlp_spans_purge',
  schedule: '0 17 * * * *',
  handler: async ({ now }) => ({ purged: await intake.purgeSpans(now - OTLP_SPANS_KEEP_MS) }),
})
