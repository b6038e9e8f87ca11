import { errorText } from './errors.ts'

/**
 * Whether a write failed on a UNIQUE constraint, optionally on one column (`policies.name`, as
 * SQLite names it), so a duplicate can answer 409 instead of 500.
 */
export const isUniqueViolation = (error: unknown, column?: string) =>
  column
    ? errorText(error).includes(`UNIQUE constraint failed: ${column}`)
    : /UNIQUE constraint failed/i.test(errorText(error))
