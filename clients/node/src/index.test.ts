// Every public export of the SDK carries a TSDoc comment with an example (house style), and so does
// every public method of its classes. Read from the sources with the TypeScript compiler, so a new
// export without one fails here.
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { expect, it } from 'vitest';

const entry = fileURLToPath(new URL('./index.ts', import.meta.url));

function hasExample(node: ts.Node): boolean {
  return ts.getJSDocTags(node).some((tag) => tag.tagName.text === 'example');
}

it('documents every public export, and every public member of its classes, with an @example', () => {
  // Only the SDK's own files matter: no lib or @types (parsing them would take seconds).
  const program = ts.createProgram([entry], { allowImportingTsExtensions: true, noEmit: true, noLib: true, types: [] });
  const checker = program.getTypeChecker();
  const source = program.getSourceFile(entry);
  const module = source && checker.getSymbolAtLocation(source);
  if (!module) throw new Error('index.ts not found');

  const exports = checker.getExportsOfModule(module);
  const missing: string[] = [];
  for (const exported of exports) {
    const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
    const declaration = symbol.declarations?.[0];
    if (!declaration || !hasExample(declaration)) {
      missing.push(exported.name);
      continue;
    }
    if (ts.isClassDeclaration(declaration)) {
      for (const member of declaration.members) {
        const isPublicMethod =
          ts.isMethodDeclaration(member) &&
          !(ts.getCombinedModifierFlags(member) & (ts.ModifierFlags.Private | ts.ModifierFlags.Protected)) &&
          member.name !== undefined &&
          !ts.isPrivateIdentifier(member.name);
        if (isPublicMethod && !hasExample(member)) missing.push(`${exported.name}.${member.name.getText()}`);
      }
    }
  }
  expect(exports.length).toBeGreaterThan(20);
  expect(missing).toEqual([]);
});
