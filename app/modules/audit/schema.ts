import * as v from 'valibot'
import { CursorInput, LimitInput } from '../../lib/pagination.ts'
import { TimeInput } from '../../lib/time.ts'

const Text = v.optional(
  v.pipe(
    v.string(),
    v.trim(),
    v.maxLength(200),
    v.transform((s) => (s === '' ? undefined : s)),
  ),
)
const Time = v.optional(
  v.union(
    [
      v.pipe(
        v.literal(''),
        v.transform(() => undefined),
      ),
      TimeInput,
    ],
    'must be an RFC 3339 time or epoch milliseconds',
  ),
)

export const AuditQuery = v.object({
  actor: Text,
  action: Text,
  target: Text,
  from: Time,
  to: Time,
  limit: LimitInput,
  cursor: CursorInput,
})
