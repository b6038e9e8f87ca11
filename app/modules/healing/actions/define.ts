import * as v from 'valibot'
import { issuesToDetails } from '../../../lib/validate.ts'
import type { ActionDef } from '../types.ts'

/** An action definition whose `validate` is its params schema. */
export function defineAction<P>(def: Omit<ActionDef<P>, 'validate'>): ActionDef<P> {
  return {
    ...def,
    validate(params) {
      const r = v.safeParse(def.paramsSchema, params ?? {})
      return r.success ? { ok: true, params: r.output } : { ok: false, issues: issuesToDetails(r.issues, 'params.') }
    },
  }
}

export const text = (max: number) =>
  v.pipe(v.string('must be a string'), v.maxLength(max, `must be at most ${max} characters`))
export const positiveMs = (max: number) =>
  v.pipe(
    v.number('must be a number'),
    v.integer('must be a whole number'),
    v.minValue(1, 'must be at least 1'),
    v.maxValue(max, `must be at most ${max}`),
  )

/**
 * What an outbound call answered is kept at most this long (operators read it; viewers never do:
 * see `outputFor`). A reply can carry whatever the far end chose to send back.
 */
export const REPLY_CHARS = 1024

/** Clips text (output kept for the timeline). */
export const clip = (s: string, n = 4000) => (s.length > n ? `${s.slice(0, n)}…[${s.length - n} more]` : s)
