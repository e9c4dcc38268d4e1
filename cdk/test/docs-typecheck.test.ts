// The ```ts blocks of docs/cdk.md, read from the file as they are written and
// type-checked together against this package (lib/), so the documentation
// cannot drift from the API: a renamed construct, option or method fails
// here. (docs-examples.test.ts synthesises the same examples with fixture
// paths; this test is what ties them to the text.)
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

const DOC = path.join(__dirname, '..', '..', 'docs', 'cdk.md');
// Beside the tests, so the blocks' `../lib` imports resolve as written.
const VIRTUAL = path.join(__dirname, 'docs-cdk-blocks.generated.ts');

/** The blocks as one module: their imports merged (one per name), their
 * statements in order in a function whose `this` is the stack (the blocks
 * are written for a Stack's constructor). */
export function docModule(markdown: string): { source: string; blocks: number } {
  const blocks = [...markdown.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
  const named = new Map<string, Set<string>>();
  const namespaces = new Set<string>();
  const body: string[] = [];
  for (const block of blocks) {
    for (const line of block.split('\n')) {
      const n = line.match(/^import \{([^}]*)\} from '([^']+)';\s*$/);
      const ns = line.match(/^import \* as \w+ from '[^']+';\s*$/);
      if (n) {
        const names = named.get(n[2]) ?? new Set<string>();
        n[1].split(',').map((s) => s.trim()).filter((s) => s.length > 0).forEach((s) => names.add(s));
        named.set(n[2], names);
      } else if (ns) {
        namespaces.add(line.trim());
      } else {
        body.push(`  ${line}`);
      }
    }
  }
  const imports = [
    "import { Stack } from 'aws-cdk-lib';",
    ...namespaces,
    ...[...named].map(([from, names]) => `import { ${[...names].join(', ')} } from '${from}';`),
  ];
  const source = `${imports.join('\n')}\n\nexport function docExamples(this: Stack): void {\n${body.join('\n')}\n}\n`;
  return { source, blocks: blocks.length };
}

/** Type errors of `source` compiled as VIRTUAL with the package's tsconfig. */
function typeErrors(source: string): string[] {
  const configPath = path.join(__dirname, '..', 'tsconfig.json');
  const parsed = ts.parseJsonConfigFileContent(
    ts.readConfigFile(configPath, ts.sys.readFile).config,
    ts.sys,
    path.dirname(configPath),
  );
  const host = ts.createCompilerHost(parsed.options);
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (file, lang, onError, create) =>
    path.resolve(file) === VIRTUAL
      ? ts.createSourceFile(file, source, lang)
      : getSourceFile(file, lang, onError, create);
  const fileExists = host.fileExists.bind(host);
  host.fileExists = (file) => path.resolve(file) === VIRTUAL || fileExists(file);
  const program = ts.createProgram([VIRTUAL], parsed.options, host);
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file === undefined || path.resolve(d.file.fileName) === VIRTUAL)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

test('docs/cdk.md: every ts block type-checks against the package', () => {
  const { source, blocks } = docModule(fs.readFileSync(DOC, 'utf8'));
  expect(blocks).toBeGreaterThanOrEqual(3);
  expect(typeErrors(source)).toEqual([]);
}, 120_000);

test('docs/cdk.md check fails on an option the API does not have', () => {
  const { source } = docModule(fs.readFileSync(DOC, 'utf8'));
  const drifted = source.replace("serviceName: 'orders'", "serviceNam: 'orders'");
  expect(drifted).not.toEqual(source);
  expect(typeErrors(drifted).join('\n')).toMatch(/serviceNam/);
}, 120_000);
