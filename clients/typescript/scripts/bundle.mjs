// One ES module for browsers and Node (the console page loads it): src/index.ts and
// @bufbuild/protobuf, minified, with a source map. OUT overrides where it goes (the Makefile puts
// it where `aicore local` serves it from).
import { build } from "esbuild";
import { statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const outfile = resolve(process.env.OUT ?? join(here, "dist/aicore-client.js"));
await build({
  entryPoints: [join(here, "src/index.ts")],
  outfile,
  bundle: true,
  format: "esm",
  platform: "neutral",
  target: ["es2022"],
  minify: true,
  sourcemap: true,
  legalComments: "eof",
  logLevel: "warning",
});
console.log(`bundled ${outfile} (${statSync(outfile).size} bytes)`);
