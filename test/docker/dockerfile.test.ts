// No Docker engine runs here, so this test replays docker/Dockerfile in a scratch copy of the repository: each
// stage gets its own directory standing in for the image's root, COPY copies files there, and the npm/node steps
// of RUN run for real (npm ci, the TypeScript build, the production install). Steps that only touch the image's
// system (mkdir/chown of /data) and `npm cache clean` (which would wipe this machine's shared cache) are skipped.
// It then starts the CLI from the runtime stage, so a broken step or a missing runtime dependency fails here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, isAbsolute, join, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  name: string;
  base: string;
  steps: Instruction[];
}

/** Dockerfile → stages, with `\` continuations joined and comments dropped. */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let cur = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (cur === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    if (line.endsWith('\\')) cur += line.slice(0, -1) + ' ';
    else {
      logical.push((cur + line).trim());
      cur = '';
    }
  }
  if (cur.trim()) logical.push(cur.trim());
  const stages: Stage[] = [];
  for (const l of logical) {
    const m = /^(\S+)\s*(.*)$/.exec(l)!;
    const op = m[1]!.toUpperCase();
    const args = m[2]!;
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      if (!f) throw new Error(`bad FROM: ${l}`);
      stages.push({ base: f[1]!, name: f[2] ?? String(stages.length), steps: [] });
    } else {
      if (stages.length === 0) throw new Error(`${op} before FROM`);
      stages.at(-1)!.steps.push({ op, args });
    }
  }
  return stages;
}

function execForm(args: string): string[] {
  const a = args.trim();
  if (a.startsWith('[')) return JSON.parse(a) as string[];
  return ['/bin/sh', '-c', a];
}

interface Built {
  roots: Map<string, string>;
  final: Stage;
  finalRoot: string;
  env: Record<string, string>;
  workdir: string;
  user: string | null;
  exposed: string[];
  volumes: string[];
  entrypoint: string[];
  cmd: string[];
  ran: string[];
  skipped: string[];
}

function run(cmd: string, cwd: string, env: Record<string, string>): void {
  const r = spawnSync('sh', ['-c', cmd], { cwd, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`RUN ${cmd} failed in ${cwd} (exit ${r.status}):\n${r.stdout}\n${r.stderr}`);
}

function build(stages: Stage[], context: string, scratch: string): Built {
  const roots = new Map<string, string>();
  const ran: string[] = [];
  const skipped: string[] = [];
  let last: Omit<Built, 'roots' | 'final' | 'finalRoot' | 'ran' | 'skipped'> | null = null;
  for (const stage of stages) {
    const root = join(scratch, `stage-${stage.name}`);
    mkdirSync(root, { recursive: true });
    roots.set(stage.name, root);
    const st = { env: {} as Record<string, string>, workdir: '/', user: null as string | null, exposed: [] as string[], volumes: [] as string[], entrypoint: [] as string[], cmd: [] as string[] };
    const inRoot = (p: string): string => join(root, posix.isAbsolute(p) ? p : posix.join(st.workdir, p));
    for (const { op, args } of stage.steps) {
      switch (op) {
        case 'WORKDIR':
          st.workdir = posix.resolve(st.workdir, args.trim());
          mkdirSync(inRoot(st.workdir), { recursive: true });
          break;
        case 'ENV': {
          const pairs = args.includes('=') ? args.match(/(\S+?)=("[^"]*"|\S+)/g) ?? [] : [args.replace(/\s+/, '=')];
          for (const p of pairs) {
            const i = p.indexOf('=');
            st.env[p.slice(0, i)] = p.slice(i + 1).replace(/^"|"$/g, '');
          }
          break;
        }
        case 'COPY': {
          const words = args.trim().split(/\s+/);
          let from: string | null = null;
          while (words[0]?.startsWith('--')) {
            const flag = words.shift()!;
            if (flag.startsWith('--from=')) from = flag.slice(7);
          }
          const dest = words.pop()!;
          const srcBase = from === null ? context : roots.get(from);
          if (!srcBase) throw new Error(`COPY --from=${from}: no such stage`);
          const destPath = inRoot(dest);
          for (const src of words) {
            const srcPath = from === null ? join(context, src) : join(srcBase, posix.isAbsolute(src) ? src : posix.join('/', src));
            if (!existsSync(srcPath)) throw new Error(`COPY ${src}: not found in ${from === null ? 'the build context' : `stage ${from}`}`);
            if (statSync(srcPath).isDirectory()) cpSync(srcPath, destPath, { recursive: true });
            else {
              const target = dest.endsWith('/') || words.length > 1 ? join(destPath, basename(src)) : destPath;
              mkdirSync(dirname(target), { recursive: true });
              cpSync(srcPath, target);
            }
          }
          break;
        }
        case 'RUN':
          for (const seg of args.split('&&').map((s) => s.trim())) {
            if (/^npm\s+cache\s+clean/.test(seg) || !/^(npm|node|npx)\s/.test(seg)) {
              skipped.push(seg);
              continue;
            }
            // The machine's npm cache makes the installs fast and offline-friendly.
            run(seg, inRoot(st.workdir), { ...st.env, npm_config_prefer_offline: 'true', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' });
            ran.push(seg);
          }
          break;
        case 'USER':
          st.user = args.trim();
          break;
        case 'EXPOSE':
          st.exposed.push(...args.trim().split(/\s+/));
          break;
        case 'VOLUME':
          st.volumes.push(...(args.trim().startsWith('[') ? (JSON.parse(args) as string[]) : args.trim().split(/\s+/)));
          break;
        case 'ENTRYPOINT':
          st.entrypoint = execForm(args);
          break;
        case 'CMD':
          st.cmd = execForm(args);
          break;
        default:
          break; // ARG, LABEL, HEALTHCHECK, STOPSIGNAL: image metadata
      }
    }
    last = st;
  }
  const final = stages.at(-1)!;
  return { ...last!, roots, final, finalRoot: roots.get(final.name)!, ran, skipped };
}

describe('docker/Dockerfile', () => {
  let scratch: string;
  let built: Built;
  const dockerfile = readFileSync(join(repo, 'docker/Dockerfile'), 'utf8');
  const stages = parseDockerfile(dockerfile);

  beforeAll(() => {
    scratch = mkdtempSync(join(tmpdir(), 'wharf-docker-'));
    const context = join(scratch, 'context');
    // The build context a clean clone would send: every tracked file, as it is in the working tree.
    // WHARF_DOCKER_CONTEXT=worktree adds untracked, non-ignored files (to try uncommitted work).
    const untracked = process.env.WHARF_DOCKER_CONTEXT === 'worktree' ? ['-co', '--exclude-standard'] : [];
    const files = spawnSync('git', ['ls-files', '-z', ...untracked], { cwd: repo, encoding: 'utf8' });
    if (files.status !== 0) throw new Error(`git ls-files failed: ${files.stderr}`);
    for (const f of files.stdout.split('\0').filter(Boolean)) {
      if (!existsSync(join(repo, f))) continue; // deleted in the working tree
      mkdirSync(dirname(join(context, f)), { recursive: true });
      cpSync(join(repo, f), join(context, f));
    }
    built = build(stages, context, scratch);
  }, 600_000);

  afterAll(() => {
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it('is multi-stage and installs only production dependencies in the runtime stage', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    const runtimeRuns = built.final.steps.filter((s) => s.op === 'RUN').map((s) => s.args);
    expect(runtimeRuns.some((r) => /npm ci\b.*--omit=dev/.test(r))).toBe(true);
    expect(built.ran.some((r) => /npm run build|tsc/.test(r))).toBe(true);
    const nm = join(built.finalRoot, built.workdir, 'node_modules');
    expect(existsSync(join(nm, 'acme-client/package.json'))).toBe(true);
    expect(existsSync(join(nm, 'typescript'))).toBe(false);
    expect(existsSync(join(nm, 'vitest'))).toBe(false);
    expect(existsSync(join(built.finalRoot, built.workdir, 'dist/cli.js'))).toBe(true);
    expect(existsSync(join(built.finalRoot, built.workdir, 'src'))).toBe(false);
  });

  it('runs as a non-root user, exposes the five ports and keeps /data as a volume', () => {
    expect(built.user).toBeTruthy();
    expect(['root', '0', '0:0']).not.toContain(built.user);
    expect(built.exposed.sort()).toEqual(['8080', '8081', '8443', '8444', '9000']);
    expect(built.volumes).toContain('/data');
    expect([...built.entrypoint, ...built.cmd]).toEqual(['node', 'dist/cli.js', 'serve', '--config', '/etc/wharf', '--data-dir', '/data', '--admin-address', '0.0.0.0']);
  });

  it('starts the CLI from the runtime stage with production dependencies only', () => {
    const cwd = join(built.finalRoot, built.workdir);
    const entry = built.entrypoint;
    const help = spawnSync(entry[0]!, [...entry.slice(1), '--help'], { cwd, encoding: 'utf8', env: { ...process.env, ...built.env } });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout + help.stderr).toMatch(/serve/);
    // The image's default config (/etc/wharf) must pass `validate` with the image's own code.
    const conf = join(built.finalRoot, 'etc/wharf');
    const data = join(scratch, 'data');
    const val = spawnSync(entry[0]!, [...entry.slice(1), 'validate', '--config', conf, '--data-dir', data], { cwd, encoding: 'utf8', env: { ...process.env, ...built.env } });
    expect(val.status, val.stdout + val.stderr).toBe(0);
  });

  it('has a compose example that builds this Dockerfile and mounts conf/ and a data volume', () => {
    const composePath = join(repo, 'docker/compose.yaml');
    const compose = parseYaml(readFileSync(composePath, 'utf8')) as { services: Record<string, { build: { context: string; dockerfile: string }; volumes: string[] }> };
    const svc = compose.services.wharf!;
    const context = resolve(dirname(composePath), svc.build.context);
    expect(existsSync(join(context, svc.build.dockerfile))).toBe(true);
    const confMount = svc.volumes.find((v) => v.split(':')[1] === '/etc/wharf');
    expect(confMount).toBeDefined();
    const hostPath = confMount!.split(':')[0]!;
    expect(isAbsolute(hostPath) ? hostPath : resolve(dirname(composePath), hostPath)).toBe(join(repo, 'conf'));
    expect(svc.volumes.some((v) => v.split(':')[1] === '/data')).toBe(true);
  });
});
