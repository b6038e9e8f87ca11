import type { Context } from 'hono'
import { validator } from 'hono/validator'
import * as v from 'valibot'
import { AppError, type ErrorDetail } from './errors.ts'
import { withMeta } from './route-meta.ts'

type Target = 'json' | 'form' | 'query' | 'param'

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i
const FORM_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data']
const OBJECT_TYPES = new Set(['object', 'strict_object', 'loose_object', 'object_with_rest'])

export function issuesToDetails(issues: v.BaseIssue<unknown>[], prefix = ''): ErrorDetail[] {
  return issues.map((issue) => {
    const path = v.getDotPath(issue)
    const unknownKey = issue.kind === 'schema' && issue.type === 'strict_object' && issue.input !== undefined
    return {
      field: `${prefix}${path ?? (issue.type === 'object' || issue.type === 'strict_object' ? '(body)' : '(value)')}`,
      message: unknownKey ? `unknown field` : issue.message,
    }
  })
}

function checkContentType(c: Context, target: Target) {
  if (target !== 'json' && target !== 'form') return
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase()
  const ok = target === 'json' ? JSON_TYPE.test(type) : FORM_TYPES.includes(type)
  if (!ok) {
    const expected = target === 'json' ? 'application/json' : 'application/x-www-form-urlencoded'
    throw new AppError(415, 'unsupported_media_type', `Content-Type must be ${expected}`, [
      { field: 'Content-Type', message: type ? `${type} is not accepted` : 'missing' },
    ])
  }
}

/**
 * Validates one part of the request with a valibot schema. Bad input is a 400 naming each field;
 * a wrong Content-Type is a 415. The schema also feeds the OpenAPI document. `fast`: see above.
 */
export function validate<T extends Target, S extends v.GenericSchema>(
  target: T,
  schema: S,
  opts: { fast?: (value: unknown) => boolean } = {},
) {
  const mw = validator(target, (value, c) => {
    checkContentType(c, target)
    // A hot route may pass a quick check that accepts only what the schema accepts unchanged
    // (stricter is fine: anything it does not accept goes through the schema for its messages).
    if (opts.fast?.(value)) return value as v.InferOutput<S>
    // valibot's object schemas accept arrays (an empty array has no unknown keys): refuse them here.
    if (Array.isArray(value) && OBJECT_TYPES.has(schema.type)) {
      throw new AppError(400, 'invalid_input', 'Invalid body', [
        { field: '(body)', message: 'must be an object, not an array' },
      ])
    }
    const result = v.safeParse(schema, value)
    if (!result.success) {
      const where = target === 'json' || target === 'form' ? 'body' : target
      throw new AppError(400, 'invalid_input', `Invalid ${where}`, issuesToDetails(result.issues))
    }
    return result.output as v.InferOutput<S>
  })
  return withMeta(mw, { inputs: [{ target, schema }] })
}
