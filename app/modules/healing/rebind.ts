/**
 * The upgrade at boot (app/secrets-upgrade.ts) for healing's sealed values: n8n instances' API keys,
 * and webhook header values in rules' and actions' params, each sealed again bound to its row (and
 * header name). Writes are conditional on what was read (the value, or the row's updated_at for the
 * params JSON), so a change made meanwhile is never overwritten.
 */
import { and, eq, sql } from 'drizzle-orm'
import type { BatchItem } from 'drizzle-orm/batch'
import type { Db } from '../../../db/client.ts'
import { healingActions, healingRules, n8nInstances } from '../../../db/schema/healing.ts'
import type { Rebinder } from '../../lib/crypto.ts'
import { actionHeadersOwner, rebindHeaders, ruleHeadersOwner } from './actions/headers.ts'
import { n8nApiKeyAad } from './actions/n8n-instances.ts'

// Only rows whose params hold a headers object are read: the actions' history can be long.
const hasHeaders = (params: typeof healingRules.params | typeof healingActions.params) =>
  sql`json_type(${params}, '$.headers') = 'object'`

export async function rebindHealingSecrets(db: Db, r: Rebinder): Promise<BatchItem<'sqlite'>[]> {
  const out: BatchItem<'sqlite'>[] = []
  for (const key of await db.select({ id: n8nInstances.id, apiKey: n8nInstances.apiKey }).from(n8nInstances)) {
    const next = r.rebind(key.apiKey, n8nApiKeyAad(key.id))
    if (next)
      out.push(
        db
          .update(n8nInstances)
          .set({ apiKey: next })
          .where(and(eq(n8nInstances.id, key.id), eq(n8nInstances.apiKey, key.apiKey))),
      )
  }
  const rules = await db
    .select({ id: healingRules.id, params: healingRules.params, updatedAt: healingRules.updatedAt })
    .from(healingRules)
    .where(hasHeaders(healingRules.params))
  for (const rule of rules) {
    const params = rebindHeaders(r, rule.params, ruleHeadersOwner(rule.id))
    if (params)
      out.push(
        db
          .update(healingRules)
          .set({ params })
          .where(and(eq(healingRules.id, rule.id), eq(healingRules.updatedAt, rule.updatedAt))),
      )
  }
  const actions = await db
    .select({ id: healingActions.id, params: healingActions.params, updatedAt: healingActions.updatedAt })
    .from(healingActions)
    .where(hasHeaders(healingActions.params))
  for (const a of actions) {
    const params = rebindHeaders(r, a.params, actionHeadersOwner(a.id))
    if (params)
      out.push(
        db
          .update(healingActions)
          .set({ params })
          .where(and(eq(healingActions.id, a.id), eq(healingActions.updatedAt, a.updatedAt))),
      )
  }
  return out
}
