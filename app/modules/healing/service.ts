/**
 * The healing service: made once by the composition root, it holds what healing keeps in this
 * process (breaker report queues, the model-route answer cache, the allowed-commands reader, the
 * orchestrator's work in flight) and hands the same parts to routes, pages, jobs and actions.
 */
import { createBreakers } from './breakers/breakers.ts'
import { allowedCommands } from './actions/commands.ts'
import { createModelRoutes } from './model-routes/model-routes.ts'
import { createOrchestrator } from './orchestrator/orchestrator.ts'
import type { HealingCtx, HealingDeps } from './types.ts'

export function createHealing(deps: HealingDeps & Pick<HealingCtx, 'kick'>) {
  const breakers = createBreakers(deps.db)
  const ctx: HealingCtx = {
    ...deps,
    breakers,
    modelRoutes: createModelRoutes(deps.db, breakers, deps.resolveModel),
    commands: allowedCommands(deps.config.HEALING_COMMANDS_FILE),
  }
  const orchestrator = createOrchestrator(ctx)
  return { ...ctx, tick: orchestrator.tick, settle: orchestrator.settle }
}

export type Healing = ReturnType<typeof createHealing>
