/**
 * What kind of node a type is, by n8n's naming: trigger nodes end in "Trigger" (core and community
 * alike: scheduleTrigger, CUSTOM.homeostatTrigger, @n8n/n8n-nodes-langchain.chatTrigger), plus the
 * older names that start workflows without the suffix (webhook, cron, interval, start, IMAP).
 */

/** The type's own name: `n8n-nodes-base.scheduleTrigger` → `scheduletrigger`. */
const local = (type: string) => type.slice(type.lastIndexOf('.') + 1).toLowerCase()

const OLD_TRIGGERS = new Set(['webhook', 'cron', 'interval', 'start', 'emailreadimap'])

/**
 * Triggers that do not make an active workflow run by themselves: n8n refuses to activate a
 * workflow whose only triggers are these (manual runs, the error workflow, a sub-workflow call).
 */
const PASSIVE_TRIGGERS = new Set(['manualtrigger', 'start', 'errortrigger', 'executeworkflowtrigger'])

export const isTrigger = (type: string) => {
  const name = local(type)
  return name.endsWith('trigger') || OLD_TRIGGERS.has(name)
}
export const isActivatingTrigger = (type: string) => isTrigger(type) && !PASSIVE_TRIGGERS.has(local(type))
export const isErrorTrigger = (type: string) => local(type) === 'errortrigger'
export const isStickyNote = (type: string) => local(type) === 'stickynote'
/** Nodes that register a production webhook path (the Webhook node, forms). */
export const isWebhook = (type: string) => {
  const name = local(type)
  return name === 'webhook' || name === 'formtrigger'
}
/** Code-running nodes and the parameter holding their JavaScript (the Function nodes are the pre-1.0 ones). */
export function javaScriptOf(type: string, parameters: Record<string, unknown>): string | null {
  const name = local(type)
  if (name === 'code') {
    if (parameters.language !== undefined && parameters.language !== 'javaScript') return null // Python
    return typeof parameters.jsCode === 'string' ? parameters.jsCode : null
  }
  if (name === 'function' || name === 'functionitem')
    return typeof parameters.functionCode === 'string' ? parameters.functionCode : null
  return null
}
