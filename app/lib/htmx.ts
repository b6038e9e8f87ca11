import type { Context } from 'hono'

/** Sends an HTMX request on to `to` as a full page load (HTMX follows HX-Redirect, not a 3xx). */
export const hxRedirect = (c: Context, to: string) => c.body(null, 200, { 'HX-Redirect': to })
