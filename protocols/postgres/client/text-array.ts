/** A parsed text-format array: nested lists of element texts, null for NULL elements. */
export type TextArray = (string | null | TextArray)[];

/**
 * Parses the text form of a Postgres array (`{1,2,NULL}`, `{"a b","c\"d"}`, `{{1,2},{3,4}}`,
 * `[0:1]={7,8}`) into nested lists of element texts. Elements stay text; the caller decodes them.
 * Returns undefined when the text is not an array literal, so the caller can keep it as text.
 */
export function parseTextArray(text: string, delimiter = ','): TextArray | undefined {
  let at = 0;
  // Explicit bounds such as [0:1]={...} only shift indexes; the elements are what matter here.
  if (text.startsWith('[')) {
    const eq = text.indexOf('=');
    if (eq < 0) return undefined;
    at = eq + 1;
  }
  if (text[at] !== '{') return undefined;
  const root: TextArray = [];
  const stack: TextArray[] = [];
  let current: TextArray = root;
  at++;
  while (at < text.length) {
    const ch = text[at];
    if (ch === '{') {
      const inner: TextArray = [];
      current.push(inner);
      stack.push(current);
      current = inner;
      at++;
    } else if (ch === '}') {
      const outer = stack.pop();
      at++;
      if (outer === undefined) return at === text.length ? root : undefined;
      current = outer;
    } else if (ch === delimiter || ch === ' ') {
      at++;
    } else if (ch === '"') {
      let value = '';
      at++;
      while (at < text.length && text[at] !== '"') {
        if (text[at] === '\\') at++;
        value += text[at] ?? '';
        at++;
      }
      if (at >= text.length) return undefined;
      at++;
      current.push(value);
    } else {
      let end = at;
      while (end < text.length && text[end] !== delimiter && text[end] !== '}') end++;
      const raw = text.slice(at, end).trim();
      current.push(raw === 'NULL' ? null : raw);
      at = end;
    }
  }
  return undefined;
}
