// Minimal PDS entrypoint (same shape as the upstream service/index.js): all config from PDS_* env vars.
import { PDS, envToCfg, envToSecrets, readEnv } from '@atproto/pds'

const t0 = performance.now()
const env = readEnv()
const pds = await PDS.create(envToCfg(env), envToSecrets(env))
await pds.start()
console.log(`READY pds ${pds.ctx.cfg.service.publicUrl} did=${pds.ctx.cfg.service.did} startMs=${Math.round(performance.now() - t0)} rssMB=${Math.round(process.memoryUsage().rss / 1e6)}`)
const stop = async () => { await pds.destroy(); process.exit(0) }
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
