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
//   MCP_RESOURCE        Ironclad's MCP_RESOURCE_URL: the resource OAuth clients get tokens for
//                       (default http://127.0.0.1/mcp; migrate.mjs does not use it)
//   ADD_MISSING_RESOURCE "0" leaves out the hook that binds a token to MCP_RESOURCE when a
//                       client asks for none (default on, as docs/better-auth.md configures it)
//
// The configuration is the one docs/better-auth.md gives the front end: keep the two in step.
import { oauthProvider } from "@better-auth/oauth-provider";
import { betterAuth } from "better-auth";
import { createAuthMiddleware } from "better-auth/api";
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
  const mcpResource = process.env.MCP_RESOURCE || "http://127.0.0.1/mcp";
  const addMissingResource = process.env.ADD_MISSING_RESOURCE !== "0";
  return { databaseURL, secret, port, baseURL, mcpResource, addMissingResource };
}

/** A token request that names no resource gets Ironclad's MCP resource, so the access token is
 * a JWT bound to it rather than an opaque token that Ironclad refuses. */
function addMissingResource(mcpResource) {
  return createAuthMiddleware(async (ctx) => {
    if (ctx.path !== "/oauth2/token" || !ctx.body || ctx.body.resource) return;
    if (!["authorization_code", "refresh_token"].includes(ctx.body.grant_type)) return;
    return { context: { body: { ...ctx.body, resource: mcpResource } } };
  });
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
    plugins: [
      bearer(),
      // jwt() defaults: EdDSA / Ed25519 keys, 15 minute tokens, iss = aud = the origin.
      jwt(),
      oauthProvider({
        loginPage: "/sign-in",
        consentPage: "/consent",
        resources: [config.mcpResource],
        allowDynamicClientRegistration: true,
        allowUnauthenticatedClientRegistration: true,
        clientRegistrationDefaultResources: [config.mcpResource],
        // Native MCP clients register an http://127.0.0.1 callback without saying they are native.
        clientRegistrationDefaultApplicationType: "infer",
      }),
    ],
    hooks: config.addMissingResource ? { before: addMissingResource(config.mcpResource) } : {},
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
