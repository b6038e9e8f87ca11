/**
 * The action registry: type → definition. A new type (as `prompt_rollback`: target a prompt
 * name, execute = move its label to the previous version, rollback = move it back) is one file
 * in this folder and one line below. Beside the types the folder holds what they share
 * (define.ts) and what they read: service_restart's allow-list (commands.ts) and the n8n action's
 * instances (n8n-instances.ts).
 */
import type { ActionDef } from '../types.ts'
import { modelAlias } from './model-alias.ts'
import { modelFailover } from './model-failover.ts'
import { n8n } from './n8n.ts'
import { n8nRetry } from './n8n-retry.ts'
import { notify } from './notify.ts'
import { promptRollback } from './prompt-rollback.ts'
import { serviceRestart } from './service-restart.ts'
import { webhook } from './webhook.ts'
import { workflowRollback } from './workflow-rollback.ts'

const all: ActionDef<any>[] = [
  modelFailover,
  webhook,
  n8n,
  n8nRetry,
  serviceRestart,
  notify,
  workflowRollback,
  modelAlias,
  promptRollback,
]

export const actionTypes: ReadonlyMap<string, ActionDef<any>> = new Map(all.map((d) => [d.type, d]))
export const actionTypeNames = () => [...actionTypes.keys()]
export const actionDef = (type: string): ActionDef<any> | undefined => actionTypes.get(type)
