// Validates rendered Forge apps with Atlassian's own manifest validator
// (@forge/manifest, the package behind `forge lint`'s manifest checks,
// installed with @forge/bridge), so schema mistakes show without a Forge
// account or a deploy.
//
//   node validate-manifest.mjs DIR...   each DIR holds a manifest.yml and its resources

import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { validate } = require('@forge/manifest');

async function main(dirs) {
  if (dirs.length === 0) throw new Error('usage: node validate-manifest.mjs DIR...');
  let failed = false;
  for (const dir of dirs) {
    // The validator reads manifest.yml and the resource paths relative to
    // the working directory, as the Forge CLI does.
    process.chdir(dir);
    const result = await validate(false, 'manifest.yml');
    if (!result.success) {
      failed = true;
      for (const e of result.errors || []) {
        process.stderr.write(`${dir}/manifest.yml:${e.line}:${e.column}: ${e.level}: ${e.message}\n`);
      }
    }
  }
  if (failed) process.exit(1);
}

const start = process.cwd();
main(process.argv.slice(2).map((d) => (d.startsWith('/') ? d : `${start}/${d}`))).catch((err) => {
  process.stderr.write(`validate-manifest.mjs: ${err && err.message ? err.message : err}\n`);
  process.exit(1);
});
