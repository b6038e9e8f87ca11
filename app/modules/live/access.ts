/**
 * Which topics a caller's stream carries: a topic goes to a caller who may read the pages it
 * refreshes. Every live page today is a viewer page, so every role reads every topic, and a key
 * limited to scopes (ingest, breakers, routes) reads none; a topic whose pages need more (an
 * admin-only list) gets its level here and the stream leaves it out for the others.
 */
import type { Principal } from '../../context.ts'
import type { Access } from '../../lib/route-meta.ts'
import { allows } from '../../middleware/access.ts'
import { type Topic, topics } from './feed.ts'

export const topicAccess: Record<Topic, Access> = {
  alerts: 'viewer',
  healing: 'viewer',
  runs: 'viewer',
  components: 'viewer',
  metrics: 'viewer',
  backups: 'viewer',
  n8n: 'viewer',
}

export const topicsFor = (p: Principal, levels: Record<Topic, Access> = topicAccess): Topic[] =>
  topics.filter((t) => allows(p, levels[t]))
