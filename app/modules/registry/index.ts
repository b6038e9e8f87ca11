// The registry module's public face (models, prompts, comparing versions): others import only this.
// Models: models/ (versions, Modelfiles, deploys, aliases) and hosts/ (Ollama hosts).
export { comparePages, compareRoutes } from './compare/index.ts'
export { hostRoutes } from './hosts/routes.ts'
export { registryWebhookEvents, type RegistryEvent } from './models/deploy.ts'
export { validateModelfile } from './models/modelfile.ts'
export { modelPages } from './models/pages.tsx'
export { modelRoutes } from './models/routes.ts'
export { createRegistry, type Registry } from './service.ts'
export { promptPages } from './prompts/pages.tsx'
export { promptPort } from './prompts/port.ts'
export { promptRoutes } from './prompts/routes.ts'
export { createPrompts, PROMPT_EVENTS, type PromptEvent, type Prompts } from './prompts/service.ts'
