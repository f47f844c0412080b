// Package forge is the Forge Remote protocol layer of Secrets: what a call
// from Atlassian's Forge platform to secretsd carries, and how the app checks
// it before trusting a word of it.
//
//   - Verifier checks the Forge Invocation Token (FIT) on every request:
//     RS256 only, signed by a key of the platform's JWKS, iss
//     "forge/invocation-token", aud pinned to one of our configured app ARIs
//     (which also decides the product), app.id equal to aud, an allowed
//     environment id, exp/nbf/iat present with a few seconds of leeway,
//     app.installationId equal to app.installation.id, an apiBaseUrl of the
//     shape <configured base>/ex/<product>/<cloudId> whose cloudId agrees
//     with context.cloudId and app.installation.contexts, and no icLabel
//     (Isolated Cloud is refused).
//   - KeySet holds the platform's JWKS. It is fetched from a configurable
//     URL, cached for the response's Cache-Control max-age clamped to
//     [MinTTL, MaxTTL], refetched for an unknown kid at most once per
//     Cooldown (the kid is chosen by whoever sends the token), fetched once
//     for all concurrent callers, and kept when a refetch fails.
//   - Products calls Jira and Confluence as the user (x-forge-oauth-user) to
//     check what the FIT's context only claims: that the user may browse the
//     issue, or read the page and that the page holds our macro with the
//     FIT's localId; and whether the user is a site admin. Positive answers
//     are cached briefly, identical concurrent checks share one call, every
//     call has a timeout, and any error refuses.
//
// # Why keyfunc is wrapped
//
// Key material is parsed and matched to tokens by
// github.com/MicahParks/keyfunc/v3 over github.com/MicahParks/jwkset, and
// every token by github.com/golang-jwt/jwt/v5 with the algorithm pinned; no
// JWT or JWK parsing is written here. keyfunc's own HTTP storage, however,
// refreshes on a fixed interval and ignores Cache-Control, rate-limits
// unknown-kid refreshes with a limiter that makes concurrent callers wait or
// fail rather than join the fetch in flight, and reads response bodies
// without a size limit. KeySet therefore does the fetching (bounded body,
// no redirects, timeout, singleflight, cooldown, Cache-Control) and hands
// each good response to keyfunc, whose Keyfunc then serves lookups until the
// next good response replaces it.
//
// # Secrets
//
// Neither the FIT nor the user's OAuth token is ever logged, stored or put in
// an error: errors carry fixed reasons only, safe to log. Nothing the
// browser sends besides the signed FIT (the invokeRemote body, path, query,
// custom headers) chooses a tenant, user or container.
//
// # Unverified
//
// Points that only a real Forge site can settle (forge.md: the exact module
// types in app.module, whether environment ids arrive as ARIs or bare ids,
// the shape of app.installation.contexts) are handled leniently where that
// is safe and strictly where it is not; Invocation keeps what arrived so the
// server can log it.
//
// Licensing: app.license.isActive is verified as the claim's shape in
// Atlassian's material (Invocation.License); that it is signed for paid
// apps in production only, so that development and staging calls never
// carry one, is taken from Atlassian's community answers, not a reference
// page, and the server's rule (pkg/server, forgeLicence) follows it.
package forge
