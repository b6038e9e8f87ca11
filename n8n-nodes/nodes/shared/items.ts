/** Per-item error handling shared by the nodes: Continue On Fail, pairedItem, messages naming the item. */
import type { IDataObject, IExecuteFunctions, INodeExecutionData } from 'n8n-workflow'
import { NodeApiError, NodeOperationError } from 'n8n-workflow'

/** A NodeOperationError that names the item and the field. */
export const itemError = (ctx: IExecuteFunctions, itemIndex: number, field: string, message: string) =>
  new NodeOperationError(ctx.getNode(), `Item ${itemIndex}, field "${field}": ${message}`, { itemIndex })

/** What Continue On Fail puts in the item's json instead of a result. */
export function errorItem(error: unknown, itemIndex: number): INodeExecutionData {
  const e = error as { message?: string; description?: string | null; httpCode?: string | null }
  const json: IDataObject = { error: e.message ?? String(error) }
  if (e.description) json.description = e.description
  if (error instanceof NodeApiError && e.httpCode) json.httpCode = e.httpCode
  return { json, pairedItem: { item: itemIndex } }
}

/** The error as n8n's own type, knowing which item it is about. */
export function asNodeError(
  ctx: IExecuteFunctions,
  error: unknown,
  itemIndex: number,
): NodeApiError | NodeOperationError {
  if (error instanceof NodeApiError || error instanceof NodeOperationError) {
    if (error.context.itemIndex === undefined) error.context.itemIndex = itemIndex
    return error
  }
  return new NodeOperationError(ctx.getNode(), error as Error, { itemIndex })
}

/** Runs `fn` for each item; with Continue On Fail a failing item becomes an error item, else it throws. */
export async function eachItem(
  ctx: IExecuteFunctions,
  fn: (itemIndex: number) => Promise<IDataObject | IDataObject[]>,
): Promise<INodeExecutionData[][]> {
  const items = ctx.getInputData()
  const out: INodeExecutionData[] = []
  for (let i = 0; i < items.length; i++) {
    try {
      const result = await fn(i)
      for (const json of Array.isArray(result) ? result : [result]) out.push({ json, pairedItem: { item: i } })
    } catch (error) {
      if (!ctx.continueOnFail()) throw asNodeError(ctx, error, i)
      out.push(errorItem(error, i))
    }
  }
  return [out]
}
