/**
 * What healing's `prompt_rollback` action is given (its PromptRollbackPort, matched by shape):
 * the label's version, the rollback, and a version's score. Built by the composition root.
 */
import { and, eq } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import { promptLabels, prompts as promptsTable } from '../../../../db/schema/prompts.ts'
import { scoreOf } from './scores.ts'
import type { Prompts } from './service.ts'

export function promptPort(db: Db, prompts: Prompts) {
  return {
    async labelVersion(prompt: string, label: string) {
      const [row] = await db
        .select({ version: promptLabels.version })
        .from(promptLabels)
        .innerJoin(promptsTable, eq(promptsTable.id, promptLabels.promptId))
        .where(and(eq(promptsTable.name, prompt), eq(promptLabels.label, label)))
      return row?.version
    },
    rollback: (
      prompt: string,
      label: string,
      to: number | 'previous',
      opts: { actor: string; reason: string; now: number },
    ) => prompts.rollback(prompt, label, to, opts),
    score: (prompt: string, version: number, from: number, to: number) => scoreOf(db, prompt, version, from, to),
  }
}
