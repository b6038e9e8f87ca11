import * as v from 'valibot'

/** An absolute http(s) URL of a store (Qdrant node, S3 endpoint), with one message whatever is wrong with it. */
export const StoreUrl = v.pipe(
  v.string('must be a string'),
  v.trim(),
  v.maxLength(2000, 'must be at most 2000 characters'),
  v.check((s) => URL.canParse(s) && /^https?:$/.test(new URL(s).protocol), 'must be an http(s) URL'),
)
