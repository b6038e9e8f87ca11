/**
 * Names and labels of OTLP points in Homeostat's metric model (docs/opentelemetry.md#names-and-labels):
 * a name's characters outside [a-zA-Z0-9_:] become `_` (`http.server.duration` is
 * `http_server_duration`), attribute keys likewise outside [a-zA-Z0-9_]. The resource gives `job`
 * ([service.namespace/]service.name), `instance` (service.instance.id) and every
 * `homeostat.label.<name>` attribute as `<name>`; the scope gives `otel_scope_name` and
 * `otel_scope_version`; the point's own attributes come last and win a clash. Other resource
 * attributes are not labels: they are the same for every point of a process and would only add
 * series (host names, pids, SDK versions).
 */
import { LABEL_NAME, MAX_LABELS } from '../schema.ts'
import type { OtlpPoint } from './decode.ts'

const LABEL_PREFIX = 'homeostat.label.'
const MAX_VALUE = 1024
const MAX_NAME = 200

/** The stored metric name of an OTLP name, or undefined when nothing is left of it. */
export function metricName(name: string) {
  let n = name.replace(/[^a-zA-Z0-9_:]/g, '_')
  if (/^[0-9]/.test(n)) n = `_${n}`
  return n && n.length <= MAX_NAME ? n : undefined
}

/** The label name of an attribute key. */
export function labelName(key: string) {
  const n = key.replace(/[^a-zA-Z0-9_]/g, '_')
  return /^[0-9]/.test(n) ? `_${n}` : n
}

export type LabelResult = { labels: Record<string, string> } | { problem: string }

/** The labels of a point by the rule above, or the problem that makes the point unusable. */
export function labelsOf(p: Pick<OtlpPoint, 'resource' | 'scope' | 'attributes'>): LabelResult {
  const labels: Record<string, string> = {}
  const r = p.resource
  const service = r['service.name'] === undefined ? '' : String(r['service.name'])
  const namespace = r['service.namespace'] === undefined ? '' : String(r['service.namespace'])
  if (service) labels.job = namespace ? `${namespace}/${service}` : service
  if (r['service.instance.id'] !== undefined) labels.instance = String(r['service.instance.id'])
  for (const [k, value] of Object.entries(r))
    if (k.startsWith(LABEL_PREFIX)) labels[labelName(k.slice(LABEL_PREFIX.length))] = String(value)
  if (p.scope.name) labels.otel_scope_name = p.scope.name
  if (p.scope.version) labels.otel_scope_version = p.scope.version
  for (const [k, value] of Object.entries(p.attributes)) labels[labelName(k)] = String(value)
  return checked(labels)
}

/** The limits every ingest route has (schema.ts Labels): names, reserved `__`, value length, count. */
export function checked(labels: Record<string, string>): LabelResult {
  const names = Object.keys(labels)
  for (const name of names) {
    if (!LABEL_NAME.test(name) || name.length > 100 || name.startsWith('__'))
      return { problem: `attribute ${name} is not a usable label name` }
    if (labels[name]!.length > MAX_VALUE) return { problem: `attribute ${name} is longer than ${MAX_VALUE} characters` }
  }
  if (names.length > MAX_LABELS) return { problem: `has ${names.length} labels; at most ${MAX_LABELS}` }
  return { labels }
}
