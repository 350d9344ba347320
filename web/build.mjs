// Bundles the dashboard into web/dist/ (app.js + app.css) with esbuild.
// node build.mjs [--watch]
import * as esbuild from 'esbuild';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
const options = {
  entryPoints: { app: path.join(here, 'src/main.js') },
  outdir: path.join(here, 'dist'),
  bundle: true,
  format: 'esm',
  target: ['chrome100', 'firefox100', 'safari15'],
  minify: true,
  sourcemap: 'linked',
  legalComments: 'none',
  logLevel: (process.argv.find((a) => a.startsWith('--log-level=')) || '--log-level=info').split('=')[1],
};

if (process.argv.includes('--watch')) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
} else {
  await esbuild.build(options);
}
