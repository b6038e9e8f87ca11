import * as v from 'valibot'

/** `?q=`: words of a name or a label (`service=api`, `api`); 1–100 characters after trimming. */
export const SearchQuery = v.object({
  q: v.pipe(
    v.string('is required'),
    v.trim(),
    v.minLength(1, 'must not be empty'),
    v.maxLength(100, 'must be at most 100 characters'),
  ),
})
