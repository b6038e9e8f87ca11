import * as v from 'valibot'
import { badRequest, type ErrorDetail } from '../../lib/errors.ts'
import { issuesToDetails } from '../../lib/validate.ts'
import { ComponentBody, ComponentPatch, type ComponentInput, type ComponentPatchInput } from './schema.ts'

/** The check form's fields, as the browser sends them (all strings). */
export type ComponentForm = Record<string, string>

const num = (s: string | undefined) => {
  const t = (s ?? '').trim()
  if (t === '') return undefined
  return /^-?\d+$/.test(t) ? Number(t) : t // a non-number stays text, so validation names the field
}
const text = (s: string | undefined) => {
  const t = (s ?? '').trim()
  return t === '' ? undefined : t
}

/** `key=value` lines (or commas) into a label map; a line without `=` is an error naming `labels`. */
function parseLabels(raw: string | undefined, errors: ErrorDetail[]) {
  const labels: Record<string, string> = {}
  for (const part of (raw ?? '').split(/[\n,]/)) {
    const line = part.trim()
    if (!line) continue
    const eq = line.indexOf('=')
    if (eq <= 0) {
      errors.push({ field: 'labels', message: `"${line.slice(0, 50)}" is not key=value` })
      continue
    }
    labels[line.slice(0, eq).trim()] = line.slice(eq + 1).trim()
  }
  return labels
}

/** The API input the form describes: the same shape and validation as POST /api/v1/components. */
function toInput(form: ComponentForm) {
  const errors: ErrorDetail[] = []
  const input = {
    name: form.name ?? '',
    kind: form.kind ?? '',
    description: form.description ?? '',
    labels: parseLabels(form.labels, errors),
    ...(form.check === 'push'
      ? { push: { expectedIntervalSeconds: num(form.expectedIntervalSeconds), graceSeconds: num(form.graceSeconds) } }
      : {
          http: {
            url: form.url ?? '',
            method: text(form.method),
            intervalSeconds: num(form.intervalSeconds),
            timeoutMs: num(form.timeoutMs),
            expectedStatus:
              text(form.expectedStatus)
                ?.split(/[\s,]+/)
                .filter(Boolean)
                .map((s) => (/^\d+$/.test(s) ? Number(s) : s)) ?? null,
            expectedBodyText: text(form.expectedBodyText) ?? null,
          },
        }),
  }
  return { input, errors }
}

function parse<S extends typeof ComponentBody | typeof ComponentPatch>(
  schema: S,
  form: ComponentForm,
): v.InferOutput<S> {
  const { input, errors } = toInput(form)
  const result = v.safeParse(schema, input)
  const details = [...errors, ...(result.success ? [] : issuesToDetails(result.issues))]
  if (details.length || !result.success) throw badRequest('Please correct the form', details)
  return result.output
}

export const parseCreateForm = (form: ComponentForm): ComponentInput => parse(ComponentBody, form)
export const parseEditForm = (form: ComponentForm): ComponentPatchInput => parse(ComponentPatch, form)
