import * as v from 'valibot'

const LOCAL_MINUTES = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/ // what <input type="datetime-local"> sends, read as UTC

/** RFC 3339 string or epoch milliseconds in; epoch ms out. */
export const TimeInput = v.pipe(
  v.union(
    [
      v.pipe(v.string(), v.isoTimestamp()),
      v.pipe(v.string(), v.regex(LOCAL_MINUTES)),
      v.pipe(v.string(), v.regex(/^\d{1,15}$/)),
      v.pipe(v.number(), v.integer(), v.minValue(0)),
    ],
    'must be an RFC 3339 time or epoch milliseconds',
  ),
  v.transform((value) =>
    typeof value === 'number'
      ? value
      : /^\d+$/.test(value)
        ? Number(value)
        : Date.parse(LOCAL_MINUTES.test(value) ? `${value}Z` : value),
  ),
)

export const toIso = (ms: number | null | undefined) => (ms == null ? null : new Date(ms).toISOString())

export const minutes = (n: number) => n * 60_000
export const hours = (n: number) => n * 3_600_000
export const days = (n: number) => n * 86_400_000

/** The clock a factory's deps give (tests pass a fake `now`), else the real one. */
export const clockOf = (deps: { now?: () => number }) => (): number => deps.now?.() ?? Date.now()

/**
 * Lets timers, I/O and other requests run. libSQL's promises resolve in the same turn, so a job that
 * only awaits statements never gives the event loop a turn: requests wait for the whole job, and the
 * native memory of its finished statements is not freed until it ends. Long jobs call this between steps.
 */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setTimeout(resolve, 0))
