import * as v from 'valibot'

export const LimitInput = v.optional(
  v.pipe(v.string(), v.regex(/^\d+$/, 'must be a whole number'), v.transform(Number), v.minValue(1), v.maxValue(500)),
)

export const CursorInput = v.optional(v.pipe(v.string(), v.maxLength(200)))

/** Take one row more than asked to know whether there is a next page. */
export function page<T>(rows: T[], limit: number, cursorOf: (row: T) => string | number) {
  const items = rows.slice(0, limit)
  const last = items.at(-1)
  return { items, next: rows.length > limit && last !== undefined ? String(cursorOf(last)) : null }
}
