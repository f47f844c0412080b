// A minimal atlassian-connect-express (ACE) app, the yardstick of issue 11:
// secretswrk starts it next to secretsd and measures it exactly as it
// measures secretsd, so the table shows secretsd's requests per server
// CPU-second as a ratio to Atlassian's own framework on whatever machine
// runs the bench.
//
// It serves what secretsd's two hot reads serve, the ACE way:
//   GET /panel        behind addon.authenticate(): the host's JWT with its
//                     qsh, answered with a small iframe page that carries
//                     ACE's session token (res.locals.token);
//   GET /api/secrets  behind addon.checkValidToken(): that session token in
//                     "Authorization: JWT …", answered with the same list
//                     JSON secretsd sent, kept as objects and serialised per
//                     request with res.json.
//
// The tenant lives in a small in-memory store adapter registered through
// ACE's own store.register, seeded at start from the file secretswrk wrote
// (no install handshake, no registration, no key server: nothing here
// leaves 127.0.0.1). The store hands back the objects it holds, without
// copying or parsing, the cheapest store ACE can have: ACE's figures are its
// best case, so a ratio against them is a lower bound on ours.
//
// Environment: PORT (ACE reads it), SECRETSWRK_ACE_TENANT (a JSON file with
// clientKey, sharedSecret, baseUrl, productType) and SECRETSWRK_ACE_LIST
// (the list response body). Run with NODE_ENV=production from this folder:
// ACE reads config.json and atlassian-connect.json from the working
// directory.
"use strict";

const fs = require("fs");
const express = require("express");
const ace = require("atlassian-connect-express");

// MemoryStore implements the interface ACE's adapters share (see
// node_modules/atlassian-connect-express/lib/store/sequelize.js): values per
// tenant (clientKey) and key, with clientInfo as the tenant's install.
class MemoryStore {
  constructor() {
    this.values = new Map(); // clientKey -> Map(key -> value)
    this.forge = new Map(); // installationId -> Map(key -> value)
    this.installations = new Map(); // Forge installationId -> clientKey
  }

  isMemoryStore() {
    return true;
  }

  async get(key, clientKey) {
    const tenant = this.values.get(clientKey);
    const v = tenant && tenant.get(key);
    return v === undefined ? null : v;
  }

  async set(key, value, clientKey) {
    let tenant = this.values.get(clientKey);
    if (!tenant) {
      tenant = new Map();
      this.values.set(clientKey, tenant);
    }
    tenant.set(key, value);
    return value;
  }

  // del(clientKey) drops a tenant, del(key, clientKey) one value.
  async del(key, clientKey) {
    if (arguments.length < 2) {
      this.values.delete(key);
      return;
    }
    const tenant = this.values.get(clientKey);
    if (tenant) {
      tenant.delete(key);
    }
  }

  async getAllClientInfos() {
    const all = [];
    for (const tenant of this.values.values()) {
      if (tenant.has("clientInfo")) {
        all.push(tenant.get("clientInfo"));
      }
    }
    return all;
  }

  async saveInstallation(value, clientKey) {
    const saved = await this.set("clientInfo", value, clientKey);
    if (value.installationId) {
      await this.associateInstallations(value.installationId, clientKey);
    }
    return saved;
  }

  async getClientSettingsForForgeInstallation(installationId) {
    const clientKey = this.installations.get(installationId);
    return clientKey === undefined ? null : this.get("clientInfo", clientKey);
  }

  async associateInstallations(installationId, clientKey) {
    this.installations.set(installationId, clientKey);
  }

  async deleteAssociation(installationId) {
    this.installations.delete(installationId);
  }

  forForgeInstallation(installationId) {
    let m = this.forge.get(installationId);
    if (!m) {
      m = new Map();
      this.forge.set(installationId, m);
    }
    return {
      get: async key => (m.has(key) ? m.get(key) : null),
      set: async (key, value) => {
        m.set(key, value);
        return value;
      },
      del: async key => {
        m.delete(key);
      }
    };
  }
}

// ACE's own way to plug in a store: config.json's store.adapter names it.
ace.store.register("memory", () => new MemoryStore());

function readJSON(envName) {
  const file = process.env[envName];
  if (!file) {
    throw new Error(`${envName} is not set`);
  }
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

const escapes = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
function escapeHTML(s) {
  return String(s).replace(/[&<>"']/g, c => escapes[c]);
}

// page is the iframe page, shaped like a Connect app's (and secretsd's):
// the session token in a meta tag for the page's script, the host's all.js.
function page(locals) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="token" content="${escapeHTML(locals.token)}">
<meta name="account-id" content="${escapeHTML(locals.userAccountId || "")}">
<title>${escapeHTML(locals.title)}</title>
<link rel="stylesheet" href="${escapeHTML(locals.hostStylesheetUrl)}">
<script src="${escapeHTML(locals.hostScriptUrl)}"></script>
</head>
<body>
<main id="app" aria-busy="true"><p>Loading…</p></main>
</body>
</html>
`;
}

async function main() {
  const tenant = readJSON("SECRETSWRK_ACE_TENANT");
  const list = readJSON("SECRETSWRK_ACE_LIST");

  const app = express();
  const addon = ace(app);
  // As ACE's template does: ACE reads req.body for a jwt parameter, so the
  // body parsers must run (they leave an empty body on a GET).
  app.use(express.json());
  app.use(express.urlencoded({ extended: false }));
  app.use(addon.middleware());

  app.get("/panel", addon.authenticate(), (req, res) => {
    res.type("html").send(page(res.locals));
  });
  app.get("/api/secrets", addon.checkValidToken(), (req, res) => {
    res.json(list);
  });

  await addon.settings.saveInstallation(tenant, tenant.clientKey);
  const port = addon.config.port();
  const server = app.listen(port, "127.0.0.1", () => {
    console.log(`listening on 127.0.0.1:${port}`);
  });
  server.on("error", err => {
    console.error(err);
    process.exit(1);
  });
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
