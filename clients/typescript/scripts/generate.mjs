// TypeScript from ../../schemas/*.proto into src/gen/ (not committed): protoc-gen-es, run by the
// protoc that grpcio-tools ships (the Python venv's; PYTHON overrides which python runs it).
// Skips when every output is newer than its .proto and the generator.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(dirname(fileURLToPath(import.meta.url)));
const schemas = resolve(here, "../../schemas");
const out = join(here, "src/gen");
const plugin = join(here, "node_modules/.bin/protoc-gen-es");
const python = process.env.PYTHON ?? resolve(here, "../../.venv/bin/python");

const protos = readdirSync(schemas).filter((name) => name.endsWith(".proto"));
const mtime = (path) => (existsSync(path) ? statSync(path).mtimeMs : 0);
const newestInput = Math.max(mtime(plugin), ...protos.map((name) => mtime(join(schemas, name))));
const stale = protos.filter((name) => mtime(join(out, name.replace(/\.proto$/, "_pb.ts"))) < newestInput);

if (stale.length > 0) {
  if (!existsSync(plugin)) throw new Error("protoc-gen-es is not installed: run `npm ci` in clients/typescript");
  if (!existsSync(python)) throw new Error(`no python at ${python} (it runs grpcio-tools' protoc): run make setup, or set PYTHON`);
  mkdirSync(out, { recursive: true });
  // `python -m grpc_tools.protoc` adds the well-known types' folder (google/protobuf/*.proto) itself.
  execFileSync(
    python,
    ["-m", "grpc_tools.protoc", `-I${schemas}`, `--plugin=protoc-gen-es=${plugin}`, `--es_out=${out}`,
     "--es_opt=target=ts", ...protos.map((name) => join(schemas, name))],
    { stdio: "inherit" },
  );
  console.log(`generated ${protos.map((name) => name.replace(/\.proto$/, "_pb.ts")).join(", ")} in ${out}`);
}
