// Builds the Custom UI resources of both Forge apps from ../static.
//
//   node build.mjs            write them to ../static/customui (checked in)
//   node build.mjs --out DIR  write them to DIR instead
//   node build.mjs --check    build in memory and compare with
//                             ../static/customui; exit 1 on any difference
//
// Layout: the four resources share everything but their page, so each file
// is kept once (static.CustomUI in Go presents one resource directory):
//
//   <out>/app.js                  the bundle: src/main.js, static/forge-app.js
//                                 and the views it imports, @forge/bridge
//   <out>/app.css, <out>/icon.svg copied from static/
//   <out>/jira-ui.html            jira:issuePanel            (kind issue-panel)
//   <out>/jira-admin.html         jira:adminPage             (kind admin)
//   <out>/confluence-ui.html      macro                      (kind macro)
//   <out>/confluence-admin.html   confluence:globalSettings  (kind admin)
//   <out>/confluence-config.html  the macro's config form    (kind macro-config)
//
// A resource directory of the Forge app (what the manifest's resources
// point at) is <product>-<resource>.html as index.html, plus the three
// shared files; `make forge` assembles them. The output depends only on the
// sources and the pinned esbuild and @forge/bridge: no timestamps, no
// absolute paths, files in sorted order, so the same inputs give
// byte-identical files.

import { build } from 'esbuild';
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const staticDir = path.join(here, '..', 'static');
const defaultOut = path.join(staticDir, 'customui');

/** RESOURCES lists every resource directory and the module kind it shows. */
export const RESOURCES = [
  { product: 'confluence', resource: 'admin', kind: 'admin' },
  { product: 'confluence', resource: 'config', kind: 'macro-config' },
  { product: 'confluence', resource: 'ui', kind: 'macro' },
  { product: 'jira', resource: 'admin', kind: 'admin' },
  { product: 'jira', resource: 'ui', kind: 'issue-panel' },
];

/** bundle returns the app.js every resource shares. */
async function bundle() {
  const result = await build({
    absWorkingDir: here,
    entryPoints: ['src/main.js'],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    charset: 'utf8',
    legalComments: 'eof',
    sourcemap: false,
    write: false,
    logLevel: 'warning',
  });
  if (result.outputFiles.length !== 1) throw new Error(`esbuild produced ${result.outputFiles.length} files, want 1`);
  return Buffer.from(result.outputFiles[0].contents);
}

/** files returns every output file as a sorted array of [relative path, bytes]. */
export async function files() {
  const [js, css, icon, page] = await Promise.all([
    bundle(),
    readFile(path.join(staticDir, 'app.css')),
    readFile(path.join(staticDir, 'icon.svg')),
    readFile(path.join(here, 'index.html'), 'utf8'),
  ]);
  const out = [['app.css', css], ['app.js', js], ['icon.svg', icon]];
  for (const { product, resource, kind } of RESOURCES) {
    const html = page.replaceAll('{{kind}}', kind).replaceAll('{{product}}', product);
    out.push([`${product}-${resource}.html`, Buffer.from(html)]);
  }
  return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

async function write(outDir, list) {
  await rm(outDir, { recursive: true, force: true });
  for (const [rel, bytes] of list) {
    const dest = path.join(outDir, rel);
    await mkdir(path.dirname(dest), { recursive: true });
    await writeFile(dest, bytes);
  }
}

async function listTree(dir, prefix = '') {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const names = [];
  for (const e of entries) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) names.push(...(await listTree(path.join(dir, e.name), rel)));
    else names.push(rel);
  }
  return names.sort();
}

async function check(outDir, list) {
  const want = new Map(list);
  const problems = [];
  for (const rel of await listTree(outDir)) {
    if (!want.has(rel)) problems.push(`${rel}: not produced by the build`);
  }
  for (const [rel, bytes] of list) {
    let have = null;
    try {
      have = await readFile(path.join(outDir, rel));
    } catch {
      problems.push(`${rel}: missing`);
      continue;
    }
    if (!have.equals(bytes)) problems.push(`${rel}: differs from a fresh build`);
  }
  return problems;
}

async function main(argv) {
  let outDir = defaultOut;
  let checkOnly = false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--check') checkOnly = true;
    else if (argv[i] === '--out' && argv[i + 1]) outDir = path.resolve(argv[++i]);
    else throw new Error(`usage: node build.mjs [--check] [--out DIR]`);
  }
  const list = await files();
  if (checkOnly) {
    const problems = await check(outDir, list);
    if (problems.length) {
      process.stderr.write(`${path.relative(process.cwd(), outDir) || outDir} is not what the build makes; run make forge and commit it:\n`);
      for (const p of problems) process.stderr.write(`  ${p}\n`);
      process.exit(1);
    }
    return;
  }
  await write(outDir, list);
}

main(process.argv.slice(2)).catch((err) => {
  process.stderr.write(`build.mjs: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
});
