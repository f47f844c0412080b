// Package sandbox is the local stand-in for a Jira Cloud site and a
// Confluence Cloud site that secretsd serves under /dev/ in development mode
// (design §7), so that anyone can try every flow with `make run` and a
// browser, and browser tests have something real to drive.
//
// DEVELOPMENT ONLY. The sandbox holds the shared secrets of its two dev
// tenants and hands out host-signed tokens for any of its users to whoever
// asks (?as=admin): by design it is an authentication bypass for those two
// tenants. secretsd mounts it only with --dev, which is off unless asked for
// or the base URL is on localhost; outside dev mode none of it is reachable.
// It never knows, and so can never sign for, any real tenant.
//
// It behaves like a real host wherever the app can tell the difference:
//
//   - InstallTenants installs the dev tenants through the app's real
//     installed lifecycle routes, with an RS256 signed-install token whose
//     public key the sandbox publishes under /dev/install-keys/<kid> (the
//     --install-keys-url of dev mode);
//   - the issue, page and admin pages frame the app's real module URLs,
//     signed as a host signs them: HS256 with the tenant's shared secret, a
//     qsh computed over the full URL, and the host's own query parameters
//     (xdm_e, xdm_c, cp, lic, loc, tz; loc and tz are en-US and UTC unless
//     the page's own URL picks others, e.g. ?loc=de-DE&tz=Europe/Berlin,
//     which Forge pages put in the frame's context as locale and timezone);
//   - /dev/all.js stands in for Atlassian's all.js inside the app iframe and
//     /dev/host.js for the host page's side of the bridge (resize, context
//     tokens, the current user, flags, host REST calls);
//   - the host REST endpoints the app calls server to server (the admin
//     checks) verify the app's JWT exactly as a host would, and refuse
//     anything else with 401.
//
// Forge mode (forge.go) plays the Forge platform beside the Connect host,
// under /dev/forge/: it publishes its own JWKS at /dev/forge/jwks.json (the
// Forge JWKS URL of dev mode), answers the product REST calls the app makes
// as the user at the fake apiBaseUrl /dev/forge/api/ex/<product>/<cloudId>,
// sends the installed trigger to /forge/lifecycle, and serves Forge versions
// of the issue, page and admin pages whose frames hold the Custom UI build
// (static.CustomUI) with a bridge stand-in, /dev/forge/bridge.js. The
// stand-in forwards invokeRemote to /dev/forge/invoke/<path>, where the
// sandbox mints the FIT for that frame from its own record of the frame's
// user, module and context and calls the app's /forge/ route. A third user,
// ?as=guest, exists in Forge mode: the product lets her browse no issue and
// read no page. Like the rest, it is reachable in dev mode only.
//
// The dev sites' licence of the app is one switch (licence.go, on the index
// page and at POST /dev/licence): it sets the lic parameter of module URLs,
// the answer of the sites' licence endpoints and the app.license of the
// FITs the sandbox mints, so either licensing mode can be tried locally.
//
// The app and the sandbox share one origin, which real hosts never do; the
// bridge nevertheless talks only through postMessage with both sides
// checking origin and source, so an app that works here does not depend on
// it.
package sandbox
