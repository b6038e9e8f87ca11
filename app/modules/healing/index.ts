// The healing module's public face: other modules, the composition root and jobs import only this.
export { breakerRoutes } from './breaker-routes.ts'
export { modelRouteRoutes } from './model-route-routes.ts'
export { createHealing, type Healing } from './service.ts'
export type { HealingDeps } from './types.ts'
export { healingPages } from './pages.tsx'
export { runProbes } from './probes.ts'
export { healingRoutes } from './routes.ts'
