/** Valibot schemas of the snapshot routes: they validate the requests and feed the OpenAPI document. */
import * as v from 'valibot'
import { backupStatuses } from '../../../../db/schema/backups.ts'
import { CursorInput, LimitInput } from '../../../lib/pagination.ts'
import { TimeInput } from '../../../lib/time.ts'

const Id = v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(100, 'must be at most 100 characters'))

export const BackupIdParam = v.object({ id: Id })

export const BackupListQuery = v.object({
  target: v.optional(v.pipe(v.string(), v.maxLength(100))),
  status: v.optional(v.picklist(backupStatuses, `must be one of ${backupStatuses.join(', ')}`)),
  from: v.optional(TimeInput),
  to: v.optional(TimeInput),
  limit: LimitInput,
  cursor: CursorInput,
})

/** The page's "Back up now": the target it backs up (the button sends the homeostat target). */
export const TriggerForm = v.object({ target: Id })

export const TriggerBody = v.strictObject({
  /** A target's id or name; the default `homeostat` target when left out. */
  target: v.optional(Id),
  /** Answer once the backup is verified (201) instead of at once while it runs (202). */
  wait: v.optional(v.boolean()),
})

export const DrillBody = v.strictObject({
  /** A backup to drill; the latest good backup of the homeostat target when left out. */
  backupId: v.optional(Id),
})

export const RestoreBody = v.strictObject({
  reason: v.optional(v.pipe(v.string(), v.trim(), v.maxLength(500, 'must be at most 500 characters')), ''),
})

export const RestoreListQuery = v.object({ limit: LimitInput })
