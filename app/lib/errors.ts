export type ErrorDetail = { field: string; message: string }

/** The one error type. `app.onError` turns it into the JSON error shape or an htmx fragment. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: ErrorDetail[] | Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(message)
    this.name = 'AppError'
  }
}

export const badRequest = (message: string, details?: ErrorDetail[]) =>
  new AppError(400, 'invalid_input', message, details)
export const unauthorized = (message = 'Authentication required') => new AppError(401, 'unauthorized', message)
export const forbidden = (message = 'Your role does not allow this') => new AppError(403, 'forbidden', message)
export const notFound = (what = 'Resource') => new AppError(404, 'not_found', `${what} not found`)
export const conflict = (message: string) => new AppError(409, 'conflict', message)

/** An error's message and its cause's message in one string (drivers often put the detail in the cause). */
export const errorText = (error: unknown) =>
  `${String((error as Error)?.message ?? error)} ${String(((error as Error)?.cause as Error | undefined)?.message ?? '')}`
