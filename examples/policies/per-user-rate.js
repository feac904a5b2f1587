// A rate limit per user, with tiers read from the token: callers whose
// OAuth token grants the "pro" scope get more. What a JSON rule cannot say
// ("limits.rules" has one rate per rule), a hook can.
//
// Each user (a JWT's subject) has a token bucket and a daily quota, kept
// in the config's limiter: in memory, or in Redis shared by every
// `mcpscript serve` when the config has a "redis" section. A caller over
// its limit gets JSON-RPC error -32005 with {"retryAfter": SECONDS,
// "limit": "per-user (free)"}, over Streamable HTTP also HTTP 429 with
// Retry-After.
const TIERS = {
  free: { rate: "10/min", burst: 5, quota: "200/day" },
  pro: { rate: "120/min", burst: 20, quota: "10000/day" },
};

export function toolCall({ caller }) {
  // Static bearer tokens (CI, scripts) are not limited here.
  if (caller.auth !== "jwt") return;
  const tier = caller.scopes.includes("pro") ? "pro" : "free";
  limits.take(`user:${caller.subject}`, { ...TIERS[tier], name: `per-user (${tier})` });
  audit.add("tier", tier);
}
