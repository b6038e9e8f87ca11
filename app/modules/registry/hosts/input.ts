/** Valibot schemas of Ollama hosts: they validate the API and feed the OpenAPI document. */
import * as v from 'valibot'

export const HostName = v.pipe(
  v.string('must be a string'),
  v.trim(),
  v.regex(
    /^[a-z0-9][a-z0-9._-]{0,62}$/,
    'must be 1–63 lower-case letters, digits, . _ -, starting with a letter or digit',
  ),
)

const HostUrl = v.pipe(
  v.string('must be a string'),
  v.trim(),
  v.maxLength(200, 'must be at most 200 characters'),
  v.check((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), 'must be an http or https URL'),
  v.check((s) => {
    // Checks run on after a failed one: an unparsable URL was named by the check above.
    if (!URL.canParse(s)) return true
    const u = new URL(s)
    return !u.username && !u.password && !u.search && !u.hash
  }, 'must not carry credentials, a query or a fragment (put a token in authHeader)'),
  v.transform((s) => s.replace(/\/+$/, '')),
)

/** An HTTP header sent on every call to the host (a reverse proxy's token); its value is sealed at rest. */
const AuthHeader = v.strictObject({
  name: v.pipe(
    v.string('must be a string'),
    v.regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/, 'must be an HTTP header name such as Authorization'),
  ),
  value: v.pipe(
    v.string('must be a string'),
    v.minLength(1, 'must not be empty'),
    v.maxLength(4096, 'must be at most 4096 characters'),
    v.check((s) => !/[\r\n]/.test(s), 'must be one line'),
  ),
})

export const HostBody = v.strictObject({
  name: HostName,
  url: HostUrl,
  authHeader: v.optional(AuthHeader),
})

/** A change: an `authHeader` left out is kept, `null` removes it; a new URL without a new header drops it (it was for the old URL). */
export const HostPatch = v.strictObject({
  url: v.optional(HostUrl),
  authHeader: v.nullish(AuthHeader),
})

export const HostIdParam = v.object({ id: v.pipe(v.string(), v.maxLength(100)) })

export type HostInput = v.InferOutput<typeof HostBody>
export type HostChange = v.InferOutput<typeof HostPatch>
