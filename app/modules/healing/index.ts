// The healing module's public face: other modules, the composition root and jobs import only this.
export { breakerRoutes } from './breakers/routes.ts'
export { modelRouteRoutes } from './model-routes/routes.ts'
export { createHealing, type Healing } from './service.ts'
export type { HealingDeps } from './types.ts'
export { healingPages } from './pages.tsx'
export { runProbes } from './model-routes/probes.ts'
export { healingRoutes } from './routes.ts'
export { getN8nInstance, listN8nInstances } from './actions/n8n-instances.ts'
