/**
 * Version 2 of a node with many operations groups them by resource (n8n's style guide; the
 * community-node lint asks for it past five operations). The operation values stay those of
 * version 1, unique across resources, so a version 1 workflow and the field parameters keyed on
 * `operation` work unchanged; version 2 only adds the resource, checked here.
 */
import type { IExecuteFunctions } from 'n8n-workflow'
import { itemError } from './items'

export type Resources = Record<string, readonly string[]>

/** The resource of a version 2 node; undefined for version 1, which has none. */
export function resourceOf(ctx: IExecuteFunctions): string | undefined {
  return ctx.getNode().typeVersion >= 2 ? String(ctx.getNodeParameter('resource', 0)) : undefined
}

/**
 * Refuses, per item and before any request, a resource/operation pair the editor cannot make (a
 * workflow written by hand or through n8n's API), rather than running the operation alone.
 */
export function checkPair(
  ctx: IExecuteFunctions,
  itemIndex: number,
  resources: Resources,
  resource: string | undefined,
  operation: string,
) {
  if (resource !== undefined && !resources[resource]?.includes(operation))
    throw itemError(ctx, itemIndex, 'Operation', `"${operation}" is not an operation of resource "${resource}"`)
}
