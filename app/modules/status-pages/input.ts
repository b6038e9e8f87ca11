import * as v from 'valibot'
import { incidentImpacts, incidentStatuses } from '../../../db/schema/status-pages.ts'
import { CursorInput, LimitInput } from '../../lib/pagination.ts'
import { TimeInput } from '../../lib/time.ts'

const text = (min: number, max: number) =>
  v.pipe(
    v.string('must be a string'),
    v.trim(),
    v.minLength(min, min === 1 ? 'must not be empty' : `must be at least ${min} characters`),
    v.maxLength(max, `must be at most ${max} characters`),
  )

/** Lower-case letters, digits and inner dashes: the slug is a URL segment, and never ends in `.json`. */
export const Slug = v.pipe(
  v.string('must be a string'),
  v.trim(),
  v.regex(/^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$/, 'must be 1-64 lower-case letters, digits and inner dashes'),
)

const GroupComponent = v.strictObject({
  componentId: text(1, 100),
  /** The only name the public sees; the component's own name stays private. */
  displayName: text(1, 100),
})
const Group = v.strictObject({
  name: text(1, 100),
  components: v.pipe(
    v.array(GroupComponent, 'must be a list of {componentId, displayName}'),
    v.maxLength(200, 'at most 200 components in a group'),
  ),
})
const Groups = v.pipe(v.array(Group, 'must be a list of {name, components}'), v.maxLength(50, 'at most 50 groups'))

const pageFields = {
  slug: Slug,
  title: text(1, 200),
  logoText: v.optional(text(0, 40)),
  footer: v.optional(text(0, 1000)),
  published: v.optional(v.boolean('must be true or false')),
  groups: v.optional(Groups),
}
export const PageBody = v.strictObject(pageFields)
export const PagePatch = v.strictObject({
  slug: v.optional(pageFields.slug),
  title: v.optional(pageFields.title),
  logoText: pageFields.logoText,
  footer: pageFields.footer,
  published: pageFields.published,
  groups: pageFields.groups,
})
export type PageInput = v.InferOutput<typeof PageBody>
export type PagePatchInput = v.InferOutput<typeof PagePatch>

const Status = v.picklist(incidentStatuses, `must be one of ${incidentStatuses.join(', ')}`)
const Impact = v.picklist(incidentImpacts, `must be one of ${incidentImpacts.join(', ')}`)
const ComponentIds = v.pipe(
  v.array(text(1, 100), 'must be a list of component ids'),
  v.maxLength(200, 'at most 200 components'),
)

export const IncidentBody = v.strictObject({
  /** The public title: what visitors read (an alert's own title is never copied in by itself). */
  title: text(1, 200),
  /** The first update's text. */
  message: text(1, 5000),
  status: v.optional(Status),
  impact: v.optional(Impact),
  componentIds: v.optional(ComponentIds),
  /** Made public from this alert ("make public"): the alert stays private, only the link is kept. */
  alertId: v.optional(text(1, 100)),
  startedAt: v.optional(TimeInput),
})
export const IncidentPatch = v.strictObject({
  title: v.optional(text(1, 200)),
  impact: v.optional(Impact),
  componentIds: v.optional(ComponentIds),
})
export const UpdateBody = v.strictObject({ status: Status, message: text(1, 5000) })
export type IncidentInput = v.InferOutput<typeof IncidentBody>
export type IncidentPatchInput = v.InferOutput<typeof IncidentPatch>
export type UpdateInput = v.InferOutput<typeof UpdateBody>

export const IdParam = v.object({ id: v.pipe(v.string(), v.maxLength(100, 'must be at most 100 characters')) })
/** `/status/<slug>` or `/status/<slug>.json`: one parameter, the suffix read by the handler. */
export const PublicParam = v.object({ slug: v.pipe(v.string(), v.maxLength(80, 'must be at most 80 characters')) })
export const ListQuery = v.object({ limit: LimitInput, cursor: CursorInput })
