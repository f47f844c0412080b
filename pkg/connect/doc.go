// Package connect is the Atlassian Connect protocol layer of Secrets.
//
// It knows how a Jira or Confluence Cloud host talks to the app and how the
// app talks back, and nothing about storage or HTTP routing:
//
//   - the query string hash (qsh) that binds a host token to one request
//     (CanonicalRequest, QSH);
//   - verification of the HS256 tokens a host signs with a tenant's shared
//     secret for iframes, the enabled/disabled callbacks and admin pages
//     (HostVerifier);
//   - verification of the RS256 "signed install" tokens on the
//     installed/uninstalled callbacks, with the public keys fetched from
//     Atlassian and cached by key id (InstallVerifier, InstallKeys);
//   - decoding and validation of lifecycle payloads (ParseLifecycle,
//     HostAllowed);
//   - signing of the app's own calls to a host's REST API (SignHostRequest);
//   - the app's own short-lived browser session tokens (Sessions), which are
//     JWTs too but are signed with a key only the app holds and are built so
//     that a host token can never pass for one, nor one for a host token.
//
// Every verification failure is reported through a small set of sentinel
// errors (ErrNoToken, ErrInvalidToken, ErrUnknownIssuer, ErrKeyUnavailable,
// ErrSessionExpired, ErrBadQuery, ErrBadPayload) so callers map them to HTTP
// statuses with errors.Is. Error strings never contain a token, a shared
// secret or a key, and avoid echoing attacker-supplied text, so they are safe
// to log.
//
// All JWT parsing goes through github.com/golang-jwt/jwt/v5 with the
// algorithm pinned before any key is chosen.
//
// # Licensing: verified and assumed
//
// LicenceChecker rests on Atlassian's "Cloud app licensing" and "License
// API for cloud apps" pages. Verified there: the descriptor's
// enableLicensing flag turns licensing on; hosts add lic=active or
// lic=none to the requests they send; GET
// /rest/atlassian-connect/1/addons/{appKey} (under /wiki on Confluence),
// called as the app, returns license.active — true for active
// subscriptions and evaluations, false for terminated ones and expired
// evaluations — and the license object only for paid apps; a host caches
// its own licence check for 5 minutes (hence the default TTL). Assumed, to
// be confirmed on a private listing: that a paid app on a site without any
// licence gets an answer with no license object (treated as inactive), and
// that the answer needs no scope beyond READ.
package connect
