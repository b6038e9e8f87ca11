/** What the prompt registry answers: one shape per row, times in RFC 3339. */
import type { Prompt, PromptLabel, PromptLabelEvent, PromptVersion } from '../../../../db/schema/prompts.ts'
import { toIso } from '../../../lib/time.ts'
import type { Score } from './scores.ts'

export const promptJson = (p: Prompt, labels: PromptLabel[] = []) => ({
  id: p.id,
  name: p.name,
  description: p.description,
  revision: p.revision,
  labels: Object.fromEntries(labels.map((l) => [l.label, l.version])),
  createdBy: p.createdBy,
  createdAt: toIso(p.createdAt),
  updatedAt: toIso(p.updatedAt),
})

export const versionJson = (v: PromptVersion, labels: PromptLabel[] = [], score?: Score) => ({
  version: v.version,
  template: v.template,
  variables: v.variables,
  parameters: v.parameters,
  author: v.author,
  note: v.note,
  hash: v.hash,
  labels: labels.filter((l) => l.version === v.version).map((l) => l.label),
  ...(score ? { score } : {}),
  createdAt: toIso(v.createdAt),
})

export const labelEventJson = (e: PromptLabelEvent) => ({
  id: e.id,
  label: e.label,
  from: e.fromVersion,
  to: e.toVersion,
  actor: e.actor,
  reason: e.reason,
  ts: toIso(e.ts),
})
