/**
 * Reads the fenced code blocks of a Markdown document, with the line each starts on and the
 * `<!-- readme-test: … -->` directives written just above it (see readme.test.ts).
 */

/** A fenced code block. */
export interface CodeBlock {
  /** The info string's first word, lower-cased (`ts`, `sh`, …); '' when there is none. */
  lang: string;
  /** The block's text, without the fences and without the fence's indentation. */
  code: string;
  /** 1-based line of the opening fence in the document. */
  fenceLine: number;
  /** 1-based line of the block's first line of code (`fenceLine + 1`). */
  line: number;
  /** Columns of indentation removed from every line (a fence inside a list item). */
  indent: number;
  /** Directive words of a `<!-- readme-test: … -->` comment just above the fence. */
  directives: string[];
}

/** Languages whose blocks are TypeScript modules. */
export const TYPESCRIPT_LANGS: ReadonlySet<string> = new Set(['ts', 'tsx', 'typescript']);

const FENCE = /^( *)(`{3,}|~{3,})\s*([^`\s]*)/;
const DIRECTIVE = /^\s*<!--\s*readme-test:\s*(.*?)\s*-->\s*$/;

/** Every fenced block of `markdown`, in document order. An unclosed fence is an error. */
export function extractBlocks(markdown: string): CodeBlock[] {
  const lines = markdown.split(/\r?\n/);
  const blocks: CodeBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i] ?? '');
    if (!open) continue;
    const indent = open[1]?.length ?? 0;
    const marker = open[2] ?? '```';
    const lang = (open[3] ?? '').toLowerCase();
    const body: string[] = [];
    let close = -1;
    for (let j = i + 1; j < lines.length; j++) {
      const text = lines[j] ?? '';
      const trimmed = text.trim();
      // A closing fence: the same character, at least as long, nothing after it.
      if (trimmed.length >= marker.length && trimmed === (marker[0] ?? '`').repeat(trimmed.length)) {
        close = j;
        break;
      }
      body.push(stripIndent(text, indent));
    }
    if (close < 0) throw new Error(`line ${i + 1}: the code fence is never closed`);
    blocks.push({
      lang,
      code: body.join('\n'),
      fenceLine: i + 1,
      line: i + 2,
      indent,
      directives: directivesAbove(lines, i),
    });
    i = close;
  }
  return blocks;
}

/** Removes up to `indent` leading spaces (a fence inside a list item indents its lines). */
function stripIndent(text: string, indent: number): string {
  let n = 0;
  while (n < indent && text[n] === ' ') n++;
  return text.slice(n);
}

/** The directive comment on the nearest non-blank line above line `index`, if that is one. */
function directivesAbove(lines: string[], index: number): string[] {
  for (let k = index - 1; k >= 0; k--) {
    const text = lines[k] ?? '';
    if (text.trim() === '') continue;
    const match = DIRECTIVE.exec(text);
    return match ? (match[1] ?? '').split(/[\s,]+/).filter((word) => word !== '') : [];
  }
  return [];
}
