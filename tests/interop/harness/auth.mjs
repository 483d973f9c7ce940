// Shared better-auth configuration for the interop harness.
//
// Both server.mjs and migrate.mjs build their options from the same
// environment so that the schema created by migrate.mjs is exactly the one
// the server expects.
//
// Environment:
//   DATABASE_URL        postgres connection string (required)
//   BETTER_AUTH_SECRET  signing/encryption secret (required, >= 32 chars recommended)
//   PORT                loopback port the server listens on (required by server.mjs)
//   BASE_URL            public base URL (default http://127.0.0.1:${PORT})
import { betterAuth } from "better-auth";
import { bearer, jwt } from "better-auth/plugins";
import pg from "pg";

const { Pool } = pg;

function requireEnv(name) {
  const value = process.env[name];
  if (!value) {
    throw new Error(`missing required environment variable ${name}`);
  }
  return value;
}

/** Read and validate the harness settings from process.env. */
export function readConfig({ requirePort = true } = {}) {
  const databaseURL = requireEnv("DATABASE_URL");
  const secret = requireEnv("BETTER_AUTH_SECRET");
  let port;
  if (process.env.PORT) {
    port = Number.parseInt(process.env.PORT, 10);
    if (!Number.isInteger(port) || port <= 0 || port > 65535) {
      throw new Error(`invalid PORT: ${process.env.PORT}`);
    }
  } else if (requirePort) {
    throw new Error("missing required environment variable PORT");
  }
  const baseURL =
    process.env.BASE_URL || (port ? `http://127.0.0.1:${port}` : "http://127.0.0.1");
  return { databaseURL, secret, port, baseURL };
}

/** Build better-auth options (and the pg Pool they own) from the config. */
export function buildOptions(config) {
  const pool = new Pool({ connectionString: config.databaseURL });
  const options = {
    database: pool,
    secret: config.secret,
    baseURL: config.baseURL,
    trustedOrigins: [config.baseURL],
    emailAndPassword: { enabled: true },
    // jwt() defaults: EdDSA / Ed25519 keys, 15 minute tokens,
    // iss = aud = baseURL.
    plugins: [bearer(), jwt()],
    telemetry: { enabled: false },
  };
  return { options, pool };
}

/** Convenience: config + options + auth instance. */
export function createAuth({ requirePort = true } = {}) {
  const config = readConfig({ requirePort });
  const { options, pool } = buildOptions(config);
  const auth = betterAuth(options);
  return { auth, options, pool, config };
}
