import * as v from 'valibot'
import { topics } from './feed.ts'

const topicList = new RegExp(`^(${topics.join('|')})(,(${topics.join('|')}))*$`)

/** `?topics=alerts,healing`: only these (default: every topic the caller may read). */
export const EventsQuery = v.object({
  topics: v.optional(
    v.pipe(
      v.string(),
      v.maxLength(200, 'must be at most 200 characters'),
      v.regex(topicList, `must be a comma-separated list of ${topics.join(', ')}`),
    ),
  ),
})
