// The registry module's public face: other modules, the composition root and jobs import only this.
// Models half: models/ (versions, Modelfiles, deploys, aliases) and hosts/ (Ollama hosts).
export { hostRoutes } from './hosts/routes.ts'
export { registryWebhookEvents, type RegistryEvent } from './models/deploy.ts'
export { validateModelfile } from './models/modelfile.ts'
export { modelPages } from './models/pages.tsx'
export { modelRoutes } from './models/routes.ts'
export { createRegistry, type Registry } from './service.ts'
